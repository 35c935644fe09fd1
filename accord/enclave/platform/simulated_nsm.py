"""A simulated Nitro Secure Module, for machines without Nitro Enclaves.

It speaks the NSM's CBOR request/response bytes (`nsm.encode_request` in, `encode_response`
out), keeps 32 SHA-384 PCRs with extend and lock semantics, and signs attestation documents
with a leaf from `SimulatedNitroPki`. As on Nitro, PCR0..15 are set at boot and locked
(PCR0/1/2 from the code measurement, PCR4 from the instance id), PCR16..31 are free for the
application, and a debug-mode enclave reports PCR0/1/2 as zeros.

What is simulated, visibly: the signing chain ends at "Accord SIMULATED Nitro root (not
AWS)", and the module id starts with "SIMULATED-".
"""

from __future__ import annotations

import os
import secrets
from datetime import datetime

from accord.enclave.platform.attestation import DIGEST, OPTIONAL_FIELD_SIZES, AttestationDocument
from accord.enclave.platform.errors import NsmProtocolError
from accord.enclave.platform.measurement import ZERO_PCR, Measurement, extend
from accord.enclave.platform.nsm import (
    MAX_PCRS,
    Attestation,
    AttestationResponse,
    DescribeNsm,
    DescribeNsmResponse,
    DescribePcr,
    DescribePcrResponse,
    Digest,
    ErrorCode,
    ErrorResponse,
    ExtendPcr,
    ExtendPcrResponse,
    GetRandom,
    GetRandomResponse,
    LockPcr,
    LockPcrResponse,
    LockPcrs,
    LockPcrsResponse,
    Nsm,
    Request,
    Response,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
)
from accord.enclave.platform.pki import CertificateAuthority, SimulatedNitroPki, is_current
from accord.enclave.platform.timeutil import Clock, to_millis, utc_now
from accord.protocols.secret import SecretLeakError

BOOT_PCRS = 16  # PCR0..15 belong to the platform and are locked at boot
RANDOM_BYTES = 256
MAX_EXTEND_DATA = 1024
SIMULATED_PREFIX = "SIMULATED-"
VERSION = (1, 0, 0)


class SimulatedNsm(Nsm):
    """An in-process NSM. Holds the leaf signing key: never pickled."""

    def __init__(
        self,
        *,
        pki: SimulatedNitroPki,
        measurement: Measurement,
        instance_id: str,
        debug: bool = False,
        clock: Clock = utc_now,
    ) -> None:
        self._pki = pki
        self._clock = clock
        self.instance_id = instance_id
        self.debug = debug
        self.module_id = f"{SIMULATED_PREFIX}{instance_id}-enc{secrets.token_hex(8)}"
        self._pcrs = [ZERO_PCR] * MAX_PCRS
        self._locked: set[int] = set()
        if not debug:  # Nitro reports zeros for the image measurement in debug mode
            for index, value in measurement.pcrs().items():
                self._pcrs[index] = value
        self._pcrs[4] = extend(ZERO_PCR, instance_id.encode())
        self._locked.update(range(BOOT_PCRS))
        self._leaf: CertificateAuthority | None = None
        self._cabundle: tuple[bytes, ...] = ()

    def process(self, request: Request) -> Response:
        return decode_response(self.handle(encode_request(request)))

    def handle(self, raw_request: bytes) -> bytes:
        """Answer raw CBOR request bytes with raw CBOR response bytes, as the device does."""
        try:
            request = decode_request(raw_request)
        except NsmProtocolError:
            return encode_response(ErrorResponse(ErrorCode.INVALID_ARGUMENT))
        return encode_response(self._dispatch(request))

    def _dispatch(self, request: Request) -> Response:
        match request:
            case DescribePcr(index=index):
                if index >= MAX_PCRS:
                    return ErrorResponse(ErrorCode.INVALID_INDEX)
                return DescribePcrResponse(lock=index in self._locked, data=self._pcrs[index])
            case ExtendPcr(index=index, data=data):
                if index >= MAX_PCRS:
                    return ErrorResponse(ErrorCode.INVALID_INDEX)
                if index in self._locked:
                    return ErrorResponse(ErrorCode.READ_ONLY_INDEX)
                if len(data) > MAX_EXTEND_DATA:
                    return ErrorResponse(ErrorCode.INPUT_TOO_LARGE)
                self._pcrs[index] = extend(self._pcrs[index], data)
                return ExtendPcrResponse(self._pcrs[index])
            case LockPcr(index=index):
                if index >= MAX_PCRS:
                    return ErrorResponse(ErrorCode.INVALID_INDEX)
                self._locked.add(index)
                return LockPcrResponse()
            case LockPcrs(range=count):
                if count > MAX_PCRS:
                    return ErrorResponse(ErrorCode.INVALID_INDEX)
                self._locked.update(range(count))
                return LockPcrsResponse()
            case DescribeNsm():
                return DescribeNsmResponse(
                    *VERSION, module_id=self.module_id, max_pcrs=MAX_PCRS,
                    locked_pcrs=frozenset(self._locked), digest=Digest.SHA384,
                )  # fmt: skip
            case GetRandom():
                return GetRandomResponse(os.urandom(RANDOM_BYTES))
            case Attestation(user_data=user_data, nonce=nonce, public_key=public_key):
                return self._attest(user_data, nonce, public_key)
        return ErrorResponse(ErrorCode.INVALID_OPERATION)

    def _signing_leaf(self, now: datetime) -> CertificateAuthority:
        if self._leaf is None or not is_current(self._leaf.certificate, now):
            self._leaf, self._cabundle = self._pki.issue_leaf(self.instance_id, self.module_id, now)
        return self._leaf

    def _attest(self, user_data: bytes | None, nonce: bytes | None, public_key: bytes | None) -> Response:
        for name, value in (("user_data", user_data), ("nonce", nonce), ("public_key", public_key)):
            low, high = OPTIONAL_FIELD_SIZES[name]
            if value is not None and not low <= len(value) <= high:
                return ErrorResponse(ErrorCode.INPUT_TOO_LARGE)
        now = self._clock()
        leaf = self._signing_leaf(now)
        # The document carries the platform PCRs and any application PCR that was locked.
        shown = sorted(set(range(BOOT_PCRS)) | self._locked)
        document = AttestationDocument(
            module_id=self.module_id,
            digest=DIGEST,
            timestamp=to_millis(now),
            pcrs={index: self._pcrs[index] for index in shown},
            certificate=leaf.der,
            cabundle=self._cabundle,
            public_key=public_key,
            user_data=user_data,
            nonce=nonce,
        )
        return AttestationResponse(leaf.sign_document(document))

    def __repr__(self) -> str:
        return f"<SimulatedNsm {self.module_id} debug={self.debug}>"

    def __reduce__(self):
        raise SecretLeakError("a simulated NSM holds its signing key and must not be pickled")


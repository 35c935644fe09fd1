"""Nitro attestation documents: build (for the simulated NSM) and verify (for everyone).

A document is a COSE_Sign1 (see `cose`) whose payload is the CBOR map
{module_id, digest, timestamp, pcrs, certificate, cabundle, public_key, user_data, nonce}
(that order; absent optional fields are null), signed by the `certificate`, which chains
through `cabundle[1:]` to a root. Verification trusts only a pinned root (`TrustedRoot`),
never `cabundle[0]`, and checks, in this order: structure, ES384 signature, chain at the
given time, freshness, debug mode, expected PCRs, nonce. Each failure has its own exception.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import cbor2
from cryptography.hazmat.primitives.asymmetric import ec

from accord.enclave.platform.cose import CoseSign1, sign_es384
from accord.enclave.platform.errors import (
    DebugModeError,
    FutureAttestationError,
    MalformedAttestationError,
    NonceMismatchError,
    PcrMismatchError,
    StaleAttestationError,
)
from accord.enclave.platform.strict_cbor import loads_exact
from accord.enclave.platform.timeutil import from_millis
from accord.enclave.platform.trust import TrustedRoot, der_sha256, load_certificate, public_key_of
from accord.enclave.platform.x509chain import validate_chain

DIGEST = "SHA384"
PCR_SIZES = (32, 48, 64)  # SHA-256 / SHA-384 / SHA-512 banks
MAX_PCR_INDEX = 31
MAX_CERT_SIZE = 1024
# Size bounds (inclusive) of the optional fields, as the NSM enforces them.
OPTIONAL_FIELD_SIZES = {"public_key": (1, 1024), "user_data": (0, 512), "nonce": (0, 512)}
# A document may be stamped slightly after the verifier's clock reading.
CLOCK_SKEW = timedelta(seconds=30)

MAX_TIMESTAMP_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z: the last moment a datetime holds
_FIELDS = ("module_id", "digest", "timestamp", "pcrs", "certificate", "cabundle", "public_key", "user_data", "nonce")


def _bad(message: str) -> MalformedAttestationError:
    return MalformedAttestationError(f"attestation payload: {message}")


def _optional_bytes(name: str, value: Any) -> bytes | None:
    if value is None:
        return None
    if not isinstance(value, bytes):
        raise _bad(f"{name} must be a byte string or null")
    low, high = OPTIONAL_FIELD_SIZES[name]
    if not low <= len(value) <= high:
        raise _bad(f"{name} has {len(value)} bytes; allowed {low}..{high}")
    return value


def _certificate_bytes(name: str, value: Any) -> bytes:
    if not isinstance(value, bytes) or not 1 <= len(value) <= MAX_CERT_SIZE:
        raise _bad(f"{name} must be a DER certificate of 1..{MAX_CERT_SIZE} bytes")
    return value


def _pcrs(value: Any) -> dict[int, bytes]:
    if not isinstance(value, dict) or 0 not in value:
        raise _bad("pcrs must be a map that includes PCR0")
    for index, data in value.items():
        if type(index) is not int or not 0 <= index <= MAX_PCR_INDEX:
            raise _bad(f"PCR index {index!r} is not in 0..{MAX_PCR_INDEX}")
        if not isinstance(data, bytes) or len(data) not in PCR_SIZES:
            raise _bad(f"PCR{index} must be 32, 48 or 64 bytes")
    return dict(sorted(value.items()))


@dataclass(frozen=True)
class AttestationDocument:
    """The payload of an attestation document. Decoding it proves nothing; verify first."""

    module_id: str
    digest: str
    timestamp: int
    pcrs: Mapping[int, bytes]
    certificate: bytes
    cabundle: tuple[bytes, ...]
    public_key: bytes | None = None
    user_data: bytes | None = None
    nonce: bytes | None = None

    @property
    def time(self) -> datetime:
        """`timestamp` as an aware UTC datetime."""
        return from_millis(self.timestamp)

    @property
    def debug(self) -> bool:
        """True for a debug-mode enclave: the NSM reports PCR0 as all zeros."""
        pcr0 = self.pcrs.get(0)
        return pcr0 is not None and not any(pcr0)

    @property
    def image_sha384(self) -> bytes | None:
        """PCR0, the enclave image measurement (KMS's `ImageSha384` condition key)."""
        return self.pcrs.get(0)

    @classmethod
    def from_payload(cls, payload: bytes) -> AttestationDocument:
        """Parse and type-check the CBOR payload (sizes as in the AWS specification)."""
        item = loads_exact(payload, MalformedAttestationError, "attestation payload")
        if not isinstance(item, dict):
            raise _bad("must be a CBOR map")
        unknown = set(item) - set(_FIELDS)
        if unknown:
            raise _bad(f"unknown fields {sorted(map(repr, unknown))}")
        missing = [name for name in _FIELDS[:6] if name not in item]
        if missing:
            raise _bad(f"missing required fields {missing}")
        module_id, digest, timestamp = item["module_id"], item["digest"], item["timestamp"]
        if not isinstance(module_id, str) or not module_id:
            raise _bad("module_id must be a non-empty text string")
        if digest != DIGEST:
            raise _bad(f"digest is {digest!r}; Nitro documents use {DIGEST!r}")
        if type(timestamp) is not int or not 0 < timestamp <= MAX_TIMESTAMP_MS:
            raise _bad("timestamp must be a positive integer (Unix milliseconds) before the year 10000")
        cabundle = item["cabundle"]
        if not isinstance(cabundle, list) or not cabundle:
            raise _bad("cabundle must be a non-empty array of certificates")
        return cls(
            module_id=module_id,
            digest=digest,
            timestamp=timestamp,
            pcrs=_pcrs(item["pcrs"]),
            certificate=_certificate_bytes("certificate", item["certificate"]),
            cabundle=tuple(_certificate_bytes(f"cabundle[{i}]", c) for i, c in enumerate(cabundle)),
            public_key=_optional_bytes("public_key", item.get("public_key")),
            user_data=_optional_bytes("user_data", item.get("user_data")),
            nonce=_optional_bytes("nonce", item.get("nonce")),
        )

    def to_payload(self) -> bytes:
        """CBOR payload in the NSM's field order, absent optional fields as null."""
        return cbor2.dumps(
            {
                "module_id": self.module_id,
                "digest": self.digest,
                "timestamp": self.timestamp,
                "pcrs": dict(sorted(self.pcrs.items())),
                "certificate": self.certificate,
                "cabundle": list(self.cabundle),
                "public_key": self.public_key,
                "user_data": self.user_data,
                "nonce": self.nonce,
            }
        )

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly view (bytes as hex, certificates summarized)."""

        def cert_summary(der: bytes) -> dict[str, str]:
            cert = load_certificate(der)
            return {
                "subject": cert.subject.rfc4514_string(),
                "issuer": cert.issuer.rfc4514_string(),
                "not_before": cert.not_valid_before_utc.isoformat(),
                "not_after": cert.not_valid_after_utc.isoformat(),
                "sha256": der_sha256(cert),
            }

        def hex_or_none(value: bytes | None) -> str | None:
            return None if value is None else value.hex()

        return {
            "module_id": self.module_id,
            "digest": self.digest,
            "timestamp": self.timestamp,
            "time": self.time.isoformat(),
            "debug": self.debug,
            "pcrs": {str(i): v.hex() for i, v in self.pcrs.items()},
            "certificate": cert_summary(self.certificate),
            "cabundle": [cert_summary(c) for c in self.cabundle],
            "public_key": hex_or_none(self.public_key),
            "user_data": hex_or_none(self.user_data),
            "nonce": hex_or_none(self.nonce),
        }


def decode_attestation(data: bytes) -> tuple[CoseSign1, AttestationDocument]:
    """Parse a document WITHOUT verifying anything (for display and for `verify_attestation`)."""
    cose = CoseSign1.decode(data)
    return cose, AttestationDocument.from_payload(cose.payload)


def build_attestation(document: AttestationDocument, signing_key: ec.EllipticCurvePrivateKey) -> bytes:
    """Sign `document` with the key of `document.certificate` into untagged COSE_Sign1 bytes."""
    return sign_es384(document.to_payload(), signing_key).to_bytes()


def _check_freshness(document: AttestationDocument, at: datetime, max_age: timedelta | None) -> None:
    if max_age is None:
        return
    age = at - document.time
    if age > max_age:
        raise StaleAttestationError(
            f"document from {document.time.isoformat()} is {age} old at {at.isoformat()}; maximum age is {max_age}"
        )
    if age < -CLOCK_SKEW:
        raise FutureAttestationError(
            f"document timestamp {document.time.isoformat()} is after the verification time {at.isoformat()}"
        )


def _check_pcrs(document: AttestationDocument, expected: Mapping[int, bytes]) -> None:
    problems = []
    for index, value in sorted(expected.items()):
        actual = document.pcrs.get(index)
        if actual is None:
            problems.append(f"PCR{index} is absent (expected {value.hex()})")
        elif not hmac.compare_digest(actual, value):
            problems.append(f"PCR{index} is {actual.hex()}, expected {value.hex()}")
    if problems:
        raise PcrMismatchError("; ".join(problems))


def verify_attestation(
    data: bytes,
    *,
    root: TrustedRoot,
    at: datetime,
    expected_pcrs: Mapping[int, bytes] | None = None,
    allow_debug: bool = False,
    nonce: bytes | None = None,
    max_age: timedelta | None = None,
) -> AttestationDocument:
    """Verify a COSE_Sign1 attestation document and return its payload.

    `at` is the time at which every certificate must be valid (pass the document's own
    time, `decode_attestation(data)[1].time`, to check a historical document). With
    `max_age`, the document must also be at most that old at `at`. `nonce`, when given, must
    equal the document's nonce. Debug-mode documents are refused unless `allow_debug`.
    """
    cose, document = decode_attestation(data)
    leaf = load_certificate(document.certificate, "certificate")
    cose.verify(public_key_of(leaf, MalformedAttestationError, "the signing certificate"))
    intermediates = [load_certificate(c, f"cabundle[{i}]") for i, c in enumerate(document.cabundle[1:], 1)]
    validate_chain(root, intermediates, leaf, at)
    _check_freshness(document, at, max_age)
    if document.debug and not allow_debug:
        raise DebugModeError(f"document from {document.module_id!r} is from a debug-mode enclave (PCR0 all zeros)")
    _check_pcrs(document, expected_pcrs or {})
    if nonce is not None and (document.nonce is None or not hmac.compare_digest(document.nonce, nonce)):
        raise NonceMismatchError("document has no nonce" if document.nonce is None else "document nonce differs from the one sent")
    return document


@dataclass(frozen=True)
class AttestationPolicy:
    """What a verifier accepts: a pinned root, expected PCRs, debug or not, maximum age."""

    root: TrustedRoot
    expected_pcrs: Mapping[int, bytes] = field(default_factory=dict)
    allow_debug: bool = False
    max_age: timedelta | None = timedelta(minutes=5)

    def verify(self, data: bytes, *, at: datetime, nonce: bytes | None = None) -> AttestationDocument:
        """`verify_attestation` under this policy."""
        return verify_attestation(
            data,
            root=self.root,
            at=at,
            expected_pcrs=self.expected_pcrs,
            allow_debug=self.allow_debug,
            nonce=nonce,
            max_age=self.max_age,
        )

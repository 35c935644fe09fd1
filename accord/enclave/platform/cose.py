"""COSE_Sign1 (RFC 9052, section 4.2) with ES384 only, as Nitro attestation documents use it.

COSE_Sign1 = [protected: bstr, unprotected: map, payload: bstr, signature: bstr], either
untagged (what the NSM emits) or with CBOR tag 18. The signature is ECDSA P-384 / SHA-384 over
Sig_structure = ["Signature1", protected, external_aad = h'', payload], encoded as the raw
96-byte r || s (RFC 9053, section 2.1), not DER.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from accord.enclave.platform.errors import (
    AttestationSignatureError,
    MalformedAttestationError,
    UnsupportedAttestationAlgorithmError,
)
from accord.enclave.platform.strict_cbor import loads_exact

COSE_SIGN1_TAG = 18
ALG_ES384 = -35
HEADER_ALG = 1
PROTECTED_ES384 = cbor2.dumps({HEADER_ALG: ALG_ES384})  # a1 01 38 22
ES384_COORDINATE = 48


def _require_p384(key: Any, what: str) -> None:
    if not isinstance(key, (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey)) or not isinstance(
        key.curve, ec.SECP384R1
    ):
        raise UnsupportedAttestationAlgorithmError(f"{what} is not a P-384 key, as ES384 requires")


@dataclass(frozen=True)
class CoseSign1:
    """A decoded COSE_Sign1 structure (not yet verified)."""

    protected: bytes
    unprotected: dict
    payload: bytes
    signature: bytes

    @classmethod
    def decode(cls, data: bytes) -> CoseSign1:
        """Parse untagged or tag-18 COSE_Sign1 bytes whose protected header is {1: -35}."""
        item = loads_exact(data, MalformedAttestationError, "COSE_Sign1 document")
        if isinstance(item, cbor2.CBORTag):
            if item.tag != COSE_SIGN1_TAG:
                raise MalformedAttestationError(f"CBOR tag {item.tag} is not COSE_Sign1 (18)")
            item = item.value  # cbor2 gives a tagged array as a tuple
        if not isinstance(item, (list, tuple)) or len(item) != 4:
            raise MalformedAttestationError("COSE_Sign1 must be an array of 4 items")
        protected, unprotected, payload, signature = item
        if not all(isinstance(part, bytes) for part in (protected, payload, signature)):
            raise MalformedAttestationError("COSE_Sign1 protected, payload and signature must be byte strings")
        if not isinstance(unprotected, Mapping):  # a frozendict inside a tag
            raise MalformedAttestationError("COSE_Sign1 unprotected header must be a map")
        header = loads_exact(protected, MalformedAttestationError, "COSE protected header")
        if header != {HEADER_ALG: ALG_ES384}:
            raise UnsupportedAttestationAlgorithmError(
                f"protected header is {header!r}; Nitro documents use exactly {{1: -35}} (ES384)"
            )
        if HEADER_ALG in unprotected:
            raise UnsupportedAttestationAlgorithmError("the algorithm must not appear in the unprotected header")
        if len(signature) != 2 * ES384_COORDINATE:
            raise AttestationSignatureError(f"ES384 signature must be 96 bytes, got {len(signature)}")
        return cls(protected, dict(unprotected), payload, signature)

    def to_bytes(self, *, tagged: bool = False) -> bytes:
        """Encode (untagged, as the NSM does, unless `tagged`)."""
        array = [self.protected, self.unprotected, self.payload, self.signature]
        return cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, array) if tagged else array)

    def to_be_signed(self) -> bytes:
        """The Sig_structure bytes the signature covers."""
        return sig_structure(self.protected, self.payload)

    def verify(self, public_key: Any) -> None:
        """Check the ES384 signature under `public_key` (a P-384 public key)."""
        _require_p384(public_key, "the signing certificate's key")
        r = int.from_bytes(self.signature[:ES384_COORDINATE], "big")
        s = int.from_bytes(self.signature[ES384_COORDINATE:], "big")
        try:
            public_key.verify(encode_dss_signature(r, s), self.to_be_signed(), ec.ECDSA(hashes.SHA384()))
        except InvalidSignature:
            raise AttestationSignatureError(
                "ES384 signature does not verify under the document's certificate"
            ) from None


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """Sig_structure for COSE_Sign1 with empty external AAD."""
    return cbor2.dumps(["Signature1", protected, b"", payload])


def sign_es384(payload: bytes, private_key: ec.EllipticCurvePrivateKey) -> CoseSign1:
    """Sign `payload` with a P-384 key: protected {1: -35}, unprotected {} (as the NSM does)."""
    _require_p384(private_key, "the signing key")
    der = private_key.sign(sig_structure(PROTECTED_ES384, payload), ec.ECDSA(hashes.SHA384()))
    r, s = decode_dss_signature(der)
    signature = r.to_bytes(ES384_COORDINATE, "big") + s.to_bytes(ES384_COORDINATE, "big")
    return CoseSign1(PROTECTED_ES384, {}, payload, signature)

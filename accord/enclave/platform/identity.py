"""Enclave identity keys and their binding into attestation documents.

Each enclave generates, inside itself, an Ed25519 signing key and an X25519 key for HPKE
(RFC 9180, DHKEM(X25519, HKDF-SHA256)). Its identity attestation document carries:

- `public_key`: the Ed25519 SubjectPublicKeyInfo DER (the key the enclave signs with);
- `user_data`: CBOR ["accord-enclave-identity-v1", enclave id, X25519 public key (32 bytes)].

A peer that verifies the document (root, PCR policy, nonce) therefore knows that code with
those PCRs holds both private keys; `PeerIdentity` is the result of that check.
"""

from __future__ import annotations

from dataclasses import dataclass

import cbor2
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

from accord.enclave.platform.attestation import AttestationDocument
from accord.enclave.platform.errors import IdentityBindingError, MessageDecryptionError, MessageSignatureError
from accord.enclave.platform.strict_cbor import loads_exact
from accord.protocols.secret import SecretLeakError

IDENTITY_CLAIM = "accord-enclave-identity-v1"
HPKE_SUITE = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
RAW = serialization.Encoding.Raw, serialization.PublicFormat.Raw


def _ed25519_spki(key: ed25519.Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


class IdentityKeys:
    """An enclave's private identity keys. Never pickled, never printed."""

    __slots__ = ("_signing", "_kem")

    def __init__(self, signing: ed25519.Ed25519PrivateKey, kem: x25519.X25519PrivateKey) -> None:
        self._signing = signing
        self._kem = kem

    @classmethod
    def generate(cls) -> IdentityKeys:
        return cls(ed25519.Ed25519PrivateKey.generate(), x25519.X25519PrivateKey.generate())

    def attestation_fields(self, enclave_id: str) -> dict[str, bytes]:
        """`public_key` and `user_data` for the identity attestation request."""
        kem_public = self._kem.public_key().public_bytes(*RAW)
        return {
            "public_key": _ed25519_spki(self._signing.public_key()),
            "user_data": cbor2.dumps([IDENTITY_CLAIM, enclave_id, kem_public]),
        }

    def sign(self, data: bytes) -> bytes:
        """Ed25519 signature."""
        return self._signing.sign(data)

    def hpke_open(self, ciphertext: bytes, info: bytes) -> bytes:
        """HPKE base-mode single-shot open (RFC 9180 section 6.1)."""
        try:
            return HPKE_SUITE.decrypt(ciphertext, self._kem, info=info)
        except (InvalidTag, ValueError):
            raise MessageDecryptionError("HPKE decryption failed (altered ciphertext or other context)") from None

    def __repr__(self) -> str:
        return "<IdentityKeys Ed25519+X25519, private keys redacted>"

    def __reduce__(self):
        raise SecretLeakError("enclave identity keys must not be pickled")


@dataclass(frozen=True)
class PeerIdentity:
    """A peer enclave's public identity, taken from a verified attestation document."""

    enclave_id: str
    signing_key: ed25519.Ed25519PublicKey
    kem_key: x25519.X25519PublicKey
    document: AttestationDocument

    @classmethod
    def from_document(cls, document: AttestationDocument) -> PeerIdentity:
        """Extract the identity from an ALREADY VERIFIED document."""
        if document.public_key is None or document.user_data is None:
            raise IdentityBindingError(f"document from {document.module_id!r} carries no enclave identity")
        try:
            signing_key = serialization.load_der_public_key(document.public_key)
        except ValueError as exc:
            raise IdentityBindingError(f"public_key is not a DER SubjectPublicKeyInfo: {exc}") from exc
        if not isinstance(signing_key, ed25519.Ed25519PublicKey):
            raise IdentityBindingError("public_key is not an Ed25519 key")
        claim = loads_exact(document.user_data, IdentityBindingError, "identity claim in user_data")
        if not (
            isinstance(claim, list) and len(claim) == 3 and claim[0] == IDENTITY_CLAIM
            and isinstance(claim[1], str) and claim[1] and isinstance(claim[2], bytes) and len(claim[2]) == 32
        ):  # fmt: skip
            raise IdentityBindingError(f"user_data is not [{IDENTITY_CLAIM!r}, enclave id, 32-byte X25519 key]")
        return cls(claim[1], signing_key, x25519.X25519PublicKey.from_public_bytes(claim[2]), document)

    def verify(self, signature: bytes, data: bytes) -> None:
        """Check the peer's Ed25519 signature over `data`."""
        try:
            self.signing_key.verify(signature, data)
        except InvalidSignature:
            raise MessageSignatureError(f"signature is not by enclave {self.enclave_id!r}") from None

    def hpke_seal(self, plaintext: bytes, info: bytes) -> bytes:
        """HPKE base-mode single-shot seal to the peer's attested X25519 key."""
        return HPKE_SUITE.encrypt(plaintext, self.kem_key, info=info)

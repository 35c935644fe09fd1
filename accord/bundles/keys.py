"""Administrator keys: the keys that sign policy bundles.

They are JWKs of Accord's key profile (`accord.protocols.jwk`), each type with exactly one JWS
algorithm, so the algorithm always follows from the pinned key, never from a token header:

    Ed25519 (kty OKP, crv Ed25519) -> "EdDSA"      P-256 (kty EC, crv P-256) -> "ES256"

Fingerprint (what the enclave configuration pins, and the `kid` of bundle signatures): the
RFC 7638 JWK thumbprint with SHA-256 -- SHA-256 over the UTF-8 JSON of the required public
members in lexicographic order without whitespace (`{"crv":..,"kty":"OKP","x":..}` or
`{"crv":..,"kty":"EC","x":..,"y":..}`) -- written as 64 lowercase hex digits. It is the same
digest as the key's `jkt`/`kid` elsewhere in Accord, which spells it in base64url.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import serialization

from accord.bundles.errors import KeyFileError
from accord.protocols import canonical_json, jws_profile
from accord.protocols.auth_errors import JwkError
from accord.protocols.jwk import KeyKind, PublicJwk, SigningKey, b64url_decode
from accord.protocols.secret import SecretBytes

# Command-line names of the key kinds.
KEY_KINDS = {"Ed25519": KeyKind.ED25519, "ES256": KeyKind.P256}


def fingerprint(key: PublicJwk | SigningKey) -> str:
    """The key's SHA-256 fingerprint: its RFC 7638 thumbprint as 64 lowercase hex digits."""
    public = key.public if isinstance(key, SigningKey) else key
    return b64url_decode(public.thumbprint, "thumbprint").hex()


def normalize_fingerprint(text: str) -> str:
    """Validate a pinned fingerprint (64 hex digits) and return it lowercase."""
    fp = text.strip().lower()
    if len(fp) != 64 or any(c not in "0123456789abcdef" for c in fp):
        raise KeyFileError(f"{text!r} is not a SHA-256 key fingerprint (64 hex digits)")
    return fp


def verification_pem(key: PublicJwk) -> str:
    """SubjectPublicKeyInfo PEM, the form OPA's bundle key configuration takes."""
    return key.crypto_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def public_key_bytes(key: PublicJwk) -> bytes:
    """The public JWK (with kid, alg, use) as canonical JSON, as hosted for verifiers."""
    return canonical_json.dumps(key.to_jwks_entry())


def generate_signing_key(kind: KeyKind | str) -> SigningKey:
    """A fresh administrator key; `kind` is a KeyKind or "Ed25519"/"ES256"."""
    return SigningKey.generate(KEY_KINDS[kind] if isinstance(kind, str) else kind)


def _parse(data: bytes | str, what: str) -> Mapping[str, Any]:
    try:
        jwk = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise KeyFileError(f"{what} is not a JSON Web Key (not JSON)") from None
    if not isinstance(jwk, dict):
        raise KeyFileError(f"{what} is not a JSON Web Key object")
    return jwk


def load_public_key(data: bytes | str) -> PublicJwk:
    """A verifying key from public JWK bytes. A private key is refused: it must never be
    hosted where the verifying key is fetched from."""
    try:
        return PublicJwk.from_dict(_parse(data, "public key"))
    except JwkError as exc:
        raise KeyFileError(f"public key: {exc}") from None


def load_public_keys(data: bytes | str) -> tuple[PublicJwk, ...]:
    """The verifying keys of a source: one public JWK, or a JWKS (`{"keys": [...]}`) of the
    administrators who may sign (k of n, see `TrustPolicy.threshold`)."""
    item = _parse(data, "public key")
    if "keys" not in item:
        return (load_public_key(data),)
    keys = item["keys"]
    if not isinstance(keys, list) or not keys or set(item) != {"keys"}:
        raise KeyFileError("public keys: a JWKS is {\"keys\": [JWK, ...]} with at least one key")
    try:
        return tuple(PublicJwk.from_dict(key) for key in keys)
    except JwkError as exc:
        raise KeyFileError(f"public keys: {exc}") from None


def load_signing_key(data: bytes | str | SecretBytes) -> SigningKey:
    """A signing key from private JWK bytes (as `accord keys generate` writes them)."""
    raw = data.reveal() if isinstance(data, SecretBytes) else data
    try:
        return SigningKey.from_dict(_parse(raw, "signing key"))
    except JwkError as exc:
        raise KeyFileError(f"signing key: {exc}") from None


def public_key_of(data: bytes | str) -> PublicJwk:
    """The public half of a public or private JWK (for showing fingerprints)."""
    if "d" in _parse(data, "key"):
        return load_signing_key(data).public
    return load_public_key(data)


def sign_compact(key: SigningKey, header: Mapping[str, Any], payload: bytes) -> str:
    """A compact JWS; the header's `alg` is always the key's own."""
    protected = {**header, "alg": key.public.jws_alg}
    return jws_profile.sign_compact(protected, payload, key)

"""JSON Web Keys for principals, approvers and the group key (RFC 7517, RFC 7638, RFC 8037).

Accord's profile has two key kinds: Ed25519 (OKP, JWS `EdDSA`, HTTP `ed25519`) and P-256
(EC, JWS `ES256`, HTTP `ecdsa-p256-sha256`). A key is named by its RFC 7638 thumbprint
(`jkt`): it is the `keyid` of request signatures, the `kid` of approvals and JWKS entries,
and `cnf.jkt` in tokens.

`PublicJwk` is a plain value (hashable, picklable). `SigningKey` holds the private scalar in
`SecretBytes`: redacted repr, no pickling or copying; the private JWK leaves only through the
explicit `to_private_dict()` / `save_signing_key()`.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc import jwk as jose_jwk
from nacl import bindings as nacl_bindings
from joserfc.util import urlsafe_b64decode, urlsafe_b64encode

from accord.atomic_file import write_atomic
from accord.protocols import canonical_json
from accord.protocols.auth_errors import (
    InvalidJwk,
    KeyFileError,
    PrivateKeyMaterial,
    UnsupportedKeyType,
)
from accord.protocols.secret import SecretBytes, SecretLeakError


class KeyKind(enum.Enum):
    """The key kinds of Accord's profile, with their names in each protocol."""

    ED25519 = ("OKP", "Ed25519", "EdDSA", "ed25519")
    P256 = ("EC", "P-256", "ES256", "ecdsa-p256-sha256")

    def __init__(self, kty: str, crv: str, jws_alg: str, http_alg: str) -> None:
        self.kty = kty
        self.crv = crv
        self.jws_alg = jws_alg
        self.http_alg = http_alg

    @classmethod
    def of(cls, kty: Any, crv: Any) -> KeyKind:
        for kind in cls:
            if (kind.kty, kind.crv) == (kty, crv):
                return kind
        raise UnsupportedKeyType(
            f"key type kty={kty!r} crv={crv!r} is not in Accord's profile (OKP/Ed25519, EC/P-256)"
        )


_COORD_LEN = 32  # bytes of x (and y) for both Ed25519 and P-256
# Members a JWK may carry besides the key itself; anything else is refused.
_METADATA = frozenset({"kid", "alg", "use", "key_ops"})


def b64url_decode(value: Any, what: str) -> bytes:
    """Strict base64url without padding (RFC 7515 section 2): one spelling per byte string."""
    if not isinstance(value, str):
        raise InvalidJwk(f"{what} must be a base64url string, got {type(value).__name__}")
    try:
        return urlsafe_b64decode(value.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise InvalidJwk(f"{what} is not canonical unpadded base64url") from exc


def b64url_encode(data: bytes) -> str:
    """base64url without padding."""
    return urlsafe_b64encode(data).decode("ascii")


def _coordinate(value: Any, name: str) -> bytes:
    raw = b64url_decode(value, f"JWK member {name!r}")
    if len(raw) != _COORD_LEN:
        raise InvalidJwk(f"JWK member {name!r} must encode {_COORD_LEN} bytes, got {len(raw)}")
    return raw


def _check_members(jwk: Mapping[str, Any], key_members: set[str], kind: KeyKind) -> None:
    unknown = set(jwk) - key_members - _METADATA
    if unknown:
        raise InvalidJwk(f"JWK has members outside Accord's profile: {sorted(unknown)}")
    if "alg" in jwk and jwk["alg"] != kind.jws_alg:
        raise InvalidJwk(f"JWK alg {jwk['alg']!r} does not fit a {kind.crv} key (expected {kind.jws_alg})")
    if "use" in jwk and jwk["use"] != "sig":
        raise InvalidJwk(f"JWK use {jwk['use']!r} is not 'sig'")
    ops = jwk.get("key_ops", [])
    if not isinstance(ops, list) or not set(ops) <= {"sign", "verify"}:
        raise InvalidJwk(f"JWK key_ops {ops!r} allow more than signing and verifying")


@dataclass(frozen=True)
class PublicJwk:
    """A public signing key: the RFC 7638 required members of an Ed25519 or P-256 JWK."""

    kty: str
    crv: str
    x: str
    y: str | None = None

    def __post_init__(self) -> None:
        kind = KeyKind.of(self.kty, self.crv)
        _coordinate(self.x, "x")
        if kind is KeyKind.P256:
            _coordinate(self.y, "y")
        elif self.y is not None:
            raise InvalidJwk("an Ed25519 JWK has no 'y' member")
        self.crypto_key()  # validates the point now, not at first use

    @classmethod
    def from_dict(cls, jwk: Mapping[str, Any]) -> PublicJwk:
        """Parse a public JWK. A private member ("d") is refused: it must never travel here."""
        if not isinstance(jwk, Mapping):
            raise InvalidJwk(f"a JWK must be a JSON object, got {type(jwk).__name__}")
        if "d" in jwk:
            raise PrivateKeyMaterial("a private JWK was given where a public key is expected")
        kind = KeyKind.of(jwk.get("kty"), jwk.get("crv"))
        members = {"kty", "crv", "x"} | ({"y"} if kind is KeyKind.P256 else set())
        _check_members(jwk, members, kind)
        return cls(kty=kind.kty, crv=kind.crv, x=jwk.get("x"), y=jwk.get("y"))  # type: ignore[arg-type]

    @property
    def kind(self) -> KeyKind:
        return KeyKind.of(self.kty, self.crv)

    def to_dict(self) -> dict[str, str]:
        """The public JWK with only the key members (kty, crv, x[, y])."""
        out = {"kty": self.kty, "crv": self.crv, "x": self.x}
        if self.y is not None:
            out["y"] = self.y
        return out

    @cached_property
    def thumbprint(self) -> str:
        """RFC 7638 JWK thumbprint (base64url SHA-256), Accord's name for this key (`jkt`)."""
        return jose_jwk.thumbprint(self.to_dict())

    @property
    def jws_alg(self) -> str:
        return self.kind.jws_alg

    @property
    def http_signature_alg(self) -> str:
        return self.kind.http_alg

    def crypto_key(self) -> ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey:
        """The `cryptography` public key (the point is checked to lie on the curve). Not cached:
        a PublicJwk stays picklable."""
        try:
            if self.kind is KeyKind.ED25519:
                return ed25519.Ed25519PublicKey.from_public_bytes(b64url_decode(self.x, "x"))
            numbers = ec.EllipticCurvePublicNumbers(
                int.from_bytes(b64url_decode(self.x, "x"), "big"),
                int.from_bytes(b64url_decode(self.y, "y"), "big"),
                ec.SECP256R1(),
            )
            return numbers.public_key()
        except ValueError as exc:
            raise InvalidJwk(f"JWK does not encode a valid {self.crv} public key: {exc}") from exc

    def jose_key(self) -> jose_jwk.OKPKey | jose_jwk.ECKey:
        """The key as a joserfc key object (for JWS verification)."""
        cls = jose_jwk.OKPKey if self.kind is KeyKind.ED25519 else jose_jwk.ECKey
        return cls.import_key(self.to_dict())

    def to_jwks_entry(self) -> dict[str, str]:
        """The JWK as published in a JWKS: key members plus kid (= thumbprint), alg, use."""
        return {**self.to_dict(), "kid": self.thumbprint, "alg": self.jws_alg, "use": "sig"}


def _public_jwk_of(key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> PublicJwk:
    public = key.public_key()
    if isinstance(public, ed25519.Ed25519PublicKey):
        return PublicJwk("OKP", "Ed25519", b64url_encode(public.public_bytes_raw()))
    numbers = public.public_numbers()
    return PublicJwk(
        "EC",
        "P-256",
        b64url_encode(numbers.x.to_bytes(_COORD_LEN, "big")),
        b64url_encode(numbers.y.to_bytes(_COORD_LEN, "big")),
    )


class SigningKey:
    """A private Ed25519 or P-256 key. Never printed, pickled or copied."""

    __slots__ = ("_d", "public", "_signer")

    def __init__(self, d: SecretBytes, public: PublicJwk) -> None:
        """Internal: use `generate`, `from_dict` or `load_signing_key`."""
        self._d = d
        self.public = public
        self._signer: bytes | ec.EllipticCurvePrivateKey | None = None

    @classmethod
    def generate(cls, kind: KeyKind = KeyKind.ED25519) -> SigningKey:
        """A fresh random key of the given kind."""
        if kind is KeyKind.ED25519:
            return cls._from_crypto(ed25519.Ed25519PrivateKey.generate())
        return cls._from_crypto(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def _from_crypto(cls, key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> SigningKey:
        if isinstance(key, ed25519.Ed25519PrivateKey):
            d = key.private_bytes_raw()
        else:
            d = key.private_numbers().private_value.to_bytes(_COORD_LEN, "big")
        return cls(SecretBytes(d, "JWK private key"), _public_jwk_of(key))

    @classmethod
    def from_dict(cls, jwk: Mapping[str, Any]) -> SigningKey:
        """Parse a private JWK; the public members must belong to the private scalar."""
        if not isinstance(jwk, Mapping):
            raise InvalidJwk(f"a JWK must be a JSON object, got {type(jwk).__name__}")
        if "d" not in jwk:
            raise InvalidJwk("a private JWK needs the 'd' member")
        kind = KeyKind.of(jwk.get("kty"), jwk.get("crv"))
        members = {"kty", "crv", "x", "d"} | ({"y"} if kind is KeyKind.P256 else set())
        _check_members(jwk, members, kind)
        public = PublicJwk.from_dict({k: v for k, v in jwk.items() if k in members - {"d"}})
        key = cls(SecretBytes(_coordinate(jwk["d"], "d"), "JWK private key"), public)
        if _public_jwk_of(key.crypto_key()) != public:
            raise InvalidJwk("JWK public members do not belong to its private key 'd'")
        return key

    @property
    def thumbprint(self) -> str:
        """RFC 7638 thumbprint of the public key."""
        return self.public.thumbprint

    def crypto_key(self) -> ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey:
        """A `cryptography` private key for immediate use; do not keep it."""
        d = self._d.reveal()
        try:
            if self.public.kind is KeyKind.ED25519:
                return ed25519.Ed25519PrivateKey.from_private_bytes(d)
            return ec.derive_private_key(int.from_bytes(d, "big"), ec.SECP256R1())
        except ValueError as exc:
            raise InvalidJwk(f"invalid {self.public.crv} private key: {exc}") from exc

    def sign(self, data: bytes) -> bytes:
        """The raw signature of `data`: Ed25519 (64 bytes, libsodium) or ECDSA P-256 with
        SHA-256 as r || s (64 bytes, RFC 7518 / RFC 9421 form). The expanded key is built
        once (that derives the public point, costlier than a signature) and stays inside
        this object, which is never pickled or copied."""
        if self._signer is None:
            if self.public.kind is KeyKind.ED25519:
                self._signer = nacl_bindings.crypto_sign_seed_keypair(self._d.reveal())[1]
            else:
                self._signer = self.crypto_key()
        if isinstance(self._signer, bytes):
            return nacl_bindings.crypto_sign(data, self._signer)[:64]
        r, s = decode_dss_signature(self._signer.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(_COORD_LEN, "big") + s.to_bytes(_COORD_LEN, "big")

    def jose_key(self) -> jose_jwk.OKPKey | jose_jwk.ECKey:
        """A joserfc private key for immediate use (JWS signing); do not keep it."""
        return jose_jwk.import_key(self.crypto_key(), self.public.kty)

    def to_private_dict(self) -> dict[str, str]:
        """Export the private JWK. Only for writing the owner's key file."""
        return {**self.public.to_dict(), "d": b64url_encode(self._d.reveal())}

    def __repr__(self) -> str:
        return f"<SigningKey {self.public.crv} {self.thumbprint}: private part redacted>"

    __str__ = __repr__

    def __reduce__(self):
        raise SecretLeakError("a SigningKey must not be pickled or sent across processes")

    def __copy__(self):
        raise SecretLeakError("a SigningKey must not be copied")

    def __deepcopy__(self, memo):
        raise SecretLeakError("a SigningKey must not be copied")


# --- files ---------------------------------------------------------------------------------


def _write(path: str | os.PathLike[str], data: bytes, *, mode: int, overwrite: bool) -> None:
    # Atomic (temp file, fsync, rename): a crash never leaves a torn key file behind.
    if not write_atomic(Path(path), data, mode=mode, exclusive=not overwrite):
        raise KeyFileError(f"{path} exists; refusing to overwrite a key file")


def _read_json(path: str | os.PathLike[str]) -> Any:
    try:
        return canonical_json.loads(Path(path).read_bytes())
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror}") from exc
    except canonical_json.CanonicalJsonError as exc:
        raise InvalidJwk(f"key file {path} is not strict JSON: {exc}") from exc


def save_signing_key(key: SigningKey, path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
    """Write the private JWK (canonical JSON), readable by the owner only (mode 0600)."""
    _write(path, canonical_json.dumps(key.to_private_dict()), mode=0o600, overwrite=overwrite)


def load_signing_key(path: str | os.PathLike[str]) -> SigningKey:
    """Read a private JWK written by `save_signing_key` (or any Ed25519/P-256 private JWK)."""
    return SigningKey.from_dict(_read_json(path))


def save_public_key(key: PublicJwk, path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
    """Write the public JWK (canonical JSON) with its kid, alg and use."""
    _write(path, canonical_json.dumps(key.to_jwks_entry()), mode=0o644, overwrite=overwrite)


def load_public_key(path: str | os.PathLike[str]) -> PublicJwk:
    """Read a public JWK; a file that holds a private key is refused."""
    return PublicJwk.from_dict(_read_json(path))


# --- key sets ------------------------------------------------------------------------------


def build_jwks(keys: Iterable[PublicJwk]) -> dict[str, list[dict[str, str]]]:
    """A JWKS (RFC 7517 section 5) whose kids are the RFC 7638 thumbprints, in input order."""
    entries = [key.to_jwks_entry() for key in keys]
    kids = [entry["kid"] for entry in entries]
    if len(set(kids)) != len(kids):
        raise InvalidJwk("the same key appears twice in the key set")
    return {"keys": entries}


def parse_jwks(jwks: Mapping[str, Any]) -> dict[str, PublicJwk]:
    """Parse a JWKS into kid -> key. Every entry needs a unique kid; private keys are refused."""
    if not isinstance(jwks, Mapping) or set(jwks) != {"keys"} or not isinstance(jwks["keys"], list):
        raise InvalidJwk('a JWKS must be a JSON object with exactly one member "keys" (a list)')
    out: dict[str, PublicJwk] = {}
    for i, entry in enumerate(jwks["keys"]):
        kid = entry.get("kid") if isinstance(entry, Mapping) else None
        if not isinstance(kid, str) or not kid:
            raise InvalidJwk(f"JWKS entry {i} has no string kid")
        if kid in out:
            raise InvalidJwk(f"JWKS has two entries with kid {kid!r}")
        out[kid] = PublicJwk.from_dict(entry)
    return out

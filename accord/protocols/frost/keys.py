"""Key material: signing shares, verifying shares, the group key, and their packages
(frost-core `keys`), plus the RFC 9591 Appendix C trusted dealer used for the test vectors.

Byte formats (stable, versionless; integers big-endian, scalars and points 32 bytes):
- VerifyingKey / VerifyingShare: the 32-byte point encoding.
- KeyPackage (SECRET, only ever to be sealed): identifier || signing_share ||
  verifying_share || verifying_key || min_signers:u16  (130 bytes).
- PublicKeyPackage: verifying_key || min_signers:u16 || n:u16 || n * (identifier || verifying_share),
  identifiers ascending. Its JSON form is frost-core's serde JSON for the same package.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from joserfc.jwk import OKPKey
from nacl import bindings as sodium
from nacl.exceptions import CryptoError

from accord.protocols import canonical_json
from accord.protocols.frost import ciphersuite as cs
from accord.protocols.frost.ciphersuite import Element
from accord.protocols.frost.errors import (
    DuplicateIdentifier,
    InvalidKeyPackage,
    InvalidLength,
    InvalidParameters,
    InvalidSignature,
    MalformedEncoding,
)
from accord.protocols.frost.identifier import Identifier, unique_sorted
from accord.protocols.frost.polynomial import polynomial_evaluate, vss_commit, vss_evaluate
from accord.protocols.frost.secret_holder import SecretHolder
from accord.protocols.secret import SecretBytes

_S = cs.SCALAR_SIZE
_JSON_HEADER = {"version": 0, "ciphersuite": cs.CONTEXT_STRING.decode()}


def validate_num_of_signers(min_signers: int, max_signers: int) -> None:
    """A threshold needs 2 <= min_signers <= max_signers (frost-core's rule)."""
    if not isinstance(min_signers, int) or not isinstance(max_signers, int):
        raise InvalidParameters("min_signers and max_signers must be integers")
    if min_signers < 2:
        raise InvalidParameters(f"min_signers must be at least 2, got {min_signers}")
    if max_signers < min_signers:
        raise InvalidParameters(f"max_signers ({max_signers}) is below min_signers ({min_signers})")
    if max_signers > 0xFFFF:
        raise InvalidParameters(f"max_signers must fit in 16 bits, got {max_signers}")


@dataclass(frozen=True, slots=True)
class SigningShare(SecretHolder):
    """A participant's secret share s_i of the group signing key (held in SecretBytes)."""

    secret: SecretBytes

    @classmethod
    def from_scalar(cls, scalar: bytes) -> SigningShare:
        return cls(SecretBytes(cs.deserialize_scalar(scalar, "signing share"), "FROST signing share"))

    def verifying_share(self) -> VerifyingShare:
        return VerifyingShare(cs.scalar_base_mult(self.secret.reveal()))

    def wipe(self) -> None:
        self.secret.wipe()


@dataclass(frozen=True, slots=True)
class VerifyingShare:
    """A participant's public verifying share Y_i = s_i * G."""

    element: Element

    def to_bytes(self) -> bytes:
        return self.element.encoding

    @classmethod
    def from_bytes(cls, buf: bytes) -> VerifyingShare:
        return cls(cs.deserialize_element(buf, "verifying share"))


@dataclass(frozen=True, slots=True)
class VerifyingKey:
    """The group public key: an ordinary Ed25519 public key."""

    element: Element

    def to_bytes(self) -> bytes:
        return self.element.encoding

    @classmethod
    def from_bytes(cls, buf: bytes) -> VerifyingKey:
        return cls(cs.deserialize_element(buf, "verifying key"))

    def to_cryptography(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.element.encoding)

    def to_jwk(self) -> dict[str, str]:
        """The key as a public JWK (RFC 8037: kty OKP, crv Ed25519)."""
        return dict(OKPKey.import_key(self.to_cryptography()).as_dict(private=False))

    def verify(self, message: bytes, signature: bytes) -> None:
        """Verify an Ed25519 signature (RFC 8032, libsodium's strict verifier); raises
        InvalidSignature."""
        if len(signature) != 64:
            raise InvalidLength(f"an Ed25519 signature is 64 bytes, got {len(signature)}")
        try:
            sodium.crypto_sign_open(signature + message, self.element.encoding)
        except CryptoError:
            raise InvalidSignature("signature does not verify under the group public key") from None


@dataclass(frozen=True, slots=True)
class KeyPackage(SecretHolder):
    """Everything a participant needs to sign: its identifier, signing share, verifying
    share, the group key and the threshold. Checked consistent on construction."""

    identifier: Identifier
    signing_share: SigningShare
    verifying_share: VerifyingShare
    verifying_key: VerifyingKey
    min_signers: int

    def __post_init__(self) -> None:
        if self.signing_share.verifying_share() != self.verifying_share:
            raise InvalidKeyPackage(
                f"participant {self.identifier.value}: verifying share does not match the signing share"
            )
        if not 2 <= self.min_signers <= 0xFFFF:
            raise InvalidParameters(f"min_signers must be in [2, 65535], got {self.min_signers}")

    def to_bytes(self) -> SecretBytes:
        """SECRET serialization, only for sealing (wrap it in AEAD before it leaves memory)."""
        return SecretBytes(
            self.identifier.to_bytes()
            + self.signing_share.secret.reveal()
            + self.verifying_share.to_bytes()
            + self.verifying_key.to_bytes()
            + struct.pack(">H", self.min_signers),
            "FROST key package",
        )

    @classmethod
    def from_bytes(cls, buf: bytes | SecretBytes) -> KeyPackage:
        raw = buf.reveal() if isinstance(buf, SecretBytes) else bytes(buf)
        if len(raw) != 4 * _S + 2:
            raise InvalidLength(f"key package must be {4 * _S + 2} bytes, got {len(raw)}")
        return cls(
            identifier=Identifier.from_bytes(raw[:_S]),
            signing_share=SigningShare.from_scalar(raw[_S : 2 * _S]),
            verifying_share=VerifyingShare.from_bytes(raw[2 * _S : 3 * _S]),
            verifying_key=VerifyingKey.from_bytes(raw[3 * _S : 4 * _S]),
            min_signers=struct.unpack(">H", raw[4 * _S :])[0],
        )

    def wipe(self) -> None:
        self.signing_share.wipe()


@dataclass(frozen=True, slots=True)
class PublicKeyPackage:
    """Public information about the key: every participant's verifying share, the group
    key and the threshold. What a coordinator needs to aggregate and to name a cheater."""

    verifying_shares: Mapping[Identifier, VerifyingShare]
    verifying_key: VerifyingKey
    min_signers: int

    def __post_init__(self) -> None:
        ordered = unique_sorted(self.verifying_shares)
        shares = MappingProxyType({i: self.verifying_shares[i] for i in ordered})
        object.__setattr__(self, "verifying_shares", shares)
        validate_num_of_signers(self.min_signers, len(shares))

    def to_bytes(self) -> bytes:
        out = [self.verifying_key.to_bytes(), struct.pack(">HH", self.min_signers, len(self.verifying_shares))]
        for identifier, share in self.verifying_shares.items():
            out += [identifier.to_bytes(), share.to_bytes()]
        return b"".join(out)

    @classmethod
    def from_bytes(cls, buf: bytes) -> PublicKeyPackage:
        if len(buf) < _S + 4:
            raise InvalidLength(f"public key package too short: {len(buf)} bytes")
        min_signers, count = struct.unpack(">HH", buf[_S : _S + 4])
        if len(buf) != _S + 4 + count * 2 * _S:
            raise InvalidLength(
                f"public key package with {count} shares must be {_S + 4 + count * 2 * _S} bytes, got {len(buf)}"
            )
        body = buf[_S + 4 :]
        pairs = [body[k : k + 2 * _S] for k in range(0, len(body), 2 * _S)]
        return cls(
            verifying_shares=_unique_map(
                (Identifier.from_bytes(p[:_S]), VerifyingShare.from_bytes(p[_S:])) for p in pairs
            ),
            verifying_key=VerifyingKey.from_bytes(buf[:_S]),
            min_signers=min_signers,
        )

    def to_json(self) -> bytes:
        """Canonical JSON in frost-core's serde shape (hex identifiers, shares and key)."""
        return canonical_json.dumps(
            {
                "header": _JSON_HEADER,
                "verifying_shares": {i.to_bytes().hex(): s.to_bytes().hex() for i, s in self.verifying_shares.items()},
                "verifying_key": self.verifying_key.to_bytes().hex(),
                "min_signers": self.min_signers,
            }
        )

    @classmethod
    def from_json(cls, data: bytes | str) -> PublicKeyPackage:
        obj = canonical_json.loads(data)
        if not isinstance(obj, dict) or set(obj) != {"header", "verifying_shares", "verifying_key", "min_signers"}:
            raise MalformedEncoding("public key package JSON must have exactly header, verifying_shares, verifying_key, min_signers")
        if obj["header"] != _JSON_HEADER:
            raise MalformedEncoding(f"public key package header must be {_JSON_HEADER}, got {obj['header']!r}")
        shares = obj["verifying_shares"]
        if not isinstance(shares, dict) or not isinstance(obj["min_signers"], int):
            raise MalformedEncoding("verifying_shares must be an object and min_signers an integer")
        return cls(
            verifying_shares={
                Identifier.from_bytes(_unhex(i, "identifier")): VerifyingShare.from_bytes(_unhex(s, "verifying share"))
                for i, s in shares.items()
            },
            verifying_key=VerifyingKey.from_bytes(_unhex(obj["verifying_key"], "verifying key")),
            min_signers=obj["min_signers"],
        )

    @classmethod
    def from_commitment(
        cls, commitment: Sequence[Element], identifiers: Iterable[Identifier], min_signers: int
    ) -> PublicKeyPackage:
        """derive_group_info (RFC 9591 Appendix C.2): the group key is the committed constant
        term, each verifying share the committed polynomial at the participant's identifier."""
        return cls(
            verifying_shares={i: VerifyingShare(vss_evaluate(commitment, i)) for i in unique_sorted(identifiers)},
            verifying_key=VerifyingKey(commitment[0]),
            min_signers=min_signers,
        )


def trusted_dealer_keygen(
    secret_key: bytes,
    max_signers: int,
    min_signers: int,
    *,
    coefficients: Sequence[bytes] | None = None,
    identifiers: Sequence[Identifier] | None = None,
) -> tuple[dict[Identifier, KeyPackage], PublicKeyPackage]:
    """RFC 9591 Appendix C: split `secret_key` into shares with a random polynomial (or the
    given `coefficients` a_1..a_(t-1), as the test vectors do). Accord itself uses the DKG;
    the dealer exists for the conformance vectors and tests."""
    validate_num_of_signers(min_signers, max_signers)
    ids = unique_sorted(identifiers or [Identifier(i) for i in range(1, max_signers + 1)])
    if len(ids) != max_signers:
        raise InvalidParameters(f"need {max_signers} identifiers, got {len(ids)}")
    if coefficients is None:
        coefficients = [cs.random_scalar() for _ in range(min_signers - 1)]
    if len(coefficients) != min_signers - 1:
        raise InvalidParameters(f"a {min_signers}-of-n polynomial needs {min_signers - 1} coefficients")
    polynomial = [cs.deserialize_scalar(secret_key, "secret key"), *coefficients]
    public = PublicKeyPackage.from_commitment(vss_commit(polynomial), ids, min_signers)
    packages = {
        i: KeyPackage(
            identifier=i,
            signing_share=SigningShare.from_scalar(polynomial_evaluate(i, polynomial)),
            verifying_share=public.verifying_shares[i],
            verifying_key=public.verifying_key,
            min_signers=min_signers,
        )
        for i in ids
    }
    return packages, public


def _unique_map(pairs: Iterable[tuple[Identifier, Any]]) -> dict[Identifier, Any]:
    out: dict[Identifier, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateIdentifier(f"identifier {key.value} appears more than once")
        out[key] = value
    return out


def _unhex(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise MalformedEncoding(f"{what} must be a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise MalformedEncoding(f"{what} is not valid hex: {value[:80]!r}") from None


"""The FROST(Ed25519, SHA-512) ciphersuite (RFC 9591, Section 6.1).

Group arithmetic is libsodium's (through `nacl.bindings`); hashing is hashlib's SHA-512.

Scalars are represented as their 32-byte little-endian canonical encoding (`bytes`), which
is what libsodium consumes, so a scalar never needs converting on its way to the group.
Group elements are `Element`s: a validated encoding. The only ways to get one are
`deserialize_element` (which runs every check of RFC 9591's DeserializeElement) and the
group operations below applied to Elements, so holding an Element means its checks have
already been paid for: peers' commitments are validated once, on arrival, never again.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from typing import Final, final

from nacl import bindings as sodium
from nacl.exceptions import CryptoError

from accord.protocols.frost.errors import (
    InvalidLength,
    InvalidPoint,
    MalformedEncoding,
    PointDefect,
)

CONTEXT_STRING: Final = b"FROST-ED25519-SHA512-v1"
ORDER: Final = 2**252 + 27742317777372353535851937790883648493  # L, the prime group order
SCALAR_SIZE: Final = 32
ELEMENT_SIZE: Final = 32

_FIELD_PRIME = 2**255 - 19
_IDENTITY = b"\x01" + bytes(31)


# ---------------------------------------------------------------------------- scalars


def serialize_scalar(value: int) -> bytes:
    """SerializeScalar: the 32-byte little-endian encoding of `value` mod L."""
    return (value % ORDER).to_bytes(SCALAR_SIZE, "little")


def scalar_to_int(scalar: bytes) -> int:
    return int.from_bytes(scalar, "little")


def deserialize_scalar(buf: bytes, what: str = "scalar") -> bytes:
    """DeserializeScalar: accept exactly 32 bytes encoding an integer below L."""
    if len(buf) != SCALAR_SIZE:
        raise InvalidLength(f"{what} must be {SCALAR_SIZE} bytes, got {len(buf)}")
    if int.from_bytes(buf, "little") >= ORDER:
        raise MalformedEncoding(f"{what} is not canonical: it is not below the group order")
    return bytes(buf)


def random_scalar() -> bytes:
    """A uniformly random non-zero scalar (64 random bytes reduced mod L)."""
    while True:
        scalar = sodium.crypto_core_ed25519_scalar_reduce(os.urandom(64))
        if scalar != bytes(SCALAR_SIZE):
            return scalar


scalar_add = sodium.crypto_core_ed25519_scalar_add
scalar_sub = sodium.crypto_core_ed25519_scalar_sub
scalar_mul = sodium.crypto_core_ed25519_scalar_mul


# ---------------------------------------------------------------------------- elements


@final
class Element:
    """A group element that passed every check of DeserializeElement.

    Unpickling re-validates (an Element that crossed a process boundary has "arrived").
    """

    __slots__ = ("encoding",)

    encoding: bytes

    def __init__(self, encoding: bytes) -> None:
        object.__setattr__(self, "encoding", _validated(encoding))

    @classmethod
    def _trusted(cls, encoding: bytes) -> Element:
        # For results of group operations on Elements, which are valid by construction.
        element = object.__new__(cls)
        object.__setattr__(element, "encoding", encoding)
        return element

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Element is immutable")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Element) and other.encoding == self.encoding

    def __hash__(self) -> int:
        return hash(self.encoding)

    def __reduce__(self):
        return (Element, (self.encoding,))

    def __repr__(self) -> str:
        return f"Element({self.encoding.hex()})"


def deserialize_element(buf: bytes, what: str = "point") -> Element:
    """DeserializeElement: decode and validate a received point (raises InvalidPoint)."""
    return Element._trusted(_validated(buf, what))


def deserialize_multiplicand(buf: bytes, what: str = "point") -> Element:
    """DeserializeElement for a point whose only use is as the base of ScalarMult (a binding
    nonce commitment E_i, used only as rho_i * E_i). libsodium's variable-base
    multiplication validates its input completely on every call (canonical, on curve, not
    small order, prime-order subgroup) and `scalar_mult` raises InvalidPoint for a point that
    fails, so checking here as well would do the most expensive check twice."""
    return Element._trusted(_sized(buf, what))


def deserialize_vouched(buf: bytes, what: str = "point") -> Element:
    """DeserializeElement for a point that its maker, an honest participant, signed for (a
    peer's nonce commitment in a batch its `participant_signature` covers): the maker
    computed it as scalar * G, so only its length is checked."""
    return Element._trusted(_sized(buf, what))


def _sized(buf: bytes, what: str) -> bytes:
    if len(buf) != ELEMENT_SIZE:
        raise InvalidLength(f"{what} must be {ELEMENT_SIZE} bytes, got {len(buf)}")
    return bytes(buf)


def _validated(buf: bytes, what: str = "point") -> bytes:
    buf = _sized(buf, what)
    # libsodium's check is complete (canonical, on curve, not small order, in the prime-order
    # subgroup); only when it fails do we work out which check to name.
    if sodium.crypto_core_ed25519_is_valid_point(buf):
        return buf
    raise InvalidPoint(_diagnose(buf), what)


def _diagnose(buf: bytes) -> PointDefect:
    y = int.from_bytes(buf, "little") & (2**255 - 1)
    x_is_negative = buf[31] >> 7
    if y >= _FIELD_PRIME or (x_is_negative and y in (1, _FIELD_PRIME - 1)):
        return PointDefect.NON_CANONICAL  # y not reduced, or x = 0 encoded as "-0"
    try:
        doubled = sodium.crypto_core_ed25519_add(buf, buf)  # decodes, so fails off the curve
    except CryptoError:
        return PointDefect.NOT_ON_CURVE
    if buf == _IDENTITY:
        return PointDefect.IDENTITY
    eight_p = sodium.crypto_core_ed25519_add(doubled, doubled)
    eight_p = sodium.crypto_core_ed25519_add(eight_p, eight_p)
    if eight_p == _IDENTITY:
        return PointDefect.SMALL_ORDER
    return PointDefect.NOT_IN_SUBGROUP


def scalar_base_mult(scalar: bytes) -> Element:
    """ScalarBaseMult: scalar * G (fixed-base, the cheap multiplication)."""
    try:
        return Element._trusted(sodium.crypto_scalarmult_ed25519_base_noclamp(scalar))
    except CryptoError:
        raise InvalidPoint(PointDefect.IDENTITY, "scalar * G") from None


def scalar_mult(scalar: bytes, element: Element) -> Element:
    """ScalarMult: scalar * element (variable-base, about four times the cost of the above).
    libsodium validates `element` fully here; an invalid one raises InvalidPoint (see
    `deserialize_multiplicand`)."""
    try:
        return Element._trusted(sodium.crypto_scalarmult_ed25519_noclamp(scalar, element.encoding))
    except CryptoError:
        if not sodium.crypto_core_ed25519_is_valid_point(element.encoding):
            raise InvalidPoint(_diagnose(element.encoding), "multiplied point") from None
        raise InvalidPoint(PointDefect.IDENTITY, "scalar * point") from None


def sum_elements(elements: Iterable[Element], what: str = "sum of points") -> Element:
    """The sum of one or more elements; a sum equal to the identity is an error (it cannot
    be serialized, RFC 9591 Section 6.1 SerializeElement)."""
    iterator = iter(elements)
    total = next(iterator).encoding
    for element in iterator:
        total = sodium.crypto_core_ed25519_add(total, element.encoding)
    if total == _IDENTITY:
        raise InvalidPoint(PointDefect.IDENTITY, what)
    return Element._trusted(total)


# ---------------------------------------------------------------------------- hashes


def _hash_to_scalar(*parts: bytes) -> bytes:
    return sodium.crypto_core_ed25519_scalar_reduce(hashlib.sha512(b"".join(parts)).digest())


def H1(m: bytes) -> bytes:  # noqa: N802 - the RFC's names
    """Binding-factor hash."""
    return _hash_to_scalar(CONTEXT_STRING, b"rho", m)


def H2(m: bytes) -> bytes:  # noqa: N802
    """Challenge hash; no domain separation, for compatibility with RFC 8032 Ed25519."""
    return _hash_to_scalar(m)


def H3(m: bytes) -> bytes:  # noqa: N802
    """Nonce hash."""
    return _hash_to_scalar(CONTEXT_STRING, b"nonce", m)


def H4(m: bytes) -> bytes:  # noqa: N802
    """Message hash (64 bytes)."""
    return hashlib.sha512(CONTEXT_STRING + b"msg" + m).digest()


def H5(m: bytes) -> bytes:  # noqa: N802
    """Commitment-list hash (64 bytes)."""
    return hashlib.sha512(CONTEXT_STRING + b"com" + m).digest()


def HDKG(m: bytes) -> bytes:  # noqa: N802
    """The DKG proof-of-knowledge challenge hash of ZcashFoundation frost."""
    return _hash_to_scalar(CONTEXT_STRING, b"dkg", m)


def HPARTICIPANT(m: bytes) -> bytes:  # noqa: N802
    """Accord's challenge hash for a participant's own signatures (`participant_signature`):
    a label none of the hashes above uses."""
    return _hash_to_scalar(CONTEXT_STRING, b"accord-participant", m)

"""Participant identifiers: non-zero scalars (RFC 9591, Section 5; frost-core `Identifier`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import total_ordering

from accord.protocols.frost import ciphersuite as cs
from accord.protocols.frost.errors import DuplicateIdentifier, InvalidIdentifier, MalformedEncoding


@total_ordering
@dataclass(frozen=True, slots=True)
class Identifier:
    """A participant's identifier: an integer in [1, L-1], ordered numerically (the order
    of the RFC's commitment list)."""

    value: int

    def __post_init__(self) -> None:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            raise InvalidIdentifier(f"identifier must be an int, got {type(self.value).__name__}")
        if not 0 < self.value < cs.ORDER:
            raise InvalidIdentifier(f"identifier must be in [1, L-1], got {self.value}")

    def to_bytes(self) -> bytes:
        """SerializeScalar(identifier): 32 bytes, little-endian."""
        return cs.serialize_scalar(self.value)

    @classmethod
    def from_bytes(cls, buf: bytes) -> Identifier:
        try:
            scalar = cs.deserialize_scalar(buf, "identifier")
        except MalformedEncoding as exc:
            raise InvalidIdentifier(str(exc)) from None
        return cls(cs.scalar_to_int(scalar))

    def __int__(self) -> int:
        return self.value

    def __lt__(self, other: Identifier) -> bool:
        if not isinstance(other, Identifier):
            return NotImplemented
        return self.value < other.value

    def __repr__(self) -> str:
        return f"Identifier({self.value})"


def unique_sorted(identifiers: Iterable[Identifier]) -> tuple[Identifier, ...]:
    """The identifiers in ascending order; raises DuplicateIdentifier on a repeat."""
    ordered = sorted(identifiers)
    for a, b in zip(ordered, ordered[1:]):
        if a == b:
            raise DuplicateIdentifier(f"identifier {a.value} appears more than once")
    return tuple(ordered)

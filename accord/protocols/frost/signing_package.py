"""The signing package a coordinator sends to the signers: the message and the chosen
participants' commitments (RFC 9591 Section 5.2, the commitment_list and msg).

Byte format (stable, versionless, public): n:u16 || n * (identifier || hiding || binding)
|| message, identifiers ascending.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from accord.protocols.frost import ciphersuite as cs
from accord.protocols.frost.errors import (
    DuplicateIdentifier,
    InvalidLength,
    MalformedEncoding,
    MissingCommitment,
)
from accord.protocols.frost.identifier import Identifier, unique_sorted
from accord.protocols.frost.round1 import SigningCommitments

_RECORD = cs.SCALAR_SIZE + 2 * cs.ELEMENT_SIZE


@dataclass(frozen=True, slots=True)
class SigningPackage:
    """commitments: every signing participant's commitments, by identifier; message: the
    bytes to sign. Ordered by identifier, as the RFC's commitment list is."""

    commitments: Mapping[Identifier, SigningCommitments]
    message: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.message, bytes):
            raise MalformedEncoding(f"message must be bytes, got {type(self.message).__name__}")
        if not self.commitments:
            raise MalformedEncoding("a signing package needs at least one participant's commitments")
        ordered = unique_sorted(self.commitments)
        object.__setattr__(self, "commitments", MappingProxyType({i: self.commitments[i] for i in ordered}))

    @property
    def participants(self) -> tuple[Identifier, ...]:
        return tuple(self.commitments)

    def to_bytes(self) -> bytes:
        out = [struct.pack(">H", len(self.commitments))]
        for identifier, commitments in self.commitments.items():
            out += [identifier.to_bytes(), commitments.to_bytes()]
        out.append(self.message)
        return b"".join(out)

    @classmethod
    def from_bytes(cls, buf: bytes, validated: ValidatedCommitments | None = None) -> SigningPackage:
        """Parse a signing package. Commitments found in `validated` (checked when they
        arrived) are taken from there without decoding; any other point is validated here."""
        if len(buf) < 2:
            raise InvalidLength("signing package too short")
        (count,) = struct.unpack(">H", buf[:2])
        end = 2 + count * _RECORD
        if len(buf) < end:
            raise InvalidLength(f"signing package with {count} participants needs at least {end} bytes, got {len(buf)}")
        commitments: dict[Identifier, SigningCommitments] = {}
        for offset in range(2, end, _RECORD):
            identifier = Identifier.from_bytes(buf[offset : offset + cs.SCALAR_SIZE])
            if identifier in commitments:
                raise DuplicateIdentifier(f"identifier {identifier.value} appears more than once")
            record = buf[offset + cs.SCALAR_SIZE : offset + _RECORD]
            known = validated.take(identifier, record) if validated is not None else None
            commitments[identifier] = known or SigningCommitments.from_bytes(record)
        return cls(commitments, bytes(buf[end:]))


class ValidatedCommitments:
    """Commitments known to be valid, by identifier: a signer's own, and peers' validated
    once on arrival (`SigningCommitments.batch_from_bytes`) or vouched for by their maker's
    signature (`SigningCommitments.vouched_batch`).

    Building or parsing a signing package takes them from here instead of decoding points
    again. Each entry is handed out once (a commitment serves one signature).
    """

    __slots__ = ("_by_participant",)

    def __init__(self) -> None:
        self._by_participant: dict[Identifier, dict[bytes, SigningCommitments]] = {}

    def add(self, identifier: Identifier, commitments: Iterable[SigningCommitments], *, limit: int | None = None) -> None:
        """Keep `commitments` of `identifier`; with `limit`, at most that many of its, the
        oldest dropped first (then validated again if a package names them)."""
        entries = self._by_participant.setdefault(identifier, {})
        entries.update((c.to_bytes(), c) for c in commitments)
        if limit is not None:
            for key in list(itertools.islice(entries, max(0, len(entries) - limit))):
                del entries[key]

    def drop(self, identifier: Identifier) -> None:
        """Forget every commitment of `identifier`."""
        self._by_participant.pop(identifier, None)

    def take(self, identifier: Identifier, encoding: bytes) -> SigningCommitments | None:
        """The validated commitments with this encoding, removed from the store, or None."""
        entries = self._by_participant.get(identifier)
        return entries.pop(bytes(encoding), None) if entries else None

    def take_any(self, identifier: Identifier) -> SigningCommitments:
        """Some unused commitments of `identifier` (a coordinator choosing one per signer)."""
        entries = self._by_participant.get(identifier)
        if not entries:
            raise MissingCommitment(f"no unused commitments from participant {identifier.value}")
        return entries.pop(next(iter(entries)))

    def count(self, identifier: Identifier) -> int:
        return len(self._by_participant.get(identifier, ()))

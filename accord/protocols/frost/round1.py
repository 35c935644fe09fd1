"""Round one: nonce generation and commitments (RFC 9591, Sections 4.1 and 5.1).

Byte formats (stable, versionless):
- SigningCommitments: hiding_commitment || binding_commitment (64 bytes, public).
- A batch of commitments: the concatenation of n such 64-byte records.

SigningNonces are the most dangerous values in FROST: signing twice with the same nonces
reveals the signing share. So they are single-use objects (a second use raises NonceReuse),
are wiped when used, and refuse pickling and copying; they never leave the signer's memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from accord.protocols.frost import ciphersuite as cs
from accord.protocols.frost.ciphersuite import Element
from accord.protocols.frost.errors import InvalidLength, MissingCommitment, NonceReuse
from accord.protocols.frost.keys import SigningShare
from accord.protocols.frost.secret_holder import SecretHolder
from accord.protocols.secret import SecretBytes

_COMMITMENTS_SIZE = 2 * cs.ELEMENT_SIZE


@dataclass(frozen=True, slots=True)
class SigningCommitments:
    """A participant's public commitments (D_i, E_i) to its hiding and binding nonces.

    D_i is validated on arrival; E_i is only ever used as rho_i * E_i, and that
    multiplication validates it completely (see `ciphersuite.deserialize_multiplicand`), so
    it is not checked twice. Deserialize peers' commitments once when they arrive and
    signing and aggregation never decode them again.
    """

    hiding: Element
    binding: Element

    def to_bytes(self) -> bytes:
        return self.hiding.encoding + self.binding.encoding

    @classmethod
    def from_bytes(cls, buf: bytes) -> SigningCommitments:
        if len(buf) != _COMMITMENTS_SIZE:
            raise InvalidLength(f"signing commitments must be {_COMMITMENTS_SIZE} bytes, got {len(buf)}")
        return cls(
            cs.deserialize_element(buf[: cs.ELEMENT_SIZE], "hiding nonce commitment"),
            cs.deserialize_multiplicand(buf[cs.ELEMENT_SIZE :], "binding nonce commitment"),
        )

    @staticmethod
    def batch_to_bytes(batch: Iterable[SigningCommitments]) -> bytes:
        return b"".join(c.to_bytes() for c in batch)

    @classmethod
    def batch_from_bytes(cls, buf: bytes) -> list[SigningCommitments]:
        """Validate a batch of commitments (a peer's pool refill) once, on arrival."""
        return [cls.from_bytes(record) for record in _records(buf)]

    @classmethod
    def vouched_batch(cls, buf: bytes) -> list[SigningCommitments]:
        """A batch whose maker signed it (`participant_signature`, checked by the caller):
        no point is decoded again (`ciphersuite.deserialize_vouched`)."""
        return [cls(cs.deserialize_vouched(record[: cs.ELEMENT_SIZE], "hiding nonce commitment"),
                    cs.deserialize_vouched(record[cs.ELEMENT_SIZE :], "binding nonce commitment"))
                for record in _records(buf)]  # fmt: skip


def _records(buf: bytes) -> list[bytes]:
    if len(buf) % _COMMITMENTS_SIZE:
        raise InvalidLength(f"a commitment batch must be a multiple of {_COMMITMENTS_SIZE} bytes, got {len(buf)}")
    return [bytes(buf[k : k + _COMMITMENTS_SIZE]) for k in range(0, len(buf), _COMMITMENTS_SIZE)]


class SigningNonces(SecretHolder):
    """A participant's secret nonces (d_i, e_i) with their commitments. Single use.

    Made by `commit()`; the constructor takes the two nonce scalars (from nonce_generate).
    """

    __slots__ = ("_slot", "commitments")

    def __init__(self, hiding: bytes, binding: bytes) -> None:
        # A one-element list: list.pop() is atomic, so even two threads racing to use the
        # same nonces cannot both get them.
        self._slot = [(SecretBytes(hiding, "FROST hiding nonce"), SecretBytes(binding, "FROST binding nonce"))]
        self.commitments = SigningCommitments(cs.scalar_base_mult(hiding), cs.scalar_base_mult(binding))

    @property
    def used(self) -> bool:
        return not self._slot

    def take(self) -> tuple[bytes, bytes]:
        """Return (hiding, binding) for the one signature they may serve, and wipe them."""
        try:
            hiding, binding = self._slot.pop()
        except IndexError:
            raise NonceReuse(
                "these signing nonces were already used; signing again with them would reveal the signing share"
            ) from None
        nonces = (hiding.reveal(), binding.reveal())
        hiding.wipe()
        binding.wipe()
        return nonces

    def wipe(self) -> None:
        """Forget the nonces without using them (e.g. when a pool is discarded)."""
        while self._slot:
            for secret in self._slot.pop():
                secret.wipe()

    def __repr__(self) -> str:
        state = "used" if self.used else "unused"
        return f"<SigningNonces {state}, commitment {self.commitments.hiding.encoding.hex()[:16]}..., redacted>"


def nonce_generate(secret: SigningShare, random_bytes: bytes | None = None) -> bytes:
    """nonce_generate (RFC 9591 Section 4.1): H3(random_bytes || SerializeScalar(secret)).

    Hedged: fresh randomness plus the secret, so a weak RNG alone does not repeat nonces.
    `random_bytes` is a parameter only so the conformance vectors can be replayed.
    """
    if random_bytes is None:
        random_bytes = os.urandom(32)
    elif len(random_bytes) != 32:
        raise InvalidLength(f"nonce randomness must be 32 bytes, got {len(random_bytes)}")
    return cs.H3(random_bytes + secret.secret.reveal())


def commit(signing_share: SigningShare) -> SigningNonces:
    """commit (RFC 9591 Section 5.1): fresh nonces; their public part is `.commitments`."""
    return SigningNonces(nonce_generate(signing_share), nonce_generate(signing_share))


def commit_batch(signing_share: SigningShare, count: int) -> list[SigningNonces]:
    """`count` independent commit() results, for a precomputed nonce pool."""
    return [commit(signing_share) for _ in range(count)]


class NoncePool(SecretHolder):
    """A signer's precomputed nonces, found by the commitments a signing package lists.

    Each nonce can be taken once; asking again for recently spent commitments raises
    NonceReuse, for commitments this pool does not hold MissingCommitment. (Only the last
    SPENT_MEMORY spent commitments are remembered, for that message: a spent nonce is gone
    either way.)
    """

    SPENT_MEMORY = 65536

    __slots__ = ("_signing_share", "_unused", "_spent")

    def __init__(self, signing_share: SigningShare) -> None:
        self._signing_share = signing_share
        self._unused: dict[SigningCommitments, SigningNonces] = {}
        self._spent: dict[SigningCommitments, None] = {}  # insertion-ordered, bounded

    def rekey(self, signing_share: SigningShare) -> None:
        """Draw later nonces with `signing_share` (after a refresh); those held stay usable:
        a nonce does not depend on the share it signs with."""
        self._signing_share = signing_share

    def refill(self, count: int) -> list[SigningCommitments]:
        """Generate `count` new nonces and return their commitments (to publish)."""
        return self.add(commit_batch(self._signing_share, count))

    def add(self, batch: Iterable[SigningNonces]) -> list[SigningCommitments]:
        """Hold nonces generated beforehand (e.g. in the background); return their commitments."""
        batch = list(batch)
        self._unused.update((n.commitments, n) for n in batch)
        return [n.commitments for n in batch]

    def take(self, commitments: SigningCommitments) -> SigningNonces:
        """Remove and return the nonces behind `commitments` (the ones a package lists)."""
        nonces = self._unused.pop(commitments, None)
        if nonces is not None:
            self._remember_spent([commitments])
            return nonces
        if commitments in self._spent:
            raise NonceReuse("the nonces for these commitments were already used for a signature")
        raise MissingCommitment("this signer's nonce pool holds no nonces for these commitments")

    def __len__(self) -> int:
        return len(self._unused)

    def wipe(self) -> None:
        """Destroy every unused nonce (e.g. before a key refresh or shutdown)."""
        for nonces in self._unused.values():
            nonces.wipe()
        self._remember_spent(self._unused)
        self._unused.clear()

    def _remember_spent(self, spent: Iterable[SigningCommitments]) -> None:
        self._spent.update(dict.fromkeys(spent))
        while len(self._spent) > self.SPENT_MEMORY:
            del self._spent[next(iter(self._spent))]

    def __repr__(self) -> str:
        return f"<NoncePool {len(self._unused)} unused, {len(self._spent)} spent, redacted>"


"""The state an evaluator decides from, kept as state of its signing group.

Every decision may depend on what came before: the spending ledger (limits over time
windows), the replay nonces, the `iat` high-water mark and the approvals a permit already
used. The three evaluators of a group keep that state identically because they apply the
same batches in the same order:

- batches carry a sequence number; an evaluator applies only the next one (`expect`), and
  each applied batch extends a hash chain, `digest = SHA-256(label || seq || previous
  digest || CBOR(effects))`, over exactly what the batch changed (`BatchEffects`);
- the digest the batch was decided on is part of every verdict the evaluators must agree
  on, so an evaluator whose state was rolled back, forgotten or forked is named;
- `iat` never goes back: a task below the high-water mark is refused, so no order of `iat`
  values makes one transfer miss another in a window;
- the bundle high-water mark (the highest bundle revision any evaluator of the group
  activated) is kept beside the chain, not in it: activations are not sequenced, and a
  recovering evaluator takes the highest mark its peers report.

`snapshot()`/`from_snapshot()` give the whole state as bytes (for the sealed log and for
peers); `apply()` replays one recorded batch. Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

import cbor2

from accord.bundles.spending import SpendingLedger, Transfer
from accord.enclave.platform.errors import EnclaveError
from accord.enclave.platform.strict_cbor import loads_exact
from accord.protocols.replay import ReplayCache

CHAIN_LABEL = b"accord-group-state-v1"
SNAPSHOT_LABEL = "accord-group-state-snapshot-v1"
GENESIS = hashlib.sha256(CHAIN_LABEL + b"/genesis").digest()
HISTORY_SECONDS = 32 * 86400  # longest spending window (30 d rolling, calendar month) + margin
MAX_CONSUMED_APPROVALS = 100_000


class GroupStateError(EnclaveError):
    """Recorded or received group state that does not parse or does not chain."""


class ApprovalsFull(GroupStateError):
    """No room to record another consumed approval."""


@dataclass
class BatchEffects:
    """What one batch changed: the chain covers exactly these, in this order."""

    seq: int
    iat_high: int
    nonces: list[tuple[str, str, int]] = field(default_factory=list)  # (jkt, nonce, until)
    transfers: list[Transfer] = field(default_factory=list)
    approvals: list[tuple[str, int]] = field(default_factory=list)  # (approval digest, until)

    def encode(self) -> list:
        return [self.seq, self.iat_high, [list(n) for n in self.nonces], [_transfer(t) for t in self.transfers],
                [list(a) for a in self.approvals]]  # fmt: skip

    @classmethod
    def decode(cls, item) -> BatchEffects:
        try:
            seq, iat_high, nonces, transfers, approvals = item
            return cls(_int(seq), _int(iat_high), [(str(j), str(n), _int(u)) for j, n, u in nonces],
                       [_untransfer(t) for t in transfers], [(str(d), _int(u)) for d, u in approvals])  # fmt: skip
        except (TypeError, ValueError) as exc:
            raise GroupStateError(f"batch effects do not parse: {exc}") from None


def chain(previous: bytes, effects: BatchEffects) -> bytes:
    """The digest after `effects` were applied on a state whose digest was `previous`."""
    body = cbor2.dumps(effects.encode())
    return hashlib.sha256(CHAIN_LABEL + effects.seq.to_bytes(8, "big") + previous + body).digest()


class GroupState:
    """One evaluator's copy of its group's state."""

    def __init__(self, *, signature_skew: int) -> None:
        self.seq = 0
        self.digest = GENESIS
        self.iat_high = 0
        self.bundle_version = 0
        self.bundle_digest = ""
        self.replay = ReplayCache(skew=signature_skew)
        self.ledger = SpendingLedger(retention=HISTORY_SECONDS)
        self._transfers: deque[Transfer] = deque()  # what the ledger holds, for snapshots
        self._approvals: dict[str, int] = {}  # consumed approval digest -> until
        self._effects: BatchEffects | None = None

    # --- one batch ---

    def begin(self, seq: int) -> None:
        """Start applying batch `seq` (which must be the next one: see `expects`)."""
        if seq != self.seq + 1:
            raise GroupStateError(f"batch {seq} is not the next one ({self.seq + 1})")
        self._effects = BatchEffects(seq, self.iat_high)

    def expects(self, seq: int) -> bool:
        return seq == self.seq + 1

    def observe_iat(self, iat: int) -> None:
        self.iat_high = max(self.iat_high, iat)
        self._effects.iat_high = self.iat_high

    def record_nonce(self, jkt: str, nonce: str, *, created: int, expires: int, now: int) -> None:
        """`ReplayCache.check_and_record`, remembered as an effect of this batch."""
        self.replay.check_and_record(jkt, nonce, created=created, expires=expires, now=now)
        self._effects.nonces.append((jkt, nonce, expires + self.replay.skew))

    def record_transfer(self, transfer: Transfer) -> None:
        self._add_transfer(transfer)
        self._effects.transfers.append(transfer)

    def approval_used(self, digest: str) -> bool:
        until = self._approvals.get(digest)
        return until is not None and until >= self.iat_high

    def consume_approvals(self, digests: Iterable[str], until: int) -> None:
        """Mark approvals as used by a permit: they authorize no other token."""
        fresh = [d for d in digests if d not in self._approvals]
        if len(self._approvals) + len(fresh) > MAX_CONSUMED_APPROVALS:
            self._prune_approvals()
            if len(self._approvals) + len(fresh) > MAX_CONSUMED_APPROVALS:
                raise ApprovalsFull(f"{MAX_CONSUMED_APPROVALS} consumed approvals are held; refusing more")
        for digest in fresh:
            self._approvals[digest] = until
            self._effects.approvals.append((digest, until))

    def commit(self) -> BatchEffects:
        """Close the batch: extend the chain; returns the effects to make durable."""
        effects, self._effects = self._effects, None
        self.digest = chain(self.digest, effects)
        self.seq = effects.seq
        return effects

    def apply(self, effects: BatchEffects, digest: bytes) -> None:
        """Replay a recorded batch (from the sealed log); `digest` must be what it chained to."""
        if effects.seq != self.seq + 1:
            raise GroupStateError(f"recorded batch {effects.seq} does not follow {self.seq}")
        expected = chain(self.digest, effects)
        if expected != digest:
            raise GroupStateError(f"recorded batch {effects.seq} does not chain to its digest")
        self.iat_high = max(self.iat_high, effects.iat_high)
        self.replay.restore(effects.nonces, self.iat_high or None)
        for transfer in effects.transfers:
            self._add_transfer(transfer)
        for approval, until in effects.approvals:
            self._approvals[approval] = until
        self.seq, self.digest = effects.seq, digest

    # --- the bundle high-water mark ---

    def note_bundle(self, version: int, digest: str) -> bool:
        """Raise the mark to `version`; True when it moved."""
        if version <= self.bundle_version:
            return False
        self.bundle_version, self.bundle_digest = version, digest
        return True

    # --- whole state ---

    def _add_transfer(self, transfer: Transfer) -> None:
        self.ledger.record(transfer)
        self._transfers.append(transfer)

    def _prune_approvals(self) -> None:
        for digest in [d for d, until in self._approvals.items() if until < self.iat_high]:
            del self._approvals[digest]

    def snapshot(self) -> bytes:
        """The whole state (what a restarted or recovering evaluator loads)."""
        horizon = max(t.time for t in self._transfers) - HISTORY_SECONDS if self._transfers else 0
        while self._transfers and self._transfers[0].time < horizon:
            self._transfers.popleft()
        self._prune_approvals()
        return cbor2.dumps([
            SNAPSHOT_LABEL, self.seq, self.digest, self.iat_high, self.bundle_version, self.bundle_digest,
            [list(e) for e in self.replay.entries()], self.replay.high_water,
            [_transfer(t) for t in sorted(self._transfers, key=lambda t: t.time)],
            sorted([d, u] for d, u in self._approvals.items()),
        ])  # fmt: skip

    @classmethod
    def from_snapshot(cls, data: bytes, *, signature_skew: int) -> GroupState:
        item = loads_exact(data, GroupStateError, "group state snapshot")
        if not isinstance(item, list) or len(item) != 10 or item[0] != SNAPSHOT_LABEL:
            raise GroupStateError("not a group state snapshot")
        state = cls(signature_skew=signature_skew)
        try:
            _, seq, digest, iat_high, version, bundle, nonces, high_water, transfers, approvals = item
            if not isinstance(digest, bytes) or len(digest) != 32 or not isinstance(bundle, str):
                raise ValueError("digest or bundle field")
            state.seq, state.digest, state.iat_high = _int(seq), digest, _int(iat_high)
            state.bundle_version, state.bundle_digest = _int(version), bundle
            state.replay.restore([(str(j), str(n), _int(u)) for j, n, u in nonces],
                                 None if high_water is None else _int(high_water))  # fmt: skip
            for transfer in transfers:
                state._add_transfer(_untransfer(transfer))
            state._approvals = {str(d): _int(u) for d, u in approvals}
        except (TypeError, ValueError) as exc:
            raise GroupStateError(f"group state snapshot does not parse: {exc}") from None
        return state

    def position(self) -> tuple[int, str]:
        """(seq, digest hex): where this state is in the group's sequence."""
        return self.seq, self.digest.hex()

    def __repr__(self) -> str:
        return (f"<GroupState seq {self.seq} digest {self.digest.hex()[:16]} iat_high {self.iat_high} "
                f"{len(self._transfers)} transfers {len(self.replay)} nonces bundle v{self.bundle_version}>")  # fmt: skip


def _int(value) -> int:
    if type(value) is not int or value < 0:
        raise ValueError(f"{value!r} is not a non-negative integer")
    return value


def _transfer(t: Transfer) -> list:
    return [t.time, t.principal, t.account, t.token, t.amount, t.destination]


def _untransfer(item) -> Transfer:
    time, principal, account, token, amount, destination = item
    if not all(isinstance(x, str) for x in (principal, account, token, destination)):
        raise ValueError("transfer fields must be strings")
    return Transfer(_int(time), principal, account, token, _int(amount), destination)


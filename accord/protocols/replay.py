"""The nonce replay cache each evaluator keeps (one per enclave, in memory).

A nonce is accepted once per key within its signature's window, `created .. expires + skew`.
After the window the signature itself is refused as expired, so the entry can go. Three
rules keep the cache honest when the host feeds it times:

- Time only moves forward: entries are dropped relative to the highest `now` seen, so a
  host that replays an old `now` after a purge cannot revive a forgotten nonce. A request
  whose window ended before that high-water mark is refused (`ReplayWindowPassed`), never
  accepted unchecked.
- Memory is bounded: at capacity the cache refuses (`ReplayCacheFull`); it never evicts a
  live entry, which would silently re-open a replay.
- Everything depends on the passed-in `now` only, so three evaluators given the same
  requests and times reach the same answers.

Record a nonce only after the request's signature verified: otherwise anyone could fill the
cache or burn a client's nonces.
"""

from __future__ import annotations

import heapq
import threading

from accord.protocols.auth_errors import ReplayCacheFull, ReplayedNonce, ReplayWindowPassed

DEFAULT_CAPACITY = 100_000


class ReplayCache:
    """Remembers (key thumbprint, nonce) pairs until their window has passed."""

    def __init__(self, *, capacity: int = DEFAULT_CAPACITY, skew: int = 30) -> None:
        # skew: as http_signatures.DEFAULT_SKEW; a smaller one only refuses more (never accepts)
        if capacity < 1 or skew < 0:
            raise ValueError("capacity must be >= 1 and skew >= 0")
        self.capacity = capacity
        self.skew = skew
        self._until: dict[tuple[str, str], int] = {}  # (jkt, nonce) -> last second it is live
        self._expiries: list[tuple[int, str, str]] = []  # min-heap mirroring _until
        self._high_water: int | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._until)

    def _advance(self, now: int) -> int:
        if self._high_water is None or now > self._high_water:
            self._high_water = now
        while self._expiries and self._expiries[0][0] < self._high_water:
            _, jkt, nonce = heapq.heappop(self._expiries)
            del self._until[(jkt, nonce)]
        return self._high_water

    def check_and_record(self, jkt: str, nonce: str, *, created: int, expires: int, now: int) -> None:
        """Accept (`jkt`, `nonce`) once, for a signature valid `created..expires`, at `now`.

        Raises ReplayedNonce if already accepted, ReplayWindowPassed if the window ended
        before the latest time seen, ReplayCacheFull if no room is left.
        """
        if expires < created:
            raise ValueError("expires must not be earlier than created")
        until = expires + self.skew
        with self._lock:
            high_water = self._advance(now)
            if until < high_water:
                raise ReplayWindowPassed(
                    f"nonce window ended at {until}, before the latest time seen ({high_water}); cannot check it"
                )
            if (jkt, nonce) in self._until:
                raise ReplayedNonce(f"nonce {nonce!r} was already used by key {jkt}")
            if len(self._until) >= self.capacity:
                raise ReplayCacheFull(
                    f"replay cache holds {self.capacity} live nonces; refusing until some expire"
                )
            self._until[(jkt, nonce)] = until
            heapq.heappush(self._expiries, (until, jkt, nonce))

    def purge(self, now: int) -> int:
        """Drop entries whose window ended before `now` (or the latest time seen); return how many."""
        with self._lock:
            before = len(self._until)
            self._advance(now)
            return before - len(self._until)

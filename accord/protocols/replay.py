"""The nonce replay cache each evaluator keeps (one per enclave, in memory).

A nonce is accepted once per key within its signature's window, `created .. expires + skew`.
After the window the signature itself is refused as expired, so the entry can go. Three
rules keep the cache honest when the host feeds it times:

- Time only moves forward: entries are dropped relative to the highest `now` seen, so a
  host that replays an old `now` after a purge cannot revive a forgotten nonce. A request
  whose window ended before that high-water mark is refused (`ReplayWindowPassed`), never
  accepted unchecked.
- Memory is bounded: at capacity the cache refuses (`ReplayCacheFull`); it never evicts a
  live entry, which would silently re-open a replay. A per-key quota keeps one client from
  filling the cache for everyone: at its quota only that key's requests are refused.
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
DEFAULT_PER_KEY = 2_000  # live nonces one key may hold (a client signing 30 requests/s for 60 s)


class ReplayCache:
    """Remembers (key thumbprint, nonce) pairs until their window has passed."""

    def __init__(self, *, capacity: int = DEFAULT_CAPACITY, skew: int = 30, per_key: int = DEFAULT_PER_KEY) -> None:
        # skew: as http_signatures.DEFAULT_SKEW; a smaller one only refuses more (never accepts)
        if capacity < 1 or skew < 0 or per_key < 1:
            raise ValueError("capacity and per_key must be >= 1 and skew >= 0")
        self.capacity = capacity
        self.skew = skew
        self.per_key = per_key
        self._per_key: dict[str, int] = {}  # jkt -> live nonces
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
            left = self._per_key[jkt] - 1
            if left:
                self._per_key[jkt] = left
            else:
                del self._per_key[jkt]
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
            if self._per_key.get(jkt, 0) >= self.per_key:
                raise ReplayCacheFull(f"key {jkt} holds {self.per_key} live nonces, its quota; refusing until some expire")
            if len(self._until) >= self.capacity:
                raise ReplayCacheFull(
                    f"replay cache holds {self.capacity} live nonces; refusing until some expire"
                )
            self._insert(jkt, nonce, until)

    def _insert(self, jkt: str, nonce: str, until: int) -> None:
        self._until[(jkt, nonce)] = until
        self._per_key[jkt] = self._per_key.get(jkt, 0) + 1
        heapq.heappush(self._expiries, (until, jkt, nonce))

    # --- as part of an evaluator's persisted, replicated state ---

    @property
    def high_water(self) -> int | None:
        return self._high_water

    def entries(self) -> list[tuple[str, str, int]]:
        """The live (jkt, nonce, until) entries, in a canonical order."""
        with self._lock:
            return sorted((jkt, nonce, until) for (jkt, nonce), until in self._until.items())

    def restore(self, entries, high_water: int | None) -> None:
        """Put back what `entries()` and `high_water` said (a recorded state); no checks
        beyond shape, since the entries were accepted by `check_and_record` before."""
        with self._lock:
            for jkt, nonce, until in entries:
                if (jkt, nonce) not in self._until:
                    self._insert(jkt, nonce, until)
            if high_water is not None:
                self._advance(high_water)

    def purge(self, now: int) -> int:
        """Drop entries whose window ended before `now` (or the latest time seen); return how many."""
        with self._lock:
            before = len(self._until)
            self._advance(now)
            return before - len(self._until)

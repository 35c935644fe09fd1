"""Spending totals over time windows, kept incrementally (what `input.spent` is made of).

A policy's spending and rate limits compare totals of past transfers per window and holder
(see `inputs.prepare_input`). Totalling the whole history for every request costs O(n) per
request; an evaluator that records every permit it gives would then spend O(n^2) overall.
`SpendingLedger` instead keeps, per holder (all transfers, each principal, each account)
and per holder and token, the transfer times in order with running sums of the amounts, so
a window's total is two binary searches and a subtraction.

Windows: rolling (`rolling_1h` .. `rolling_30d`: the last N seconds up to and including
the request time) and fixed UTC periods (`hour`, `day`, ISO `week` from Monday, `month`).
Transfers after the request time are ignored. Amounts are exact integers (token base
units, up to 2^256 - 1 each; sums are not bounded here).
"""

from __future__ import annotations

import datetime
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from accord.errors import AccordError

ROLLING_WINDOWS = {"rolling_1h": 3600, "rolling_24h": 86400, "rolling_7d": 7 * 86400, "rolling_30d": 30 * 86400}
WINDOWS = (*ROLLING_WINDOWS, "hour", "day", "week", "month")
LONGEST_WINDOW = 31 * 86400  # a calendar month; rolling_30d is shorter
PRUNE_INTERVAL = 3600  # forget old transfers in batches, at most once per hour of request time


class LedgerError(AccordError):
    """A spending ledger was configured so that it could give wrong totals."""


@dataclass(frozen=True)
class Transfer:
    """A value-moving transfer the evaluators signed: when, by whom, from which account,
    which token, how much (base units) and to where."""

    time: int
    principal: str
    account: str
    token: str
    amount: int
    destination: str


def window_starts(now: int) -> dict[str, int]:
    """First second of each window that ends at `now` (inclusive), in `WINDOWS` order."""
    day_start = now - now % 86400
    weekday = (now // 86400 + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    moment = datetime.datetime.fromtimestamp(now, datetime.UTC)
    month_start = datetime.datetime(moment.year, moment.month, 1, tzinfo=datetime.UTC)
    starts = {name: now - length + 1 for name, length in ROLLING_WINDOWS.items()}
    starts.update(
        hour=now - now % 3600,
        day=day_start,
        week=day_start - weekday * 86400,
        month=int(month_start.timestamp()),
    )
    return starts


class _Series:
    """The transfers of one holder (or holder and token): times in order, and `sums[i]` the
    total amount of the first i of them."""

    __slots__ = ("times", "sums")

    def __init__(self) -> None:
        self.times: list[int] = []
        self.sums: list[int] = [0]

    def add(self, time: int, amount: int) -> None:
        times, sums = self.times, self.sums
        if not times or time >= times[-1]:  # the usual case: request times rarely go back
            times.append(time)
            sums.append(sums[-1] + amount)
            return
        i = bisect_right(times, time)
        times.insert(i, time)
        sums.insert(i + 1, sums[i] + amount)
        for k in range(i + 2, len(sums)):
            sums[k] += amount

    def drop_before(self, horizon: int) -> None:
        k = bisect_left(self.times, horizon)
        if k:
            del self.times[:k]
            del self.sums[:k]  # sums stay running totals: only their differences are read


_EMPTY = _Series()


class SpendingLedger:
    """Recorded transfers, indexed for window totals.

    With a `retention` (seconds), transfers older than that before the latest recorded one
    are forgotten, in batches (at most `PRUNE_INTERVAL` seconds late). Totals stay exact for
    request times down to `retention - LONGEST_WINDOW` seconds before the latest transfer,
    so `retention` must exceed the longest window. None keeps everything.
    Not thread-safe: an evaluator records and reads on one thread.
    """

    def __init__(self, retention: int | None = 32 * 86400) -> None:
        if retention is not None and retention <= LONGEST_WINDOW:
            raise LedgerError(f"retention {retention} s must exceed the longest window ({LONGEST_WINDOW} s)")
        self.retention = retention
        self._any: dict[tuple[str, str], _Series] = {}  # (holder, id) -> transfers in any token
        self._token: dict[tuple[str, str, str], _Series] = {}  # (holder, id, token) -> transfers
        self._latest: int | None = None
        self._next_prune: int | None = None

    def __len__(self) -> int:
        """How many transfers are held (recorded and not yet forgotten)."""
        return len(self._any.get(("all", ""), _EMPTY).times)

    def record(self, transfer: Transfer) -> None:
        """Count `transfer` in later totals (and forget what has aged past `retention`)."""
        time, token, amount = transfer.time, transfer.token, transfer.amount
        for holder, holder_id in (("all", ""), ("principal", transfer.principal), ("account", transfer.account)):
            series = self._any.get((holder, holder_id))
            if series is None:
                series = self._any[holder, holder_id] = _Series()
            series.add(time, 0)
            series = self._token.get((holder, holder_id, token))
            if series is None:
                series = self._token[holder, holder_id, token] = _Series()
            series.add(time, amount)
        if self.retention is None:
            return
        if self._latest is None or time > self._latest:
            self._latest = time
        if self._next_prune is None:
            self._next_prune = time + self.retention + PRUNE_INTERVAL
        elif self._latest >= self._next_prune:
            self._prune(self._latest - self.retention)
            self._next_prune = self._latest + PRUNE_INTERVAL

    def _prune(self, horizon: int) -> None:
        for index in (self._any, self._token):
            for key, series in list(index.items()):
                series.drop_before(horizon)
                if not series.times:
                    del index[key]

    def totals(self, now: int, principal: str, account: str, token: str,
               amount: int) -> dict[str, dict[str, tuple[int, int, int]]]:  # fmt: skip
        """Per window and holder, `(amount, count, all_count)` of the recorded transfers in
        the window *plus one more* of `amount` in `token` (the request being decided):
        `amount` and `count` over transfers in `token`, `all_count` over every token.
        Holders: `principal` (transfers by it), `account` (from it), `all`."""
        starts = window_starts(now)
        out: dict[str, dict[str, tuple[int, int, int]]] = {window: {} for window in starts}
        for holder, holder_id in (("principal", principal), ("account", account), ("all", "")):
            same = self._token.get((holder, holder_id, token), _EMPTY)
            every = self._any.get((holder, holder_id), _EMPTY).times
            times, sums = same.times, same.sums
            end, end_every = bisect_right(times, now), bisect_right(every, now)
            for window, start in starts.items():
                first = bisect_left(times, start, 0, end)
                out[window][holder] = (
                    sums[end] - sums[first] + amount,
                    end - first + 1,
                    end_every - bisect_left(every, start, 0, end_every) + 1,
                )
        return out

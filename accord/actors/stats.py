"""CPU accounting per stage inside a service, for `accord bench`'s breakdown.

Each service measures the CPU its own thread spends in a stage (`time.thread_time`, so
time spent waiting on another actor does not count) and how many items (requests, shares)
the stage handled; the bench reads the counters before and after a run.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager


class StageClock:
    def __init__(self) -> None:
        self._cpu: Counter[str] = Counter()
        self._items: Counter[str] = Counter()
        self._lock = threading.Lock()  # the minter measures from several threads

    @contextmanager
    def measure(self, stage: str, items: int = 1) -> Iterator[None]:
        start = time.thread_time()
        try:
            yield
        finally:
            spent = time.thread_time() - start
            with self._lock:
                self._cpu[stage] += spent
                self._items[stage] += items

    def snapshot(self) -> dict[str, dict[str, float]]:
        """stage -> {"cpu_s": seconds, "items": count}."""
        with self._lock:
            return {stage: {"cpu_s": self._cpu[stage], "items": self._items[stage]} for stage in self._cpu}

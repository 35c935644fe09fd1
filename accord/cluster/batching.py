"""Micro-batching of authorization requests: many callers, one `authorize_many` per batch.

Every call into the deployment crosses a process (a Ray actor call to the TokenMinter, which
fans out to the evaluators), so the hot path must never make one call per request. Callers
`submit` requests from any thread (or `await authorize_async` from an event loop); a
dispatcher thread collects them and flushes a batch when it holds `max_batch` requests or
when the oldest request has waited `max_delay_ms`, whichever comes first. At most
`max_in_flight` batches are outstanding; while they are, new requests queue up, so batches
grow under load and a lone request waits at most `max_delay_ms` plus the batch in flight.

Results come back in submission order within a batch: the n-th request of a batch gets the
n-th result. A batch whose call fails fails every request in it with that exception.

    batcher = BatchingAuthorizer(deployment, max_batch=64, max_delay_ms=2)
    result = batcher.authorize(client.signed_request(...))     # blocking
    future = batcher.submit(request)                           # concurrent.futures.Future
    batcher.close()
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from accord.errors import AccordError
from accord.protocols.http_signatures import HttpRequest
from accord.protocols.minting import AuthorizationResult


class BatchingError(AccordError):
    """The batcher cannot take or complete a request."""


class BatcherClosed(BatchingError):
    """`submit` after `close`: the batcher takes no more requests."""


class BatchResultMismatch(BatchingError):
    """The deployment answered a batch with another number of results than requests."""


class Authorizer(Protocol):
    def authorize_many(self, requests: Sequence[HttpRequest]) -> list[AuthorizationResult]: ...


@dataclass(frozen=True)
class BatchConfig:
    """When to flush: at `max_batch` requests or after `max_delay_ms`; `max_in_flight`
    batches outstanding at once (1 for an in-process deployment, whose services are not
    thread-safe; up to the number of signing groups on Ray). With `max_delay_ms=0` a lone
    request goes at once, and batches still form from what queues while one is in flight."""

    max_batch: int = 64
    max_delay_ms: float = 2.0
    max_in_flight: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.max_batch <= 4096:
            raise ValueError(f"max_batch must be 1..4096, got {self.max_batch}")
        if not 0 <= self.max_delay_ms <= 10_000:
            raise ValueError(f"max_delay_ms must be 0..10000, got {self.max_delay_ms}")
        if not 1 <= self.max_in_flight <= 64:
            raise ValueError(f"max_in_flight must be 1..64, got {self.max_in_flight}")


@dataclass
class _Item:
    request: HttpRequest
    future: Future
    arrived: float


class BatchingAuthorizer:
    """Collects concurrent authorize calls into batches for `authorizer.authorize_many`."""

    def __init__(self, authorizer: Authorizer, config: BatchConfig | None = None, *,
                 max_batch: int | None = None, max_delay_ms: float | None = None) -> None:  # fmt: skip
        base = config or BatchConfig()
        self.config = BatchConfig(
            max_batch=base.max_batch if max_batch is None else max_batch,
            max_delay_ms=base.max_delay_ms if max_delay_ms is None else max_delay_ms,
            max_in_flight=base.max_in_flight,
        )
        self._authorizer = authorizer
        self._queue: deque[_Item] = deque()
        self._cond = threading.Condition()
        self._slots = threading.BoundedSemaphore(self.config.max_in_flight)
        self._closed = False
        self._dispatcher: threading.Thread | None = None
        self.batches = 0  # batches flushed so far (for tests and metrics)

    # --- callers ---

    def submit(self, request: HttpRequest) -> Future:
        """Queue `request`; the future resolves to its AuthorizationResult."""
        future: Future = Future()
        with self._cond:
            if self._closed:
                raise BatcherClosed("the batcher is closed")
            if self._dispatcher is None:
                self._dispatcher = threading.Thread(target=self._run, name="accord-batcher", daemon=True)
                self._dispatcher.start()
            self._queue.append(_Item(request, future, time.monotonic()))
            if len(self._queue) in (1, self.config.max_batch):  # the dispatcher's wake-ups: first, full
                self._cond.notify()
        return future

    def authorize(self, request: HttpRequest, timeout: float | None = None) -> AuthorizationResult:
        """Submit and wait for the result."""
        return self.submit(request).result(timeout)

    async def authorize_async(self, request: HttpRequest) -> AuthorizationResult:
        """Submit and await the result without blocking the event loop."""
        return await asyncio.wrap_future(self.submit(request))

    def close(self, timeout: float | None = 30.0) -> None:
        """Take no more requests; flush what is queued and wait for the batches in flight."""
        with self._cond:
            self._closed = True
            self._cond.notify()
            dispatcher = self._dispatcher
        if dispatcher is not None:
            dispatcher.join(timeout)

    def __enter__(self) -> BatchingAuthorizer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- dispatcher ---

    def _run(self) -> None:
        with ThreadPoolExecutor(self.config.max_in_flight, thread_name_prefix="accord-batch") as pool:
            while True:
                self._slots.acquire()  # queue while every slot is busy: batches grow under load
                batch = self._collect()
                if batch is None:
                    break
                pool.submit(self._flush, batch)

    def _collect(self) -> list[_Item] | None:
        """Wait for the first request, then until the batch is full or the oldest request's
        delay is up (or the batcher closes). None when closed and drained."""
        limit, delay = self.config.max_batch, self.config.max_delay_ms / 1000
        with self._cond:
            while not self._queue and not self._closed:
                self._cond.wait()
            if not self._queue:
                return None
            while len(self._queue) < limit and not self._closed:
                remaining = self._queue[0].arrived + delay - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            return [self._queue.popleft() for _ in range(min(limit, len(self._queue)))]

    def _flush(self, batch: list[_Item]) -> None:
        try:
            live = [item for item in batch if item.future.set_running_or_notify_cancel()]
            if not live:
                return
            with self._cond:
                self.batches += 1
            try:
                results = self._authorizer.authorize_many([item.request for item in live])
                if len(results) != len(live):
                    raise BatchResultMismatch(f"{len(results)} results for a batch of {len(live)} requests")
            except BaseException as exc:  # noqa: BLE001 - every caller of the batch sees the failure
                for item in live:
                    item.future.set_exception(exc)
                return
            for item, result in zip(live, results):
                item.future.set_result(result)
        finally:
            self._slots.release()

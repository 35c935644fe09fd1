"""Micro-batching: flush by size, flush by time, ordering, error propagation, concurrency."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait

import pytest

from accord.cluster.batching import BatchConfig, BatcherClosed, BatchingAuthorizer, BatchResultMismatch
from accord.protocols.http_signatures import HttpRequest
from accord.protocols.minting import AuthorizationResult, Status


def request(n: int) -> HttpRequest:
    return HttpRequest("POST", f"https://accord.test/v1/authorize?n={n}", body=str(n).encode())


class Recorder:
    """A stand-in deployment: records each batch, answers with the request's number as jti."""

    def __init__(self, *, fail: BaseException | None = None, short: bool = False, hold: threading.Event | None = None):
        self.batches: list[list[int]] = []
        self.fail, self.short, self.hold = fail, short, hold
        self.active = self.max_active = 0
        self._lock = threading.Lock()

    def authorize_many(self, requests):
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            if self.hold is not None:
                self.hold.wait(5)
            numbers = [int(r.body) for r in requests]
            self.batches.append(numbers)
            if self.fail is not None:
                raise self.fail
            results = [AuthorizationResult(Status.PERMIT, str(n)) for n in numbers]
            return results[:-1] if self.short else results
        finally:
            with self._lock:
                self.active -= 1


# --- failures first ---


def test_a_failing_batch_fails_every_request_in_it():
    recorder = Recorder(fail=RuntimeError("minter actor died"))
    with BatchingAuthorizer(recorder, BatchConfig(max_batch=4, max_delay_ms=50)) as batcher:
        futures = [batcher.submit(request(n)) for n in range(4)]
        for future in futures:
            with pytest.raises(RuntimeError, match="minter actor died"):
                future.result(5)
    assert recorder.batches == [[0, 1, 2, 3]]


def test_a_wrong_number_of_results_fails_the_batch():
    with BatchingAuthorizer(Recorder(short=True), BatchConfig(max_batch=2, max_delay_ms=50)) as batcher:
        futures = [batcher.submit(request(n)) for n in range(2)]
        for future in futures:
            with pytest.raises(BatchResultMismatch, match="1 results for a batch of 2"):
                future.result(5)


def test_submit_after_close_is_refused():
    batcher = BatchingAuthorizer(Recorder())
    batcher.close()
    with pytest.raises(BatcherClosed):
        batcher.submit(request(0))


@pytest.mark.parametrize("config", [dict(max_batch=0), dict(max_delay_ms=-1), dict(max_in_flight=0)])
def test_bad_configuration_is_refused(config):
    with pytest.raises(ValueError):
        BatchConfig(**config)


# --- behaviour ---


def test_flush_by_size_does_not_wait_for_the_delay():
    recorder = Recorder()
    with BatchingAuthorizer(recorder, BatchConfig(max_batch=8, max_delay_ms=10_000)) as batcher:
        futures = [batcher.submit(request(n)) for n in range(8)]
        assert [f.result(5).jti for f in futures] == [str(n) for n in range(8)]  # long before 10 s
    assert recorder.batches == [list(range(8))]


def test_flush_by_time_sends_a_partial_batch():
    recorder = Recorder()
    with BatchingAuthorizer(recorder, max_batch=64, max_delay_ms=20) as batcher:
        started = time.monotonic()
        futures = [batcher.submit(request(n)) for n in range(3)]
        assert [f.result(5).jti for f in futures] == ["0", "1", "2"]
        assert time.monotonic() - started >= 0.015  # it waited for more, then flushed
    assert recorder.batches == [[0, 1, 2]]


def test_results_follow_submission_order_across_batches():
    recorder = Recorder()
    with BatchingAuthorizer(recorder, BatchConfig(max_batch=5, max_delay_ms=1)) as batcher:
        futures = [batcher.submit(request(n)) for n in range(23)]
        assert [f.result(5).jti for f in futures] == [str(n) for n in range(23)]
    flat = [n for batch in recorder.batches for n in batch]
    assert flat == list(range(23))
    assert max(len(b) for b in recorder.batches) <= 5


def test_concurrent_callers_are_batched_not_called_one_by_one():
    hold = threading.Event()
    recorder = Recorder(hold=hold)
    with BatchingAuthorizer(recorder, BatchConfig(max_batch=64, max_delay_ms=1)) as batcher:
        first = batcher.submit(request(0))  # occupies the one slot until released
        time.sleep(0.02)
        with ThreadPoolExecutor(40) as pool:
            futures = [pool.submit(batcher.authorize, request(n), 5) for n in range(1, 41)]
            time.sleep(0.05)
            hold.set()
            done, _ = wait(futures, timeout=5)
        assert sorted(int(f.result().jti) for f in done) == list(range(1, 41))
        assert first.result(5).jti == "0"
    assert len(recorder.batches) <= 3  # 40 queued callers went in one or two batches
    assert recorder.max_active == 1  # max_in_flight=1: one call at a time


def test_in_flight_limit_allows_parallel_batches():
    hold = threading.Event()
    recorder = Recorder(hold=hold)
    with BatchingAuthorizer(recorder, BatchConfig(max_batch=1, max_delay_ms=0, max_in_flight=3)) as batcher:
        futures = [batcher.submit(request(n)) for n in range(6)]
        time.sleep(0.05)
        assert recorder.active == 3
        hold.set()
        assert [f.result(5).jti for f in futures] == [str(n) for n in range(6)]
    assert recorder.max_active == 3


def test_close_flushes_what_is_queued():
    recorder = Recorder()
    batcher = BatchingAuthorizer(recorder, BatchConfig(max_batch=64, max_delay_ms=10_000))
    futures = [batcher.submit(request(n)) for n in range(3)]
    batcher.close()
    assert [f.result(0).jti for f in futures] == ["0", "1", "2"]


def test_async_callers_share_batches():
    recorder = Recorder()

    async def main(batcher):
        return await asyncio.gather(*(batcher.authorize_async(request(n)) for n in range(10)))

    with BatchingAuthorizer(recorder, BatchConfig(max_batch=10, max_delay_ms=1000)) as batcher:
        results = asyncio.run(main(batcher))
    assert [r.jti for r in results] == [str(n) for n in range(10)]
    assert recorder.batches == [list(range(10))]

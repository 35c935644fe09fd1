"""The load generator of `accord bench`: client threads that sign and submit requests.

In the bench's own process (`Load`), or spread over several processes (`DriverPool` of
`LoadDriver` actors, `accord bench --drivers N`) so that the clients' signing, their
micro-batcher and the GIL they share are not one process's limit. A driver makes its
operators' keys itself and reports only their public keys, which the bench puts into the
data before it publishes the bundle: a client's private key never leaves its process.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psutil

from accord.client import Client
from accord.cluster.batching import BatchConfig, BatchingAuthorizer
from accord.errors import AccordError
from accord.protocols.http_signatures import HttpRequest
from accord.protocols.jwk import SigningKey
from accord.protocols.minting import AuthorizationResult, Status
from accord.scenario import internal_transfer, operator_principals

Tick = Callable[[int], None]
ERROR = "error"  # the status counted for a submit that raised


class LoadDriverFailed(AccordError):
    """A load-generator process died or cannot be reached (the measurement is void)."""


@dataclass
class Outcome:
    """What one run of the load saw: each request's latency, the answers, the signing time."""

    latencies: list[float] = field(default_factory=list)  # seconds
    statuses: dict[str, int] = field(default_factory=dict)
    signing_s: float = 0.0  # CPU of the clients' request signing (thread time)
    # CPU of load processes that the bench's own process tree does not hold (drivers on a
    # cluster the bench joined), which its CPU figures must add to stay whole.
    outside_cpu_s: float = 0.0

    def merge(self, other: Outcome) -> None:
        self.latencies.extend(other.latencies)
        for status, count in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + count
        self.signing_s += other.signing_s
        self.outside_cpu_s += other.outside_cpu_s


class Load:
    """Client threads signing and submitting requests until a deadline, each request from
    the next of `clients` in turn (spreading the policy's per-principal rate limit)."""

    def __init__(self, clients: Sequence[Client], request_for: Callable[[Client], HttpRequest],
                 submit: Callable[[HttpRequest], AuthorizationResult]) -> None:  # fmt: skip
        if not clients:
            raise ValueError("a load needs at least one client")
        self._clients = tuple(clients)
        self._request_for = request_for
        self._submit = submit
        self._next = 0
        self._lock = threading.Lock()

    def _client(self) -> Client:
        with self._lock:
            self._next += 1
            return self._clients[self._next % len(self._clients)]

    def run(self, concurrency: int, seconds: float, tick: Tick | None = None) -> Outcome:
        outcome = Outcome()
        stop = time.monotonic() + seconds
        lock = threading.Lock()

        def worker() -> None:
            while time.monotonic() < stop:
                before = time.thread_time()
                request = self._request_for(self._client())
                spent = time.thread_time() - before
                start = time.perf_counter()
                try:
                    status = self._submit(request).status.value
                except Exception:  # a failed call is an answer of the run, not the end of a client
                    status = ERROR
                elapsed = time.perf_counter() - start
                with lock:
                    outcome.signing_s += spent
                    if status != ERROR:
                        outcome.latencies.append(elapsed)
                    outcome.statuses[status] = outcome.statuses.get(status, 0) + 1
                if tick:
                    tick(1)

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return outcome


class ActorAuthorizer:
    """`authorize_many` on an actor with an `authorize(requests)` method (the baseline)."""

    def __init__(self, actor: Any) -> None:
        self._actor = actor

    def authorize_many(self, requests: Sequence[HttpRequest]) -> list[AuthorizationResult]:
        import ray

        return ray.get(self._actor.authorize.remote(list(requests)))


def http_submit(url: str) -> Callable[[HttpRequest], AuthorizationResult]:
    """A submit function that POSTs to the gateway at `url`, one httpx client per thread."""
    import httpx

    local = threading.local()
    statuses = {200: Status.PERMIT, 403: Status.FORBID, 202: Status.CONFIRM}

    def submit(request: HttpRequest) -> AuthorizationResult:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=url, timeout=60)
        response = client.post("/v1/authorize", content=request.body, headers=dict(request.headers))
        return AuthorizationResult(statuses.get(response.status_code, Status.UNAVAILABLE), "")

    return submit


@dataclass(frozen=True)
class Target:
    """Where a driver sends its requests: the deployment in `namespace` through the Python
    API, the gateway at `url`, or the baseline `authority` actor."""

    namespace: str | None = None
    url: str | None = None
    authority: Any = None

    def __post_init__(self) -> None:
        if sum(x is not None for x in (self.namespace, self.url, self.authority)) != 1:
            raise ValueError("a target is exactly one of a namespace, a gateway URL or an authority actor")


def submitter(target: Target, batch: BatchConfig,
              deployment: Any = None) -> tuple[Callable[[HttpRequest], AuthorizationResult], BatchingAuthorizer | None]:  # fmt: skip
    """How a load submits to `target`: through the gateway (which batches itself), or
    micro-batched by `batch` to the deployment (`deployment`, else connected by namespace)
    or the baseline actor. Returns the submit function and the batcher to close, if any."""
    if target.url is not None:
        return http_submit(target.url), None
    if target.namespace is not None:
        if deployment is None:
            from accord.cluster.deployment import Deployment

            deployment = Deployment.connect(namespace=target.namespace)
        authorizer: Any = deployment
    else:
        authorizer = ActorAuthorizer(target.authority)
    batcher = BatchingAuthorizer(authorizer, batch)
    return batcher.authorize, batcher


class LoadDriver:
    """One load-generator process (a Ray actor of `DriverPool`): `count` treasury operators
    `ops-<first>...`, whose keys are made here and never leave this process."""

    def __init__(self, first: int, count: int, to: str) -> None:
        self._first = first
        self._to = to  # the company's internal wallet: the permitted transfer's destination
        self._clients = tuple(Client(SigningKey.generate()) for _ in range(count))
        self._batcher: BatchingAuthorizer | None = None
        self._load: Load | None = None

    def principals(self) -> dict[str, dict]:
        """This driver's operators as principals of the data (public keys only)."""
        return operator_principals([client.key.public for client in self._clients], self._first)

    def aim(self, target: Target, batch: BatchConfig) -> None:
        """Send the following runs' requests to `target` (micro-batched by `batch` unless
        through the gateway, which batches itself)."""
        self.close()
        submit, self._batcher = submitter(target, batch)
        self._load = Load(self._clients, lambda client: internal_transfer(client, self._to), submit)

    def pid(self) -> int:
        """This driver's process (the pool tells whether the bench's process tree holds it)."""
        return os.getpid()

    def run(self, concurrency: int, seconds: float) -> tuple[Outcome, float]:
        """The outcome, and this process's CPU seconds over the run."""
        if self._load is None:
            raise RuntimeError("aim the driver at a target first")
        before = sum(psutil.Process().cpu_times()[:2])
        outcome = self._load.run(concurrency, seconds) if concurrency else Outcome()
        return outcome, sum(psutil.Process().cpu_times()[:2]) - before

    def close(self) -> None:
        if self._batcher is not None:
            self._batcher.close()
            self._batcher = None


def split(total: int, parts: int) -> list[int]:
    """`total` as `parts` near-equal non-negative counts, the larger first."""
    return [total // parts + (1 if index < total % parts else 0) for index in range(parts)]


class DriverPool:
    """`drivers` LoadDriver actors with `operators` operators between them; `run` has the
    signature of `Load.run` and splits the clients over the drivers."""

    def __init__(self, drivers: int, operators: int, to: str, *, local: bool = False) -> None:
        import ray

        options: dict[str, Any] = {"num_cpus": 0}
        if local:  # the gateway listens on this machine's loopback only
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(),
                                                                            soft=False)  # fmt: skip
        else:
            options["scheduling_strategy"] = "SPREAD"
        actor = ray.remote(LoadDriver).options(**options)
        counts = split(operators, drivers)
        firsts = [sum(counts[:index]) for index in range(drivers)]
        self._drivers = [actor.remote(first, count, to) for first, count in zip(firsts, counts)]
        # Drivers on an embedded cluster are this process's descendants (their CPU is in
        # the bench's process-tree figure); on a cluster the bench joined they are not.
        tree = {child.pid for child in psutil.Process().children(recursive=True)}
        self._outside = [pid not in tree for pid in self._all("start", [d.pid.remote() for d in self._drivers])]

    @staticmethod
    def _all(what: str, refs: list) -> list:
        """`ray.get(refs)`, a dead or unreachable driver named as such."""
        import ray

        try:
            return ray.get(refs)
        except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError) as exc:
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise LoadDriverFailed(f"a load driver failed ({what}): {detail}") from None

    def principals(self) -> dict[str, dict]:
        """Every driver's operators, to put into the data before the bundle is published."""
        merged: dict[str, dict] = {}
        for principals in self._all("principals", [driver.principals.remote() for driver in self._drivers]):
            merged.update(principals)
        return merged

    def aim(self, target: Target, batch: BatchConfig) -> None:
        self._all("aim", [driver.aim.remote(target, batch) for driver in self._drivers])

    def run(self, concurrency: int, seconds: float, tick: Tick | None = None) -> Outcome:
        import ray

        runs = {driver.run.remote(count, seconds): outside for driver, count, outside
                in zip(self._drivers, split(concurrency, len(self._drivers)), self._outside)}  # fmt: skip
        outcome, pending = Outcome(), list(runs)
        while pending:
            done, pending = ray.wait(pending, num_returns=len(pending), timeout=0.2)
            for ref in done:
                ((part, cpu),) = self._all("run", [ref])
                outcome.merge(part)
                outcome.outside_cpu_s += cpu if runs[ref] else 0.0
            if tick:
                tick(0)  # the progress bar follows elapsed time
        return outcome

    def close(self) -> None:
        """Stop every driver (one that already died is skipped)."""
        import ray

        for driver in self._drivers:
            try:
                ray.get(driver.close.remote())
            except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError):
                pass
            ray.kill(driver)

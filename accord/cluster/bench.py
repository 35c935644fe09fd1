"""`accord bench`: signed requests through the whole path, measured.

The load: `concurrency` client threads, each signing a request (RFC 9421, a fresh nonce, a
treasury operator's own key: the policy's rate limit allows each 20 transfers an hour, so
the load is spread over many operators) and waiting for its result, in this process or
spread over `drivers` load-generator processes (`accord.cluster.load`). Requests go through
the Python API's micro-batcher (or, with `via="http"`, through the HTTP gateway), then the
TokenMinter, the three evaluators of a signing group, their KeyShares and the aggregation.

Reported per concurrency level: tokens/s, latency p50/p90/p99, CPU per token (all processes
of the embedded cluster and the drivers, from the OS; on a cluster the bench joined, only
this process and the drivers; `server_cpu_ms_per_token` leaves out the load generator's
request signing) and per stage (each service's own thread time); once, the cost of a
libsodium Ed25519 sign and verify on this machine, the unit of the speed targets
(`server_cpu_signs_per_token`). In the same run, the single-key baseline
(`actors.baseline`) serves the same load: same evaluator code, policy and data, one plain
Ed25519 signer.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from accord.cluster.batching import BatchConfig, BatchingAuthorizer
from accord.cluster.load import DriverPool, Load, Target, submitter
from accord.config.topology import Topology
from accord.cpu_units import ed25519_costs
from accord.enclave.configuration import EvaluatorConfig
from accord.protocols.minting import Status
from accord.scenario import make_scenario


@dataclass(frozen=True)
class BenchConfig:
    duration: float = 10.0  # seconds per concurrency level
    concurrency: tuple[int, ...] = (1, 8, 32, 64)
    groups: int = 1
    operators: int = 0  # default: enough for the rate limit at the expected rate
    max_batch: int = 64
    max_delay_ms: float = 0.0
    warmup: float = 2.0
    baseline: bool = True
    via: str = "api"  # "api" (Python API, micro-batched) or "http" (the gateway)
    num_cpus: int | None = None
    address: str | None = None  # an existing Ray cluster whose nodes offer enclave-<g>-<i>
    state_dir: str | None = None  # on a multi-node cluster: storage every host can reach
    engines: tuple[str, ...] = ()  # Rego engine per group member (empty: the default)
    drivers: int = 1  # load-generator processes (1: the clients run in the bench's own process)
    max_in_flight: int = 0  # batches outstanding at once, over all drivers (0: two per signing group)

    def __post_init__(self) -> None:
        if not 1 <= self.drivers <= 64:
            raise ValueError(f"drivers must be 1..64, got {self.drivers}")
        if not 0 <= self.max_in_flight <= 64:
            raise ValueError(f"max_in_flight must be 0..64, got {self.max_in_flight}")


@dataclass
class LevelResult:
    concurrency: int
    tokens: int
    other: dict[str, int]
    seconds: float
    tokens_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    cpu_ms_per_token: float
    server_cpu_ms_per_token: float  # all processes but the load generator's request signing
    client_sign_ms: float
    stages_us_per_token: dict[str, float] = field(default_factory=dict)


def _percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _cluster_cpu() -> float:
    """CPU seconds used so far by this process and every process it started (the embedded
    Ray cluster: GCS, raylet, workers)."""
    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for child in me.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.Error:
            pass
    return total


def _stage_delta(before: dict, after: dict, tokens: int) -> dict[str, float]:
    """Microseconds of CPU per token per stage, summed over the services of each role."""
    sums: dict[str, float] = {}
    for service, stages in after.items():
        role = service.split("-")[-1]  # minter, evaluator, keyshare, authority
        for stage, values in stages.items():
            spent = values["cpu_s"] - before.get(service, {}).get(stage, {}).get("cpu_s", 0.0)
            key = f"{role}.{stage}"
            sums[key] = sums.get(key, 0.0) + spent
    return {k: round(v / max(tokens, 1) * 1e6, 1) for k, v in sorted(sums.items())}


def measure_level(load: Load | DriverPool, concurrency: int, seconds: float, stats: Callable[[], dict],
                  tick: Callable[[int], None] | None = None) -> LevelResult:  # fmt: skip
    stats_before, cpu_before, start = stats(), _cluster_cpu(), time.perf_counter()
    outcome = load.run(concurrency, seconds, tick)
    elapsed = time.perf_counter() - start
    cpu = _cluster_cpu() - cpu_before + outcome.outside_cpu_s
    statuses = outcome.statuses
    tokens = statuses.get(Status.PERMIT.value, 0)
    latencies_ms = [x * 1000 for x in outcome.latencies]
    return LevelResult(
        concurrency=concurrency, tokens=tokens,
        other={k: v for k, v in statuses.items() if k != Status.PERMIT.value},
        seconds=round(elapsed, 2), tokens_per_s=round(tokens / elapsed, 1),
        p50_ms=round(_percentile(latencies_ms, 0.50), 2), p90_ms=round(_percentile(latencies_ms, 0.90), 2),
        p99_ms=round(_percentile(latencies_ms, 0.99), 2),
        cpu_ms_per_token=round(cpu / max(tokens, 1) * 1000, 3),
        server_cpu_ms_per_token=round((cpu - outcome.signing_s) / max(tokens, 1) * 1000, 3),
        client_sign_ms=round(outcome.signing_s / max(sum(statuses.values()), 1) * 1000, 3),  # errors signed too
        stages_us_per_token=_stage_delta(stats_before, stats(), tokens),
    )  # fmt: skip


def run_bench(config: BenchConfig, progress: Callable[[str, float], Callable[[int], None] | None] | None = None,
              echo: Callable[[str], None] = print) -> dict[str, Any]:  # fmt: skip
    """Start a deployment (on an embedded cluster, or on the cluster at `config.address`),
    measure every concurrency level, then the baseline; stop the deployment."""
    import ray

    from accord.actors.baseline import SingleKeyAuthority
    from accord.actors.options import remote
    from accord.bundles.sources import Fetcher
    from accord.cluster.deployment import Deployment, init_ray

    # The library's rate limit lets each operator sign 20 transfers an hour: spread the run's
    # requests (up to ~400/s over every level and the baseline) so that none hits it.
    seconds = (len(config.concurrency) + 1) * (config.duration + config.warmup)
    operators = config.operators or max(200, 4 * max(config.concurrency), int(seconds * 400 / 20))
    ray_options: dict[str, Any] = {"logging_level": "ERROR"}
    if config.num_cpus:
        ray_options["num_cpus"] = config.num_cpus
    # Its own namespace: on a shared cluster the bench never touches a running deployment.
    namespace = f"accord-bench-{os.getpid()}-{int(time.time())}"
    # The batches in flight, shared out over the drivers (at least one each).
    in_flight = config.max_in_flight or 2 * config.groups
    batch = BatchConfig(max_batch=config.max_batch, max_delay_ms=config.max_delay_ms,
                        max_in_flight=max(1, in_flight // config.drivers))  # fmt: skip
    pool: DriverPool | None = None
    deployment: Deployment | None = None
    gateway = None
    batchers: list[BatchingAuthorizer] = []

    def aim(target: Target) -> Load | DriverPool:
        """The load, in the drivers or in this process, sending to `target`."""
        if pool is not None:
            pool.aim(target, batch)
            return pool
        submit, batcher = submitter(target, batch, deployment)
        if batcher is not None:
            batchers.append(batcher)
        return Load(scenario.operators, lambda client: scenario.permit_request(client=client), submit)

    with tempfile.TemporaryDirectory(prefix="accord-bench-") as tmp:
        workdir = Path(tmp)
        try:
            if config.drivers > 1:  # Ray first: the drivers make their operators' keys before the bundle exists
                init_ray(config.address, namespace, Topology(config.groups), None if config.address else ray_options)
            scenario = make_scenario(workdir / "published", operators=0 if config.drivers > 1 else operators)
            if config.drivers > 1:
                pool = DriverPool(config.drivers, operators, scenario.address("internal"), local=config.via == "http")
                scenario.data["principals"].update(pool.principals())
            sources = scenario.publish(1)
            state_dir = Path(config.state_dir) / f"bench-{int(time.time())}" if config.state_dir else workdir / "state"
            evaluator = EvaluatorConfig(engines=config.engines) if config.engines else None
            deployment = Deployment.start(state_dir=state_dir, bundle=sources, groups=config.groups,
                                          address=config.address, evaluator=evaluator,
                                          ray_options=None if config.address else ray_options,
                                          namespace=namespace)  # fmt: skip
            if config.via == "http":
                gateway = _gateway(deployment, BatchConfig(max_batch=config.max_batch, max_delay_ms=config.max_delay_ms,
                                                           max_in_flight=in_flight))  # fmt: skip
                load = aim(Target(url=gateway.url))
            else:
                load = aim(Target(namespace=namespace))
            echo(f"deployment up: {config.groups} signing group(s), {operators} operators, "
                 f"{config.drivers} load driver process(es); warming up")  # fmt: skip
            load.run(min(8, max(config.concurrency)), config.warmup)
            levels = []
            for concurrency in config.concurrency:
                tick = progress(f"concurrency {concurrency:>3}", config.duration) if progress else None
                levels.append(measure_level(load, concurrency, config.duration, deployment.stats, tick))
            baseline = None
            if config.baseline:
                fetched = Fetcher().fetch_all(sources)
                authority = remote(SingleKeyAuthority, "baseline", "accord-baseline", namespace,
                                   deployment.config.topology.slots()[0]).remote(
                    deployment.config, fetched.bundle, fetched.signature, fetched.public_key)  # fmt: skip
                baseline_load = aim(Target(authority=authority))
                baseline_load.run(8, config.warmup)
                top = max(config.concurrency)
                tick = progress(f"baseline    {top:>3}", config.duration) if progress else None
                stats = lambda: {"baseline-authority": ray.get(authority.stats.remote())}  # noqa: E731
                baseline = measure_level(baseline_load, top, config.duration, stats, tick)
                ray.kill(authority)
        finally:
            for batcher in batchers:
                batcher.close()
            if pool is not None:
                pool.close()
            if gateway is not None:
                gateway.stop()
            if deployment is not None:
                deployment.shutdown()
            ray.shutdown()
    return _report(config, levels, baseline)


def _gateway(deployment, batch: BatchConfig):
    """The HTTP gateway in this process (uvicorn on the loopback), for `via="http"`."""
    from accord.cluster.gateway import ServerThread, create_app

    return ServerThread(create_app(deployment, public_base_url="https://accord.invalid", batch=batch)).start()


def _report(config: BenchConfig, levels: list[LevelResult], baseline: LevelResult | None) -> dict[str, Any]:
    best = max(levels, key=lambda level: level.tokens_per_s)
    units = ed25519_costs()  # the targets' unit, measured in this run (after the load: an idle machine)
    lone = next((level for level in levels if level.concurrency == 1), None)
    out: dict[str, Any] = {
        "tokens_per_s": best.tokens_per_s,
        "p50_ms": best.p50_ms,
        "p99_ms": best.p99_ms,
        "best_concurrency": best.concurrency,
        "single_request_p50_ms": lone.p50_ms if lone else None,
        "single_request_p99_ms": lone.p99_ms if lone else None,
        "cpu_ms_per_token": best.cpu_ms_per_token,
        "server_cpu_ms_per_token": best.server_cpu_ms_per_token,
        **units,
        "server_cpu_signs_per_token": round(best.server_cpu_ms_per_token * 1000 / units["ed25519_sign_us"], 1),
        "minter_us_per_token": round(sum(v for k, v in best.stages_us_per_token.items() if k.startswith("minter.")), 1),
        "stages_us_per_token": best.stages_us_per_token,
        "client_sign_ms": best.client_sign_ms,
        "levels": [asdict(level) for level in levels],
        "config": asdict(config),
        "cpus": psutil.cpu_count(),
    }
    if baseline is not None:
        out["baseline_tokens_per_s"] = baseline.tokens_per_s
        out["baseline_cpu_ms_per_token"] = baseline.cpu_ms_per_token
        out["ratio_to_baseline"] = round(best.tokens_per_s / baseline.tokens_per_s, 3) if baseline.tokens_per_s else None
        out["baseline"] = asdict(baseline)
    return out


def plot(report: dict[str, Any], path: str | Path) -> None:
    """Throughput and latency against concurrency."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = report["levels"]
    xs = [level["concurrency"] for level in levels]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot(xs, [level["tokens_per_s"] for level in levels], marker="o", label="Accord (3-of-3 FROST)")
    if "baseline_tokens_per_s" in report:
        left.axhline(report["baseline_tokens_per_s"], color="grey", linestyle="--", label="single-key baseline")
    left.set(xlabel="concurrent clients", ylabel="tokens/s", xscale="log", title="Throughput")
    left.legend()
    for key, label in (("p50_ms", "p50"), ("p90_ms", "p90"), ("p99_ms", "p99")):
        right.plot(xs, [level[key] for level in levels], marker="o", label=label)
    right.set(xlabel="concurrent clients", ylabel="latency (ms)", xscale="log", title="Latency")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

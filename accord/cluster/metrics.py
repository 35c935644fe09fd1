"""What `accord serve` exposes at `GET /metrics` (Prometheus text format, `prometheus-client`).

Two kinds of figure:

- counted by the gateway as requests pass (its own registry, so that several apps in one
  process never share counters): HTTP requests by endpoint and status, decisions by outcome,
  tokens issued, divergences and signing failures by the enclave they are attributed to,
  request latency, batch sizes and batch latency;
- read from the deployment when scraped: each group's readiness and commitment pool level,
  the age of its key, and each evaluator's active bundle revision and the seconds until it
  expires. A scrape
  that cannot reach the deployment reports `accord_deployment_up 0` instead of failing.

Metrics are host-side observations (the gateway is untrusted): they tell an operator what
happens, never what an enclave trusts.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from accord.protocols import minting
from accord.protocols.http_signatures import HttpRequest
from accord.protocols.minting import AuthorizationResult, Status

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)


class GatewayMetrics:
    """The gateway's counters and histograms, and the scrape-time view of `deployment`."""

    def __init__(self, deployment: Any) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counter("accord_http_requests", "HTTP requests answered", ["endpoint", "status"],
                                     registry=r)  # fmt: skip
        self.decisions = Counter("accord_decisions", "Authorization results by decision and code",
                                 ["decision", "code"], registry=r)  # fmt: skip
        self.tokens = Counter("accord_tokens_issued", "Tokens issued (permits)", registry=r)
        self.divergences = Counter("accord_divergences", "Requests the group did not decide unanimously, by the "
                                   "enclave named", ["enclave"], registry=r)  # fmt: skip
        self.signing_failures = Counter("accord_signing_failures", "Permits the group could not sign, by the enclave "
                                        "named", ["enclave"], registry=r)  # fmt: skip
        self.latency = Histogram("accord_authorize_seconds", "Time from a request's arrival to its answer",
                                 buckets=_LATENCY_BUCKETS, registry=r)  # fmt: skip
        self.batch_size = Histogram("accord_batch_size", "Requests per batch sent to the coordinator",
                                    buckets=_BATCH_BUCKETS, registry=r)  # fmt: skip
        self.batch_seconds = Histogram("accord_batch_seconds", "Coordinator round trip of one batch",
                                       buckets=_LATENCY_BUCKETS, registry=r)  # fmt: skip
        r.register(_DeploymentCollector(deployment))

    def observe_result(self, result: AuthorizationResult) -> None:
        """Count one authorization result."""
        self.decisions.labels(result.status.value, result.code or "").inc()
        if result.status is Status.PERMIT and result.token:
            self.tokens.inc()
        if result.code == minting.DIVERGENCE:
            for enclave in result.enclaves or ("unknown",):
                self.divergences.labels(enclave).inc()
        elif result.code == minting.SIGNING_FAILED:
            for enclave in result.enclaves or ("unknown",):
                self.signing_failures.labels(enclave).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class ObservedAuthorizer:
    """`authorizer` with each batch's size and round trip recorded."""

    def __init__(self, authorizer: Any, metrics: GatewayMetrics) -> None:
        self._authorizer = authorizer
        self._metrics = metrics

    def authorize_many(self, requests: Sequence[HttpRequest]) -> list[AuthorizationResult]:
        self._metrics.batch_size.observe(len(requests))
        start = time.perf_counter()
        try:
            return self._authorizer.authorize_many(requests)
        finally:
            self._metrics.batch_seconds.observe(time.perf_counter() - start)


class _DeploymentCollector(Collector):
    """Read at scrape time: group readiness and pools (the coordinator), bundles (evaluators)."""

    def __init__(self, deployment: Any) -> None:
        self._deployment = deployment

    def describe(self) -> list:
        return []  # scrape-time only: nothing to check at registration

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("accord_deployment_up", "1 when the deployment answered this scrape")
        try:
            status = self._deployment.status()
        except Exception:  # noqa: BLE001 - a scrape must answer, whatever the deployment does
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        ready = GaugeMetricFamily("accord_group_ready", "1 when the signing group can sign", labels=["group", "kid"])
        pool = GaugeMetricFamily("accord_commitments_available", "Precomputed FROST commitments the coordinator "
                                 "holds for the group", labels=["group"])  # fmt: skip
        age = GaugeMetricFamily("accord_group_key_age_seconds", "Seconds since the group's key was made (DKG or "
                                "rotation)", labels=["group", "kid"])  # fmt: skip
        signing = {g["index"]: g for g in status["minter"]}
        for group in status["groups"]:
            index = group["index"]
            known = signing.get(index)
            ready.add_metric([str(index), known["kid"] if known else ""], 1 if known else 0)
            pool.add_metric([str(index)], known["commitments"] if known else 0)
            if known and known.get("key_since"):
                age.add_metric([str(index), known["kid"]], time.time() - known["key_since"])
        yield ready
        yield pool
        yield age
        version = GaugeMetricFamily("accord_bundle_version", "Active bundle revision", labels=["enclave"])
        left = GaugeMetricFamily("accord_bundle_seconds_left", "Seconds until the active bundle expires",
                                 labels=["enclave"])  # fmt: skip
        now = time.time()
        for group in status["groups"]:
            for evaluator in group["evaluators"]:
                bundle = evaluator.get("bundle") if isinstance(evaluator, dict) else None
                if not bundle or "enclave_id" not in evaluator:
                    continue
                version.add_metric([evaluator["enclave_id"]], bundle["version"])
                left.add_metric([evaluator["enclave_id"]], datetime.fromisoformat(bundle["expires"]).timestamp() - now)
        yield version
        yield left


def groups_ready(deployment: Any) -> str | None:
    """None when every configured signing group can sign now (for `/readyz`), else why not."""
    ready = {g["index"] for g in deployment.groups()}
    missing = sorted(set(range(deployment.config.topology.groups)) - ready)
    return f"signing group(s) {missing} cannot sign" if missing else None

"""`GET /metrics` (Prometheus text format) and `GET /readyz` of the gateway."""

from __future__ import annotations

import secrets

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from accord.cluster.gateway import create_app
from accord.protocols.minting import AuthorizationResult, Status
from http_helpers import BASE_URL, send


def samples(http: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = http.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}  # fmt: skip


def test_metrics_count_what_passes_and_read_the_deployment(world):
    with TestClient(create_app(world.deployment), base_url=BASE_URL) as http:
        bob = world.client("bob")
        assert send(http, bob.signed_request("signMessage", "ops-wallet", {"message": "m"})).status_code == 200
        assert send(http, bob.signed_request("signRaw", "ops-wallet", {"raw": "0x00"})).status_code == 403
        unsigned = bob.signed_request("signMessage", "ops-wallet", {"message": "m"})
        assert send(http, unsigned, content=unsigned.body + b" ").status_code == 401
        assert http.get(f"/v1/requests/{secrets.token_urlsafe(32)}").status_code == 404
        got = samples(http)
    assert got[("accord_tokens_issued_total", ())] == 1
    assert got[("accord_decisions_total", (("code", ""), ("decision", "permit")))] == 1
    assert got[("accord_decisions_total", (("code", ""), ("decision", "forbid")))] == 1
    assert sum(v for (name, labels), v in got.items()
               if name == "accord_decisions_total" and ("decision", "rejected") in labels) == 1  # fmt: skip
    assert got[("accord_http_requests_total", (("endpoint", "/v1/authorize"), ("status", "200")))] == 1
    # a path template, never the request id itself: labels stay few
    assert got[("accord_http_requests_total", (("endpoint", "/v1/requests/{request_id}"), ("status", "404")))] == 1
    assert got[("accord_authorize_seconds_count", ())] == 3
    assert got[("accord_batch_size_count", ())] == 2 and got[("accord_batch_size_sum", ())] == 2
    assert got[("accord_deployment_up", ())] == 1
    kid = world.deployment.jwks()["keys"][0]["kid"]
    assert got[("accord_group_ready", (("group", "0"), ("kid", kid)))] == 1
    assert ("accord_commitments_available", (("group", "0"),)) in got
    assert 0 <= got[("accord_group_key_age_seconds", (("group", "0"), ("kid", kid)))] < 3600
    for enclave in ("g0-e0-evaluator", "g0-e1-evaluator", "g0-e2-evaluator"):
        assert got[("accord_bundle_version", (("enclave", enclave),))] == 1
        assert got[("accord_bundle_seconds_left", (("enclave", enclave),))] > 0


def test_readyz_is_ready_only_when_every_group_can_sign(world):
    with TestClient(create_app(world.deployment), base_url=BASE_URL) as http:
        assert http.get("/readyz").json() == {"status": "ready"}

    class OneGroupMissing:
        config = world.deployment.config

        def groups(self):
            return []

    with TestClient(create_app(OneGroupMissing()), base_url=BASE_URL) as http:
        answer = http.get("/readyz")
        assert answer.status_code == 503 and "signing group(s) [0] cannot sign" in answer.json()["error"]


class Divergent:
    """A deployment whose enclave e2 disagrees, and that cannot be inspected."""

    def authorize_many(self, requests):
        return [AuthorizationResult(Status.UNAVAILABLE, "j", code="divergence", message="e2 says forbid",
                                    enclaves=("g0-e2-evaluator",)) for _ in requests]  # fmt: skip

    def status(self):
        raise ConnectionError("minter actor unreachable")

    def groups(self):
        raise ConnectionError("minter actor unreachable")


def test_divergences_are_counted_by_enclave_and_a_gone_deployment_scrapes_as_down(world):
    with TestClient(create_app(Divergent()), base_url=BASE_URL) as http:
        for _ in range(2):
            send(http, world.client("bob").signed_request("signMessage", "ops-wallet", {"message": "x"}))
        got = samples(http)
        assert http.get("/readyz").status_code == 503
    assert got[("accord_divergences_total", (("enclave", "g0-e2-evaluator"),))] == 2
    assert got[("accord_deployment_up", ())] == 0
    assert not any(name == "accord_group_ready" for name, _ in got)

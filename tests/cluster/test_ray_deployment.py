"""The deployment as Ray actors on an embedded cluster: named, detached, pinned to their
enclave resources; the request path through them; a KeyShare killed mid-run."""

from __future__ import annotations

import time

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from accord.protocols import minting
from accord.protocols.minting import Status

pytestmark = pytest.mark.ray


def test_three_decisions_through_the_actors(ray_deployment, ray_scenario):
    permit, forbid, confirm = ray_deployment.authorize_many(
        [ray_scenario.permit_request(), ray_scenario.forbid_request(), ray_scenario.confirm_request()]
    )
    assert permit.status is Status.PERMIT
    jwt.decode(permit.token, KeySet.import_key_set(ray_deployment.jwks()), algorithms=["EdDSA"])
    assert forbid.status is Status.FORBID and forbid.reasons
    assert confirm.status is Status.CONFIRM and confirm.approvals["missing"]


def test_replay_is_refused_through_the_actors(ray_deployment, ray_scenario):
    request = ray_scenario.forbid_request()
    ray_deployment.authorize(request)
    assert ray_deployment.authorize(request).code == minting.REPLAY


def test_actors_are_named_detached_and_pinned(ray_deployment):
    import ray

    named = {a["name"] for a in ray.util.list_named_actors(all_namespaces=True) if a["namespace"] == "accord"}
    assert {"accord-minter", "accord-kms", "accord-bundle-verifier"} <= named
    group = ray_deployment.handles.groups[0]
    for index, (evaluator, keyshare) in enumerate(zip(group.evaluators, group.keyshares)):
        assert {f"accord-g0-e{index}-evaluator", f"accord-g0-e{index}-keyshare"} <= named
        for actor in (evaluator, keyshare):
            placed = ray.get(actor.placement.remote())
            assert placed["resources"].get(f"enclave-{index}", 0) > 0


def test_connect_attaches_to_the_running_deployment(ray_deployment, ray_scenario):
    from accord.cluster.deployment import Deployment

    attached = Deployment.connect()
    assert attached.jwks() == ray_deployment.jwks()
    assert attached.authorize(ray_scenario.permit_request()).status is Status.PERMIT
    status = attached.status()
    digests = {e["bundle"]["digest"] for e in status["groups"][0]["evaluators"]}
    assert len(digests) == 1


def test_killed_keyshare_restarts_unseals_and_signing_resumes(ray_deployment, ray_scenario):
    import ray

    kid = ray_deployment.jwks()["keys"][0]["kid"]
    assert ray_deployment.authorize(ray_scenario.permit_request()).status is Status.PERMIT
    victim = ray_deployment.handles.groups[0].keyshares[1]
    epoch = ray.get(victim.status.remote())["epoch"]
    ray.kill(victim, no_restart=False)
    deadline = time.time() + 60
    results = []
    while time.time() < deadline:
        result = ray_deployment.authorize(ray_scenario.permit_request())
        results.append(result)
        if result.status is Status.PERMIT:
            break
        # Requests during the restart fail closed and name the enclave; none gets a token.
        assert result.status is Status.UNAVAILABLE and result.token is None
        assert "g0-e1" in " ".join(result.enclaves) or result.code == minting.NOT_READY
        time.sleep(0.5)
    assert results[-1].status is Status.PERMIT, results
    status = ray.get(victim.status.remote())
    assert status["ready"] and status["epoch"] != epoch and status["kid"] == kid
    assert ray_deployment.jwks()["keys"][0]["kid"] == kid


LOAD_INTERVAL_S = 0.05  # per client: at most 80 requests/s in all


def under_load(deployment, scenario, action):
    """`action()` while 4 clients sign messages through a batcher (batches of 8, 2 in
    flight) for 1.5 s before and after; returns (what action returned, every result).

    The load is paced, not as fast as the host allows: every request is Bob's, and the
    evaluators let one key hold 2,000 live nonces (90 s each). Unpaced, a fast host filled
    that quota during the third of these tests and got `ReplayCacheFull` refusals."""
    import threading

    from accord.cluster.batching import BatchConfig, BatchingAuthorizer

    batcher = BatchingAuthorizer(deployment, BatchConfig(max_batch=8, max_delay_ms=1, max_in_flight=2))
    stop, results = threading.Event(), []

    def load(k: int) -> None:
        n = 0
        while not stop.wait(LOAD_INTERVAL_S):
            n += 1
            results.append(batcher.authorize(scenario.bob.signed_request(
                "signMessage", "ops-wallet", {"message": f"load {k} {n} {time.time_ns()}"}), timeout=60))  # fmt: skip

    threads = [threading.Thread(target=load, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.5)
        outcome = action()
        time.sleep(1.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        batcher.close()
    assert len(results) > 20
    return outcome, results


def token_kid(token: str, jwks) -> str:
    return jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["EdDSA"]).header["kid"]


def test_a_revision_activated_under_load_causes_no_divergence(ray_deployment, ray_scenario):
    import base64
    import json

    def bundle_of(token: str) -> str:
        claims = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))["bundle"]

    before = {e["bundle"]["digest"] for e in ray_deployment.status()["groups"][0]["evaluators"]}
    activation, results = under_load(ray_deployment, ray_scenario, lambda: ray_deployment.load_bundle(
        ray_scenario.publish(2)))  # fmt: skip
    assert len(activation.switched) == 3 and activation.activated_directly == {}
    assert [r for r in results if r.status is not Status.PERMIT] == []  # no divergence, nothing unavailable
    assert {bundle_of(r.token) for r in results} == before | {activation.digest}  # both sides of the switch


def test_shares_refreshed_under_load_fail_no_request(ray_deployment, ray_scenario):
    kid = ray_deployment.jwks()["keys"][0]["kid"]
    (report,), results = under_load(ray_deployment, ray_scenario, ray_deployment.refresh_shares)
    assert report["kid"] == kid and len(report["switched"]) == 3 and report["repaired"] == {}
    assert [r for r in results if r.status is not Status.PERMIT] == []
    assert ray_deployment.jwks()["keys"][0]["kid"] == kid


def test_the_key_rotated_under_load_fails_no_request_and_old_tokens_verify(ray_deployment, ray_scenario):
    (report,), results = under_load(ray_deployment, ray_scenario, ray_deployment.rotate_keys)
    assert report["kid"] != report["previous"] and len(report["switched"]) == 3
    assert [r for r in results if r.status is not Status.PERMIT] == []
    jwks = ray_deployment.jwks()
    assert {k["kid"] for k in jwks["keys"]} == {report["kid"], report["previous"]}
    # tokens on both sides of the switch, all verifying with the one JWKS
    assert {token_kid(r.token, jwks) for r in results} == {report["kid"], report["previous"]}

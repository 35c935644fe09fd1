"""The bench's load generator: client threads in this process, or driver processes that make
their clients' keys themselves and hand out only the public keys."""

from __future__ import annotations

import copy
import pickle

import pytest

from accord.bundles.publish import library_bundle, publish
from accord.cluster.batching import BatchConfig
from accord.cluster.bench import BenchConfig
from accord.cluster.load import DriverPool, Load, LoadDriver, LoadDriverFailed, Outcome, Target, split
from accord.protocols.minting import AuthorizationResult, Status
from accord.protocols.secret import SecretLeakError
from accord.scenario import make_scenario


def test_split_spreads_clients_over_drivers():
    assert split(1, 2) == [1, 0]
    assert split(64, 3) == [22, 21, 21]
    assert split(0, 2) == [0, 0]
    assert all(sum(split(total, parts)) == total for total in range(50) for parts in range(1, 9))


def test_outcomes_merge():
    merged = Outcome([0.1], {"permit": 1}, 0.5)
    merged.merge(Outcome([0.2, 0.3], {"permit": 2, "forbid": 1}, 0.25))
    assert merged == Outcome([0.1, 0.2, 0.3], {"permit": 3, "forbid": 1}, 0.75)


def test_a_target_is_exactly_one_thing():
    with pytest.raises(ValueError, match="exactly one"):
        Target()
    with pytest.raises(ValueError, match="exactly one"):
        Target(namespace="n", url="http://127.0.0.1:1")


def test_bench_config_refuses_counts_out_of_range():
    with pytest.raises(ValueError, match="drivers"):
        BenchConfig(drivers=0)
    with pytest.raises(ValueError, match="max_in_flight"):
        BenchConfig(max_in_flight=65)


def test_a_driver_hands_out_public_keys_and_cannot_be_shipped(tmp_path):
    scenario = make_scenario(tmp_path)
    driver = LoadDriver(5, 2, scenario.address("internal"))
    principals = driver.principals()
    assert sorted(principals) == ["ops-5", "ops-6"]
    for principal in principals.values():
        assert principal["groups"] == ["treasury-ops"]
        (jwk,) = principal["keys"].values()
        assert "d" not in jwk  # the private part stays in the driver
    with pytest.raises(SecretLeakError):
        pickle.dumps(driver)


def test_load_signs_each_request_with_the_next_client(tmp_path):
    scenario = make_scenario(tmp_path, operators=3)
    seen: list[str] = []

    def submit(request):
        seen.append(dict(request.headers)["Signature-Input"])
        if len(seen) % 5 == 0:
            raise ConnectionError("the coordinator is restarting")  # counted, the client goes on
        return AuthorizationResult(Status.PERMIT, "")

    outcome = Load(scenario.operators, lambda client: scenario.permit_request(client=client), submit).run(2, 0.3)
    errors = len(seen) // 5
    assert outcome.statuses == {"permit": len(seen) - errors, "error": errors} and len(seen) > 5
    assert len(outcome.latencies) == len(seen) - errors
    keyids = {header.split('keyid="')[1].split('"')[0] for header in seen}
    assert keyids == {client.key.thumbprint for client in scenario.operators}
    assert outcome.signing_s > 0


@pytest.mark.ray
def test_driver_processes_sign_with_keys_the_bundle_names(ray_deployment, ray_scenario, tmp_path):
    """Two drivers make 60 operators' keys, the bundle names their public keys, and their
    requests are decided and permitted (by the single-key baseline, so the session's
    deployment keeps its bundle; 60 operators stay under the rate limit, 20 each an hour)."""
    import ray

    from accord.actors.baseline import SingleKeyAuthority
    from accord.actors.options import remote
    from accord.bundles.sources import Fetcher

    pool = DriverPool(2, 60, ray_scenario.address("internal"))
    authority = None
    try:
        data = copy.deepcopy(ray_scenario.data)
        data["principals"].update(pool.principals())
        assert {f"ops-{i}" for i in range(60)} <= set(data["principals"])
        fetched = Fetcher().fetch_all(publish(library_bundle(data), ray_scenario.admin, tmp_path / "v1", version=1))
        config = ray_deployment.config
        authority = remote(SingleKeyAuthority, "baseline", "accord-test-load-baseline", config.namespace,
                           config.topology.slots()[0]).remote(
            config, fetched.bundle, fetched.signature, fetched.public_key)  # fmt: skip
        pool.aim(Target(authority=authority), BatchConfig(max_batch=16, max_delay_ms=0, max_in_flight=1))
        pool.run(2, 0.1)  # until the baseline has loaded its bundle
        outcome = pool.run(2, 0.5)
        assert outcome.statuses == {"permit": len(outcome.latencies)} and len(outcome.latencies) > 3
        assert outcome.signing_s > 0
    finally:
        pool.close()
        if authority is not None:
            ray.kill(authority)



@pytest.mark.ray
def test_a_dead_driver_is_named_and_the_pool_still_closes(ray_deployment, ray_scenario):
    import ray

    pool = DriverPool(2, 4, ray_scenario.address("internal"))
    # Operators the session's bundle does not name: their requests are refused, nothing changes.
    pool.aim(Target(namespace=ray_deployment.config.namespace), BatchConfig(max_delay_ms=0, max_in_flight=1))
    ray.kill(pool._drivers[1])
    with pytest.raises(LoadDriverFailed, match=r"a load driver failed \(run\)"):
        pool.run(2, 0.1)
    pool.close()

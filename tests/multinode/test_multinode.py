"""Enclave hosts as separate Ray nodes (`ray.cluster_utils.Cluster`): a head and one node per
`enclave-<i>` resource. Runs in its own pytest process (marker `multinode`, see Makefile).

Services find their host by resource, never by node id: when a host is replaced, its actors
restart on the new node, unseal their state and signing resumes under the same group key.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

import pytest
from ray.exceptions import RayActorError

from accord.cluster.ray_auth import require_token_auth
from accord.protocols.minting import Status
from accord.scenario import make_scenario

pytestmark = pytest.mark.multinode


@pytest.fixture(scope="module")
def cluster():
    import ray
    from ray.cluster_utils import Cluster

    # Token authentication on every node, as in production (a node added later must speak
    # the same protocol as the first ones), with the user's token (~/.ray/auth_token, which
    # Ray itself creates on a first local start).
    saved = os.environ.get("RAY_AUTH_MODE")
    token = Path.home() / ".ray" / "auth_token"
    if not token.exists() and "RAY_AUTH_TOKEN" not in os.environ:
        token.parent.mkdir(parents=True, exist_ok=True)
        token.write_text(secrets.token_hex(32))
        token.chmod(0o600)
    os.environ["RAY_AUTH_MODE"] = "token"
    require_token_auth()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    nodes = [cluster.add_node(num_cpus=1, resources={f"enclave-{i}": 1}) for i in range(3)]
    cluster.wait_for_nodes()
    yield cluster, nodes
    ray.shutdown()
    cluster.shutdown()
    if saved is None:
        os.environ.pop("RAY_AUTH_MODE", None)
    else:
        os.environ["RAY_AUTH_MODE"] = saved


def _placements(deployment):
    import ray

    group = deployment.handles.groups[0]
    return [
        (ray.get(ev.placement.remote())["node_id"], ray.get(ks.placement.remote())["node_id"])
        for ev, ks in zip(group.evaluators, group.keyshares)
    ]


def test_each_enclave_runs_on_its_own_host_and_survives_a_host_replacement(cluster, tmp_path):
    from accord.cluster.deployment import Deployment

    ray_cluster, nodes = cluster
    scenario = make_scenario(tmp_path / "published")
    deployment = Deployment.start(state_dir=tmp_path / "state", bundle=scenario.publish(1),
                                  address=ray_cluster.address)  # fmt: skip
    placements = _placements(deployment)
    node_ids = [node.node_id for node in nodes]
    # evaluator and KeyShare of enclave i share host i; the hosts are distinct nodes.
    assert [ev for ev, _ in placements] == [ks for _, ks in placements] == node_ids
    kid = deployment.jwks()["keys"][0]["kid"]
    assert deployment.authorize(scenario.permit_request()).status is Status.PERMIT

    # Host 1 is replaced: a new node (new id) offers enclave-1.
    ray_cluster.remove_node(nodes[1])
    replacement = ray_cluster.add_node(num_cpus=1, resources={"enclave-1": 1})
    ray_cluster.wait_for_nodes()
    try:
        deadline, result = time.time() + 120, None
        while time.time() < deadline:
            try:
                result = deployment.authorize(scenario.permit_request())
            except RayActorError:  # the coordinator was on that host too and is restarting
                time.sleep(1)
                continue
            if result.status is Status.PERMIT:
                break
            assert result.token is None
            time.sleep(1)
        assert result is not None and result.status is Status.PERMIT, result
        assert _placements(deployment)[1] == (replacement.node_id, replacement.node_id)
        assert deployment.jwks()["keys"][0]["kid"] == kid
    finally:
        deployment.shutdown()


def test_two_signing_groups_on_six_hosts(cluster, tmp_path):
    """Scale-out: each group has its own three hosts and its own key; the JWKS lists both,
    requests are spread over the groups, every token names its group's key."""
    import json

    import ray
    from joserfc import jwt
    from joserfc.jwk import KeySet

    from accord.cluster.deployment import Deployment
    from accord.enclave.routing import route
    from accord.protocols.jwk import b64url_decode

    ray_cluster, _ = cluster
    hosts = {(g, i): ray_cluster.add_node(num_cpus=0, resources={f"enclave-{g}-{i}": 1})
             for g in range(2) for i in range(3)}  # fmt: skip
    ray_cluster.wait_for_nodes()
    scenario = make_scenario(tmp_path / "published", operators=24)  # both groups get some (8 missed one 1 time in 128)
    deployment = Deployment.start(state_dir=tmp_path / "state", bundle=scenario.publish(1), groups=2,
                                  address=ray_cluster.address)  # fmt: skip
    try:
        jwks = deployment.jwks()
        assert len({k["kid"] for k in jwks["keys"]}) == 2
        for g, group in enumerate(deployment.handles.groups):
            placed = [ray.get(ev.placement.remote())["node_id"] for ev in group.evaluators]
            assert placed == [hosts[(g, i)].node_id for i in range(3)]
        # Transfers are decided where the spending ledger is (group 0); other requests by the
        # group their key hashes to (see accord.enclave.routing): both groups sign.
        owners = {route("signMessage", {}, c.jkt, 2): c for c in scenario.operators}
        assert set(owners) == {0, 1}
        messages = [c.signed_request("signMessage", "ops-wallet", {"message": "hi"}) for c in owners.values()]
        transfers = [scenario.permit_request(client=c) for c in scenario.operators[:2]]
        results = deployment.authorize_many(messages + transfers)
        kids = []
        for result in results:
            assert result.status is Status.PERMIT, result
            jwt.decode(result.token, KeySet.import_key_set(jwks), algorithms=["EdDSA"])
            kids.append(json.loads(b64url_decode(result.token.split(".")[0], "header"))["kid"])
        assert set(kids) == {k["kid"] for k in jwks["keys"]}
        assert kids[2] == kids[3] == kids[list(owners).index(0)]  # both transfers: the ledger group's key
    finally:
        deployment.shutdown()

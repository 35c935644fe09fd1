"""A new bundle revision on a running deployment: staged by every evaluator, switched at one
batch of each group's sequence, refused with the running revision kept (rollback, foreign
signer), repaired where an evaluator lost what it staged."""

from __future__ import annotations

import base64
import json

import pytest

from accord.bundles.publish import publish
from accord.bundles.sources import Fetcher
from accord.actors.activation import ActivationRefused
from accord.enclave.evaluator import SwitchError
from accord.protocols.jwk import SigningKey
from accord.protocols.minting import Status


@pytest.fixture
def fresh(scenario, tmp_path):
    from accord.cluster.deployment import Deployment

    return Deployment.in_process(state_dir=tmp_path / "state", bundle=scenario.publish(1))


def bundles(deployment) -> set[str]:
    return {ev.status()["bundle"]["digest"] for ev in deployment.handles.groups[0].evaluators}


def token_bundle(token: str) -> str:
    claims = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))["bundle"]


def test_the_switch_is_one_batch_of_the_sequence(fresh, scenario):
    (v1,) = bundles(fresh)
    before = fresh.authorize(scenario.permit_request())
    seq = fresh.handles.minter._groups[0].seq
    activation = fresh.load_bundle(scenario.publish(2))
    assert activation.version == 2 and bundles(fresh) == {activation.digest} != {v1}
    assert sorted(activation.switched) == ["g0-e0-evaluator", "g0-e1-evaluator", "g0-e2-evaluator"]
    assert activation.activated_directly == {}
    states = {ev.core.state.position() for ev in fresh.handles.groups[0].evaluators}
    assert len(states) == 1 and states.pop()[0] == seq + 1  # one batch, the same on all three
    after = fresh.authorize(scenario.permit_request())
    assert token_bundle(before.token) == v1 and token_bundle(after.token) == activation.digest


@pytest.mark.parametrize("case", ["rollback", "same version", "foreign signer"])
def test_a_refused_revision_changes_nothing(fresh, scenario, tmp_path, case):
    (running,) = bundles(fresh)
    fresh.load_bundle(scenario.publish(3))
    (running,) = bundles(fresh)
    sources = {
        "rollback": lambda: scenario.publish(2),
        "same version": lambda: publish(_changed(scenario), scenario.admin, tmp_path / "same", version=3),
        "foreign signer": lambda: publish(_changed(scenario), SigningKey.generate(), tmp_path / "foreign", version=4),
    }[case]()
    with pytest.raises(ActivationRefused) as refused:
        fresh.load_bundle(sources)
    assert refused.value.problems and all(line.startswith("bundle refused: ") for line in refused.value.problems)
    assert bundles(fresh) == {running}
    assert fresh.authorize(scenario.permit_request()).status is Status.PERMIT


def _changed(scenario):
    from accord.bundles.publish import library_bundle

    data = json.loads(json.dumps(scenario.data))
    data["accounts"]["ops-wallet"]["description"] = "changed"
    return library_bundle(data)


def test_an_evaluator_that_lost_its_stage_is_activated_directly_and_catches_up(fresh, scenario):
    fetched = Fetcher().fetch_all(scenario.publish(2))
    evaluators = fresh.handles.groups[0].evaluators
    for ev in evaluators[:2]:  # e2 "restarted" between staging and the switch
        ev.stage(fetched.bundle, fetched.signature, fetched.public_key)
    digest = evaluators[0].core._staged[0].digest
    errors = fresh.handles.minter.switch_bundle(digest)[0]
    assert errors["g0-e0-evaluator"] is None and errors["g0-e1-evaluator"] is None
    assert "is not staged in this enclave" in errors["g0-e2-evaluator"]
    with pytest.raises(SwitchError, match="not the next one"):  # a replayed switch batch
        evaluators[0].switch_bundle(fresh.handles.minter._groups[0].seq, digest)
    # e2 is now behind the sequence and on v1: the next revision switches e0, e1 and
    # activates e2 directly; the next batch brings e2's state up to date from its peers.
    activation = fresh.load_bundle(scenario.publish(3))
    assert sorted(activation.switched) == ["g0-e0-evaluator", "g0-e1-evaluator"]
    assert list(activation.activated_directly) == ["g0-e2-evaluator"]
    assert "not the next one" in activation.activated_directly["g0-e2-evaluator"]
    assert bundles(fresh) == {activation.digest}
    for _ in range(2):  # the first batch may find e2 behind (state_behind) and synchronize it
        result = fresh.authorize(scenario.permit_request())
    assert result.status is Status.PERMIT, result


def test_a_quorum_of_administrators_is_enforced_inside_the_enclaves(scenario, tmp_path):
    from accord.bundles.build import sign_bundle
    from accord.bundles.errors import InsufficientSignaturesError
    from accord.bundles.keys import fingerprint
    from accord.bundles.layout import read_tarball
    from accord.bundles.sources import BundleSources
    from accord.cluster.deployment import Deployment
    from accord.protocols.jwk import build_jwks

    admins = (scenario.admin, SigningKey.generate(), SigningKey.generate())
    keys = tmp_path / "admins.jwks"
    keys.write_text(json.dumps(build_jwks([k.public for k in admins])))

    def published(version: int, *signers) -> BundleSources:
        one = scenario.publish(version)
        archive = Fetcher().fetch_all(one).bundle
        signatures = None
        for key in signers:
            signatures = sign_bundle(read_tarball(archive), key, iat=0, add_to=signatures)
        path = tmp_path / f"v{version}.sig.json"
        path.write_bytes(signatures)
        return BundleSources(bundle=one.bundle, signature=path.as_uri(), public_key=keys.as_uri())

    deployment = Deployment.in_process(state_dir=tmp_path / "state", bundle=published(1, admins[0], admins[2]),
                                       bundle_threshold=2)  # fmt: skip
    assert deployment.config.enclave.bundle_threshold == 2
    assert set(deployment.config.enclave.bundle_key_fingerprints) == {fingerprint(k) for k in admins}
    lone = published(2, admins[1])
    with pytest.raises(ActivationRefused, match=f"signed by 1: {fingerprint(admins[1])}"):
        deployment.load_bundle(lone)
    fetched = Fetcher().fetch_all(lone)  # past the host-side verifier: the enclave itself refuses
    with pytest.raises(InsufficientSignaturesError):
        deployment.handles.groups[0].evaluators[0].stage(fetched.bundle, fetched.signature, fetched.public_key)
    assert deployment.load_bundle(published(2, admins[1], admins[0])).version == 2

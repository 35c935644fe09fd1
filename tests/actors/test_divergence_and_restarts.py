"""Unanimity and resilience without Ray: a divergent evaluator (other bundle, other clock,
wrong share) gets no token and is named; restarts keep the group key and never reuse a
nonce; a tampered sealed share is refused and reported."""

from __future__ import annotations

import dataclasses
import time

import pytest

from accord.actors.invoke import DirectInvoker
from accord.actors.keyshare import KeyShare
from accord.cluster.bootstrap import BootstrapError
from accord.cluster.deployment import Deployment
from accord.enclave.keyshare import SHARE_OBJECT
from accord.protocols import minting
from accord.protocols.minting import Status


@pytest.fixture
def fresh(scenario, tmp_path):
    """A deployment of its own, for tests that break something."""
    return Deployment.in_process(state_dir=tmp_path / "state", bundle=scenario.publish(1))


def evaluator(deployment, index):
    return deployment.handles.groups[0].evaluators[index]


def keyshare(deployment, index):
    return deployment.handles.groups[0].keyshares[index]


def test_evaluator_on_another_bundle_revision_is_named(fresh, scenario):
    newer = scenario.publish(2)
    from accord.bundles.sources import Fetcher

    fetched = Fetcher().fetch_all(newer)
    evaluator(fresh, 1).activate(fetched.bundle, fetched.signature, fetched.public_key)
    result = fresh.authorize(scenario.permit_request())
    assert result.status is Status.UNAVAILABLE and result.token is None
    assert result.code == minting.DIVERGENCE
    assert result.enclaves == ("g0-e1-evaluator",)
    assert "bundle" in result.message


def test_evaluator_whose_policy_differs_is_named(fresh, scenario):
    # Same revision number cannot be loaded twice: a permissive policy at v2 on one enclave.
    data = dict(scenario.data)
    data["rules"] = {**data["rules"], "no-raw-signing": {**data["rules"]["no-raw-signing"], "effect": "permit"}}
    from accord.bundles.sources import Fetcher

    fetched = Fetcher().fetch_all(scenario.publish(2, data))
    evaluator(fresh, 2).activate(fetched.bundle, fetched.signature, fetched.public_key)
    result = fresh.authorize(scenario.forbid_request())
    assert result.status is Status.UNAVAILABLE and result.enclaves == ("g0-e2-evaluator",)


def test_evaluator_with_another_clock_is_named(fresh, scenario):
    evaluator(fresh, 0).core._clock = lambda: time.time() + 3600
    result = fresh.authorize(scenario.permit_request())
    assert result.status is Status.UNAVAILABLE and result.enclaves == ("g0-e0-evaluator",)
    assert minting.CLOCK_SKEW in result.message


def test_wrong_signature_share_is_named_and_no_token_exists(fresh, scenario):
    ev = evaluator(fresh, 2)
    original = ev.core.complete

    def corrupt(verdicts, results, failure=None):
        out = original(verdicts, results, failure)
        return [v if v.share is None else dataclasses.replace(v, share=v.share[:32] + bytes(32))
                for v in out]  # fmt: skip

    ev.core.complete = corrupt
    result = fresh.authorize(scenario.permit_request())
    assert result.status is Status.UNAVAILABLE and result.code == minting.SIGNING_FAILED
    assert result.enclaves == ("g0-e2-evaluator",) and result.token is None


def test_keyshare_restart_keeps_the_key_and_voids_old_commitments(fresh, scenario):
    kid = fresh.jwks()["keys"][0]["kid"]
    assert fresh.authorize(scenario.permit_request()).status is Status.PERMIT
    group = fresh.handles.groups[0]
    old = group.keyshares[1]
    # The restarted service re-runs __init__: it unseals the same share, with no nonces.
    restarted = KeyShare(fresh.config, old.slot, fresh.handles.kms, _kms_key(fresh), DirectInvoker())
    assert restarted.core.kid == kid and restarted.core.epoch != old.core.epoch
    group.keyshares[1] = restarted
    group.evaluators[1]._keyshare = restarted
    minted = fresh.handles.minter._groups[0]
    keyshares = list(minted.spec.keyshares)
    keyshares[1] = restarted
    minted.spec = dataclasses.replace(minted.spec, keyshares=tuple(keyshares))
    # The batch in flight used commitments of the old instance: no token, the enclave is named.
    failed = fresh.authorize(scenario.permit_request())
    assert failed.status is Status.UNAVAILABLE and failed.code == minting.SIGNING_FAILED
    assert failed.enclaves == ("g0-e1-evaluator",)
    # The coordinator dropped its stale commitments: signing resumes with the same key.
    again = fresh.authorize(scenario.permit_request())
    assert again.status is Status.PERMIT and fresh.jwks()["keys"][0]["kid"] == kid


def test_spent_commitments_are_never_signed_twice(fresh, scenario):
    fresh.authorize(scenario.permit_request())  # fills the pools
    ev = evaluator(fresh, 0)
    ks = keyshare(fresh, 0)
    captured = {}
    original = ks.sign

    def spy(request):
        captured["request"] = request
        return original(request)

    ks.sign = spy
    assert fresh.authorize(scenario.permit_request()).status is Status.PERMIT
    replayed = original(captured["request"])  # the host replays the evaluator's signed batch
    assert all(not r.ok and "NonceReuse" in r.error for r in replayed)
    assert ev is not None


def test_restart_of_the_whole_deployment_keeps_the_group_key(scenario, tmp_path):
    state = tmp_path / "state"
    first = Deployment.in_process(state_dir=state, bundle=scenario.publish(1))
    kid = first.jwks()["keys"][0]["kid"]
    second = Deployment.in_process(state_dir=state, bundle=scenario.publish(2))
    assert second.jwks()["keys"][0]["kid"] == kid
    assert second.authorize(scenario.permit_request()).status is Status.PERMIT


def test_rollback_to_an_older_bundle_is_refused_after_restart(scenario, tmp_path):
    state = tmp_path / "state"
    Deployment.in_process(state_dir=state, bundle=scenario.publish(2))
    with pytest.raises(Exception, match="version"):
        Deployment.in_process(state_dir=state, bundle=scenario.publish(1))


def test_tampered_sealed_share_is_refused_and_reported(scenario, tmp_path):
    state = tmp_path / "state"
    Deployment.in_process(state_dir=state, bundle=scenario.publish(1))
    sealed = state / "enclaves" / "g0-e2-keyshare" / "sealed" / f"{SHARE_OBJECT}.sealed"
    raw = bytearray(sealed.read_bytes())
    raw[-5] ^= 0x01
    sealed.write_bytes(bytes(raw))
    with pytest.raises(BootstrapError, match="g0-e2-keyshare.*SealedDataTampered"):
        Deployment.in_process(state_dir=state, bundle=scenario.publish(2))
    assert sealed.read_bytes() == bytes(raw)  # refused, not replaced


def test_missing_share_on_one_enclave_is_refused(scenario, tmp_path):
    state = tmp_path / "state"
    Deployment.in_process(state_dir=state, bundle=scenario.publish(1))
    (state / "enclaves" / "g0-e0-keyshare" / "sealed" / f"{SHARE_OBJECT}.sealed").unlink()
    with pytest.raises(BootstrapError, match=r"\['g0-e0-keyshare'\] hold no share"):
        Deployment.in_process(state_dir=state, bundle=scenario.publish(2))


def test_other_admin_key_is_refused_for_an_existing_state(scenario, tmp_path):
    from accord.bundles.publish import library_bundle, publish
    from accord.protocols.jwk import SigningKey

    state = tmp_path / "state"
    Deployment.in_process(state_dir=state, bundle=scenario.publish(1))
    foreign = publish(library_bundle(scenario.data), SigningKey.generate(), tmp_path / "foreign", version=2)
    with pytest.raises(BootstrapError, match=r"changes \(bundle_key_fingerprints\)"):
        Deployment.in_process(state_dir=state, bundle=foreign)


def _kms_key(deployment) -> str:
    return deployment.handles.kms.sealing_key()


def _swap_evaluator(deployment, index, replacement):
    group = deployment.handles.groups[0]
    group.evaluators[index] = replacement
    minted = deployment.handles.minter._groups[0]
    evaluators = list(minted.spec.evaluators)
    evaluators[index] = replacement
    minted.spec = dataclasses.replace(minted.spec, evaluators=tuple(evaluators))


def test_restarted_evaluator_reloads_its_bundle_and_pairs_again(fresh, scenario):
    from accord.actors.evaluator import PolicyEvaluator

    old = evaluator(fresh, 0)
    restarted = PolicyEvaluator(fresh.config, old.slot, keyshare(fresh, 0), fresh.handles.kms, _kms_key(fresh),
                                DirectInvoker())  # fmt: skip
    assert restarted.status()["bundle"] == old.status()["bundle"] and restarted.restore_error is None
    _swap_evaluator(fresh, 0, restarted)
    assert fresh.authorize(scenario.permit_request()).status is Status.PERMIT


def test_restarted_evaluator_refuses_a_tampered_saved_bundle(fresh, scenario):
    from accord.actors.evaluator import SAVED_BUNDLE, PolicyEvaluator

    old = evaluator(fresh, 2)
    saved = fresh.config.enclave_dir("g0-e2-evaluator") / SAVED_BUNDLE / "bundle.tar.gz"
    raw = bytearray(saved.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    saved.write_bytes(bytes(raw))
    restarted = PolicyEvaluator(fresh.config, old.slot, keyshare(fresh, 2), fresh.handles.kms, _kms_key(fresh),
                                DirectInvoker())  # fmt: skip
    assert restarted.status()["bundle"] is None and restarted.restore_error
    _swap_evaluator(fresh, 2, restarted)
    result = fresh.authorize(scenario.permit_request())
    assert result.status is Status.UNAVAILABLE and result.enclaves == ("g0-e2-evaluator",)


def test_precomputed_nonces_are_handed_out_first_and_sign(fresh, scenario):
    ks = keyshare(fresh, 0)
    assert ks.core.precompute(40) == 40
    for pool in fresh.handles.minter._groups[0].coordinator.pools.values():
        pool.void()  # the next request makes the coordinator fetch commitments
    assert fresh.authorize(scenario.permit_request()).status is Status.PERMIT
    assert ks.core.precomputed == 0  # the refill (256) took the 40 and generated the rest
    restarted = KeyShare(fresh.config, ks.slot, fresh.handles.kms, _kms_key(fresh), DirectInvoker())
    assert restarted.core.precomputed == 0  # nonces live in memory only

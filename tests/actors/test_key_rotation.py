"""Key rotation in the running system (`accord keys rotate`): a new DKG while the old key
signs, new tokens under the new kid from one batch boundary on, the old key in the JWKS
(attested by the evaluators as retired) until its tokens have expired, nothing else."""

from __future__ import annotations

import os
import time

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from accord.client.attested_keys import KeySetNotAttested, verify_key_set
from accord.cluster.deployment import Deployment
from accord.enclave.platform.timeutil import utc_now
from accord.protocols.jwk import SigningKey, build_jwks
from accord.protocols.minting import Status


@pytest.fixture
def rotated(scenario, tmp_path):
    deployment = Deployment.in_process(state_dir=tmp_path / "state", bundle=scenario.publish(1))
    before = deployment.authorize(scenario.permit_request())
    (report,) = deployment.rotate_keys()
    return deployment, before, report


def header_kid(token: str, jwks) -> str:
    return jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["EdDSA"]).header["kid"]


def attested(deployment, jwks, at=None):
    nonce = os.urandom(32)
    return verify_key_set(deployment.attestations(nonce), jwks, deployment.release(), nonce=nonce, at=at or utc_now())


def test_new_tokens_carry_the_new_kid_and_old_ones_keep_verifying(rotated, scenario):
    deployment, before, report = rotated
    assert report["kid"] != report["previous"] and len(report["switched"]) == 3
    jwks = deployment.jwks()
    assert sorted(k["kid"] for k in jwks["keys"]) == sorted((report["kid"], report["previous"]))
    after = deployment.authorize(scenario.permit_request())
    assert after.status is Status.PERMIT
    assert header_kid(before.token, jwks) == report["previous"] and header_kid(after.token, jwks) == report["kid"]
    assert attested(deployment, jwks).jwks == jwks  # the evaluators vouch for both


def test_a_key_nobody_attests_is_refused_beside_the_retired_one(rotated):
    deployment, _, _ = rotated
    forged = {"keys": deployment.jwks()["keys"] + build_jwks([SigningKey.generate().public])["keys"]}
    with pytest.raises(KeySetNotAttested, match="differ from the attested group kids"):
        attested(deployment, forged)


def test_the_old_key_leaves_once_its_tokens_have_expired(rotated, monkeypatch):
    deployment, _, report = rotated
    ks = deployment.handles.groups[0].keyshares[0]
    (retired,) = ks.core.live_retired()
    lifetime = deployment.config.enclave.evaluator
    assert abs(retired.until - (time.time() + lifetime.max_token_lifetime + lifetime.clock_skew)) < 30
    later = retired.until + 1
    monkeypatch.setattr(time, "time", lambda: later)  # the coordinator's clock
    assert [k["kid"] for k in deployment.jwks()["keys"]] == [report["kid"]]
    monkeypatch.setattr(ks.core, "_clock", lambda: later)  # the KeyShare's, for its next statements
    assert ks.core.live_retired() == ()


def test_the_whole_group_retires_the_old_key_at_one_time_never_too_soon(rotated, scenario):
    deployment, _, report = rotated
    untils = {ks.core.live_retired()[0].until for ks in deployment.handles.groups[0].keyshares}
    assert untils == {report["retired_until"]}  # so every evaluator attests the same list
    from accord.cluster.bootstrap import BootstrapError

    with pytest.raises(BootstrapError, match="--retire-after must be"):
        deployment.rotate_keys(retire_after=60)  # shorter than the tokens it signed may live
    (longer,) = deployment.rotate_keys(retire_after=7 * 86400)
    assert abs(longer["retired_until"] - (time.time() + 7 * 86400)) < 30
    assert len(deployment.jwks()["keys"]) == 3  # two retired keys, both still valid
    from accord.cluster.bootstrap import run_dkg
    from accord.enclave.keyshare import KeyShareError

    group = deployment.handles.groups[0]  # the KeyShare checks it too, whatever the host says
    run_dkg(deployment._invoker, group.keyshares, [ks.status()["enclave_id"] for ks in group.keyshares], "rotate")
    with pytest.raises(KeyShareError, match="must stay public until"):
        group.keyshares[0].core.switch_share(int(time.time()) + 10)


def test_the_retired_key_survives_a_keyshare_restart(rotated, scenario):
    deployment, _, report = rotated
    ks = deployment.handles.groups[0].keyshares[2]
    ks.__init__(deployment.config, ks.slot, deployment.handles.kms, deployment.handles.kms.sealing_key(),
                deployment._invoker, 0)  # fmt: skip
    assert [r["kid"] for r in ks.status()["retired"]] == [report["previous"]]
    assert ks.status()["kid"] == report["kid"]


def test_a_retired_key_the_keyshare_did_not_state_is_refused_by_the_evaluator(rotated):
    import dataclasses

    from accord.enclave.group_key import GroupKeyNotAttested, RetiredKey
    from accord.protocols import canonical_json

    deployment, _, _ = rotated
    group = deployment.handles.groups[0]
    ev, ks = group.evaluators[0], group.keyshares[0]

    def statement():
        document = ev.core.enclave.identity_document(ks.challenge("pair"))
        return ks.pair(document, ev.core.pairing_challenge())

    attacker = SigningKey.generate().public
    forged = RetiredKey(attacker.thumbprint, canonical_json.dumps(attacker.to_dict()).decode(), 2**40)
    genuine = statement()
    with pytest.raises(GroupKeyNotAttested, match="not signed by"):  # the host added a key to the list
        ev.core.accept_group_key(dataclasses.replace(genuine, retired=(*genuine.retired, forged)))
    mislabelled = RetiredKey(genuine.retired[0].kid, forged.jwk, forged.until)
    with pytest.raises(GroupKeyNotAttested, match="is not the thumbprint"):
        ev.core.accept_group_key(dataclasses.replace(statement(), retired=(mislabelled,)))


@pytest.mark.parametrize("operation", ["rotate_keys", "refresh_shares"])
def test_a_batch_out_while_the_group_switches_keys_combines_under_its_own(scenario, tmp_path, operation):
    # The race of a switch under load, made certain: the evaluators sign a batch with the
    # old shares, the group switches before the coordinator combines that batch.
    deployment = Deployment.in_process(state_dir=tmp_path / "state", bundle=scenario.publish(1))
    invoker, jwks = deployment.handles.minter._invoker, deployment.jwks()
    settle, armed, reports = invoker.settle, [True], []

    def settle_then_switch(pending):
        answers = settle(pending)
        # The first batch's verdicts are in (not the KeyShares' answers to the commitment
        # relay): switch before they are combined.
        if armed and all(isinstance(a, list) for a in answers):
            armed.clear()
            reports.extend(getattr(deployment, operation)())
        return answers

    invoker.settle = settle_then_switch
    try:
        result = deployment.authorize(scenario.permit_request())
    finally:
        invoker.settle = settle
    assert len(reports[0]["switched"]) == 3
    assert result.status is Status.PERMIT, result.message
    assert header_kid(result.token, deployment.jwks()) == jwks["keys"][0]["kid"]  # the key it was signed under
    assert deployment.authorize(scenario.permit_request()).status is Status.PERMIT


def test_no_batch_goes_out_between_the_switch_and_the_new_public_key(scenario, tmp_path):
    # A batch numbered after the switch batch is signed with the new shares: a request the
    # coordinator takes at any point of the rotation must combine under the right key.
    deployment = Deployment.in_process(state_dir=tmp_path / "state", bundle=scenario.publish(1))
    minter, results, busy = deployment.handles.minter, [], []
    ready = minter._ready

    def ready_then_authorize():
        groups = ready()
        if not busy:  # each time the rotation looks for its groups (outside their locks)
            busy.append(True)
            results.append(deployment.authorize(scenario.permit_request()))
            busy.clear()
        return groups

    minter._ready = ready_then_authorize
    try:
        deployment.rotate_keys()
    finally:
        minter._ready = ready
    assert results and [r.message for r in results if r.status is not Status.PERMIT] == []

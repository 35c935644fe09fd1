"""Enclave state that survives restarts and that no single host can roll back: spending
history, replay protection, the iat high-water mark, consumed approvals and the bundle mark
as replicated state of the signing group (without Ray; the services in one process)."""

from __future__ import annotations

import shutil
import time

import pytest

from accord.cluster.bootstrap import BootstrapError
from accord.cluster.deployment import Deployment
from accord.enclave.group_state import GroupState, GroupStateError
from accord.enclave.platform.errors import MessageSignatureError
from accord.protocols import minting
from accord.protocols.minting import Status

USDC = 10**6


@pytest.fixture
def fresh(scenario, tmp_path):
    return Deployment.in_process(state_dir=tmp_path / "state", bundle=scenario.publish(1))


def evaluators(deployment, group=0):
    return deployment.handles.groups[group].evaluators


def restart_evaluator(deployment, index, group=0):
    """What Ray does when an evaluator's process dies: `__init__` again, same slot."""
    ev = evaluators(deployment, group)[index]
    kms = deployment.handles.kms
    ev.__init__(deployment.config, ev.slot, ev._keyshare, kms, kms.sealing_key(), deployment._invoker)
    return ev


def state_dir(deployment, index=1):
    return deployment.config.enclave_dir(f"g0-e{index}-evaluator") / "group-state"


# --- negative first: what a restart or a host used to get ---


def test_limits_and_replay_hold_across_a_restart_of_the_whole_deployment(scenario, tmp_path):
    state, v1 = tmp_path / "state", scenario.publish(1)
    first = Deployment.in_process(state_dir=state, bundle=v1)
    replayed = scenario.permit_request(5 * USDC)
    assert first.authorize(replayed).status is Status.PERMIT
    for _ in range(2):
        assert first.authorize(scenario.permit_request(120_000 * USDC)).status is Status.PERMIT
    assert first.authorize(scenario.permit_request(20_000 * USDC)).status is Status.FORBID
    second = Deployment.in_process(state_dir=state, bundle=v1)
    assert second.authorize(scenario.permit_request(20_000 * USDC)).status is Status.FORBID
    again = second.authorize(replayed)
    assert again.status is Status.REJECTED and again.code == minting.REPLAY and again.token is None


def test_a_decreasing_iat_from_the_coordinator_is_refused(fresh, scenario):
    assert fresh.authorize(scenario.permit_request(200_000 * USDC)).status is Status.PERMIT
    minter = fresh.handles.minter
    group = minter._groups[0]
    # A hostile coordinator hands out an earlier iat, hoping the ledger ignores "later" transfers.
    minter._refill(group, 1)
    tasks = group.coordinator.prepare([scenario.permit_request(200_000 * USDC)], group.iat - 20)
    verdicts = [ev.evaluate(tasks, group.seq + 1)[0] for ev in evaluators(fresh)]
    assert {v.code for v in verdicts} == {minting.OUT_OF_ORDER}
    assert all("below the group's high-water mark" in v.message and v.signing_input is None for v in verdicts)


def test_an_approval_makes_one_permit_only(fresh, scenario):
    pending = fresh.authorize(scenario.confirm_request())
    assert pending.status is Status.CONFIRM
    approvals = [scenario.dave.approve(pending.request_id), scenario.erin.approve(pending.request_id)]
    assert fresh.authorize(scenario.confirm_request(approvals)).status is Status.PERMIT
    again = fresh.authorize(scenario.confirm_request(approvals))
    assert again.status is Status.CONFIRM and again.token is None
    assert sum("already used by an earlier permit" in r for r in again.reasons) == 2
    # New approvals are new consent: they count.
    later = int(time.time()) + 1
    fresh_approvals = [scenario.dave.approve(pending.request_id, now=later),
                       scenario.erin.approve(pending.request_id, now=later)]  # fmt: skip
    assert fresh.authorize(scenario.confirm_request(fresh_approvals)).status is Status.PERMIT


def test_v1_after_v2_is_refused_with_every_mark_deleted(scenario, tmp_path):
    state, v1 = tmp_path / "state", scenario.publish(1)
    deployment = Deployment.in_process(state_dir=state, bundle=v1)
    deployment.load_bundle(scenario.publish(2))
    marks = list(state.rglob("bundle-high-water*"))
    assert len(marks) == 4  # the verifier's and each evaluator's sealed mark
    for mark in marks:
        mark.unlink()
    with pytest.raises(BootstrapError, match="rollback refused"):
        Deployment.in_process(state_dir=state, bundle=v1)


def test_v1_after_v2_is_refused_with_an_old_sealed_mark_put_back(scenario, tmp_path):
    state, v1 = tmp_path / "state", scenario.publish(1)
    deployment = Deployment.in_process(state_dir=state, bundle=v1)
    old = {p: p.read_bytes() for p in state.rglob("bundle-high-water*")}
    deployment.load_bundle(scenario.publish(2))
    for path, content in old.items():
        path.write_bytes(content)
    with pytest.raises(BootstrapError, match="rollback refused"):
        Deployment.in_process(state_dir=state, bundle=v1)


def test_a_wiped_evaluator_learns_the_bundle_mark_from_its_peers(fresh, scenario):
    from accord.bundles.errors import RollbackError
    from accord.bundles.sources import Fetcher

    v1 = Fetcher().fetch_all(scenario.publish(1))
    fresh.load_bundle(scenario.publish(2))
    assert fresh.authorize(scenario.permit_request()).status is Status.PERMIT
    shutil.rmtree(fresh.config.enclave_dir("g0-e1-evaluator"))  # state, sealed mark, saved bundle: all gone
    ev = restart_evaluator(fresh, 1)
    assert ev.core.bundle_status() is None and ev.core.state.seq == 0
    fresh.handles.minter._synchronize(fresh.handles.minter._groups[0])
    assert ev.core.state.bundle_version == 2
    with pytest.raises(RollbackError):
        ev.activate(v1.bundle, v1.signature, v1.public_key)


@pytest.mark.parametrize("damage", ["deleted", "corrupted", "rolled back"])
def test_an_evaluator_whose_state_is_lost_is_named_recovers_from_its_peers_and_decides_again(fresh, scenario, damage):
    assert fresh.authorize(scenario.permit_request(120_000 * USDC)).status is Status.PERMIT
    directory = state_dir(fresh)
    earlier = {p.name: p.read_bytes() for p in directory.iterdir()}
    assert fresh.authorize(scenario.permit_request(120_000 * USDC)).status is Status.PERMIT
    if damage == "deleted":
        shutil.rmtree(directory)
    elif damage == "corrupted":
        for path in directory.iterdir():
            raw = bytearray(path.read_bytes())
            raw[len(raw) // 2] ^= 0x40
            path.write_bytes(bytes(raw))
    else:
        for name, content in earlier.items():
            (directory / name).write_bytes(content)
    ev = restart_evaluator(fresh, 1)
    peers = evaluators(fresh)
    assert ev.core.state.seq < peers[0].core.state.seq
    named = fresh.authorize(scenario.permit_request(20_000 * USDC))
    assert named.status is Status.UNAVAILABLE and named.enclaves == ("g0-e1-evaluator",), named
    assert ev.core.state.position() == peers[0].core.state.position()  # caught up after that batch
    decided = fresh.authorize(scenario.permit_request(20_000 * USDC))
    assert decided.status is Status.FORBID, decided  # 240k spent: the group's history, not an empty one


def test_a_permit_not_on_disk_never_becomes_a_token(fresh, scenario, monkeypatch):
    ev = evaluators(fresh)[2]

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ev.core._log, "append_batch", full_disk)
    result = fresh.authorize(scenario.permit_request())
    assert result.status is Status.UNAVAILABLE and result.token is None and result.enclaves == ("g0-e2-evaluator",)
    later = fresh.authorize(scenario.permit_request())
    assert later.token is None and "not durable" in later.message
    monkeypatch.undo()
    restart_evaluator(fresh, 2)  # restarted, it takes the group's state from its peers
    assert fresh.authorize(scenario.permit_request()).status is not Status.PERMIT
    assert fresh.authorize(scenario.permit_request()).status is Status.PERMIT


def test_two_groups_share_one_limit(scenario, tmp_path):
    deployment = Deployment.in_process(state_dir=tmp_path / "state", bundle=scenario.publish(1), groups=2)
    for _ in range(2):
        assert deployment.authorize(scenario.permit_request(120_000 * USDC)).status is Status.PERMIT
    assert deployment.authorize(scenario.permit_request(20_000 * USDC)).status is Status.FORBID
    assert len(evaluators(deployment, 1)[0].core.state.ledger) == 0  # the ledger lives in group 0 only
    # A hostile coordinator sends the transfer to the other group, whose ledger is empty: refused.
    minter = deployment.handles.minter
    misrouted = minter._authorize_in(minter._groups[1], [scenario.permit_request(20_000 * USDC)])[0]
    assert misrouted.status is Status.REJECTED and misrouted.code == minting.WRONG_GROUP
    assert "decided by signing group 0" in misrouted.message


def test_requests_of_one_key_are_always_decided_by_one_group(scenario, tmp_path):
    deployment = Deployment.in_process(state_dir=tmp_path / "state", bundle=scenario.publish(1), groups=2)
    message = scenario.bob.signed_request("signMessage", "ops-wallet", {"message": "hello"})
    first = deployment.authorize(message)
    assert first.status is Status.PERMIT
    minter = deployment.handles.minter
    owner = next(g for g in (0, 1) if any(ev.core.state.seq for ev in evaluators(deployment, g)))
    other = minter._groups[1 - owner]
    replayed = minter._authorize_in(other, [message])[0]  # the replay, sent where the nonce is unknown
    assert replayed.code == minting.WRONG_GROUP and replayed.token is None


# --- the state sync protocol, with the host relaying (and bending) every message ---


def _export(exporter, importer):
    """Steps 1-3 of the sync protocol as the minter relays them."""
    challenge = exporter.core.state_challenge()
    document, ours = importer.core.state_request(challenge)
    peer_document, envelope = exporter.core.export_state(document, challenge, ours)
    return peer_document, envelope, ours


def test_a_replayed_state_export_is_refused(fresh, scenario):
    a, b, _ = evaluators(fresh)
    peer_document, envelope, ours = _export(a, b)
    assert b.core.import_state(peer_document, envelope, ours)["adopted"] is False
    with pytest.raises(GroupStateError, match="no such state request is outstanding"):
        b.core.import_state(peer_document, envelope, ours)


def test_an_export_challenge_serves_one_export(fresh):
    a, b, _ = evaluators(fresh)
    challenge = a.core.state_challenge()
    document, ours = b.core.state_request(challenge)
    a.core.export_state(document, challenge, ours)
    with pytest.raises(GroupStateError, match="no such state challenge is outstanding"):
        a.core.export_state(document, challenge, ours)


def test_a_tampered_state_envelope_is_refused(fresh):
    a, b, _ = evaluators(fresh)
    peer_document, envelope, ours = _export(a, b)
    altered = bytearray(envelope)
    altered[-5] ^= 0x01
    with pytest.raises(MessageSignatureError):
        b.core.import_state(peer_document, bytes(altered), ours)
    assert b.core.state.seq == evaluators(fresh)[0].core.state.seq


def test_state_from_another_group_or_from_a_keyshare_is_refused(scenario, tmp_path):
    deployment = Deployment.in_process(state_dir=tmp_path / "state", bundle=scenario.publish(1), groups=2)
    target = evaluators(deployment, 0)[1]
    foreign = evaluators(deployment, 1)[0]
    with pytest.raises(GroupStateError, match="not another evaluator of group 0"):
        _export(target, foreign)  # target refuses to export to group 1's evaluator
    with pytest.raises(GroupStateError, match="not another evaluator of group 1"):
        _export(foreign, target)
    keyshare = deployment.handles.groups[0].keyshares[0]
    challenge = target.core.state_challenge()
    with pytest.raises(GroupStateError, match="not another evaluator of group 0"):
        target.core.export_state(keyshare.core.enclave.identity_document(challenge), challenge, b"\0" * 32)


def test_a_peer_with_an_older_state_rolls_nothing_back(fresh, scenario):
    a, b, c = evaluators(fresh)
    old = GroupState.from_snapshot(c.core.state.snapshot(), signature_skew=c.core.config.signature_skew)
    assert fresh.authorize(scenario.permit_request()).status is Status.PERMIT
    position = b.core.state.position()
    c.core.state = old  # the host restored c's older copy
    assert b.core.import_state(*_export(c, b))["adopted"] is False
    assert b.core.state.position() == position


def test_a_peer_with_another_state_at_the_same_batch_is_named_as_a_fork(fresh, scenario):
    a, b, c = evaluators(fresh)
    assert fresh.authorize(scenario.permit_request()).status is Status.PERMIT
    forged = GroupState(signature_skew=c.core.config.signature_skew)
    for seq in range(1, b.core.state.seq + 1):  # as long a chain, without the permit's effects
        forged.begin(seq)
        forged.commit()
    c.core.state = forged
    with pytest.raises(GroupStateError, match="the group has forked"):
        b.core.import_state(*_export(c, b))

"""Proactive share refresh in the running system (`accord keys refresh`): new shares of the
same group key, run over attested channels, switched at one batch of the group's sequence;
tokens before and after verify under the one JWKS; the old share is gone from disk; a
tampered refresh message or a KeyShare that restarts in between changes nothing unsafely."""

from __future__ import annotations

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from accord.cluster.bootstrap import run_dkg
from accord.cluster.deployment import Deployment
from accord.enclave.dkg_transport import DkgMessageRejectedError
from accord.enclave.keyshare import NEXT_SHARE_OBJECT, SHARE_OBJECT
from accord.protocols.minting import Status


@pytest.fixture
def fresh(scenario, tmp_path):
    return Deployment.in_process(state_dir=tmp_path / "state", bundle=scenario.publish(1))


def shares(deployment):
    return [ks.core._key.signing_share.secret.reveal() for ks in deployment.handles.groups[0].keyshares]


def verify(token, jwks):
    return jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["EdDSA"]).claims


def test_a_refresh_changes_every_share_and_keeps_the_group_key(fresh, scenario):
    jwks, before = fresh.jwks(), fresh.authorize(scenario.permit_request())
    old, old_public = shares(fresh), fresh.handles.groups[0].keyshares[0].core.public
    sealed = [ks.core._store.path(SHARE_OBJECT).read_bytes() for ks in fresh.handles.groups[0].keyshares]
    (report,) = fresh.refresh_shares()
    assert report["kid"] == jwks["keys"][0]["kid"] and len(report["switched"]) == 3 and report["repaired"] == {}
    assert all(a != b for a, b in zip(old, shares(fresh)))
    public = fresh.handles.groups[0].keyshares[0].core.public
    assert public.verifying_key == old_public.verifying_key and public.verifying_shares != old_public.verifying_shares
    for ks, blob in zip(fresh.handles.groups[0].keyshares, sealed):
        assert ks.core._store.path(SHARE_OBJECT).read_bytes() != blob  # the old share is no longer on disk
        assert not ks.core._store.exists(NEXT_SHARE_OBJECT)
    after = fresh.authorize(scenario.permit_request())
    assert after.status is Status.PERMIT and fresh.jwks() == jwks
    assert verify(before.token, jwks)["jti"] != verify(after.token, jwks)["jti"]  # both verify, one JWKS
    states = {ev.core.state.position() for ev in fresh.handles.groups[0].evaluators}
    assert len(states) == 1  # the switch was one batch, the same on all three


def test_a_restarted_keyshare_finds_its_refreshed_share(fresh, scenario):
    group = fresh.handles.groups[0]
    statuses = [ks.status() for ks in group.keyshares]
    run_dkg(fresh._invoker, group.keyshares, [s["enclave_id"] for s in statuses], purpose="refresh")
    ks = group.keyshares[1]
    ks.__init__(fresh.config, ks.slot, fresh.handles.kms, fresh.handles.kms.sealing_key(), fresh._invoker, 0)
    assert ks.status()["refreshed_share_waiting"]  # sealed beside the old one, unsealed again

    def permitted() -> bool:  # after a KeyShare restart its old commitments are void: a retry
        return any(fresh.authorize(scenario.permit_request()).status is Status.PERMIT for _ in range(3))

    assert permitted()  # still the old shares, all three
    (report,) = fresh.refresh_shares()  # a second refresh on top: all switch together
    assert len(report["switched"]) == 3
    assert permitted()


def test_a_tampered_refresh_message_changes_nothing(fresh, scenario, monkeypatch):
    group = fresh.handles.groups[0]
    old = shares(fresh)
    real = group.keyshares[2].refresh_round2

    def tampered(incoming):
        sender = sorted(incoming)[0]
        envelope = bytearray(incoming[sender])
        envelope[-1] ^= 1
        return real({**incoming, sender: bytes(envelope)})

    monkeypatch.setattr(group.keyshares[2], "refresh_round2", tampered)
    with pytest.raises(DkgMessageRejectedError, match="g0-e0-keyshare"):
        fresh.refresh_shares()
    assert shares(fresh) == old and not any(ks.status()["refreshed_share_waiting"] for ks in group.keyshares)
    assert fresh.authorize(scenario.permit_request()).status is Status.PERMIT

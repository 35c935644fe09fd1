"""The host (Ray, disk, coordinator, every relayed message) tries to make the enclaves vouch
for a key, a threshold or a policy they did not verify. Each attack of the trust-model
issue, reproduced through the services without Ray, and what it now gets."""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from datetime import datetime, timedelta, timezone

import cbor2
import pytest

from accord.actors.evaluator import PolicyEvaluator
from accord.actors.keyshare import KeyShare
from accord.bundles.publish import library_bundle, publish
from accord.bundles.store import ActiveBundleStore
from accord.bundles.verify import TrustPolicy
from accord.client import KeySetNotAttested, Release, verify_key_set
from accord.cluster.bootstrap import BootstrapError
from accord.cluster.deployment import Deployment
from accord.config.deployment import PKI_FILE, DeploymentConfig
from accord.config.topology import EnclaveSlot
from accord.enclave.configuration import EnclaveConfig, EvaluatorConfig, KmsKind, KmsSettings, Platform
from accord.enclave.evaluator import EvaluatorCore
from accord.enclave.group_key import GroupBinding, GroupKeyNotAttested, GroupShapeMismatch, statement_digest
from accord.enclave.platform.enclave import Enclave
from accord.enclave.platform.errors import (
    AttestationError,
    EnclaveConfigError,
    KeyPolicyMismatchError,
    NsmUnavailableError,
    PcrMismatchError,
    RootPinMismatchError,
)
from accord.enclave.platform.pki import SimulatedNitroPki
from accord.enclave.platform.timeutil import utc_now
from accord.enclave.platform.trust import AWS_NITRO_ROOT_G1_SHA256
from accord.enclave.signing_link import SignRequest, request_digest
from accord.protocols import minting
from accord.protocols.frost.identifier import Identifier
from accord.protocols.frost.local import run_dkg
from accord.protocols.frost.round1 import SigningCommitments
from accord.protocols.frost.signing_package import SigningPackage
from accord.protocols.jwk import SigningKey, b64url_encode, build_jwks
from accord.protocols.minting import Status
from accord.protocols.tokens import token_header


@pytest.fixture
def fresh(scenario, tmp_path):
    return Deployment.in_process(state_dir=tmp_path / "state", bundle=scenario.publish(1))


def members(deployment, index=0):
    group = deployment.handles.groups[0]
    return group.evaluators[index], group.keyshares[index]


def client_check(deployment, jwks=None, documents=None):
    nonce = os.urandom(32)
    documents = documents if documents is not None else deployment.attestations(nonce)
    return verify_key_set(documents, jwks or deployment.jwks(), deployment.release(), nonce=nonce, at=utc_now())


# --- 1. the group key chosen by the host ---


def _statement(ev, ks):
    challenge = ks.challenge("pair")
    return ks.pair(ev.core.enclave.identity_document(challenge), ev.core.pairing_challenge())


def test_a_group_key_the_host_substitutes_in_the_pairing_is_refused(fresh):
    ev, ks = members(fresh)
    honest = fresh.jwks()["keys"][0]["kid"]
    statement = _statement(ev, ks)
    _, attacker = run_dkg(3, 3)  # the host's own 3-of-3 key, shaped like the group's
    forged = GroupBinding.for_config(ev.core.enclave.config, 0, attacker)
    with pytest.raises(GroupKeyNotAttested, match="not signed by 'g0-e0-keyshare'"):
        ev.core.accept_group_key(dataclasses.replace(statement, binding=forged.to_bytes()))
    # Re-signing needs the KeyShare's attested identity key: a key of the host's does not do.
    statement = _statement(ev, ks)
    digest = statement_digest("g0-e0-keyshare", statement.evaluator_id, statement.epoch, forged.to_bytes())
    host_key = SigningKey.generate().crypto_key()
    resigned = dataclasses.replace(statement, binding=forged.to_bytes(), signature=host_key.sign(digest))
    with pytest.raises(GroupKeyNotAttested, match="not signed"):
        ev.core.accept_group_key(resigned)
    # The evaluator still attests the honest key only, and a JWKS with the host's key is refused.
    assert {e.kid for e in client_check(fresh).enclaves} == {honest}
    impostor = build_jwks([SigningKey.generate().public])
    with pytest.raises(KeySetNotAttested):
        client_check(fresh, jwks=impostor)


def test_a_replayed_or_misaddressed_statement_is_refused(fresh):
    ev0, ks0 = members(fresh, 0)
    ev1, ks1 = members(fresh, 1)
    old = _statement(ev0, ks0)
    ev0.core.pairing_challenge()  # a new pairing: the old statement's nonce is stale
    with pytest.raises(GroupKeyNotAttested, match="NonceMismatchError"):
        ev0.core.accept_group_key(old)
    # The statement of another host's KeyShare, relayed to evaluator 0.
    ev1_statement = _statement(ev1, ks1)
    ev0.core._pair_nonce = ev1.core._pair_nonce = None
    challenge = ev0.core.pairing_challenge()
    relayed = dataclasses.replace(ev1_statement, document=ks1.core.enclave.identity_document(challenge))
    with pytest.raises(GroupKeyNotAttested, match="attested by 'g0-e1-keyshare'"):
        ev0.core.accept_group_key(relayed)
    with pytest.raises(GroupKeyNotAttested, match="no pairing challenge"):
        ev0.core.accept_group_key(relayed)


def test_extra_evaluator_instances_under_other_names_cannot_exist_or_add_a_key(fresh, scenario, tmp_path):
    config = fresh.config
    ks = fresh.handles.groups[0].keyshares[0]
    for slot in (EnclaveSlot(0, 3, 1), EnclaveSlot(1, 0, 1)):  # g0-e3-evaluator, g1-e0-evaluator
        with pytest.raises(EnclaveConfigError, match="not a member"):
            PolicyEvaluator(config, slot, ks, fresh.handles.kms, None, fresh._invoker)
    # Genuine enclaves of another deployment (another measured configuration) vouch for
    # their own key: served beside ours, the client refuses the set.
    other = Deployment.in_process(state_dir=tmp_path / "other", bundle=scenario.publish(1))
    nonce = os.urandom(32)
    ours, theirs = fresh.attestations(nonce), other.attestations(nonce)
    both = {"keys": fresh.jwks()["keys"] + other.jwks()["keys"]}
    mixed = {**ours, **{f"extra-{k}": v for k, v in theirs.items()}}
    with pytest.raises(AttestationError):  # their root and PCRs are not the release's
        verify_key_set(mixed, both, fresh.release(), nonce=nonce, at=utc_now())
    # The same documents served twice under other names are refused too.
    doubled = {**ours, "g0-e9-evaluator": ours["g0-e0-evaluator"]}
    with pytest.raises(KeySetNotAttested, match="attested twice"):
        verify_key_set(doubled, fresh.jwks(), fresh.release(), nonce=nonce, at=utc_now())


def test_the_client_refuses_a_document_of_an_enclave_outside_the_release(fresh):
    # Genuine code refuses to run under a name outside its configuration (above); the client
    # does not rely on that: a document for a non-member, even with the right PCRs, is refused.
    from accord.enclave.evaluator import STATUS_CLAIM
    from accord.enclave.platform.enclave import Enclave

    config = fresh.config
    stranger = Enclave.simulated(enclave_id="g0-e7-evaluator", config=config.enclave,
                                 state_dir=config.root / "stranger", pki=config.simulated_pki())  # fmt: skip
    nonce = os.urandom(32)
    attacker = SigningKey.generate().public
    claim = cbor2.dumps([STATUS_CLAIM, config.enclave.deployment, 0, "g0-e7-evaluator", attacker.thumbprint,
                         "ab" * 32, "", []])  # fmt: skip
    documents = {**fresh.attestations(nonce), "g0-e7-evaluator": stranger.attest(nonce=nonce, user_data=claim)}
    jwks = {"keys": fresh.jwks()["keys"] + build_jwks([attacker])["keys"]}
    with pytest.raises(KeySetNotAttested, match="'g0-e7-evaluator' is not a member"):
        verify_key_set(documents, jwks, fresh.release(), nonce=nonce, at=utc_now())
    # Nor can it stand in for a member with another key: the group must agree.
    documents["g0-e2-evaluator"] = documents.pop("g0-e7-evaluator")
    impostor = Enclave.simulated(enclave_id="g0-e2-evaluator", config=config.enclave,
                                 state_dir=config.root / "impostor", pki=config.simulated_pki())  # fmt: skip
    claim = cbor2.dumps([STATUS_CLAIM, config.enclave.deployment, 0, "g0-e2-evaluator", attacker.thumbprint,
                         "ab" * 32, "", []])  # fmt: skip
    documents["g0-e2-evaluator"] = impostor.attest(nonce=nonce, user_data=claim)
    with pytest.raises(KeySetNotAttested, match="attest different keys, bindings or retired keys"):
        verify_key_set(documents, jwks, fresh.release(), nonce=nonce, at=utc_now())


# --- 2. threshold and membership chosen by the host ---


def _dkg_documents(keyshares):
    challenges = [ks.challenge("dkg") for ks in keyshares]
    return {ks.core.enclave.enclave_id: ks.identity_document("dkg", challenges) for ks in keyshares}


def _unprovisioned(tmp_path, scenario):
    """Three KeyShares of a deployment whose DKG has not run (the host drives it)."""
    deployment = Deployment.in_process(state_dir=tmp_path / "state", bundle=scenario.publish(1))
    config = dataclasses.replace(deployment.config, state_dir=str(tmp_path / "state"))
    for ks_id in config.enclave.keyshare_ids(0):
        shutil.rmtree(config.enclave_dir(ks_id))
    kms = deployment.handles.kms
    return [KeyShare(config, s, kms, kms.sealing_key(), deployment._invoker) for s in config.topology.group(0)]


def test_a_dkg_with_a_lower_threshold_is_refused(tmp_path, scenario):
    keyshares = _unprovisioned(tmp_path, scenario)
    documents = _dkg_documents(keyshares)
    with pytest.raises(GroupShapeMismatch, match="threshold 2 differs from the measured 3-of-3"):
        keyshares[0].dkg_round1(documents, 2)


def test_a_dkg_with_a_missing_or_extra_participant_is_refused(tmp_path, scenario):
    keyshares = _unprovisioned(tmp_path, scenario)
    documents = _dkg_documents(keyshares)
    two = {k: v for k, v in documents.items() if k != "g0-e2-keyshare"}
    with pytest.raises(GroupShapeMismatch, match=r"missing \['g0-e2-keyshare'\], extra \[\]"):
        keyshares[0].dkg_round1(two)
    extra = {**documents, "g0-e3-keyshare": documents["g0-e2-keyshare"]}
    with pytest.raises(GroupShapeMismatch, match=r"missing \[\], extra \['g0-e3-keyshare'\]"):
        keyshares[0].dkg_round1(extra)
    keyshares[0].dkg_round1(documents, 3)  # the measured shape goes ahead


def test_a_sealed_share_of_another_group_shape_is_refused(fresh):
    _, ks = members(fresh)
    config = ks.core.enclave.config
    _, public = run_dkg(3, 3)
    with pytest.raises(GroupShapeMismatch, match="deployment 'elsewhere'"):
        dataclasses.replace(GroupBinding.for_config(config, 0, public), deployment="elsewhere").check(config, 0)
    with pytest.raises(GroupShapeMismatch, match="threshold 2"):
        GroupBinding.for_config(config, 0, run_dkg(3, 2)[1])
    swapped = dataclasses.replace(GroupBinding.for_config(config, 0, public),
                                  keyshares=tuple(reversed(config.keyshare_ids(0))))  # fmt: skip
    with pytest.raises(GroupShapeMismatch, match="members"):
        swapped.check(config, 0)


# --- 3. trust anchors chosen by files on the host ---


def test_a_simulated_pki_in_the_state_directory_is_not_trusted_by_a_nitro_configuration(fresh):
    assert (fresh.config.root / PKI_FILE).exists()
    aws = KmsSettings(KmsKind.AWS, region="eu-west-1", key_id="arn:aws:kms:eu-west-1:111122223333:key/k")
    nitro = DeploymentConfig(fresh.config.state_dir, EnclaveConfig(fresh.config.enclave.bundle_key_fingerprints,
                                                                   platform=Platform.NITRO, kms=aws))  # fmt: skip
    assert nitro.trusted_root().sha256 == AWS_NITRO_ROOT_G1_SHA256
    with pytest.raises(NsmUnavailableError, match="measured platform is nitro"):
        KeyShare(nitro, nitro.topology.group(0)[0], None, None, fresh._invoker)


def test_a_replaced_simulated_pki_is_refused(scenario, tmp_path):
    state = tmp_path / "state"
    Deployment.in_process(state_dir=state, bundle=scenario.publish(1))
    (state / PKI_FILE).write_bytes(SimulatedNitroPki.generate(now=utc_now()).to_bytes())  # the host's own "AWS"
    with pytest.raises(RootPinMismatchError, match="pinned value is"):
        Deployment.in_process(state_dir=state, bundle=scenario.publish(1))


# --- 4. security parameters outside the measurement ---


def test_an_unmeasured_parameter_is_refused(fresh, scenario):
    lax = EvaluatorConfig(clock_skew=300, public_origins=("https://evil.example",))
    with pytest.raises(BootstrapError, match=r"changes \(evaluator\)"):
        Deployment.in_process(state_dir=fresh.config.state_dir, bundle=scenario.publish(1), evaluator=lax)
    # An enclave the host starts with other parameters measures differently: its peers and
    # the KMS refuse it (its PCR0 is not the group's).
    config = dataclasses.replace(fresh.config, enclave=dataclasses.replace(fresh.config.enclave, evaluator=lax))
    slot = config.topology.group(0)[0]
    ks = fresh.handles.groups[0].keyshares[0]
    with pytest.raises(KeyPolicyMismatchError, match="PCR0"):  # the KMS: no state key for it
        PolicyEvaluator(config, slot, ks, fresh.handles.kms, fresh.handles.kms.sealing_key(), fresh._invoker)
    enclave = Enclave.open(enclave_id="g0-e0-evaluator", config=config.enclave, state_dir=config.root / "rogue",
                           simulated_pki=config.simulated_pki)  # fmt: skip
    rogue = EvaluatorCore(enclave, ActiveBundleStore(TrustPolicy(frozenset(config.enclave.bundle_key_fingerprints))))
    with pytest.raises(PcrMismatchError, match="PCR0"):  # its KeyShare: no pairing, no statement
        ks.pair(enclave.identity_document(ks.challenge("pair")), rogue.pairing_challenge())
    with pytest.raises(EnclaveConfigError, match="clock_skew"):
        EvaluatorConfig(clock_skew=10**6)


def test_a_token_lifetime_beyond_the_enclaves_bound_is_refused(scenario, tmp_path):
    with pytest.raises(BootstrapError, match="token_ttl 7200"):
        Deployment.in_process(state_dir=tmp_path / "state", bundle=scenario.publish(1), token_ttl=7200)


# --- 5. an expired bundle keeps deciding ---


def test_an_expired_bundle_decides_nothing(fresh, scenario, tmp_path):
    soon = datetime.now(timezone.utc) + timedelta(seconds=2)
    short = publish(library_bundle(scenario.data), scenario.admin, tmp_path / "short", version=2, expires=soon)
    fresh.load_bundle(short)
    assert fresh.authorize(scenario.permit_request()).status is Status.PERMIT
    # Decision time is the request's iat, in whole seconds: wait until it is past the expiry.
    time.sleep(max(0.0, (soon - datetime.now(timezone.utc)).total_seconds()) + 1.1)
    result = fresh.authorize(scenario.permit_request())
    assert result.status is Status.REJECTED and result.code == minting.BUNDLE_EXPIRED, result
    assert "expired" in result.message and result.token is None


# --- 6. the signer trusts the participant list ---


def _sign_with_participants(deployment, identifiers):
    ev, ks = members(deployment)
    own = ks.commitments(1)
    commitments = SigningCommitments.batch_from_bytes(own.commitments)[0]
    kid = deployment.jwks()["keys"][0]["kid"]
    message = b64url_encode(token_header(kid)).encode() + b"." + b64url_encode(b'{"sub":"x"}').encode()
    package = SigningPackage({Identifier(i): commitments for i in identifiers}, message).to_bytes()
    digest = request_digest(ev.core.enclave.enclave_id, ks.core.epoch, (package,))
    request = SignRequest(ev.core.enclave.enclave_id, ks.core.epoch, (package,), ev.core.enclave.identity_sign(digest))
    return ks.sign(request)[0]


@pytest.mark.parametrize("identifiers, match", [
    ((1, 2, 4), r"participants \[1, 2, 4\] are not the group's \[1, 2, 3\]"),
    ((1, 2, 3, 4), r"participants \[1, 2, 3, 4\]"),
    ((1, 2), r"participants \[1, 2\]"),
])  # fmt: skip
def test_a_foreign_or_missing_participant_in_a_signing_package_is_refused(fresh, identifiers, match):
    result = _sign_with_participants(fresh, identifiers)
    assert not result.ok
    assert "GroupShapeMismatch" in result.error
    import re

    assert re.search(match, result.error), result.error


# --- client-side trust anchors ---


def test_the_clients_release_does_not_come_from_the_state_directory(fresh, tmp_path):
    published = fresh.release().save(tmp_path / "release.json")
    # The host rewrites the record in the state directory: the published release stands.
    record = fresh.config.root / "deployment.json"
    record.write_text(record.read_text().replace('"clock_skew": 30', '"clock_skew": 300'))
    release = Release.load(published)
    assert release.config.evaluator.clock_skew == 30
    assert client_check(fresh).jwks == fresh.jwks()


# --- 7. peers' nonce commitments, relayed by the coordinator ---


def test_peers_signed_commitments_reach_every_keyshare_and_are_not_decoded_again(fresh, scenario, monkeypatch):
    from accord.protocols.frost import ciphersuite

    assert fresh.authorize(scenario.permit_request()).status is Status.PERMIT  # the first refill relays them
    keyshares = fresh.handles.groups[0].keyshares
    for own, ks in enumerate(keyshares, start=1):
        assert all(ks.core.known_commitments(peer) > 0 for peer in (1, 2, 3) if peer != own)
    decoded, validated = [], ciphersuite._validated

    def counting(buf, what="point"):
        decoded.append(what)
        return validated(buf, what)

    monkeypatch.setattr(ciphersuite, "_validated", counting)
    assert fresh.authorize(scenario.permit_request()).status is Status.PERMIT
    assert "hiding nonce commitment" not in decoded  # no signer decoded a peer's point again


@pytest.mark.parametrize("tamper, match", [
    (lambda b, o: dataclasses.replace(b, commitments=o.commitments), "participant 2: signature does not verify"),
    (lambda b, o: dataclasses.replace(b, identifier=3), "participant 3: signature does not verify"),
    (lambda b, o: dataclasses.replace(b, epoch="0" * 16), "participant 2: signature does not verify"),
    (lambda b, o: dataclasses.replace(b, signature=b.signature[:63]), "is 64 bytes"),
    (lambda b, o: dataclasses.replace(b, signature=b.signature[:32] + bytes([255]) * 32), "does not decode"),
    (lambda b, o: dataclasses.replace(b, identifier=1), "participant 1 is not a peer"),  # the receiver's own id
    (lambda b, o: dataclasses.replace(b, identifier=7), "participant 7 is not a peer"),
    (lambda b, o: dataclasses.replace(b, identifier=0), "identifier must be in"),
])  # fmt: skip
def test_a_forged_altered_or_foreign_commitment_batch_is_refused(fresh, tamper, match):
    from accord.enclave.keyshare import UnvouchedCommitments

    keyshares = fresh.handles.groups[0].keyshares
    batch, other = keyshares[1].commitments(4), keyshares[2].commitments(4)
    before = [keyshares[0].core.known_commitments(i) for i in (2, 3)]
    with pytest.raises(UnvouchedCommitments, match=match):
        keyshares[0].peer_commitments([tamper(batch, other)])
    assert [keyshares[0].core.known_commitments(i) for i in (2, 3)] == before  # nothing taken
    assert keyshares[0].peer_commitments([batch]) == 4  # the genuine batch is taken


def test_the_good_batches_beside_a_refused_one_are_taken(fresh):
    from accord.enclave.keyshare import UnvouchedCommitments

    keyshares = fresh.handles.groups[0].keyshares
    good, forged = keyshares[1].commitments(3), keyshares[2].commitments(3)
    forged = dataclasses.replace(forged, commitments=good.commitments)
    with pytest.raises(UnvouchedCommitments, match="1 of 2 commitment batches refused: batch 1: participant 3"):
        keyshares[0].peer_commitments([good, forged])
    assert keyshares[0].core.known_commitments(2) == 3 and keyshares[0].core.known_commitments(3) == 0


def test_a_peer_point_no_batch_vouched_for_is_still_validated(fresh):
    # The host names, as participant 2's commitment, a point of small order it made up.
    ev, ks = members(fresh)
    own = ks.commitments(1).commitments
    peer = fresh.handles.groups[0].keyshares[2].commitments(1).commitments  # not relayed to ks
    torsion = bytes([1]) + bytes(31)  # the identity: small order
    kid = fresh.jwks()["keys"][0]["kid"]
    message = b64url_encode(token_header(kid)).encode() + b"." + b64url_encode(b'{"sub":"x"}').encode()
    records = [(1, own), (2, torsion + own[32:]), (3, peer)]
    package = (3).to_bytes(2, "big") + b"".join(Identifier(i).to_bytes() + r for i, r in records) + message
    digest = request_digest(ev.core.enclave.enclave_id, ks.core.epoch, (package,))
    request = SignRequest(ev.core.enclave.enclave_id, ks.core.epoch, (package,), ev.core.enclave.identity_sign(digest))
    (result,) = ks.sign(request)
    assert not result.ok and "InvalidPoint" in result.error and "hiding nonce commitment" in result.error


def test_a_batch_signed_under_a_share_the_group_no_longer_uses_is_refused(fresh):
    from accord.enclave.keyshare import UnvouchedCommitments

    keyshares = fresh.handles.groups[0].keyshares
    before = keyshares[1].commitments(2)  # signed with participant 2's share before the refresh
    (report,) = fresh.refresh_shares()
    assert len(report["switched"]) == 3
    with pytest.raises(UnvouchedCommitments, match="participant 2: signature does not verify"):
        keyshares[0].peer_commitments([before])
    assert keyshares[0].peer_commitments([keyshares[1].commitments(2)]) == 2  # under the new share

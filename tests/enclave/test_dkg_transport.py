"""The FROST DKG between attested enclaves over secure channels; cheaters and tamperers are named."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from nitro_vectors import CONFIG, clock_at

from accord.enclave.dkg_transport import (
    ROUND1,
    ROUND2,
    DkgBroadcastMismatchError,
    DkgCheaterError,
    DkgMessageRejectedError,
    DkgParticipant,
    DkgProtocolError,
    DkgSession,
    run_locally,
)
from accord.enclave.platform.attestation import AttestationPolicy
from accord.enclave.platform.channel import Envelope, Kind
from accord.enclave.platform.enclave import Enclave, expected_pcrs
from accord.protocols.frost import ciphersuite as cs
from accord.protocols.frost import dkg
from accord.protocols.frost.local import sign_locally
from accord.protocols.secret import SecretBytes, SecretLeakError

NAMES = ("a", "b", "c")


@pytest.fixture(scope="module")
def verified(pki, sim_root, tmp_path_factory):
    """Three enclaves; each verified the others' identity documents (fresh nonces)."""
    base = tmp_path_factory.mktemp("dkg")
    policy = AttestationPolicy(root=sim_root, expected_pcrs=expected_pcrs(CONFIG), max_age=timedelta(minutes=5))
    enclaves = {n: Enclave.simulated(enclave_id=n, config=CONFIG, state_dir=base / n, pki=pki, clock=clock_at()) for n in NAMES}
    peers = {}
    for me, enclave in enclaves.items():
        for other in NAMES:
            if other != me:
                nonce = enclave.nsm.get_random()[:32]
                peers[me, other] = enclave.verify_peer(enclaves[other].identity_document(nonce), policy, nonce=nonce)
    return enclaves, peers


def participants(verified, min_signers=2, classes=None, session=None):
    enclaves, peers = verified
    session = session or DkgSession.create(NAMES, min_signers, nonce=b"dkg nonce")
    classes = classes or {}
    return {
        me: classes.get(me, DkgParticipant)(
            me, session, {other: enclaves[me].channel(peers[me, other], session.session_id) for other in NAMES if other != me}
        )
        for me in NAMES
    }


@pytest.mark.parametrize("min_signers", [2, 3])
def test_dkg_between_enclaves(verified, min_signers):
    seen = []

    def relay(sender, recipient, step, envelope):
        seen.append((step, Envelope.from_bytes(envelope).context.kind))
        return envelope

    results = run_locally(participants(verified, min_signers), relay)
    publics = {public.to_bytes() for _, public in results.values()}
    assert len(publics) == 1
    keys = {key.identifier: key for key, _ in results.values()}
    public = next(iter(results.values()))[1]
    signature = sign_locally(keys, public, b"hello", sorted(keys)[:min_signers])
    public.verifying_key.verify(b"hello", signature)
    assert sorted(seen) == [(ROUND1, Kind.SIGNED)] * 6 + [(ROUND2, Kind.SEALED)] * 6


def test_round2_shares_never_cross_the_host_in_clear(verified):
    captured = []
    results = run_locally(participants(verified), lambda s, r, step, e: captured.append(e) or e)
    for key, _ in results.values():
        assert key.signing_share.secret.reveal() not in b"".join(captured)


class BadProof(DkgParticipant):
    def _make_round1(self):
        secret, package = super()._make_round1()
        return secret, replace(package, proof_mu=cs.scalar_add(package.proof_mu, cs.serialize_scalar(1)))


class BadShareForA(DkgParticipant):
    def _make_round2(self, received):
        state, shares = super()._make_round2(received)
        shares[self.session.participants["a"]] = dkg.Round2Package(SecretBytes(cs.random_scalar()))
        return state, shares


class Equivocator(DkgParticipant):
    """Sends one valid round-1 package to 'a' and another valid one to 'b'."""

    def round1(self):
        outgoing = super().round1()
        _, other = dkg.part1(self.identifier, self.session.max_signers, self.session.min_signers)
        self._channels["b"]._sent -= 1  # re-send message 0 to b with the other package
        outgoing["b"] = self._channels["b"].sign(ROUND1, other.to_bytes())
        return outgoing


def test_bad_proof_of_knowledge_names_the_cheater(verified):
    with pytest.raises(DkgCheaterError, match="enclave 'c': InvalidProofOfKnowledge") as caught:
        run_locally(participants(verified, classes={"c": BadProof}))
    assert caught.value.participant == "c"


def test_bad_secret_share_names_the_cheater(verified):
    with pytest.raises(DkgCheaterError, match="InvalidSecretShare") as caught:
        run_locally(participants(verified, classes={"c": BadShareForA}))
    assert caught.value.participant == "c"


def test_equivocation_is_detected_and_named(verified):
    with pytest.raises(DkgBroadcastMismatchError, match="as seen by") as caught:
        run_locally(participants(verified, classes={"c": Equivocator}))
    assert caught.value.participant == "c"


def _flip_last_byte(target_step, sender_name):
    def relay(sender, recipient, step, envelope):
        if step == target_step and sender == sender_name and recipient == "a":
            return envelope[:-1] + bytes([envelope[-1] ^ 1])
        return envelope

    return relay


@pytest.mark.parametrize("step", [ROUND1, ROUND2])
def test_host_tampering_names_the_link(verified, step):
    with pytest.raises(DkgMessageRejectedError, match="MessageSignatureError") as caught:
        run_locally(participants(verified), _flip_last_byte(step, "c"))
    assert caught.value.participant == "c"


def test_host_swapping_rounds_is_refused(verified):
    parts = participants(verified)
    round1 = {me: p.round1() for me, p in parts.items()}
    inbox_a = {sender: round1[sender]["a"] for sender in ("b", "c")}
    parts["a"].round2(inbox_a)
    with pytest.raises(DkgMessageRejectedError, match="UnexpectedMessageTypeError"):
        parts["a"].finish(inbox_a)  # round-1 messages replayed as round 2


def test_dropped_message_is_named(verified):
    parts = participants(verified)
    round1 = {me: p.round1() for me, p in parts.items()}
    with pytest.raises(DkgProtocolError, match="missing from \\['c'\\]") as caught:
        parts["a"].round2({"b": round1["b"]["a"]})
    assert caught.value.participant == "c"


def test_rounds_run_in_order_once(verified):
    parts = participants(verified)
    with pytest.raises(DkgProtocolError, match="round 2 needs round 1"):
        parts["a"].round2({})
    parts["a"].round1()
    with pytest.raises(DkgProtocolError, match="already"):
        parts["a"].round1()


def test_channels_of_another_session_are_refused(verified):
    enclaves, peers = verified
    session = DkgSession.create(NAMES, 2, nonce=b"one")
    stale = {o: enclaves["a"].channel(peers["a", o], b"another session") for o in ("b", "c")}
    with pytest.raises(DkgProtocolError, match="another session"):
        DkgParticipant("a", session, stale)
    with pytest.raises(DkgProtocolError, match="exactly"):
        DkgParticipant("a", session, {})


def test_session_ids_bind_parameters():
    first = DkgSession.create(NAMES, 2, b"n")
    assert first.session_id != DkgSession.create(NAMES, 3, b"n").session_id
    assert first.session_id != DkgSession.create(NAMES, 2, b"m").session_id
    assert first.session_id == DkgSession.create(("c", "a", "b"), 2, b"n").session_id
    with pytest.raises(DkgProtocolError, match="twice"):
        DkgSession.create(("a", "a", "b"), 2, b"n")


def test_participant_refuses_pickling(verified):
    import pickle

    with pytest.raises(SecretLeakError):
        pickle.dumps(participants(verified)["a"])


def test_key_package_is_sealed_and_restored(verified, sim_root):
    from accord.enclave.platform.kms import KeyPolicy, Kms
    from accord.protocols.frost.keys import KeyPackage

    enclaves, _ = verified
    kms = Kms(sim_root, clock=clock_at())
    key_id = kms.create_key(KeyPolicy.for_pcrs(expected_pcrs(CONFIG)))
    key, _ = run_locally(participants(verified))["a"]
    store = enclaves["a"].sealed_store(kms, key_id)
    store.seal("frost-keyshare", key.to_bytes())
    assert KeyPackage.from_bytes(store.unseal("frost-keyshare")) == key

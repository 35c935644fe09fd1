"""Peer verification and secure channels: every way a relaying host can interfere is refused."""

from __future__ import annotations

from datetime import timedelta

import cbor2
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from nitro_vectors import CONFIG, NOW, OTHER_CONFIG, MutableClock, clock_at

from accord.enclave.platform.attestation import AttestationPolicy
from accord.enclave.platform.channel import Envelope, Kind
from accord.enclave.platform.enclave import Enclave, expected_pcrs
from accord.enclave.platform.errors import (
    DebugModeError,
    IdentityBindingError,
    MalformedMessageError,
    MessageDecryptionError,
    MessageSignatureError,
    MisaddressedMessageError,
    NonceMismatchError,
    OutOfOrderMessageError,
    PcrMismatchError,
    ReplayedMessageError,
    StaleAttestationError,
    UnexpectedMessageTypeError,
    UnexpectedSenderError,
    WrongSessionError,
)
from accord.protocols.secret import SecretBytes

SESSION = b"dkg-session-0001"


@pytest.fixture(scope="module")
def policy(sim_root):
    return AttestationPolicy(root=sim_root, expected_pcrs=expected_pcrs(CONFIG), max_age=timedelta(minutes=5))


@pytest.fixture(scope="module")
def verified(pki, policy, tmp_path_factory):
    """Three enclaves and the identities each verified of the others (with fresh nonces)."""
    base = tmp_path_factory.mktemp("channel")
    enclaves = {
        name: Enclave.simulated(enclave_id=name, config=CONFIG, state_dir=base / name, pki=pki, clock=clock_at())
        for name in ("a", "b", "c")
    }
    identities = {}
    for me, enclave in enclaves.items():
        for peer_name, peer in enclaves.items():
            if peer_name != me:
                nonce = enclave.nsm.get_random()[:32]
                identities[me, peer_name] = enclave.verify_peer(peer.identity_document(nonce), policy, nonce=nonce)
                assert identities[me, peer_name].enclave_id == peer_name
    return enclaves, identities


@pytest.fixture
def trio(verified):
    """Fresh pairwise channels (sequence numbers from 0) between the verified enclaves."""
    enclaves, identities = verified
    return enclaves, {pair: enclaves[pair[0]].channel(peer, SESSION) for pair, peer in identities.items()}


def test_sealed_and_signed_messages_flow(trio):
    _, ch = trio
    first = ch["a", "b"].seal("dkg/round2", SecretBytes(b"share for b"))
    second = ch["a", "b"].sign("dkg/round1", b"public package")
    opened = ch["b", "a"].open_sealed(first, "dkg/round2")
    assert isinstance(opened, SecretBytes) and opened.reveal() == b"share for b"
    assert b"share for b" not in first
    assert ch["b", "a"].open_signed(second, "dkg/round1") == b"public package"
    # The other direction counts separately.
    assert ch["a", "b"].open_signed(ch["b", "a"].sign("ack", b""), "ack") == b""


def test_replay_is_refused(trio):
    _, ch = trio
    message = ch["a", "b"].seal("t", b"once")
    ch["b", "a"].open_sealed(message, "t")
    with pytest.raises(ReplayedMessageError, match="already received"):
        ch["b", "a"].open_sealed(message, "t")


def test_reordering_is_refused_and_recoverable(trio):
    _, ch = trio
    m0, m1 = ch["a", "b"].seal("t", b"0"), ch["a", "b"].seal("t", b"1")
    with pytest.raises(OutOfOrderMessageError, match="before message 0"):
        ch["b", "a"].open_sealed(m1, "t")
    assert ch["b", "a"].open_sealed(m0, "t").reveal() == b"0"
    assert ch["b", "a"].open_sealed(m1, "t").reveal() == b"1"


def test_misaddressed_message_is_refused(trio):
    _, ch = trio
    for_b = ch["a", "b"].seal("t", b"for b only")
    with pytest.raises(MisaddressedMessageError, match="addressed to 'b'"):
        ch["c", "a"].open_sealed(for_b, "t")


def test_message_from_another_sender_is_refused(trio):
    _, ch = trio
    from_b = ch["b", "c"].seal("t", b"x")
    with pytest.raises(UnexpectedSenderError, match="claims sender 'b'"):
        ch["c", "a"].open_sealed(from_b, "t")


def test_wrong_session_is_refused(trio, make_enclave):
    enclaves, ch = trio
    other_session = enclaves["a"].channel(ch["a", "b"].peer, b"another-session")
    with pytest.raises(WrongSessionError):
        ch["b", "a"].open_sealed(other_session.seal("t", b"x"), "t")


def test_wrong_type_or_kind_is_refused(trio):
    _, ch = trio
    with pytest.raises(UnexpectedMessageTypeError, match="'dkg/round2'"):
        ch["b", "a"].open_sealed(ch["a", "b"].seal("dkg/round1", b"x"), "dkg/round2")
    signed = ch["a", "b"].sign("t", b"x")
    with pytest.raises(UnexpectedMessageTypeError, match="sealed"):
        ch["b", "a"].open_sealed(signed, "t")


def _tamper(message: bytes, index: int, value) -> bytes:
    fields = list(cbor2.loads(message))
    fields[index] = value(fields[index])
    return cbor2.dumps(fields)


@pytest.mark.parametrize(
    "index,change",
    [
        (7, lambda body: body[:-1] + bytes([body[-1] ^ 1])),  # ciphertext
        (7, lambda body: body[:40]),  # truncated ciphertext
        (8, lambda sig: bytes([sig[0] ^ 1]) + sig[1:]),  # signature
        (6, lambda seq: seq + 1),  # sequence number
        (1, lambda kind: "signed"),  # kind (then the body is shown as "plaintext")
    ],
    ids=["ciphertext", "truncated", "signature", "sequence", "kind"],
)
def test_tampering_is_refused(trio, index, change):
    _, ch = trio
    message = ch["a", "b"].seal("t", b"x")
    tampered = _tamper(message, index, change)
    with pytest.raises((MessageSignatureError, OutOfOrderMessageError, UnexpectedMessageTypeError)):
        ch["b", "a"].open_sealed(tampered, "t")
    assert ch["b", "a"].open_sealed(message, "t").reveal() == b"x"  # the genuine one still opens


def test_tampering_errors_are_specific(trio):
    _, ch = trio
    message = ch["a", "b"].seal("t", b"x")
    with pytest.raises(MessageSignatureError, match="not by enclave 'a'"):
        ch["b", "a"].open_sealed(_tamper(message, 7, lambda body: body[:-1] + b"\x00"), "t")


def test_resigned_by_another_attested_enclave_is_refused(trio):
    """c, attested and holding valid keys, relays a's ciphertext to b signed as itself."""
    enclaves, ch = trio
    message = Envelope.from_bytes(ch["a", "b"].seal("t", b"x"))
    forged = Envelope(message.context, message.body, enclaves["c"]._identity.sign(message.context.signed_bytes(message.body)))
    with pytest.raises(MessageSignatureError):
        ch["b", "a"].open_sealed(forged.to_bytes(), "t")


def test_undecryptable_but_signed_message(trio):
    _, ch = trio
    sender = ch["a", "b"]
    bogus = sender._envelope(sender._context(Kind.SEALED, "t"), b"\x00" * 64)
    with pytest.raises(MessageDecryptionError):
        ch["b", "a"].open_sealed(bogus, "t")


@pytest.mark.parametrize("data", [b"", b"\x80", cbor2.dumps([2, "sealed", b"", "a", "b", "t", 0, b"", b""]), cbor2.dumps([1] * 9)])
def test_malformed_envelopes(trio, data):
    _, ch = trio
    with pytest.raises(MalformedMessageError):
        ch["b", "a"].open_sealed(data, "t")


def test_no_channel_to_oneself(trio):
    enclaves, ch = trio
    with pytest.raises(MisaddressedMessageError):
        enclaves["a"].channel(ch["b", "a"].peer, SESSION)


# --- peer verification --------------------------------------------------------------------


def test_peer_running_other_code_is_refused(make_enclave, policy):
    verifier, other = make_enclave("a"), make_enclave("b", config=OTHER_CONFIG)
    with pytest.raises(PcrMismatchError):
        verifier.verify_peer(other.identity_document(b"n"), policy, nonce=b"n")


def test_debug_peer_is_refused(make_enclave, policy):
    verifier, debug = make_enclave("a"), make_enclave("b", debug=True)
    with pytest.raises(DebugModeError):
        verifier.verify_peer(debug.identity_document(b"n"), policy, nonce=b"n")


def test_replayed_identity_document_is_refused(make_enclave, policy):
    verifier, peer = make_enclave("a"), make_enclave("b")
    old = peer.identity_document(b"old challenge")
    with pytest.raises(NonceMismatchError):
        verifier.verify_peer(old, policy, nonce=b"new challenge")


def test_stale_identity_document_is_refused(make_enclave, policy):
    clock = MutableClock()
    verifier, peer = make_enclave("a", clock=clock), make_enclave("b")
    document = peer.identity_document(b"n")
    clock.moment = NOW + timedelta(minutes=6)
    with pytest.raises(StaleAttestationError):
        verifier.verify_peer(document, policy, nonce=b"n")


def _spki(key) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.mark.parametrize(
    "fields,message",
    [
        ({}, "carries no enclave identity"),
        ({"public_key": b"\x30\x00", "user_data": b"x"}, "SubjectPublicKeyInfo"),
        ({"public_key": "ed25519", "user_data": cbor2.dumps(["accord-enclave-identity-v1", "b", b"short"])}, "32-byte"),
        ({"public_key": "ed25519", "user_data": cbor2.dumps(["other-claim", "b", bytes(32)])}, "user_data is not"),
        ({"public_key": "ed25519", "user_data": b"\xff"}, "identity claim"),
    ],
)
def test_document_without_a_valid_identity_is_refused(make_enclave, policy, fields, message):
    verifier, peer = make_enclave("a"), make_enclave("b")
    if fields.get("public_key") == "ed25519":
        fields["public_key"] = _spki(ed25519.Ed25519PrivateKey.generate().public_key())
    with pytest.raises(IdentityBindingError, match=message):
        verifier.verify_peer(peer.attest(nonce=b"n", **fields), policy, nonce=b"n")


def test_recipient_document_is_not_an_identity(make_enclave, policy):
    verifier, peer = make_enclave("a"), make_enclave("b")
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    with pytest.raises(IdentityBindingError, match="not an Ed25519 key"):
        verifier.verify_peer(peer.attest(nonce=b"n", public_key=_spki(rsa_key), user_data=b"x"), policy, nonce=b"n")


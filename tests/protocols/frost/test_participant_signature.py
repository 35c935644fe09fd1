"""A participant's own Schnorr signature (accord.protocols.frost.participant_signature): it
verifies only under the signer's verifying share, over exactly the message signed, and is
neither an Ed25519 signature nor interchangeable with the DKG's proof of knowledge."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.bindings import crypto_core_ed25519_scalar_add
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from accord.protocols.frost import ciphersuite as cs
from accord.protocols.frost import participant_signature as ps
from accord.protocols.frost.local import run_dkg


@pytest.fixture(scope="module")
def group():
    keys, public = run_dkg(3, 3)
    return keys, public


def test_each_participant_signs_and_its_verifying_share_verifies(group):
    keys, public = group
    for identifier, key in keys.items():
        signature = ps.sign(key, b"batch digest")
        assert len(signature) == ps.SIGNATURE_SIZE
        ps.verify(identifier, public.verifying_shares[identifier], b"batch digest", signature)


def test_another_participants_share_or_name_does_not_verify(group):
    keys, public = group
    one, two, _ = sorted(keys)
    signature = ps.sign(keys[one], b"m")
    with pytest.raises(ps.InvalidParticipantSignature, match="participant 2: signature does not verify") as caught:
        ps.verify(two, public.verifying_shares[two], b"m", signature)
    assert caught.value.culprit == two
    with pytest.raises(ps.InvalidParticipantSignature):  # the right key under another name
        ps.verify(two, public.verifying_shares[one], b"m", signature)


def test_a_share_of_another_group_does_not_verify(group):
    keys, public = group
    other_keys, _ = run_dkg(3, 3)
    identifier = sorted(keys)[0]
    with pytest.raises(ps.InvalidParticipantSignature):
        ps.verify(identifier, public.verifying_shares[identifier], b"m", ps.sign(other_keys[identifier], b"m"))


@pytest.mark.parametrize("mangle, match", [
    (lambda s: s[:63], "is 64 bytes"),
    (lambda s: s + b"\x00", "is 64 bytes"),
    (lambda s: s[:32] + bytes([0xFF]) * 32, "does not decode"),  # z >= L
    (lambda s: bytes([1]) + bytes(31) + s[32:], "does not decode"),  # R the identity (small order)
    (lambda s: s[:32] + crypto_core_ed25519_scalar_add(s[32:], (1).to_bytes(32, "little")), "does not verify"),
    (lambda s: bytes(64), "does not decode"),
])  # fmt: skip
def test_a_mangled_signature_is_refused(group, mangle, match):
    keys, public = group
    identifier = sorted(keys)[0]
    signature = ps.sign(keys[identifier], b"m")
    with pytest.raises(ps.InvalidParticipantSignature, match=match):
        ps.verify(identifier, public.verifying_shares[identifier], b"m", mangle(signature))


def test_it_is_not_an_ed25519_signature_under_the_verifying_share(group):
    # A different challenge hash from RFC 8032's (and FROST's H2): the bytes mean nothing there.
    keys, public = group
    identifier = sorted(keys)[0]
    signature = ps.sign(keys[identifier], b"m")
    with pytest.raises(BadSignatureError):
        VerifyKey(public.verifying_shares[identifier].element.encoding).verify(b"m", signature)


def test_a_dkg_proof_of_knowledge_is_not_a_participant_signature(group):
    # The same equation with the DKG's challenge hash (HDKG) over id || Y || R does not pass.
    keys, public = group
    identifier = sorted(keys)[0]
    key, share = keys[identifier], public.verifying_shares[identifier]
    nonce = cs.random_scalar()
    r = cs.scalar_base_mult(nonce)
    c = cs.HDKG(identifier.to_bytes() + share.element.encoding + r.encoding)
    proof = r.encoding + cs.scalar_add(nonce, cs.scalar_mul(c, key.signing_share.secret.reveal()))
    with pytest.raises(ps.InvalidParticipantSignature):
        ps.verify(identifier, share, b"", proof)


@settings(max_examples=60, deadline=None)
@given(message=st.binary(max_size=200), flip=st.integers(min_value=0, max_value=10_000))
def test_any_message_verifies_and_any_changed_byte_of_it_does_not(group, message, flip):
    keys, public = group
    identifier = sorted(keys)[1]
    share = public.verifying_shares[identifier]
    signature = ps.sign(keys[identifier], message)
    ps.verify(identifier, share, message, signature)
    changed = message + b"\x00" if not message else message[: flip % len(message)] + bytes(
        [message[flip % len(message)] ^ 1]) + message[flip % len(message) + 1 :]  # fmt: skip
    with pytest.raises(ps.InvalidParticipantSignature):
        ps.verify(identifier, share, changed, signature)

"""Signing end to end, and every way a signing session must refuse to go wrong."""

from __future__ import annotations

import itertools
import threading

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.protocols.frost import ciphersuite as cs
from accord.protocols.frost.aggregate import aggregate, aggregate_in_context, verify_signature_share
from accord.protocols.frost.binding import SigningContext
from accord.protocols.frost.errors import (
    DuplicateIdentifier,
    InvalidKeyPackage,
    InvalidSignature,
    InvalidSignatureShare,
    MalformedEncoding,
    MissingCommitment,
    MissingSignatureShare,
    NonceReuse,
    NotEnoughSigners,
    UnknownParticipant,
)
from accord.protocols.frost.identifier import Identifier
from accord.protocols.frost.keys import trusted_dealer_keygen
from accord.protocols.frost.local import run_dkg, sign_locally
from accord.protocols.frost.round1 import NoncePool, SigningCommitments, commit
from accord.protocols.frost.round2 import SignatureShare, sign, sign_in_context
from accord.protocols.frost.signing_package import SigningPackage, ValidatedCommitments


def cryptography_verify(public, message, signature):
    Ed25519PublicKey.from_public_bytes(public.verifying_key.to_bytes()).verify(signature, message)


def round_one(keys, signers):
    nonces = {i: commit(keys[i].signing_share) for i in signers}
    return nonces, {i: n.commitments for i, n in nonces.items()}


def session(keys, signers, message=b"claims"):
    nonces, commitments = round_one(keys, signers)
    package = SigningPackage(commitments, message)
    return package, nonces, {i: sign(package, nonces[i], keys[i]) for i in signers}


def test_3of3_signature_verifies_with_cryptography(keys_3of3):
    keys, public = keys_3of3
    signature = sign_locally(keys, public, b"token claims")
    cryptography_verify(public, b"token claims", signature)
    public.verifying_key.verify(b"token claims", signature)


def test_every_2_subset_of_a_2of3_key_signs(keys_2of3):
    keys, public = keys_2of3
    for signers in itertools.combinations(keys, 2):
        signature = sign_locally(keys, public, b"m", signers)
        cryptography_verify(public, b"m", signature)
    cryptography_verify(public, b"m", sign_locally(keys, public, b"m"))  # all 3 also works


@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_random_threshold_random_subset_random_message(data):
    n = data.draw(st.integers(2, 5), label="n")
    t = data.draw(st.integers(2, n), label="t")
    keys, public = trusted_dealer_keygen(cs.random_scalar(), n, t)
    signers = data.draw(st.lists(st.sampled_from(sorted(keys)), min_size=t, max_size=n, unique=True), label="signers")
    message = data.draw(st.binary(max_size=200), label="message")
    cryptography_verify(public, message, sign_locally(keys, public, message, signers))


def test_coordinator_that_is_a_signer_shares_its_context(keys_3of3):
    keys, public = keys_3of3
    ids = sorted(keys)
    nonces, commitments = round_one(keys, ids)
    context = SigningContext(SigningPackage(commitments, b"m"), public.verifying_key)
    shares = {ids[0]: sign_in_context(context, nonces[ids[0]], keys[ids[0]])}
    shares |= {i: sign(context.signing_package, nonces[i], keys[i]) for i in ids[1:]}
    signature = aggregate_in_context(context, shares, public)
    assert signature == aggregate(context.signing_package, shares, public)
    cryptography_verify(public, b"m", signature)


class TestNonces:
    def test_second_use_raises(self, keys_3of3):
        keys, public = keys_3of3
        ids = sorted(keys)
        package, nonces, _ = session(keys, ids)
        assert all(n.used for n in nonces.values())
        with pytest.raises(NonceReuse, match="already used"):
            sign(package, nonces[ids[0]], keys[ids[0]])
        other = SigningPackage(package.commitments, b"another message")
        with pytest.raises(NonceReuse):
            sign(other, nonces[ids[0]], keys[ids[0]])

    def test_wiped_after_use(self, keys_3of3):
        keys, _ = keys_3of3
        ids = sorted(keys)
        nonces, commitments = round_one(keys, ids)
        held = nonces[ids[0]]._slot[0]
        sign(SigningPackage(commitments, b"m"), nonces[ids[0]], keys[ids[0]])
        assert all(secret.wiped for secret in held)

    def test_racing_threads_cannot_both_take(self, keys_3of3):
        keys, _ = keys_3of3
        for _ in range(20):
            nonces = commit(keys[Identifier(1)].signing_share)
            barrier, outcomes = threading.Barrier(4), []

            def race():
                barrier.wait()
                try:
                    outcomes.append(nonces.take())
                except NonceReuse:
                    outcomes.append(None)

            threads = [threading.Thread(target=race) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert sum(o is not None for o in outcomes) == 1

    def test_nonces_not_in_the_package_are_refused(self, keys_3of3):
        keys, _ = keys_3of3
        ids = sorted(keys)
        _, commitments = round_one(keys, ids)
        stray = commit(keys[ids[0]].signing_share)
        with pytest.raises(MissingCommitment, match="other commitments"):
            sign(SigningPackage(commitments, b"m"), stray, keys[ids[0]])
        assert not stray.used  # refused before the nonces were touched

    def test_signer_absent_from_the_package_is_refused(self, keys_2of3):
        keys, _ = keys_2of3
        a, b, c = sorted(keys)
        _, commitments = round_one(keys, [a, b])
        with pytest.raises(MissingCommitment, match="no commitments for this signer"):
            sign(SigningPackage(commitments, b"m"), commit(keys[c].signing_share), keys[c])

    def test_pool(self, keys_3of3):
        keys, _ = keys_3of3
        share = keys[Identifier(1)].signing_share
        pool = NoncePool(share)
        published = pool.refill(5)
        assert len(pool) == 5 and len(set(published)) == 5
        nonces = pool.take(published[2])
        assert nonces.commitments == published[2] and len(pool) == 4
        with pytest.raises(NonceReuse):
            pool.take(published[2])
        with pytest.raises(MissingCommitment, match="holds no nonces"):
            pool.take(commit(share).commitments)
        pool.wipe()
        assert len(pool) == 0
        with pytest.raises(NonceReuse):
            pool.take(published[0])


class TestSigningPackage:
    def test_not_enough_signers(self, keys_3of3):
        keys, public = keys_3of3
        a, b, _ = sorted(keys)
        nonces, commitments = round_one(keys, [a, b])
        package = SigningPackage(commitments, b"m")
        with pytest.raises(NotEnoughSigners, match="threshold is 3"):
            sign(package, nonces[a], keys[a])

    def test_needs_bytes_and_participants(self):
        with pytest.raises(MalformedEncoding):
            SigningPackage({}, b"m")
        with pytest.raises(MalformedEncoding):
            SigningPackage({Identifier(1): None}, "text")  # type: ignore[dict-item]

    def test_bytes_round_trip_validates_every_point(self, keys_3of3):
        keys, _ = keys_3of3
        _, commitments = round_one(keys, sorted(keys))
        package = SigningPackage(commitments, b"\x00message")
        assert SigningPackage.from_bytes(package.to_bytes()) == package
        first_record = package.to_bytes()[2 : 2 + 96]
        with pytest.raises(DuplicateIdentifier):
            SigningPackage.from_bytes(b"\x00\x02" + first_record * 2 + b"m")

    def test_validated_commitments_are_not_decoded_again(self, keys_3of3):
        keys, _ = keys_3of3
        _, commitments = round_one(keys, sorted(keys))
        package = SigningPackage(commitments, b"m")
        store = ValidatedCommitments()
        arrived = {i: SigningCommitments.batch_from_bytes(SigningCommitments.batch_to_bytes([c]))[0]
                   for i, c in commitments.items()}  # fmt: skip
        for i, c in arrived.items():
            store.add(i, [c])
        parsed = SigningPackage.from_bytes(package.to_bytes(), validated=store)
        assert parsed == package
        assert all(parsed.commitments[i] is arrived[i] for i in commitments)  # the very objects validated on arrival
        assert all(store.count(i) == 0 for i in commitments)  # each is handed out once
        with pytest.raises(MissingCommitment):
            store.take_any(Identifier(1))


    def test_a_limited_store_drops_the_oldest_and_drop_forgets_a_participant(self, keys_3of3):
        keys, _ = keys_3of3
        first, second, third = (commit(keys[Identifier(1)].signing_share).commitments for _ in range(3))
        store = ValidatedCommitments()
        store.add(Identifier(2), [first, second])
        store.add(Identifier(2), [third], limit=2)
        assert store.count(Identifier(2)) == 2
        assert store.take(Identifier(2), first.to_bytes()) is None  # the oldest went
        assert store.take(Identifier(2), third.to_bytes()) is third
        store.add(Identifier(3), [first])
        store.drop(Identifier(2))
        assert store.count(Identifier(2)) == 0 and store.count(Identifier(3)) == 1


class TestAggregation:
    def test_divergent_signer_is_named(self, keys_3of3):
        """A signer that signs other claims (its own copy differs) spoils the signature and
        is named by share verification."""
        keys, public = keys_3of3
        a, b, c = sorted(keys)
        nonces, commitments = round_one(keys, [a, b, c])
        package = SigningPackage(commitments, b"claims")
        divergent = SigningPackage(commitments, b"other claims")
        shares = {a: sign(package, nonces[a], keys[a]), b: sign(divergent, nonces[b], keys[b]),
                  c: sign(package, nonces[c], keys[c])}
        with pytest.raises(InvalidSignatureShare) as caught:
            aggregate(package, shares, public)
        assert caught.value.culprit == b and caught.value.culprits == (b,)
        assert "participant 2" in str(caught.value)

    def test_tampered_shares_all_named(self, keys_3of3):
        keys, public = keys_3of3
        package, _, shares = session(keys, sorted(keys))
        a, b, c = sorted(keys)
        bump = cs.serialize_scalar(1)
        shares[a] = SignatureShare(cs.scalar_add(shares[a].share, bump))
        shares[c] = SignatureShare(cs.scalar_add(shares[c].share, bump))
        with pytest.raises(InvalidSignatureShare) as caught:
            aggregate(package, shares, public)
        assert caught.value.culprits == (a, c)

    def test_share_verification_accepts_honest_shares(self, keys_3of3):
        keys, public = keys_3of3
        package, _, shares = session(keys, sorted(keys))
        context = SigningContext(package, public.verifying_key)
        for i, share in shares.items():
            verify_signature_share(context, i, public.verifying_shares[i], share)
        with pytest.raises(InvalidSignatureShare):
            a, b = sorted(shares)[:2]
            verify_signature_share(context, a, public.verifying_shares[a], shares[b])

    def test_missing_and_extra_shares(self, keys_2of3):
        keys, public = keys_2of3
        a, b, c = sorted(keys)
        package, _, shares = session(keys, [a, b])
        with pytest.raises(MissingSignatureShare, match=str(b.value)):
            aggregate(package, {a: shares[a]}, public)
        with pytest.raises(UnknownParticipant, match="not in the signing package"):
            aggregate(package, shares | {c: shares[a]}, public)

    def test_participant_outside_the_key(self, keys_3of3):
        keys, public = keys_3of3
        other_keys, _ = run_dkg(3, 3, [Identifier(i) for i in (1, 2, 4)])
        nonces, commitments = round_one(other_keys, sorted(other_keys))
        package = SigningPackage(commitments, b"m")
        shares = {i: SignatureShare(cs.serialize_scalar(1)) for i in commitments}
        with pytest.raises(UnknownParticipant, match="not part of the key"):
            aggregate(package, shares, public)

    def test_shares_for_another_group_key(self, keys_3of3, keys_2of3):
        keys, public = keys_3of3
        _, other_public = keys_2of3
        package, _, shares = session(keys, sorted(keys))
        with pytest.raises(InvalidSignatureShare):
            aggregate(package, shares, other_public)
        context = SigningContext(package, public.verifying_key)
        with pytest.raises(InvalidKeyPackage, match="another group key"):
            aggregate_in_context(context, shares, other_public)

    def test_forged_signature_rejected(self, keys_3of3):
        _, public = keys_3of3
        with pytest.raises(InvalidSignature):
            public.verifying_key.verify(b"m", bytes(64))


class TestParticipantSet:
    """A signer that knows the group refuses a package naming participants outside it."""

    def test_foreign_participant_is_refused_before_the_nonce_is_spent(self, keys_3of3):
        keys, public = keys_3of3
        ids = sorted(keys)
        nonces, commitments = round_one(keys, ids[:2])
        commitments[Identifier(4)] = commitments[ids[1]]  # the coordinator's own "participant"
        package = SigningPackage(commitments, b"m")
        with pytest.raises(UnknownParticipant, match=r"participants \[4\] outside the group"):
            sign(package, nonces[ids[0]], keys[ids[0]], group=public)
        assert not nonces[ids[0]].used
        # Without the group the count check alone would have let it through.
        sign(package, nonces[ids[0]], keys[ids[0]])

    def test_the_groups_own_participants_sign(self, keys_3of3):
        keys, public = keys_3of3
        ids = sorted(keys)
        nonces, commitments = round_one(keys, ids)
        package = SigningPackage(commitments, b"m")
        shares = {i: sign(package, nonces[i], keys[i], group=public) for i in ids}
        cryptography_verify(public, b"m", aggregate(package, shares, public))

    def test_another_groups_public_key_package_is_refused(self, keys_3of3):
        keys, _ = keys_3of3
        _, other = run_dkg(3, 3)
        ids = sorted(keys)
        nonces, commitments = round_one(keys, ids)
        with pytest.raises(InvalidKeyPackage, match="another group key"):
            sign(SigningPackage(commitments, b"m"), nonces[ids[0]], keys[ids[0]], group=other)

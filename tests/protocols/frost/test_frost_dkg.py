"""The Pedersen DKG: any t-of-n works, and every cheating participant is named."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.protocols.frost import ciphersuite as cs
from accord.protocols.frost import dkg
from accord.protocols.frost.errors import (
    IncorrectNumberOfCommitments,
    IncorrectNumberOfPackages,
    InvalidParameters,
    InvalidProofOfKnowledge,
    InvalidSecretShare,
    NotEnoughSigners,
)
from accord.protocols.frost.identifier import Identifier
from accord.protocols.frost.local import run_dkg, sign_locally
from accord.protocols.secret import SecretBytes
from frost_helpers import others

IDS = [Identifier(i) for i in (1, 2, 3)]


def round1(n=3, t=2):
    return {i: dkg.part1(i, n, t) for i in IDS[:n]}


def assert_signs(keys, public, subsets):
    for signers in subsets:
        signature = sign_locally(keys, public, b"message", signers)
        Ed25519PublicKey.from_public_bytes(public.verifying_key.to_bytes()).verify(signature, b"message")


@pytest.mark.parametrize("n,t", [(3, 2), (3, 3), (2, 2), (4, 3)])
def test_any_t_subset_signs(n, t):
    keys, public = run_dkg(n, t)
    assert len(keys) == n and public.min_signers == t
    assert all(k.verifying_key == public.verifying_key for k in keys.values())
    assert all(public.verifying_shares[i] == k.verifying_share for i, k in keys.items())
    assert_signs(keys, public, itertools.combinations(sorted(keys), t))


@settings(max_examples=5, deadline=None)
@given(data=st.data())
def test_random_dkg_and_signers(data):
    n = data.draw(st.integers(2, 4), label="n")
    t = data.draw(st.integers(2, n), label="t")
    ids = data.draw(st.lists(st.integers(1, 2**64), min_size=n, max_size=n, unique=True), label="ids")
    keys, public = run_dkg(n, t, [Identifier(i) for i in ids])
    signers = data.draw(st.lists(st.sampled_from(sorted(keys)), min_size=t, max_size=n, unique=True), label="signers")
    assert_signs(keys, public, [signers])


def test_fewer_than_t_cannot_sign():
    keys, public = run_dkg(3, 3)
    with pytest.raises(NotEnoughSigners, match="threshold is 3"):
        sign_locally(keys, public, b"m", IDS[:2])


@pytest.mark.parametrize("n,t", [(3, 1), (2, 3), (3, 0)])
def test_impossible_parameters(n, t):
    with pytest.raises(InvalidParameters):
        dkg.part1(IDS[0], n, t)


class TestCheatersAreNamed:
    def test_bad_proof_of_knowledge(self):
        r1 = round1()
        cheat = r1[IDS[2]][1]
        packages = {i: p for i, (_, p) in r1.items()}
        packages[IDS[2]] = replace(cheat, proof_mu=cs.scalar_add(cheat.proof_mu, cs.serialize_scalar(1)))
        with pytest.raises(InvalidProofOfKnowledge) as caught:
            dkg.part2(r1[IDS[0]][0], others(packages, IDS[0]))
        assert caught.value.culprit == IDS[2]
        assert "participant 3" in str(caught.value)

    def test_replayed_package_of_another_participant(self):
        """A participant copying someone's commitment and proof fails: the proof binds the
        prover's identifier."""
        r1 = round1()
        packages = {i: p for i, (_, p) in r1.items()}
        packages[IDS[2]] = packages[IDS[1]]
        with pytest.raises(InvalidProofOfKnowledge) as caught:
            dkg.part2(r1[IDS[0]][0], others(packages, IDS[0]))
        assert caught.value.culprit == IDS[2]

    def test_rogue_key_without_proof(self):
        """The rogue-key attack (C_30 chosen to cancel the others') needs a proof the
        attacker cannot make."""
        r1 = round1()
        packages = {i: p for i, (_, p) in r1.items()}
        target = cs.scalar_base_mult(cs.random_scalar())
        rogue = cs.sum_elements([target, *(cs.scalar_mult(cs.serialize_scalar(cs.ORDER - 1), packages[i].commitment[0]) for i in IDS[:2])])
        packages[IDS[2]] = replace(packages[IDS[2]], commitment=(rogue, *packages[IDS[2]].commitment[1:]))
        with pytest.raises(InvalidProofOfKnowledge) as caught:
            dkg.part2(r1[IDS[0]][0], others(packages, IDS[0]))
        assert caught.value.culprit == IDS[2]

    def test_wrong_degree(self):
        r1 = round1()
        packages = {i: p for i, (_, p) in r1.items()}
        _, longer = dkg.part1(IDS[1], 3, 3)  # commits to 3 coefficients in a 2-of-3 DKG
        packages[IDS[1]] = longer
        with pytest.raises(IncorrectNumberOfCommitments) as caught:
            dkg.part2(r1[IDS[0]][0], others(packages, IDS[0]))
        assert caught.value.culprit == IDS[1]
        assert "threshold needs 2" in str(caught.value)

    def test_inconsistent_secret_share(self):
        r1 = round1()
        packages = {i: p for i, (_, p) in r1.items()}
        r2 = {i: dkg.part2(r1[i][0], others(packages, i)) for i in IDS}
        received = {j: r2[j][1][IDS[0]] for j in IDS[1:]}
        bad = cs.scalar_add(received[IDS[2]].signing_share.reveal(), cs.serialize_scalar(1))
        received[IDS[2]] = dkg.Round2Package(SecretBytes(bad))
        with pytest.raises(InvalidSecretShare) as caught:
            dkg.part3(r2[IDS[0]][0], others(packages, IDS[0]), received)
        assert caught.value.culprit == IDS[2]

    def test_wrong_degree_in_part3(self):
        r1 = round1()
        packages = {i: p for i, (_, p) in r1.items()}
        r2 = {i: dkg.part2(r1[i][0], others(packages, i)) for i in IDS}
        swapped = others(packages, IDS[0]) | {IDS[1]: dkg.part1(IDS[1], 3, 3)[1]}
        with pytest.raises(IncorrectNumberOfCommitments) as caught:
            dkg.part3(r2[IDS[0]][0], swapped, {j: r2[j][1][IDS[0]] for j in IDS[1:]})
        assert caught.value.culprit == IDS[1]


class TestPackageCounts:
    def test_missing_package(self):
        r1 = round1()
        with pytest.raises(IncorrectNumberOfPackages, match="from 2 other participants, got 1"):
            dkg.part2(r1[IDS[0]][0], {IDS[1]: r1[IDS[1]][1]})

    def test_own_package_included(self):
        r1 = round1()
        with pytest.raises(IncorrectNumberOfPackages, match="itself"):
            dkg.part2(r1[IDS[0]][0], {i: p for i, (_, p) in r1.items()})

    def test_round2_from_other_senders(self):
        r1 = round1()
        packages = {i: p for i, (_, p) in r1.items()}
        r2 = {i: dkg.part2(r1[i][0], others(packages, i)) for i in IDS}
        stranger = Identifier(9)
        received = {IDS[1]: r2[IDS[1]][1][IDS[0]], stranger: r2[IDS[2]][1][IDS[0]]}
        with pytest.raises(IncorrectNumberOfPackages, match="different participants"):
            dkg.part3(r2[IDS[0]][0], others(packages, IDS[0]), received)
        with pytest.raises(IncorrectNumberOfPackages):
            dkg.part3(r2[IDS[0]][0], others(packages, IDS[0]), {IDS[1]: r2[IDS[1]][1][IDS[0]]})

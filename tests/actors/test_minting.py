"""The coordinator's pure logic: who diverged, commitment pools, refusal of n-of-m groups."""

from __future__ import annotations

import pytest

from accord.protocols import minting
from accord.protocols.frost.identifier import Identifier
from accord.protocols.frost.local import run_dkg
from accord.protocols.minting import CommitmentPool, EnclaveVerdict, MintCoordinator, Status, find_divergence

NAMES = ("a", "b", "c")


def verdicts(*statuses, bundle="d1"):
    return [EnclaveVerdict(name, status, bundle) for name, status in zip(NAMES, statuses)]


def test_unanimous_verdicts_do_not_diverge():
    assert find_divergence(verdicts(Status.FORBID, Status.FORBID, Status.FORBID), expected=NAMES) is None


def test_the_odd_one_out_is_named():
    found = find_divergence(verdicts(Status.FORBID, Status.PERMIT, Status.FORBID), expected=NAMES)
    assert found.enclaves == ("b",)
    assert "b says permit" in found.detail and "status" in found.detail


def test_other_bundle_is_named_with_both_digests():
    vs = verdicts(Status.FORBID, Status.FORBID, Status.FORBID)
    vs[2] = EnclaveVerdict("c", Status.FORBID, "d2")
    found = find_divergence(vs, expected=NAMES)
    assert found.enclaves == ("c",) and "bundle d2 vs d1" in found.detail


def test_no_majority_names_everyone():
    vs = [EnclaveVerdict("a", Status.PERMIT, "x"), EnclaveVerdict("b", Status.FORBID, "x"),
          EnclaveVerdict("c", Status.CONFIRM, "x")]  # fmt: skip
    assert find_divergence(vs, expected=NAMES).enclaves == NAMES


def test_a_missing_verdict_is_named():
    found = find_divergence(verdicts(Status.FORBID, Status.FORBID), expected=NAMES)
    assert found.enclaves == ("c",)


def test_a_duplicated_verdict_is_a_divergence():
    vs = verdicts(Status.FORBID, Status.FORBID, Status.FORBID)
    vs[2] = EnclaveVerdict("a", Status.FORBID, "d1")
    assert find_divergence(vs, expected=NAMES) is not None


def test_signing_errors_are_not_a_decision_divergence():
    vs = verdicts(Status.PERMIT, Status.PERMIT, Status.PERMIT)
    vs[0] = EnclaveVerdict("a", Status.PERMIT, "d1", signing_error="KeyShare down")
    assert find_divergence(vs, expected=NAMES) is None


def test_pool_voids_commitments_of_a_previous_epoch():
    pool = CommitmentPool(Identifier(1))
    pool.add("e1", bytes(64) * 3)
    assert len(pool) == 3
    pool.add("e2", bytes(64))
    assert len(pool) == 1 and pool.epoch == "e2"
    pool.take()
    with pytest.raises(minting.OutOfCommitments):
        pool.take()


def test_pool_refuses_a_truncated_batch():
    with pytest.raises(minting.MintingError, match="multiple of 64"):
        CommitmentPool(Identifier(1)).add("e", bytes(65))


def test_coordinator_refuses_a_threshold_below_the_group_size():
    _, public = run_dkg(3, 2)
    with pytest.raises(minting.MintingError, match="n-of-n"):
        MintCoordinator(public, {Identifier(i): n for i, n in zip((1, 2, 3), NAMES)})


def test_prepare_needs_a_commitment_from_every_signer():
    _, public = run_dkg(3, 3)
    coordinator = MintCoordinator(public, {Identifier(i): n for i, n in zip((1, 2, 3), NAMES)})
    coordinator.pools[Identifier(1)].add("e", bytes(64))
    with pytest.raises(minting.OutOfCommitments, match=r"signers \[2, 3\]"):
        coordinator.prepare([object()], now=0)

"""Group state and its sealed log, without any service: the chain, snapshots, what a host
can do to the files (tear, splice, reorder, replace), and the quotas that bound memory."""

from __future__ import annotations

import os

import pytest

from accord.bundles.spending import Transfer
from accord.enclave.group_state import GroupState, GroupStateError
from accord.enclave.state_log import LOG_FILE, SNAPSHOT_FILE, StateLog
from accord.protocols.auth_errors import ReplayCacheFull
from accord.protocols.pending import PendingRequests, PendingStoreFull
from accord.protocols.replay import ReplayCache
from accord.protocols.secret import SecretBytes

JKT = "A" * 43
T0 = 1_800_000_000


def batch(state: GroupState, seq: int, *, nonce: str, amount: int = 0) -> None:
    state.begin(seq)
    state.record_nonce(JKT, nonce, created=T0 + seq, expires=T0 + seq + 60, now=T0 + seq)
    state.observe_iat(T0 + seq)
    if amount:
        state.record_transfer(Transfer(T0 + seq, "bob", "ops-wallet", "usdc", amount, "0xabc"))
    state.consume_approvals([f"approval-{seq}"], T0 + seq + 3600)
    return state.commit()


def key() -> SecretBytes:
    return SecretBytes(os.urandom(32), "test state key")


def test_equal_batches_give_equal_chains_and_any_difference_forks():
    a, b, c = (GroupState(signature_skew=30) for _ in range(3))
    for seq in (1, 2, 3):
        batch(a, seq, nonce=f"n{seq}", amount=seq)
        batch(b, seq, nonce=f"n{seq}", amount=seq)
        batch(c, seq, nonce=f"n{seq}", amount=seq if seq != 2 else 99)
    assert a.position() == b.position() and a.seq == 3
    assert c.digest != a.digest
    with pytest.raises(GroupStateError, match="not the next one"):
        a.begin(5)


def test_snapshot_round_trips_everything_that_decides():
    state = GroupState(signature_skew=30)
    for seq in (1, 2):
        batch(state, seq, nonce=f"n{seq}", amount=10 * seq)
    state.note_bundle(3, "d" * 64)
    copy = GroupState.from_snapshot(state.snapshot(), signature_skew=30)
    assert copy.position() == state.position() and copy.bundle_version == 3
    assert copy.iat_high == state.iat_high and len(copy.ledger) == 2 and len(copy.replay) == 2
    assert copy.approval_used("approval-1")
    with pytest.raises(ReplayCacheFull.__mro__[1]):  # ReplayError: the nonce is known
        copy.begin(3)
        copy.record_nonce(JKT, "n1", created=T0 + 3, expires=T0 + 60, now=T0 + 3)
    with pytest.raises(GroupStateError):
        GroupState.from_snapshot(b"\xa0", signature_skew=30)


def test_the_log_restores_the_state_after_a_restart(tmp_path):
    secret = key()
    log = StateLog(tmp_path, secret, "g0-e0-evaluator", snapshot_every=3)
    state, notes = log.load(signature_skew=30)
    assert notes == [] and state.seq == 0
    for seq in range(1, 6):  # crosses a snapshot
        log.append_batch(batch(state, seq, nonce=f"n{seq}", amount=seq), state)
    state.note_bundle(2, "e" * 64)
    log.append_bundle(2, "e" * 64, state)
    log.close()
    again, notes = StateLog(tmp_path, secret, "g0-e0-evaluator").load(signature_skew=30)
    assert notes == [] and again.position() == state.position() and again.bundle_version == 2


def _log_with(tmp_path, count, secret):
    log = StateLog(tmp_path, secret, "g0-e0-evaluator")
    state, _ = log.load(signature_skew=30)
    for seq in range(1, count + 1):
        log.append_batch(batch(state, seq, nonce=f"n{seq}"), state)
    log.close()
    return state


def test_a_torn_last_record_is_dropped(tmp_path):
    secret = key()
    _log_with(tmp_path, 3, secret)
    path = tmp_path / LOG_FILE
    path.write_bytes(path.read_bytes()[:-5])  # a crash while appending batch 3
    state, notes = StateLog(tmp_path, secret, "g0-e0-evaluator").load(signature_skew=30)
    assert state.seq == 2 and notes == ["torn record at the end of the log dropped"]


def test_a_changed_or_reordered_record_stops_the_replay_there(tmp_path):
    secret = key()
    _log_with(tmp_path, 3, secret)
    path = tmp_path / LOG_FILE
    raw = bytearray(path.read_bytes())
    raw[-10] ^= 1
    path.write_bytes(bytes(raw))
    state, notes = StateLog(tmp_path, secret, "g0-e0-evaluator").load(signature_skew=30)
    assert state.seq == 2 and "log record 2 refused" in notes[0]


def test_a_log_of_another_snapshot_or_enclave_is_not_replayed(tmp_path):
    secret = key()
    _log_with(tmp_path, 2, secret)
    stale_log = (tmp_path / LOG_FILE).read_bytes()
    _log_with(tmp_path, 0, secret)  # a restart: new snapshot (seq 2), new generation
    (tmp_path / LOG_FILE).write_bytes(stale_log)
    state, notes = StateLog(tmp_path, secret, "g0-e0-evaluator").load(signature_skew=30)
    assert state.seq == 2 and notes == ["log belongs to another snapshot; ignored"]
    other = StateLog(tmp_path, secret, "g0-e1-evaluator").load(signature_skew=30)
    assert other[0].seq == 0 and "snapshot refused" in other[1][0]


def test_another_key_reads_nothing(tmp_path):
    _log_with(tmp_path, 2, key())
    state, notes = StateLog(tmp_path, key(), "g0-e0-evaluator").load(signature_skew=30)
    assert state.seq == 0 and "does not authenticate" in notes[0]
    assert (tmp_path / SNAPSHOT_FILE).exists()


def test_a_record_must_chain_to_its_digest():
    state = GroupState(signature_skew=30)
    effects = batch(state, 1, nonce="n1")
    with pytest.raises(GroupStateError, match="does not chain"):
        GroupState(signature_skew=30).apply(effects, b"\0" * 32)


# --- bounded memory, no global denial of service ---


def test_one_key_cannot_fill_the_replay_cache_for_everyone():
    cache = ReplayCache(capacity=100, per_key=3, skew=30)
    for n in range(3):
        cache.check_and_record(JKT, f"n{n}", created=T0, expires=T0 + 60, now=T0)
    with pytest.raises(ReplayCacheFull, match="its quota"):
        cache.check_and_record(JKT, "n3", created=T0, expires=T0 + 60, now=T0)
    cache.check_and_record("B" * 43, "n0", created=T0, expires=T0 + 60, now=T0)  # others are unaffected
    cache.check_and_record(JKT, "n4", created=T0 + 100, expires=T0 + 160, now=T0 + 100)  # after expiry


def test_pending_approvals_survive_a_restart_and_have_per_principal_quotas(tmp_path, monkeypatch):
    import accord.protocols.pending as pending

    path = tmp_path / "pending.sqlite3"
    store = PendingRequests(path=path)
    store.record("r" * 43, "bob", "signTransaction", "ops-wallet", [{"count": 2}])
    store.close()
    again = PendingRequests(path=path)
    assert again.get("r" * 43).missing == [{"count": 2}]
    monkeypatch.setattr(pending, "MAX_PENDING_PER_PRINCIPAL", 2)
    again.record("s" * 43, "bob", "signMessage", "ops-wallet", [])
    with pytest.raises(PendingStoreFull, match="bob has 2 pending requests"):
        again.record("t" * 43, "bob", "signMessage", "ops-wallet", [])
    again.record("u" * 43, "erin", "signMessage", "ops-wallet", [])
    assert len(again) == 3

"""SpendingLedger: `input.spent` byte-identical to the straightforward computation (every
history entry checked against every window, as prepare_input did before the ledger), on
random histories, for JSON histories and for an evaluator's incremental ledger."""

from __future__ import annotations

import datetime

import pytest
from conftest import MONDAY_10AM
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.bundles.inputs import AMOUNT_DIGITS, MAX_AMOUNT, amount, prepare_input
from accord.bundles.policy_errors import InputError
from accord.bundles.spending import LONGEST_WINDOW, LedgerError, SpendingLedger, Transfer
from accord.protocols import canonical_json

DAY = 86400
PRINCIPALS = ("bob", "carol", "dave")
ACCOUNTS = ("ops-wallet", "treasury-hot")
TOKENS = ("eip155:1/native", "eip155:1/erc20:0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48")
KRAKEN = "0x" + "ab" * 20


# --- the reference: every entry against every window (the computation before the ledger) ---

def reference_spent(now, principal, account, token, mine, history):
    day_start = now - now % 86400
    weekday = (now // 86400 + 3) % 7
    moment = datetime.datetime.fromtimestamp(now, datetime.UTC)
    rolling = {"rolling_1h": 3600, "rolling_24h": 86400, "rolling_7d": 7 * 86400, "rolling_30d": 30 * 86400}
    starts = {name: now - length + 1 for name, length in rolling.items()}
    starts.update(hour=now - now % 3600, day=day_start, week=day_start - weekday * 86400,
                  month=int(datetime.datetime(moment.year, moment.month, 1, tzinfo=datetime.UTC).timestamp()))  # fmt: skip
    totals = {w: {h: [mine, 1, 1] for h in ("principal", "account", "all")} for w in starts}
    for entry in history:
        if entry["time"] > now:
            continue
        holders = ["all"]
        if entry["principal"] == principal:
            holders.append("principal")
        if entry["account"] == account:
            holders.append("account")
        for window, start in starts.items():
            if entry["time"] >= start:
                for holder in holders:
                    total = totals[window][holder]
                    total[2] += 1
                    if entry["token"] == token:
                        total[0] += int(entry["amount"])
                        total[1] += 1
    out = {}
    for window, by_holder in totals.items():
        out[window] = {}
        for holder, (spent, count, all_count) in by_holder.items():
            if spent > MAX_AMOUNT:
                raise InputError(f"{window} total of {holder} exceeds 2^256-1")
            out[window][holder] = {"amount": str(spent).zfill(AMOUNT_DIGITS), "count": count, "all_count": all_count}
    return out


def outcome(fn, *args):
    try:
        return canonical_json.dumps(fn(*args))
    except InputError as exc:
        return f"InputError: {exc}"


# --- random histories ---

amounts = st.one_of(st.integers(0, 10**6), st.integers(0, MAX_AMOUNT), st.just(MAX_AMOUNT))
offsets = st.one_of(
    st.integers(-2 * DAY, 40 * DAY),  # before and (a little) after the request time
    st.sampled_from([0, 1, -1, 3599, 3600, 3601, DAY - 1, DAY, 7 * DAY, 30 * DAY - 1, 30 * DAY, 31 * DAY]),
)
entries = st.builds(
    lambda offset, principal, account, token, units: {"time": offset, "principal": principal, "account": account,
                                                      "token": token, "amount": units, "destination": KRAKEN},
    offsets, st.sampled_from(PRINCIPALS), st.sampled_from(ACCOUNTS), st.sampled_from(TOKENS), amounts,
)  # fmt: skip
# Request times across month, week and day boundaries.
request_times = st.one_of(st.just(MONDAY_10AM), st.integers(MONDAY_10AM - 400 * DAY, MONDAY_10AM + 400 * DAY),
                          st.sampled_from([1767225600, 1767225599, 1769904000, 1709164800, 1709251199]))  # fmt: skip


def at(now, history):
    return [{**e, "time": now - e["time"]} for e in history]


def request(now, principal, account, token, units, history):
    if token.endswith("/native"):
        payload = {"chain_id": 1, "to": KRAKEN, "value": units, "data": "0x"}
    else:
        payload = {"chain_id": 1, "to": token.rsplit(":", 1)[1], "value": 0,
                   "data": "0xa9059cbb" + KRAKEN[2:].rjust(64, "0") + format(units, "064x")}  # fmt: skip
    return {"request": {"action": "signTransaction", "resource": account, "payload": payload},
            "principal": principal, "key": "k" * 43, "time": now, "request_hash": "h" * 43, "history": history}  # fmt: skip


def spent_of(raw):
    return canonical_json.loads(prepare_input(raw).json)["spent"]


@settings(max_examples=150, deadline=None)
@given(request_times, st.lists(entries, max_size=40), st.sampled_from(PRINCIPALS), st.sampled_from(ACCOUNTS),
       st.sampled_from(TOKENS), amounts)  # fmt: skip
def test_json_history_totals_equal_the_reference(now, offsets_history, principal, account, token, units):
    history = at(now, offsets_history)
    expected = outcome(reference_spent, now, principal, account, token, units, history)
    assert outcome(spent_of, request(now, principal, account, token, units, history)) == expected


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-30, 3 * DAY), st.sampled_from(PRINCIPALS), st.sampled_from(ACCOUNTS),
                          st.sampled_from(TOKENS), st.integers(0, 10**30), st.booleans()), max_size=60))  # fmt: skip
def test_an_evaluators_ledger_equals_the_reference_over_its_permits(steps):
    """Requests as an evaluator sees them: times mostly forward (steps of up to 3 days, so
    old transfers age out and are pruned), sometimes back by up to 30 s; each request is
    totalled against the permits recorded so far, then (if `permit`) recorded itself."""
    ledger, permitted, now = SpendingLedger(retention=32 * DAY), [], MONDAY_10AM
    for step, principal, account, token, units, permit in steps:
        now += step
        raw = request(now, principal, account, token, units, ledger)
        prepared = prepare_input(raw)
        expected = reference_spent(now, principal, account, token, units, permitted)
        assert canonical_json.loads(prepared.json)["spent"] == expected
        assert prepared.json == prepare_input({**raw, "history": permitted}).json
        if permit:
            ledger.record(prepared.transfer)
            permitted.append({"time": now, "principal": principal, "account": account, "token": token,
                              "amount": amount(units), "destination": KRAKEN})  # fmt: skip


def test_prepared_transfer_is_what_the_request_moves():
    raw = request(MONDAY_10AM, "bob", "ops-wallet", TOKENS[1], 5_000_000, [])
    assert prepare_input(raw).transfer == Transfer(MONDAY_10AM, "bob", "ops-wallet", TOKENS[1], 5_000_000, KRAKEN)
    raw["request"]["payload"]["data"] = "0x095ea7b3" + raw["request"]["payload"]["data"][10:]  # approve: moves nothing
    assert prepare_input(raw).transfer is None


def test_old_transfers_are_forgotten_but_never_while_they_count():
    ledger = SpendingLedger(retention=32 * DAY)
    for day in range(100):
        ledger.record(Transfer(MONDAY_10AM + day * DAY, "bob", "ops-wallet", TOKENS[0], 1, KRAKEN))
    assert 32 <= len(ledger) <= 34  # 32 days kept, plus at most an hour's worth not yet pruned
    now = MONDAY_10AM + 99 * DAY
    month = ledger.totals(now, "bob", "ops-wallet", TOKENS[0], 0)["rolling_30d"]["all"]
    assert month == (30, 31, 31)  # the last 30 days, plus the request itself


def test_out_of_order_transfers_count_in_their_windows():
    ledger = SpendingLedger()
    for seconds, units in ((100, 1), (50, 2), (3700, 4), (75, 8)):
        ledger.record(Transfer(MONDAY_10AM + seconds, "bob", "ops-wallet", TOKENS[0], units, KRAKEN))
    totals = ledger.totals(MONDAY_10AM + 3650, "carol", "treasury-hot", TOKENS[0], 16)
    # rolling_1h starts at +51: +50 is outside, +3700 is after the request time
    assert totals["rolling_1h"]["all"] == (16 + 1 + 8, 3, 3)
    assert totals["rolling_1h"]["principal"] == (16, 1, 1)


def test_retention_must_cover_the_longest_window():
    with pytest.raises(LedgerError, match="longest window"):
        SpendingLedger(retention=LONGEST_WINDOW)

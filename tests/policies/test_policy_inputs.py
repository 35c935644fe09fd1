"""Deterministic input preparation: amounts, numbers, intents, spending totals, strictness."""

from __future__ import annotations

import copy
import json

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st
from conftest import ETH, MONDAY_10AM, USDC, erc20_transfer

from accord.bundles.inputs import AMOUNT_DIGITS, MAX_AMOUNT, amount, prepare_data, prepare_input, transaction_intent
from accord.bundles.policy_errors import DataError, InputError

KRAKEN = "0x" + "ab" * 20
USDC_CONTRACT = USDC.rsplit(":", 1)[1]


def test_amount_forms_and_width():
    assert amount(5) == amount("5") == amount("0x5") == "0" * 77 + "5"
    assert amount(MAX_AMOUNT) == str(MAX_AMOUNT) and len(str(MAX_AMOUNT)) == AMOUNT_DIGITS
    assert amount(2**53 + 1) > amount(2**53)  # string order is numeric order


@pytest.mark.parametrize("bad", [-1, MAX_AMOUNT + 1, 1.5, "1e18", "0x", " 1", "-1", True, None, "١٢"])
def test_amount_refuses(bad):
    with pytest.raises(InputError):
        amount(bad)


def test_prepare_data_pads_amount_members_and_keeps_the_rest():
    data = {"limits": {"l": {"max_amount": "10", "max_count": 3, "nested": [{"amount": 7}]}}, "flag": True, "name": None}
    out = prepare_data(data)
    assert out["limits"]["l"]["max_amount"] == amount(10)
    assert out["limits"]["l"]["nested"][0]["amount"] == amount(7)
    assert out["limits"]["l"]["max_count"] == 3 and out["flag"] is True and out["name"] is None
    assert data["limits"]["l"]["max_amount"] == "10"  # the caller's document is not modified


def _padded_copy(value):
    """The obvious reading of prepare_data: a full copy, amount members padded."""
    if isinstance(value, dict):
        return {k: amount(v) if k == "amount" or k.endswith("_amount") else _padded_copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_padded_copy(v) for v in value]
    return value


_AMOUNTS = st.dictionaries(st.sampled_from(["amount", "max_amount", "fee_amount"]),
                           st.integers(0, 10**30) | st.integers(0, 10**30).map(str), max_size=2)  # fmt: skip
_DOCUMENTS = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=4) | st.tuples(st.dictionaries(st.sampled_from("abcd"), inner, max_size=4),
                                                          _AMOUNTS).map(lambda p: {**p[0], **p[1]}),  # fmt: skip
    max_leaves=30,
)


@given(st.dictionaries(st.sampled_from("xyz"), _DOCUMENTS, max_size=3))
def test_prepare_data_is_the_padded_copy_and_leaves_its_argument_alone(data):
    before = copy.deepcopy(data)
    assert prepare_data(data) == _padded_copy(data)
    assert data == before


def test_prepare_data_shares_what_it_does_not_change():
    unchanged = {"principals": {"p": {"keys": ["k1", "k2"]}}}
    out = prepare_data({**unchanged, "limits": [{"name": "l"}, {"max_amount": 5}]})
    assert out["principals"] is unchanged["principals"]  # no copy of the (large) rest of the data
    assert out["limits"] == [{"name": "l"}, {"max_amount": amount(5)}]


@pytest.mark.parametrize("data, where", [
    ({"x": 0.5}, "data.x"),
    ({"x": [1, 2**53]}, "data.x[1]"),
    ({"limits": {"l": {"max_amount": "12.5"}}}, "data.limits.l.max_amount"),
    ({"limits": {"l": {"max_amount": -3}}}, "data.limits.l.max_amount"),
])
def test_prepare_data_refuses_what_engines_read_differently(data, where):
    with pytest.raises(DataError) as refused:
        prepare_data(data)
    assert str(refused.value).startswith(where)


def raw_transfer(make_request, data_hex="0x", value=10**18, to=KRAKEN, **extra):
    payload = {"chain_id": 1, "to": to, "value": value, "data": data_hex}
    return make_request("bob", "signTransaction", "ops-wallet", payload, **extra)


def test_prepared_input_is_canonical_json(make_request):
    raw = raw_transfer(make_request, approvals=["erin", "dave", "erin"])
    prepared = prepare_input(raw)
    doc = json.loads(prepared.json)
    assert prepared.json == rfc8785.dumps(doc)
    assert doc["approvals"] == ["dave", "erin"]
    assert doc["time"] == {"seconds": MONDAY_10AM} and prepared.time_seconds == MONDAY_10AM
    assert doc["request"]["payload"]["value"] == amount(10**18)
    assert prepare_input(raw).json == prepared.json  # deterministic


def test_addresses_are_lowercased(make_request):
    doc = prepare_input(raw_transfer(make_request, to="0x" + "AB" * 20)).document()
    assert doc["request"]["payload"]["to"] == KRAKEN == doc["intent"]["destination"]


def test_native_transfer_intent(make_request):
    doc = prepare_input(raw_transfer(make_request)).document()
    assert doc["intent"] == {"type": "transferNative", "token": ETH, "amount": amount(10**18), "destination": KRAKEN}


def test_erc20_transfer_intent_beyond_2_to_the_53(make_request):
    units = 10**30 + 1
    doc = prepare_input(raw_transfer(make_request, erc20_transfer(KRAKEN, units), 0, USDC_CONTRACT)).document()
    assert doc["intent"] == {"type": "transferErc20", "token": USDC, "amount": amount(units), "destination": KRAKEN}


def test_erc20_approve_and_contract_calls():
    base = {"chain_id": 1, "to": USDC_CONTRACT, "value": amount(0)}
    approve = transaction_intent({**base, "data": "0x095ea7b3" + erc20_transfer(KRAKEN, 5)[10:]})
    assert approve["type"] == "approveErc20" and approve["destination"] == KRAKEN
    call = transaction_intent({**base, "data": "0x12345678"})
    assert call == {"type": "contractCall", "token": ETH, "amount": amount(0), "destination": USDC_CONTRACT, "selector": "0x12345678"}
    paid = transaction_intent({**base, "value": amount(1), "data": erc20_transfer(KRAKEN, 5)})
    assert paid["type"] == "contractCall"  # a transfer() that also sends ether is not a plain ERC-20 transfer


@pytest.mark.parametrize("data_hex, problem", [
    (erc20_transfer(KRAKEN, 5)[:-2], "exactly two 32-byte arguments"),
    ("0xa9059cbb" + "ff" * 12 + KRAKEN[2:] + "00" * 32, "non-zero high bytes"),
    ("0xabc", "hex bytes"),
])
def test_malformed_calldata_is_refused(make_request, data_hex, problem):
    with pytest.raises(InputError, match=problem):
        prepare_input(raw_transfer(make_request, data_hex, 0, USDC_CONTRACT))


@pytest.mark.parametrize("change, problem", [
    ({"extra": 1}, "unknown members"),
    ({"time": -1}, "time must be"),
    ({"time": 1.5}, "time must be"),
    ({"time": 253402300800}, "after"),
    ({"key": "A" * 42}, "thumbprint"),
    ({"request_hash": "AB" * 32}, "request_hash"),
    ({"request_hash": "a" * 64}, "request_hash"),
    ({"principal": ""}, "principal must be an identifier"),
    ({"approvals": "dave"}, "approvals must be an array"),
    ({"history": {}}, "history must be an array"),
])
def test_top_level_is_strict(make_request, change, problem):
    with pytest.raises(InputError, match=problem):
        prepare_input({**raw_transfer(make_request), **change})


@pytest.mark.parametrize("action, payload, problem", [
    ("signEverything", {}, "request.action must be one of"),
    (["signRaw"], {}, "request.action must be one of"),  # found by the policy_engines fuzz target
    ("signTransaction", {"chain_id": 1, "to": KRAKEN, "gas": 1}, "unknown members"),
    ("signTransaction", {"chain_id": 0, "to": KRAKEN}, "chain_id"),
    ("signTransaction", {"chain_id": 1, "to": KRAKEN[:-2]}, "20-byte hex address"),
    ("signTransaction", {"chain_id": 1, "to": KRAKEN, "nonce": 2**53}, "nonce"),
    ("signMessage", {"message": 5}, "must be a string"),
    ("signRaw", {"raw": "deadbeef"}, "hex bytes"),
    ("grantPermission", {"permissions": []}, "non-empty array"),
    ("signTypedData", {"typed_data": {"types": {}, "primaryType": "P", "domain": {}, "message": {"v": 2**60}}}, "beyond 2"),
    ("signTypedData", {"typed_data": {"types": {}, "primaryType": "P", "domain": {}, "message": {"v": 0.5}}}, "float"),
])
def test_payloads_are_strict(make_request, action, payload, problem):
    with pytest.raises(InputError, match=problem):
        prepare_input(make_request("bob", action, "ops-wallet", payload))


def test_typed_data_is_normalized(make_request):
    typed = {"types": {}, "primaryType": "PermitSingle", "domain": {"verifyingContract": "0x" + "CD" * 20},
             "message": {"amount": "1000"}}
    doc = prepare_input(make_request("bob", "signTypedData", "ops-wallet", {"typed_data": typed})).document()
    assert doc["request"]["payload"]["typed_data"]["domain"]["verifyingContract"] == "0x" + "cd" * 20
    assert doc["request"]["payload"]["typed_data"]["message"]["amount"] == amount(1000)
    assert "intent" not in doc and "spent" not in doc


def transfer_at(seconds_before, units, principal="bob", account="ops-wallet", token=ETH):
    return {"time": MONDAY_10AM - seconds_before, "principal": principal, "account": account, "token": token,
            "amount": units, "destination": KRAKEN}


def test_spending_totals_windows_and_holders(make_request):
    history = [
        transfer_at(3599, 1),  # inside the last hour
        transfer_at(3600, 2),  # exactly one hour ago: outside rolling_1h
        transfer_at(10 * 3600, 4),  # today, since 00:00 UTC
        transfer_at(10 * 3600 + 1, 8),  # yesterday 23:59:59: outside "day", inside rolling_24h
        transfer_at(60, 16, principal="carol"),  # another principal, same account
        transfer_at(60, 32, account="treasury-hot"),  # same principal, another account
        transfer_at(60, 64, token=USDC),  # another token: counted by all_count only
        transfer_at(-60, 128),  # after the request time: ignored
    ]
    spent = prepare_input(raw_transfer(make_request, value=2**60, history=history)).document()["spent"]
    mine = 2**60
    assert spent["rolling_1h"]["principal"] == {"amount": amount(mine + 1 + 32), "count": 3, "all_count": 4}
    assert spent["rolling_1h"]["account"] == {"amount": amount(mine + 1 + 16), "count": 3, "all_count": 4}
    assert spent["rolling_1h"]["all"] == {"amount": amount(mine + 1 + 16 + 32), "count": 4, "all_count": 5}
    assert spent["hour"]["all"]["count"] == 1  # 10:00:00 is the hour's first second: the request alone
    assert spent["day"]["principal"]["amount"] == amount(mine + 1 + 2 + 4 + 32)
    assert spent["rolling_24h"]["principal"]["amount"] == amount(mine + 1 + 2 + 4 + 8 + 32)
    assert spent["week"] == spent["day"]  # Monday: the ISO week started today
    assert spent["month"]["principal"]["amount"] == spent["rolling_24h"]["principal"]["amount"]


def test_no_spending_totals_without_value_moving_intent(make_request):
    approve = "0x095ea7b3" + erc20_transfer(KRAKEN, 5)[10:]
    doc = prepare_input(raw_transfer(make_request, approve, 0, USDC_CONTRACT)).document()
    assert doc["intent"]["type"] == "approveErc20" and "spent" not in doc


def test_total_beyond_2_to_the_256_is_refused(make_request):
    history = [transfer_at(1, MAX_AMOUNT)]
    with pytest.raises(InputError, match="exceeds 2\\^256-1"):
        prepare_input(raw_transfer(make_request, value=1, history=history))


@pytest.mark.parametrize("entry, problem", [
    ({"time": 1}, "missing"),
    (transfer_at(1, -5), "amount"),
    ({**transfer_at(1, 5), "destination": "kraken"}, "destination"),
])
def test_history_entries_are_strict(make_request, entry, problem):
    with pytest.raises(InputError, match=problem):
        prepare_input(raw_transfer(make_request, history=[entry]))

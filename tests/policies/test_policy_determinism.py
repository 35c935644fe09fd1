"""Determinism by construction: request time instead of the clock, exact big numbers,
canonical output, and every engine or policy fault turned into a forbid with a reason."""

from __future__ import annotations

import json

import pytest
import rfc8785
from conftest import ENGINE_PARAMS, ETH, MONDAY_10AM, book_address

from accord.bundles.decision import Verdict
from accord.bundles.engine import engine_class, screen_modules
from accord.bundles.inputs import prepare_input
from accord.bundles.policy_errors import ContractError, PolicyLoadError

SATURDAY_10AM = MONDAY_10AM - 2 * 86400


def test_decision_time_is_the_request_time(engine, usdc_payout):
    weekday = engine.decide(prepare_input(usdc_payout(5_000 * 10**6)))
    weekend = engine.decide(prepare_input(usdc_payout(5_000 * 10**6, time=SATURDAY_10AM)))
    assert weekday.reasons == ("permitted by rule ops-usdc-business-hours",)
    # no business hours on Saturday, whatever the clock says: only the rule with approvals is left
    assert weekend.decision is Verdict.CONFIRM
    assert weekend.reasons == ("rule ops-usdc-large requires approvals",)


@pytest.mark.parametrize("engine_name", ENGINE_PARAMS)
@pytest.mark.parametrize("source", [
    "package accord\n\ndecision := {\"now\": time.now_ns()}\n",
    "package accord\n\nx := y if {\n\ty := time.now_ns ()\n}\n",
    "package accord\n\nr := http.send({\"method\": \"get\", \"url\": \"https://example.com\"})\n",
    "package accord\n\nr := rand.intn(\"seed\", 10)\n",
    "package accord\n\n# uuid.rfc4122(\"x\") in a comment is refused too: the safe direction\n",
])
def test_clock_and_other_nondeterministic_builtins_are_refused(engine_name, source):
    with pytest.raises(PolicyLoadError, match=r"p\.rego:\d+: .* is not allowed in a decision policy"):
        engine_class(engine_name).load({"p.rego": source}, {})


def test_the_library_does_not_read_the_clock(library):
    screen_modules(library[0])


def eth_from_hot_wallet(make_request, library, wei, spent_today):
    data = library[1]
    payload = {"chain_id": 1, "to": book_address(data, "Kraken deposit"), "value": wei, "data": "0x"}
    history = [{"time": MONDAY_10AM - 60, "principal": "carol", "account": "treasury-hot", "token": ETH,
                "amount": spent_today, "destination": book_address(data, "Coinbase Prime deposit")}]
    return prepare_input(make_request("bob", "signTransaction", "treasury-hot", payload, history=history))


def test_per_transfer_cap_beyond_2_to_the_53(engine, make_request, library):
    five_eth = 5 * 10**18  # > 2^53: exact only as an amount string
    at_cap = engine.decide(eth_from_hot_wallet(make_request, library, five_eth, 0))
    over = engine.decide(eth_from_hot_wallet(make_request, library, five_eth + 1, 0))
    assert at_cap.reasons == ("permitted by rule ops-eth-small",)
    assert over.reasons == ("no rule permits this request",)


def test_spending_limit_beyond_2_to_the_53_to_the_wei(engine, make_request, library):
    # hot-eth-daily: 50 ETH per UTC day from treasury-hot; 49 ETH already sent today
    ok = engine.decide(eth_from_hot_wallet(make_request, library, 10**18, 49 * 10**18))
    over = engine.decide(eth_from_hot_wallet(make_request, library, 10**18 + 1, 49 * 10**18))
    assert ok.permitted
    assert over.reasons == ("spending limit hot-eth-daily exceeded",)


def test_output_is_canonical_and_stable(engine, usdc_payout):
    prepared = prepare_input(usdc_payout(50_000 * 10**6, approvals=["erin", "dave"]))
    first = engine.decide(prepared).to_json()
    assert first == rfc8785.dumps(json.loads(first))
    assert all(engine.decide(prepared).to_json() == first for _ in range(3))


def test_floats_and_unsafe_integers_never_reach_an_engine(library):
    modules, data = library
    for bad in (0.5, 2**53):
        with pytest.raises(ContractError, match=r"^data\.extra\.x: "):
            engine_class("regorus").load(modules, {**data, "extra": {"x": bad}})


TINY_VALIDATION = "package accord\n\ndata_errors := set()\n"
NO_APPROVALS = '{"required": [], "missing": [], "satisfied": []}'


def tiny_engine(engine_name, decision_source):
    return engine_class(engine_name).load({"v.rego": TINY_VALIDATION, "d.rego": "package accord\n\n" + decision_source}, {})


@pytest.mark.parametrize("engine_name", ENGINE_PARAMS)
def test_engine_error_is_a_forbid_naming_it(engine_name, usdc_payout):
    conflict = (
        f'decision := {{"decision": "permit", "reasons": ["a"], "approvals": {NO_APPROVALS}}} if input.principal\n\n'
        f'decision := {{"decision": "permit", "reasons": ["b"], "approvals": {NO_APPROVALS}}} if input.principal\n'
    )
    d = tiny_engine(engine_name, conflict).decide(prepare_input(usdc_payout(1)))
    assert d.decision is Verdict.FORBID
    if engine_name == "regorus-rvm":  # the RVM turns errors into undefined (module docstring)
        assert d.reasons == ("policy gave no decision: data.accord.decision is undefined",)
    else:
        assert d.reasons[0].startswith("engine error: ") and "conflict" in d.reasons[0]


@pytest.mark.parametrize("engine_name", ENGINE_PARAMS)
def test_malformed_policy_output_is_a_forbid(engine_name, usdc_payout):
    d = tiny_engine(engine_name, 'decision := {"decision": "permit", "reasons": []}\n').decide(prepare_input(usdc_payout(1)))
    assert d.decision is Verdict.FORBID
    assert d.reasons == ("malformed policy decision: decision document members: missing ['approvals']",)


@pytest.mark.parametrize("engine_name", ENGINE_PARAMS)
def test_undefined_decision_is_a_forbid(engine_name, usdc_payout):
    d = tiny_engine(engine_name, 'decision := {"decision": "permit"} if input.nothing\n').decide(prepare_input(usdc_payout(1)))
    assert d.reasons == ("policy gave no decision: data.accord.decision is undefined",)

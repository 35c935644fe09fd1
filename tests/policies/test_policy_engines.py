"""The PolicyEngine implementations: loading, refusing, bundles, and regorus' thread rule."""

from __future__ import annotations

import gc
import re
import sys
import threading
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import pytest
from conftest import ENGINE_PARAMS

from accord.bundles import regorus_engine
from accord.bundles.decision import Verdict
from accord.bundles.engine import DATA_ERRORS_RULE, DECISION_RULE, UNDEFINED, engine_class
from accord.bundles.inputs import prepare_input
from accord.bundles.opa_engine import OpaEngine
from accord.bundles.policy_errors import ContractError, EngineEvalError, EngineUnavailableError, PolicyLoadError
from accord.bundles.regorus_engine import RegorusEngine


def test_library_decisions(engine, usdc_payout):
    assert engine.decide(prepare_input(usdc_payout(5_000 * 10**6))).permitted
    confirm = engine.decide(prepare_input(usdc_payout(50_000 * 10**6, approvals=["dave"])))
    assert confirm.decision is Verdict.CONFIRM and [i.approvers for i in confirm.approvals.missing] == [("dave",)]
    assert engine.decide(prepare_input(usdc_payout(50_000 * 10**6, approvals=["dave", "erin"]))).permitted


@dataclass(frozen=True)
class FakeVerifiedBundle:
    """What the bundle verifier hands over (only modules and data are read)."""

    modules: Any
    data: Any
    digest: str
    revision: int


@pytest.mark.parametrize("engine_name", ENGINE_PARAMS)
def test_from_bundle(engine_name, library, usdc_payout):
    modules, data = library
    bundle = FakeVerifiedBundle(MappingProxyType(modules), MappingProxyType(data), "sha256:00", 7)
    engine = engine_class(engine_name).from_bundle(bundle)
    assert engine.decide(prepare_input(usdc_payout(5_000 * 10**6))).permitted


@pytest.mark.parametrize("engine_name", ENGINE_PARAMS)
def test_syntax_error_fails_the_load_naming_the_module(engine_name):
    with pytest.raises(PolicyLoadError, match="broken.rego"):
        engine_class(engine_name)({"broken.rego": "package p\n\nx := {\n"})


@pytest.mark.parametrize("engine_name", ENGINE_PARAMS)
def test_data_refused_by_the_policy(engine_name, library):
    modules, data = library
    bad = {**data, "rules": {**data["rules"], "typo": {"effect": "permit", "actions": ["signTransaction"], "acounts": ["x"]}}}
    with pytest.raises(PolicyLoadError, match="data refused by the policy: rule typo: unknown member acounts"):
        engine_class(engine_name).load(modules, bad)


@pytest.mark.parametrize("engine_name", ENGINE_PARAMS)
def test_a_policy_without_data_errors_declares_none(engine_name):
    engine = engine_class(engine_name).load({"d.rego": "package accord\n\ndecision := 1\n"}, {})
    assert engine.document("data.accord.decision") == 1


@pytest.mark.parametrize("engine_name", ENGINE_PARAMS)
def test_an_entry_point_no_module_defines_is_undefined(engine_name):
    engine = engine_class(engine_name)({"d.rego": "package accord\n\ndecision := 1\n"}, {},
                                       entry_points=(DECISION_RULE, DATA_ERRORS_RULE))  # fmt: skip
    assert engine.evaluate(DATA_ERRORS_RULE) is UNDEFINED


DERIVING = """package accord

derived := {"total": sum([n | some n in data.items]), "n": count(data.items)}

decision := {"total": data.derived.total, "n": data.derived.n}
"""


@pytest.mark.parametrize("engine_name", ENGINE_PARAMS)
def test_what_the_policy_derives_at_load_is_data_derived(engine_name):
    engine = engine_class(engine_name).load({"d.rego": DERIVING}, {"items": [1, 2, 3]})
    assert engine.document("data.derived") == {"total": 6, "n": 3}
    assert engine.evaluate(DECISION_RULE, b'{"any": 1}') == {"total": 6, "n": 3}


@pytest.mark.parametrize("engine_name", ENGINE_PARAMS)
def test_bundle_data_cannot_bring_its_own_derived_document(engine_name):
    # An index the admin (or anyone who can sign) wrote would decide what the rules are.
    with pytest.raises(ContractError, match="data.derived is reserved: the engine derives it at load"):
        engine_class(engine_name).load({"d.rego": DERIVING}, {"items": [1], "derived": {"total": 0, "n": 0}})


@pytest.mark.parametrize("engine_name", ENGINE_PARAMS)
@pytest.mark.parametrize(("rule", "problem"), [
    ('derived := [1]', "data.accord.derived must be an object, got list"),
    ('derived := {"x": 1 / count(data.items)}', "data.accord.derived failed: "),
])  # fmt: skip
def test_a_derived_document_that_is_not_an_object_or_fails_is_refused(engine_name, rule, problem):
    with pytest.raises(ContractError, match=re.escape(problem)):
        engine_class(engine_name).load({"d.rego": f"package accord\n\n{rule}\n\ndecision := 1\n"}, {"items": []})


@pytest.mark.parametrize("engine_name", ENGINE_PARAMS)
def test_a_policy_without_a_decision_is_refused(engine_name):
    with pytest.raises(ContractError, match="the policy does not define data.accord.decision"):
        engine_class(engine_name).load({"d.rego": "package accord\n\ndata_errors := set()\n"}, {})


@pytest.mark.parametrize("engine_name", ENGINE_PARAMS)
def test_every_problem_is_listed_one_per_line(engine_name):
    source = "package accord\n\nx := time.now_ns()\n\ny := rand.intn(\"s\", 2)\n"
    with pytest.raises(ContractError) as refused:
        engine_class(engine_name).load({"p.rego": source}, {"n": 0.5})
    assert refused.value.problems == (
        "p.rego:3: time.now_ns is not allowed in a decision policy: its result is not the same on every evaluator",
        "p.rego:5: rand.intn is not allowed in a decision policy: its result is not the same on every evaluator",
        "data.n: float values are not allowed (only integers, strings, booleans, null, arrays, objects)",
        "the policy does not define data.accord.decision: every bundle needs it "
        '(see "The decision contract" in the README)',
    )


@pytest.mark.parametrize("engine_name", ENGINE_PARAMS)
def test_document_and_query(engine_name):
    engine = engine_class(engine_name)({"p.rego": "package p\n\nx := input.a + 1\n\nu if false\n"}, {"d": {"k": [1, 2]}})
    assert engine.document("data.p.x", b'{"a": 41}') == 42
    assert engine.document("data.p.u") is UNDEFINED
    assert engine.document("data.p.x") is UNDEFINED  # no input after an evaluation with input
    assert engine.document("data.d.k") == [1, 2]
    assert engine.query("y := data.d.k[_]") == [{"y": 1}, {"y": 2}]
    with pytest.raises(EngineEvalError):
        engine.query("y := 1 / 0")


def test_unknown_engine():
    with pytest.raises(EngineUnavailableError, match="unknown policy engine 'wasm'"):
        engine_class("wasm")


def test_missing_opa_bindings_say_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "opa_bindings", None)  # import fails as if not installed
    with pytest.raises(EngineUnavailableError, match="make opa"):
        OpaEngine({"p.rego": "package p\n"})


# -- regorus' thread rule ---------------------------------------------------------------------


def in_thread(fn):
    """Run fn in a new thread; return its result or raise its exception."""
    box: dict[str, Any] = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test thread
            box["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


@pytest.fixture
def unraisable(monkeypatch):
    """Exceptions raised where Python cannot propagate them (e.g. a native engine dropped on
    the wrong thread)."""
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    return seen


def test_regorus_engine_is_usable_from_another_thread(library, usdc_payout, unraisable):
    engine = RegorusEngine.load(*library)  # its native engine belongs to this thread
    prepared = prepare_input(usdc_payout(5_000 * 10**6))
    here = engine.decide(prepared).to_json()
    there = in_thread(lambda: engine.decide(prepared).to_json())  # builds that thread's own
    assert there == here
    del engine
    gc.collect()
    assert not unraisable


def test_regorus_engine_built_in_a_thread_that_exited(library, usdc_payout, unraisable):
    engine = in_thread(lambda: RegorusEngine.load(*library))
    assert engine.decide(prepare_input(usdc_payout(5_000 * 10**6))).permitted
    del engine
    gc.collect()
    assert not unraisable


def test_regorus_engines_are_never_shared_between_threads(library, usdc_payout):
    engine = RegorusEngine.load(*library)
    prepared = prepare_input(usdc_payout(50_000 * 10**6, approvals=["dave"]))
    mine = regorus_engine._thread_natives()[engine._token].engine
    results, own_native = [], []

    def work():
        for _ in range(5):
            results.append(engine.decide(prepared).to_json())
        # identity only: a reference kept here would drop the native engine on this thread
        own_native.append(regorus_engine._thread_natives()[engine._token].engine is not mine)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 20 and len(set(results)) == 1
    assert own_native == [True] * 4


def test_raw_regorus_engine_touched_from_another_thread_panics():
    """The reason for the design above (pyo3 panics derive from BaseException)."""
    import regorus

    native = regorus.Engine()
    with pytest.raises(BaseException, match="unsendable"):
        in_thread(lambda: native.eval_query("x := 1"))


def test_rvm_engine_refuses_a_decision_with_an_undefined_value_in_it(usdc_payout):
    """The RVM puts an undefined value into a set where the interpreter leaves it out: the
    engine names that as an engine error (a forbid, so a divergent evaluator) rather than
    decide on it."""
    policy = ('package accord\n\nreasons contains r if {\n\tr := input.missing\n}\n\n'
              'decision := {"decision": "forbid", "reasons": reasons, "approvals": '
              '{"required": [], "missing": [], "satisfied": []}}\n')
    prepared = prepare_input(usdc_payout(1))
    rvm = engine_class("regorus-rvm").load({"d.rego": policy}, {}).decide(prepared)
    assert rvm.reasons == ("engine error: the compiled evaluator let an undefined value into data.accord.decision",)
    interpreted = engine_class("regorus").load({"d.rego": policy}, {}).decide(prepared)
    assert interpreted.reasons != rvm.reasons


def test_rvm_engine_decides_on_the_rvm_and_keeps_the_thread_rule(library, usdc_payout, unraisable):
    engine = engine_class("regorus-rvm").load(*library)
    assert regorus_engine._thread_natives()[engine._token].rvm is not None
    prepared = prepare_input(usdc_payout(50_000 * 10**6, approvals=["dave"]))
    here = engine.decide(prepared).to_json()
    assert in_thread(lambda: engine.decide(prepared).to_json()) == here  # that thread's own RVM
    assert here == engine_class("regorus").load(*library).decide(prepared).to_json()
    assert engine.document("data.accord.criteria.zero_amount") == "0" * 78  # the interpreter
    del engine
    gc.collect()
    assert not unraisable

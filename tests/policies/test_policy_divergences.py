"""Engine behaviours that shaped the library and the engine adapters, pinned so that an
upgrade which changes them is noticed (see accord/policies/README.md)."""

from __future__ import annotations

import json

import pytest
import regorus
from conftest import OPA_MISSING

from accord.bundles.engine import UNDEFINED, engine_class
from accord.bundles.opa_engine import opa_available

pytestmark = [pytest.mark.opa, pytest.mark.skipif(not opa_available(), reason=OPA_MISSING)]


def values(source: str, rule: str) -> dict[str, object]:
    return {name: engine_class(name)({"t.rego": source}).document(rule) for name in ("regorus", "opa")}


def test_numbers_beyond_integers_differ():
    """Why input and data may only hold safe integers (amounts are strings)."""
    got = values("package t\n\nx := [0.1 + 0.2, 12345678901234567890 * 10]\n", "data.t.x")
    assert got["opa"] == [0.3, 123456789012345678900]
    assert got["regorus"] == [0.30000000000000004, 1.2345678901234568e20]


def test_negated_membership_of_an_undefined_ref_differs():
    """Why validate.rego negates helper functions, never `not obj.member in set`."""
    got = values('package t\n\nx := {"e" | not input.nothing in {"a"}}\n', "data.t.x")
    assert got == {"regorus": ["e"], "opa": []}


def test_a_rule_used_as_a_with_value_and_in_the_expression_differs():
    """Why criteria_test.rego binds what it compares before `with data.rules as index_rules`."""
    source = 'package t\n\nrules := {"a": 1}\n\nx := v if {\n\tv := rules.a with data.other as rules\n}\n'
    assert values(source, "data.t.x") == {"regorus": UNDEFINED, "opa": 1}
    bound = 'package t\n\nrules := {"a": 1}\n\nx := v if {\n\tr := rules\n\tv := r.a with data.other as rules\n}\n'
    assert values(bound, "data.t.x") == {"regorus": 1, "opa": 1}


def rvm_value(source: str, rule: str, input_json: str) -> object:
    program = regorus.Program.compile_from_modules("{}", [("t.rego", source)], [rule])
    vm = regorus.Rvm()
    vm.load_program(program)
    vm.set_data_json("{}")
    vm.set_input_json(input_json)
    return json.loads(vm.execute())


@pytest.mark.parametrize("source, rvm, interpreted", [
    # an assignment from an undefined reference succeeds on the RVM ...
    ("x := 1 if {\n\tt := input.missing.key\n}\n", 1, None),
    # ... inside a comprehension too ...
    ('x := {k | some k in ["a", "b"]; v := input.obj[k]}\n', ["a", "b"], ["a"]),
    # ... and puts the undefined value into a set; unification (`=`) does not do this
    ("x contains t if {\n\tt := input.missing\n}\n", ["<undefined>"], []),
    ("x contains t if {\n\tt = input.missing\n}\n", [], []),
    ('x := {k | some k in ["a", "b"]; v = input.obj[k]}\n', ["a"], ["a"]),
])
def test_regorus_rvm_binds_undefined_references(source, rvm, interpreted):
    """Why the library binds a reference that may be undefined with `=`, and why the RVM
    engine only runs beside another engine (accord/bundles/regorus_engine.py)."""
    source = "package t\n\n" + source
    assert rvm_value(source, "data.t.x", '{"obj": {"a": 1}}') == rvm
    for name in ("regorus", "opa"):
        got = engine_class(name)({"t.rego": source}).document("data.t.x", b'{"obj": {"a": 1}}')
        assert got == (UNDEFINED if interpreted is None else interpreted)

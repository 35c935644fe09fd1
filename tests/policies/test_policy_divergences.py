"""Engine behaviours that shaped the library and the engine adapters, pinned so that an
upgrade which changes them is noticed (see accord/policies/README.md)."""

from __future__ import annotations

import json

import pytest
import regorus
from conftest import OPA_MISSING

from accord.bundles.engine import engine_class
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


def test_regorus_rvm_is_unsound_and_not_used():
    """Why RegorusEngine evaluates with the interpreter: the compiled RVM (0.13) binds an
    undefined reference inside a comprehension, where the interpreter and OPA do not."""
    source = 'package t\n\nx := {k | some k in ["a", "b"]; v := input.obj[k]}\n'
    program = regorus.Program.compile_from_modules("{}", [("t.rego", source)], ["data.t.x"])
    vm = regorus.Rvm()
    vm.load_program(program)
    vm.set_data_json("{}")
    vm.set_input_json('{"obj": {"a": 1}}')
    assert json.loads(vm.execute()) == ["a", "b"]
    for name in ("regorus", "opa"):
        assert engine_class(name)({"t.rego": source}).document("data.t.x", b'{"obj": {"a": 1}}') == ["a"]

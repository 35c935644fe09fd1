"""OPA's Rego conformance cases (tests/vectors/rego-conformance, see its README) on both
engines: every case is run, the pass rate per category is printed, and a floor per engine
is asserted (regorus is not expected to pass every case; OPA cannot load Rego v0 modules
through its bindings, and strict-mode errors are not enabled)."""

from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import TEST_RUNNER_ENGINE_PARAMS

from accord.bundles.engine import engine_class
from accord.bundles.policy_errors import PolicyEngineError

CASES_DIR = Path(__file__).parents[1] / "vectors" / "rego-conformance"
# Overall pass-rate floors, a little under what each engine achieves today.
FLOORS = {"regorus": 0.80, "opa": 0.85}


def load_cases() -> list[tuple[str, dict[str, Any]]]:
    """(category, case) for every case, category = "<v0|v1>/<directory>"."""
    cases = []
    for path in sorted(CASES_DIR.glob("v*/*/*.yaml")):
        category = f"{path.parent.parent.name}/{path.parent.name}"
        cases += [(category, case) for case in yaml.safe_load(path.read_text())["cases"]]
    return cases


def _canonical(value: Any) -> Any:
    """Compare numbers by value (1.0 == 1), objects without order."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def _results(bindings: list[dict[str, Any]], sort_bindings: bool) -> list[str]:
    def norm(binding: dict[str, Any]) -> str:
        if sort_bindings:
            binding = {k: sorted(v, key=json.dumps) if isinstance(v, list) else v for k, v in binding.items()}
        return json.dumps(_canonical(binding), sort_keys=True)

    return sorted(norm(b) for b in bindings)


def run_case(engine_name: str, category: str, case: dict[str, Any]) -> tuple[bool, str]:
    """(passed, detail) of one case on one engine."""
    modules = {f"case_{i}.rego": source for i, source in enumerate(case.get("modules") or [])}
    wants_error = "want_error" in case or "want_error_code" in case
    try:
        engine = engine_class(engine_name)(modules, case.get("data"), rego_v0=category.startswith("v0/"))
        input_json = None if case.get("input") is None else json.dumps(case["input"]).encode()
        got = engine.query(case["query"], input_json)
    except PolicyEngineError as exc:
        return wants_error, f"error: {exc}"
    if wants_error:
        return False, f"no error, got {got}"
    sort_bindings = bool(case.get("sort_bindings"))
    ok = _results(got, sort_bindings) == _results(case.get("want_result") or [], sort_bindings)
    return ok, "" if ok else f"got {got}, want {case.get('want_result')}"


CASES = load_cases()


def test_every_case_is_loaded():
    assert len(CASES) == 195  # as the vectors README says


@pytest.mark.parametrize("engine_name", TEST_RUNNER_ENGINE_PARAMS)
def test_conformance_pass_rate(engine_name):
    passed: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    failures = []
    for category, case in CASES:
        ok, detail = run_case(engine_name, category, case)
        total[category] += 1
        passed[category] += ok
        if not ok:
            failures.append(f"  {category} | {case['note']} | {detail[:160]}")
    width = max(map(len, total))
    lines = [f"\nRego conformance on {engine_name}:", f"  {'category':{width}}  pass/total"]
    lines += [f"  {c:{width}}  {passed[c]:>4}/{total[c]:<4} {100 * passed[c] / total[c]:5.1f}%" for c in sorted(total)]
    rate = sum(passed.values()) / sum(total.values())
    lines.append(f"  {'all':{width}}  {sum(passed.values()):>4}/{sum(total.values()):<4} {100 * rate:5.1f}%")
    print("\n".join(lines + ["  failures:"] + failures))
    assert rate >= FLOORS[engine_name]

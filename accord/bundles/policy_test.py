"""A Rego test runner over either engine (what `opa test DIR` does, for `accord policy test`).

A policy directory is read as OPA reads a bundle directory (`accord.bundles.verify`, no
signature required here): every `*.rego` file is a module, every `data.json` is merged into
the data document at its directory's path. Tests are the rules named `test_*` in
`*_test.rego` files; a test passes when it evaluates to `true`. Data goes through
`prepare_data`, as for decisions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accord.bundles.contract import load_decision_policy
from accord.bundles.engine import DEFAULT_ENGINE, UNDEFINED, engine_class
from accord.bundles.inputs import prepare_data
from accord.bundles.layout import read_directory
from accord.bundles.policy_errors import EngineEvalError, PolicyLoadError
from accord.bundles.verify import load_opa_bundle
from accord.errors import AccordError

_PACKAGE = re.compile(r"^package\s+([A-Za-z_][\w.]*)", re.MULTILINE)
_TEST_RULE = re.compile(r"^(test_\w+)\b", re.MULTILINE)


def load_policy_dir(directory: str | Path) -> tuple[dict[str, str], dict[str, Any]]:
    """Read a policy directory as OPA reads an (unsigned) bundle directory: (modules by
    bundle path, merged raw data document)."""
    try:
        bundle = load_opa_bundle(read_directory(directory), None)
    except AccordError as exc:
        raise PolicyLoadError(f"{directory}: {exc}") from None
    if not bundle.modules:
        raise PolicyLoadError(f"no .rego files under {directory}")
    return dict(bundle.modules), bundle.data


@dataclass(frozen=True)
class TestResult:
    """One test rule's outcome; `detail` says why it failed."""

    __test__ = False  # not a pytest class

    name: str
    file: str
    passed: bool
    detail: str = ""


@dataclass(frozen=True)
class TestReport:
    """All results of one run on one engine."""

    __test__ = False

    engine: str
    results: tuple[TestResult, ...]

    @property
    def failures(self) -> tuple[TestResult, ...]:
        return tuple(r for r in self.results if not r.passed)

    @property
    def ok(self) -> bool:
        return bool(self.results) and not self.failures


def discover_tests(modules: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(package, rule name, file) of every `test_*` rule in `*_test.rego` modules."""
    found: list[tuple[str, str, str]] = []
    for path, source in sorted(modules.items()):
        if not path.endswith("_test.rego"):
            continue
        package = _PACKAGE.search(source)
        if package is None:
            raise PolicyLoadError(f"{path}: no package declaration")
        for name in dict.fromkeys(_TEST_RULE.findall(source)):  # a test may have several bodies
            found.append((package.group(1), name, path))
    return found


def _outcome(rule: str, file: str, value: Any) -> TestResult:
    if value is True:
        return TestResult(rule, file, True)
    return TestResult(rule, file, False, f"evaluated to {value!r}, want true")


def run_tests(directory: str | Path, engine: str = DEFAULT_ENGINE) -> TestReport:
    """Load a policy directory on `engine` and run its tests. Raises PolicyLoadError if the
    directory does not load or breaks the decision contract (ContractError: no test can
    run then)."""
    modules, data = load_policy_dir(directory)
    # A directory with a policy (not only tests) is a bundle: it must load as an enclave
    # loads it. Test modules are exempt from the contract.
    policy = {p: m for p, m in modules.items() if not p.endswith("_test.rego")}
    if policy:
        load_decision_policy(policy, data, engine)
    # No data.derived here (the load above derived it, and refused the bundle if that
    # failed): what a policy derives from its data would not follow a test's
    # `with data.rules as ...`, so tests see the data alone.
    loaded = engine_class(engine)(modules, prepare_data(data))
    by_package: dict[str, list[tuple[str, str]]] = {}
    for package, name, file in discover_tests(modules):
        by_package.setdefault(package, []).append((name, file))
    results = []
    for package, tests in by_package.items():
        # One evaluation per package (OPA prepares a query per distinct path); if it fails,
        # each test is evaluated alone to find the ones that error.
        try:
            document = loaded.document(f"data.{package}")
        except EngineEvalError:
            document = None
        for name, file in tests:
            rule = f"data.{package}.{name}"
            if isinstance(document, dict):
                results.append(_outcome(rule, file, document.get(name, UNDEFINED)))
                continue
            try:
                results.append(_outcome(rule, file, loaded.document(rule)))
            except EngineEvalError as exc:
                results.append(TestResult(rule, file, False, f"error: {exc}"))
    return TestReport(engine, tuple(results))

"""The default engine: regorus (Rust Rego interpreter, package `gordon-to-regorus`).

Thread rule: a `regorus.Engine` is unsendable: it may only be used, and must be dropped, on
the thread that created it (touching it elsewhere panics). A `RegorusEngine` therefore keeps
one native engine *per thread*, in thread-local storage: the constructing thread builds
(and so validates) its engine at construction; any other thread builds its own on first use
from the same modules and data (one load per thread). So a `RegorusEngine` may be shared
between threads freely. The native engines of a dropped `RegorusEngine` are released by
their own thread, the next time it builds one or when it exits.

`RegorusRvmEngine` ("regorus-rvm") answers decisions with regorus's compiled evaluator
(RVM, `regorus.Program`/`regorus.Rvm`), everything else with the interpreter. The RVM is
faster (see benchmarks/RESULTS.md) but less sound in 0.13: `x := <undefined ref>` succeeds
(`x = <ref>` does not), an undefined value can end up inside a set, and evaluation errors
become "undefined" (tests/policies/test_policy_divergences.py pins each). So it is only
allowed beside another engine in its group (`EvaluatorConfig`), where a wrong answer shows
as a divergent evaluator and never as a token; the library is written so that the RVM
agrees with the interpreter and OPA on the differential corpus; and a decision in which an
undefined value surfaces is refused here as an engine error.
"""

from __future__ import annotations

import itertools
import json
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import regorus

from accord.bundles.engine import DECISION_RULE, UNDEFINED, PolicyEngine, clean_message
from accord.bundles.policy_errors import EngineEvalError, PolicyLoadError
from accord.protocols import canonical_json

# What eval_rule_as_json returns for an undefined rule. A rule whose value is this very
# string reads the same, so that answer is re-checked with a query.
_UNDEFINED_JSON = '"<undefined>"'

# How regorus refuses to evaluate a rule that no module defines.
_NO_SUCH_RULE = "not a valid rule path"

_thread = threading.local()
_tokens = itertools.count()


@dataclass
class _Native:
    """One thread's regorus engine for one RegorusEngine."""

    owner: weakref.ref
    engine: Any
    has_input: bool = False
    rvm: Any = None  # RegorusRvmEngine: this thread's compiled decision program
    rvm_data: str | None = None  # and the data JSON it holds


def _thread_natives() -> dict[int, _Native]:
    natives = getattr(_thread, "natives", None)
    if natives is None:
        natives = _thread.natives = {}
    return natives


def _native_call(fn: Callable[..., Any], *args: Any, error: type[Exception], where: str = "") -> Any:
    """Call into regorus, turning its exceptions (pyo3 panics derive from BaseException)
    into `error` with a one-line message."""
    try:
        return fn(*args)
    except BaseException as exc:
        if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
            raise
        raise error(f"{where}{clean_message(str(exc))}") from None


def defined_rules(modules: Mapping[str, str], rules: Sequence[str]) -> set[str]:
    """Which of `rules` some module defines (whatever their value for any input), from
    regorus's rule index over the modules alone. Raises PolicyLoadError for a bad module."""
    engine = regorus.Engine()
    for path, source in sorted(modules.items()):
        _native_call(engine.add_policy, path, source, error=PolicyLoadError, where=f"{path}: ")
    return _defined_in(engine, rules)


def _defined_in(engine: Any, rules: Sequence[str]) -> set[str]:
    """Which of `rules` a native engine's modules define."""
    defined = set()
    for rule in rules:
        try:
            engine.eval_rule_as_json(rule)
        except BaseException as exc:  # pyo3 panics derive from BaseException
            if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
                raise
            if _NO_SUCH_RULE in str(exc):
                continue
        defined.add(rule)  # its value, an error or undefined: the rule exists
    return defined


class RegorusEngine(PolicyEngine):
    """regorus behind the `PolicyEngine` interface (see the module docstring for threads)."""

    name = "regorus"

    def __init__(
        self,
        modules: Mapping[str, str],
        data: Mapping[str, Any] | None = None,
        *,
        rego_v0: bool = False,
        entry_points: Sequence[str] = (),
    ) -> None:
        if data is not None and not isinstance(data, Mapping):
            raise PolicyLoadError(f"data must be an object, got {type(data).__name__}")
        self._modules = tuple(sorted(modules.items()))
        self._data = dict(data or {})  # shallow copy: callers must not mutate data they load
        self._rego_v0 = rego_v0
        self._entry_points = frozenset(entry_points)
        self._token = next(_tokens)
        self._native()  # build on this thread now, so that bad modules or data fail here

    def _build(self) -> Any:
        engine = regorus.Engine()
        engine.set_rego_v0(self._rego_v0)
        for path, source in self._modules:
            _native_call(engine.add_policy, path, source, error=PolicyLoadError, where=f"{path}: ")
        _native_call(engine.add_data, self._data, error=PolicyLoadError, where="data: ")
        return engine

    def _build_rvm(self) -> Any:
        return None  # the interpreter answers everything

    def _add_data(self, document: Mapping[str, Any]) -> None:
        # At load, when only this thread has a native engine; others build theirs from _data.
        self._data.update(document)
        _native_call(self._thread_native().engine.add_data, dict(document), error=PolicyLoadError, where="data: ")

    def _thread_native(self, fresh: bool = False) -> _Native:
        """This thread's native engines (built on first use; `fresh`: rebuilt)."""
        natives = _thread_natives()
        native = natives.get(self._token)
        if native is None or fresh:
            for token in [t for t, n in natives.items() if n.owner() is None]:
                del natives[token]  # dropped here, on the thread that built it
            native = natives[self._token] = _Native(weakref.ref(self), self._build(), rvm=self._build_rvm())
        return native

    def _native(self, input_json: bytes | None = None) -> Any:
        """This thread's interpreter with `input_json` set (None: an engine that never had
        one, as a native engine keeps its last input)."""
        native = self._thread_native()
        if input_json is None and native.has_input:
            native = self._thread_native(fresh=True)
        if input_json is not None:
            _native_call(native.engine.set_input_json, input_json.decode("utf-8"), error=EngineEvalError, where="input: ")
            native.has_input = True
        return native.engine

    def defined(self, modules: Mapping[str, str], rules: Sequence[str]) -> set[str]:
        # This engine's own rule index: no second parse of the modules.
        return _defined_in(self._native(), rules)

    def document(self, path: str, input_json: bytes | None = None) -> Any:
        results = self.query(f"__value = {path}", input_json)
        return results[0]["__value"] if results else UNDEFINED

    def query(self, query: str, input_json: bytes | None = None) -> list[dict[str, Any]]:
        engine = self._native(input_json)
        results = canonical_json.loads(_native_call(engine.eval_query_as_json, query, error=EngineEvalError))
        return [result.get("bindings", {}) for result in results.get("result", [])]

    def evaluate(self, rule: str, input_json: bytes | None = None) -> Any:
        if rule not in self._entry_points:
            return self.document(rule, input_json)
        # eval_rule skips parsing a query: the fast path for decisions.
        engine = self._native(input_json)
        try:
            text = _native_call(engine.eval_rule_as_json, rule, error=EngineEvalError)
        except EngineEvalError as exc:
            if _NO_SUCH_RULE in str(exc):
                return UNDEFINED  # no module defines it: as a document (and in OPA), undefined
            raise
        if text == _UNDEFINED_JSON:
            return self.document(rule, input_json)
        return canonical_json.loads(text)


# How the RVM writes an undefined value (a whole undefined result, or one that leaked into
# a collection: see the module docstring).
_RVM_UNDEFINED = '"<undefined>"'


class RegorusRvmEngine(RegorusEngine):
    """regorus with decisions on the compiled evaluator (RVM); the interpreter does the rest
    (data errors, documents, queries). Only for use beside another engine: see the module
    docstring."""

    name = "regorus-rvm"
    _data_json: str | None = None

    def _build_rvm(self) -> Any:
        if DECISION_RULE not in self._entry_points:
            return None  # not a decision engine: the interpreter answers everything
        try:
            program = _native_call(regorus.Program.compile_from_modules, "{}", list(self._modules), [DECISION_RULE],
                                   error=PolicyLoadError, where="the compiled evaluator (RVM) cannot compile the policy: ")
        except PolicyLoadError as exc:
            if _NO_SUCH_RULE in str(exc):
                return None  # no decision rule: the load refuses the policy for that, by name
            raise
        rvm = regorus.Rvm()
        rvm.load_program(program)
        return rvm

    def _rvm(self) -> Any:
        """This thread's compiled program holding the engine's current data (None: none).
        The data goes in at the thread's first decision, after the load added data.derived:
        the RVM takes its data whole, so setting it at build would parse it twice."""
        native = self._thread_native()
        if native.rvm is None:
            return None
        if self._data_json is None:  # once per engine, not per thread (a race computes it twice)
            # Plain json: prepared data holds only what every JSON parser reads alike.
            self._data_json = json.dumps(self._data, separators=(",", ":"))
        if native.rvm_data is not self._data_json:
            _native_call(native.rvm.set_data_json, self._data_json, error=EngineEvalError, where="data: ")
            native.rvm_data = self._data_json
        return native.rvm

    def _add_data(self, document: Mapping[str, Any]) -> None:
        super()._add_data(document)
        self._data_json = None

    def evaluate(self, rule: str, input_json: bytes | None = None) -> Any:
        if rule != DECISION_RULE or input_json is None:
            return super().evaluate(rule, input_json)
        rvm = self._rvm()
        if rvm is None:
            return super().evaluate(rule, input_json)
        _native_call(rvm.set_input_json, input_json.decode("utf-8"), error=EngineEvalError, where="input: ")
        text = _native_call(rvm.execute, error=EngineEvalError)
        if text.strip() == _RVM_UNDEFINED:
            return UNDEFINED
        if _RVM_UNDEFINED in text:
            raise EngineEvalError(f"the compiled evaluator let an undefined value into {rule}")
        return canonical_json.loads(text)

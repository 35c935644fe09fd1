"""The `PolicyEngine` interface: load Rego modules and data once, answer decisions many times.

Two implementations: `RegorusEngine` (regorus, the default) and `OpaEngine` (real OPA
in-process, optional). An engine built with `PolicyEngine.load` (or `from_bundle`) is a
*decision engine*:

- its modules are screened: builtins whose result is not the same on every evaluator are
  refused: the clock (`time.now_ns`: the request time is `input.time`), the network,
  randomness (see `NONDETERMINISTIC_BUILTINS`);
- its data goes through `inputs.prepare_data` (safe integers only, amounts padded);
- the policy must define `data.accord.decision`;
- `data.accord.data_errors` (a set of strings), where the policy defines it, is evaluated
  once at load: a non-empty result refuses the data (the bundle does not activate). A policy
  that does not define it (or whose rule is undefined for this data) declares no data errors;
- `data.accord.derived` (an object), where the policy defines it, is evaluated once at load,
  after the data errors, with no input, and its value becomes the data document
  `data.derived` for every later evaluation: what a policy computes from its data alone
  (an index) is computed once per bundle instead of once per decision. The bundle's own data
  must not have a `derived` member: only the policy, evaluated in the enclave over the
  verified data, says what it holds;
- `decide` evaluates `data.accord.decision` and never raises for policy or engine trouble:
  an engine error, an undefined decision or a malformed one is a forbid whose reason says
  what happened.

Why refuse `time.now_ns` rather than pin it with `with time.now_ns as ...` (both engines
support that): one rule for every engine, no wrapper rule around the decision, and a
policy's notion of time is visibly its input. The bare constructor loads modules and data
as given (test runner, conformance suite).
"""

from __future__ import annotations

import importlib
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Protocol, TypeVar

from accord.bundles.decision import Decision
from accord.bundles.inputs import PreparedInput, prepare_data
from accord.bundles.policy_errors import (
    ContractError,
    DataError,
    EngineEvalError,
    EngineUnavailableError,
    PolicyLoadError,
)

DECISION_RULE = "data.accord.decision"
DATA_ERRORS_RULE = "data.accord.data_errors"
DERIVED_RULE = "data.accord.derived"
DERIVED = "derived"  # where its value goes: data.derived

NONDETERMINISTIC_BUILTINS = (
    "time.now_ns",  # the clock: policies read input.time
    "http.send",
    "net.lookup_ip_addr",
    "rand.intn",
    "uuid.rfc4122",
    "opa.runtime",
    "io.jwt.decode_verify",  # checks exp/nbf against the clock
    "crypto.x509.parse_and_verify_certificates",  # and _with_options: the clock
)
# A match in a comment or a string also refuses: the safe direction.
_NONDETERMINISTIC = re.compile(r"\b(" + "|".join(map(re.escape, NONDETERMINISTIC_BUILTINS)) + r")\w*\s*\(")


class Undefined:
    """The value of a document that no rule defines."""

    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED = Undefined()


class BundleLike(Protocol):
    """What `from_bundle` reads of a verified bundle."""

    modules: Mapping[str, str]
    data: Mapping[str, Any]


def nondeterministic_calls(modules: Mapping[str, str]) -> list[str]:
    """One line (`file:line: ...`) per call of a builtin whose result differs between
    evaluators."""
    found = []
    for path, source in sorted(modules.items()):
        for match in _NONDETERMINISTIC.finditer(source):
            line = source.count("\n", 0, match.start()) + 1
            found.append(f"{path}:{line}: {match.group(1)} is not allowed in a decision policy: "
                         "its result is not the same on every evaluator")  # fmt: skip
    return found


def screen_modules(modules: Mapping[str, str]) -> None:
    """Refuse modules that call a builtin whose result differs between evaluators."""
    found = nondeterministic_calls(modules)
    if found:
        raise ContractError(found)


E = TypeVar("E", bound="PolicyEngine")


class PolicyEngine(ABC):
    """A loaded policy: modules plus data, evaluated many times. Thread rules are stated by
    each implementation; both may be shared between threads."""

    name: ClassVar[str]

    @abstractmethod
    def __init__(
        self,
        modules: Mapping[str, str],
        data: Mapping[str, Any] | None = None,
        *,
        rego_v0: bool = False,
        entry_points: Sequence[str] = (),
    ) -> None:
        """Load `modules` (path -> Rego source) and `data` as given; `entry_points` are rules
        `evaluate` will be asked for (an engine may compile them). Raises PolicyLoadError."""

    @classmethod
    def load(cls: type[E], modules: Mapping[str, str], data: Mapping[str, Any]) -> E:
        """A decision engine: modules screened, data prepared, `data.accord.decision` defined
        and the data accepted by the policy's `data.accord.data_errors`. Raises
        ContractError listing every problem found, one per line."""
        engine, problems = cls.load_problems(modules, data)
        if problems:
            raise ContractError(problems)
        return engine

    @classmethod
    def load_problems(cls: type[E], modules: Mapping[str, str], data: Mapping[str, Any]) -> tuple[E | None, list[str]]:
        """What `load` checks, without raising: (the engine or None, one line per problem).
        As many problems as can be found in one pass are listed (a module that does not
        parse stops the checks that need an engine)."""
        problems = nondeterministic_calls(modules)
        try:
            prepared = prepare_data(data)
        except DataError as exc:
            problems.append(str(exc))
            prepared = None
        if prepared is not None and DERIVED in prepared:
            problems.append(f"data.{DERIVED} is reserved: the engine derives it at load from the policy's {DERIVED_RULE}")
            prepared = None
        try:
            engine = cls(modules, prepared or {}, entry_points=(DECISION_RULE, DATA_ERRORS_RULE, DERIVED_RULE))
            defined = engine.defined(modules, (DECISION_RULE,))
        except PolicyLoadError as exc:
            return None, [*problems, str(exc)]
        if DECISION_RULE not in defined:
            problems.append(f"the policy does not define {DECISION_RULE}: every bundle needs it "
                            "(see \"The decision contract\" in the README)")  # fmt: skip
        if prepared is not None:  # evaluated once: it grows with the data (about 50 us per rule)
            problems.extend(_data_errors(engine))
        if not problems:
            problems.extend(engine._derive())
        return (None if problems else engine), problems

    def _derive(self) -> list[str]:
        """Evaluate `data.accord.derived` (no input) and make its value `data.derived`, where
        the policy defines it; the problems found, if any. Once, at load, before the engine
        answers anything else."""
        value, problems = _at_load(self, DERIVED_RULE)
        if problems or value is UNDEFINED:
            return problems
        if not isinstance(value, dict):
            return [f"{DERIVED_RULE} must be an object, got {type(value).__name__}"]
        try:
            self._add_data({DERIVED: value})
        except PolicyLoadError as exc:
            return [f"{DERIVED_RULE}: {exc}"]
        return []

    @abstractmethod
    def _add_data(self, document: Mapping[str, Any]) -> None:
        """Merge `document` (members the data does not have) into the data every later
        evaluation sees."""

    def defined(self, modules: Mapping[str, str], rules: Sequence[str]) -> set[str]:
        """Which of `rules` `modules` (the ones this engine loaded) define, whatever their
        value for any input. Raises PolicyLoadError for a bad module."""
        from accord.bundles.regorus_engine import defined_rules  # regorus's rule index: engine-neutral

        return defined_rules(modules, rules)

    @classmethod
    def from_bundle(cls: type[E], bundle: BundleLike) -> E:
        """A decision engine for a verified bundle (reads only `modules` and `data`)."""
        return cls.load(bundle.modules, bundle.data)

    @abstractmethod
    def document(self, path: str, input_json: bytes | None = None) -> Any:
        """The JSON value of the document at `path` (e.g. "data.accord.decision"), or
        UNDEFINED. `input_json` (JSON bytes) is the input; None leaves it undefined.
        Raises EngineEvalError."""

    @abstractmethod
    def query(self, query: str, input_json: bytes | None = None) -> list[dict[str, Any]]:
        """All results of a Rego query, as variable bindings (JSON values). Raises
        EngineEvalError. For tools and tests; decisions use `decide`."""

    def evaluate(self, rule: str, input_json: bytes | None = None) -> Any:
        """The value of an entry-point rule (fast path where the engine has one)."""
        return self.document(rule, input_json)

    def decide(self, prepared: PreparedInput) -> Decision:
        """The policy's decision for a prepared input. Never raises for engine or policy
        faults: they are forbids naming the fault."""
        try:
            value = self.evaluate(DECISION_RULE, prepared.json)
        except EngineEvalError as exc:
            return Decision.forbid(f"engine error: {exc}")
        if value is UNDEFINED:
            return Decision.forbid(f"policy gave no decision: {DECISION_RULE} is undefined")
        return Decision.from_policy_output(value)


ENGINES = {
    "regorus": ("accord.bundles.regorus_engine", "RegorusEngine"),
    "regorus-rvm": ("accord.bundles.regorus_engine", "RegorusRvmEngine"),
    "opa": ("accord.bundles.opa_engine", "OpaEngine"),
}
DEFAULT_ENGINE = "regorus"


def engine_class(name: str = DEFAULT_ENGINE) -> type[PolicyEngine]:
    """The engine implementation called `name` ("regorus" or "opa")."""
    if name not in ENGINES:
        raise EngineUnavailableError(f"unknown policy engine {name!r}; choose one of {', '.join(ENGINES)}")
    module, attr = ENGINES[name]
    return getattr(importlib.import_module(module), attr)


def _at_load(engine: PolicyEngine, rule: str) -> tuple[Any, list[str]]:
    """The value of a load-time `rule` (no input; UNDEFINED where no module defines it), or
    its evaluation's failure as a problem."""
    try:
        return engine.evaluate(rule), []
    except EngineEvalError as exc:
        return UNDEFINED, [f"{rule} failed: {exc}"]


def _data_errors(engine: PolicyEngine) -> list[str]:
    errors, problems = _at_load(engine, DATA_ERRORS_RULE)
    if problems or errors is UNDEFINED:
        return problems
    if not isinstance(errors, list) or not all(isinstance(e, str) for e in errors):
        return [f"{DATA_ERRORS_RULE} must be a set of strings, got {errors!r}"]
    return [f"data refused by the policy: {error}" for error in sorted(errors)]


def clean_message(message: str) -> str:
    """An engine's error message on one line, without a trailing backtrace."""
    return " ".join(message.split("Stack backtrace:")[0].split())

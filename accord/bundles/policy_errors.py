"""Exceptions of the policy engine half of `accord.bundles` (engines, inputs, test runner).

Bundle format and signature errors live with the bundle code; these are about Rego: a policy
that does not load, an engine that is not installed, an evaluation that failed, an input
that breaks the evaluator contract.
"""

from __future__ import annotations

from accord.errors import AccordError


class PolicyEngineError(AccordError):
    """Base class of every policy-engine error."""


class EngineUnavailableError(PolicyEngineError):
    """The requested engine is unknown or its optional package is not installed."""


class PolicyLoadError(PolicyEngineError):
    """Modules or data were refused at load (parse error, conflict, non-deterministic builtin,
    data outside the evaluator contract)."""


class EngineEvalError(PolicyEngineError):
    """The engine raised while evaluating (conflicting values, builtin error, ...)."""


class InputError(PolicyEngineError):
    """A request does not fit the evaluator's input contract (see accord/policies/README.md)."""


class DataError(PolicyLoadError):
    """The data document breaks the evaluator contract (unsafe number, malformed amount)."""


class ContractError(PolicyLoadError):
    """A bundle breaks the decision contract (see `accord.bundles.contract`); `problems` has
    one line per problem, each naming its file and line or its data path."""

    def __init__(self, problems: list[str] | tuple[str, ...]) -> None:
        super().__init__("\n".join(dict.fromkeys(problems)))

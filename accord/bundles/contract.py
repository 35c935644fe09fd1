"""The decision contract: what every enclave checks when it loads a bundle, and what
`accord bundle build`, `bundle verify`, `policy test` and `accord up` check the same way
before anything is written or started.

A bundle meets the contract when
- every module parses and no module calls a builtin whose result differs between
  evaluators (`engine.nondeterministic_calls`);
- the policy defines `data.accord.decision`;
- the data fits the evaluator contract: safe integers, amounts as strings
  (`inputs.prepare_data`), and `data.principals.<id>.keys` an object of thumbprint -> JWK
  whose thumbprints match their keys, no key shared by two principals (`PrincipalIndex`);
- `data.accord.data_errors`, where the policy defines it, is empty.

Every problem found is listed (one line each, naming the file and line or the data path),
not only the first, so a policy author fixes them in one round.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from accord.bundles.engine import DEFAULT_ENGINE, PolicyEngine, engine_class
from accord.bundles.policy_errors import ContractError
from accord.bundles.principals import PrincipalIndex


@dataclass(frozen=True)
class DecisionPolicy:
    """A bundle's policy as an evaluator decides with it."""

    engine: PolicyEngine
    principals: PrincipalIndex


def load_decision_policy(modules: Mapping[str, str], data: Mapping[str, Any],
                         engine: str = DEFAULT_ENGINE) -> DecisionPolicy:  # fmt: skip
    """Check the contract and load the policy on `engine`. Raises ContractError listing
    every problem."""
    problems = PrincipalIndex.problems(data)
    loaded, engine_problems = engine_class(engine).load_problems(modules, data)
    problems.extend(engine_problems)
    if problems:
        raise ContractError(problems)
    return DecisionPolicy(loaded, PrincipalIndex(data))


def contract_problems(modules: Mapping[str, str], data: Mapping[str, Any], engine: str = DEFAULT_ENGINE) -> list[str]:
    """One line per problem; empty when the bundle meets the contract."""
    try:
        load_decision_policy(modules, data, engine)
    except ContractError as exc:
        return list(exc.problems)
    return []

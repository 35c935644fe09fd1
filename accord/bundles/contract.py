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
- `data.accord.data_errors`, where the policy defines it, is empty;
- `data.accord.derived`, where the policy defines it, is an object (it becomes
  `data.derived`), and the bundle's data has no `derived` member of its own.

`verify_published` runs all of it on a published bundle (fetch, strict verification under
the pinned keys, contract), for `accord bundle verify` and `accord up`.

Every problem found is listed (one line each, naming the file and line or the data path),
not only the first, so a policy author fixes them in one round.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from accord.bundles.engine import DEFAULT_ENGINE, PolicyEngine, engine_class
from accord.bundles.keys import fingerprint, load_public_keys
from accord.bundles.layout import read_tarball
from accord.bundles.policy_errors import ContractError
from accord.bundles.principals import PrincipalIndex
from accord.bundles.signatures import DEFAULT_SCOPE
from accord.bundles.sources import BundleSources, Fetcher
from accord.bundles.verify import TrustPolicy, VerifiedBundle, verify_bundle


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



def verify_published(sources: BundleSources, pins: Collection[str] = (), *, min_version: int = 1,
                     scope: str = DEFAULT_SCOPE, engines: Collection[str] = (DEFAULT_ENGINE,),
                     threshold: int = 1) -> VerifiedBundle:  # fmt: skip
    """What an enclave checks of a published bundle, done outside one: fetch the three
    sources, verify strictly under the pinned keys (`pins`, else the given key itself), then
    the decision contract on each of `engines`. Raises the specific BundleError or
    ContractError (EngineUnavailableError for an engine that is not installed)."""
    with Fetcher() as fetcher:
        fetched = fetcher.fetch_all(sources)
    keys = load_public_keys(fetched.public_key)
    trust = TrustPolicy(frozenset(pins or (fingerprint(k) for k in keys)), scope=scope, threshold=threshold)
    verified = verify_bundle(read_tarball(fetched.bundle), public_key=keys, trust=trust, signature=fetched.signature,
                             min_version=min_version)  # fmt: skip
    for engine in dict.fromkeys(engines):
        load_decision_policy(verified.modules, verified.data, engine)
    return verified

"""Engine diversity: each evaluator of a group may run another Rego engine (measured, in the
enclave configuration). A mixed group decides as a uniform one; where the engines disagree
(an engine bug), the odd enclave is named and no token exists."""

from __future__ import annotations

import json

import pytest

from accord.bundles.layout import bundle_from_files
from accord.bundles.opa_engine import opa_available
from accord.bundles.publish import publish
from accord.cluster.deployment import Deployment
from accord.enclave.configuration import EnclaveConfig, EnclaveConfigError, EvaluatorConfig
from accord.protocols import minting
from accord.protocols.minting import Status

MIXED = ("regorus", "opa", "regorus")
needs_opa = pytest.mark.skipif(not opa_available(), reason="needs `make opa`")


def test_engines_are_measured_and_checked():
    mixed = EnclaveConfig(("0" * 64,), evaluator=EvaluatorConfig(engines=MIXED))
    assert [mixed.evaluator.engine_of(i) for i in range(3)] == list(MIXED)
    assert EnclaveConfig(("0" * 64,)).evaluator.engine_of(1) == "regorus"
    assert EnclaveConfig.from_dict(mixed.to_dict()) == mixed
    assert mixed.digest() != EnclaveConfig(("0" * 64,)).digest()  # the host cannot swap an engine unnoticed
    with pytest.raises(EnclaveConfigError, match="one per member"):
        EnclaveConfig(("0" * 64,), evaluator=EvaluatorConfig(engines=("regorus", "opa")))
    with pytest.raises(EnclaveConfigError, match="'wasm' is not one of"):
        EvaluatorConfig(engines=("regorus", "wasm", "opa"))


@pytest.mark.parametrize("config", [{"engine": "regorus-rvm"}, {"engines": ("regorus-rvm",) * 3}])
def test_the_compiled_evaluator_never_decides_alone(config):
    """A group all on the RVM could turn one of its unsound answers into a token."""
    with pytest.raises(EnclaveConfigError, match="'regorus-rvm' may only run beside another engine"):
        EvaluatorConfig(**config)


@pytest.fixture(scope="module")
def mixed(scenario, tmp_path_factory) -> Deployment:
    return Deployment.in_process(state_dir=tmp_path_factory.mktemp("mixed"), bundle=scenario.publish(1),
                                 evaluator=EvaluatorConfig(engines=MIXED))  # fmt: skip


@pytest.mark.opa
@needs_opa
def test_a_mixed_group_decides_the_demo_requests_unanimously(mixed, scenario):
    engines = [ev.status()["engine"] for ev in mixed.handles.groups[0].evaluators]
    assert engines == list(MIXED)
    assert mixed.authorize(scenario.permit_request()).status is Status.PERMIT
    assert mixed.authorize(scenario.confirm_request()).status is Status.CONFIRM
    forbid = mixed.authorize(scenario.forbid_request())
    assert forbid.status is Status.FORBID and forbid.enclaves == ()


# Where regorus and OPA disagree (pinned in tests/policies/test_policy_divergences.py):
# `not <undefined> in set` holds in regorus 0.13 and not in OPA.
_DIVERGENT = """package accord

import rego.v1

default decision := {"decision": "forbid", "reasons": ["no rule permits this request"],
	"approvals": {"required": [], "missing": [], "satisfied": []}}

decision := {"decision": "permit", "reasons": ["engine quirk"],
	"approvals": {"required": [], "missing": [], "satisfied": []}} if {
	count({"e" | not input.nothing in {"a"}}) == 1
}
"""


def _authorize_on_quirk(scenario, directory, policy: str, engines: tuple[str, ...]):
    """One request to a fresh in-process deployment whose bundle is `policy` alone."""
    data = json.dumps({"principals": scenario.data["principals"]}).encode()
    quirk = publish(bundle_from_files([("policy.rego", policy.encode()), ("data.json", data)]), scenario.admin,
                    directory / "published", version=1)  # fmt: skip
    deployment = Deployment.in_process(state_dir=directory / "state", bundle=quirk,
                                       evaluator=EvaluatorConfig(engines=engines))  # fmt: skip
    return deployment.authorize(scenario.bob.signed_request("signMessage", "ops-wallet", {"message": "hi"}))


@pytest.mark.opa
@needs_opa
def test_an_engine_that_answers_otherwise_is_named_and_no_token_exists(scenario, tmp_path):
    result = _authorize_on_quirk(scenario, tmp_path / "quirk", _DIVERGENT, MIXED)
    assert result.status is Status.UNAVAILABLE and result.token is None
    assert result.code == minting.DIVERGENCE and result.enclaves == ("g0-e1-evaluator",)  # the OPA one


RVM_MIXED = ("regorus-rvm", "regorus-rvm", "regorus")

# Where the RVM answers otherwise (pinned in tests/policies/test_policy_divergences.py): an
# assignment from an undefined reference succeeds on it.
_RVM_DIVERGENT = """package accord

default decision := {"decision": "forbid", "reasons": ["no rule permits this request"],
	"approvals": {"required": [], "missing": [], "satisfied": []}}

decision := {"decision": "permit", "reasons": ["engine quirk"],
	"approvals": {"required": [], "missing": [], "satisfied": []}} if {
	nothing := input.nothing
}
"""


def test_a_group_with_the_compiled_evaluator_decides_and_names_its_divergence(scenario, tmp_path):
    deployment = Deployment.in_process(state_dir=tmp_path / "state", bundle=scenario.publish(1),
                                       evaluator=EvaluatorConfig(engines=RVM_MIXED))  # fmt: skip
    assert [ev.status()["engine"] for ev in deployment.handles.groups[0].evaluators] == list(RVM_MIXED)
    assert deployment.authorize(scenario.permit_request()).status is Status.PERMIT
    assert deployment.authorize(scenario.confirm_request()).status is Status.CONFIRM
    assert deployment.authorize(scenario.forbid_request()).status is Status.FORBID

    result = _authorize_on_quirk(scenario, tmp_path / "quirk", _RVM_DIVERGENT, RVM_MIXED)
    assert result.status is Status.UNAVAILABLE and result.token is None
    # The minority is named (here the interpreter, which is right): no token either way.
    assert result.code == minting.DIVERGENCE and result.enclaves == ("g0-e2-evaluator",)

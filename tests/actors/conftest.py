"""Fixtures for the actor-system tests that run without Ray: the same services in one
process (`Deployment.in_process`), over a bundle published from the policy library."""

from __future__ import annotations

import pytest

from accord.cluster.deployment import Deployment
from accord.scenario import Scenario, make_scenario


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> Scenario:
    return make_scenario(tmp_path_factory.mktemp("published"))


@pytest.fixture(scope="module")
def deployment(scenario, tmp_path_factory) -> Deployment:
    """One in-process deployment per test module (a DKG, sealed shares, bundle v1)."""
    return Deployment.in_process(state_dir=tmp_path_factory.mktemp("state"), bundle=scenario.publish(1))

"""One embedded Ray cluster and one deployment for the whole test session (tests marked
`ray`). Tests that break something restore it or use their own group of actors."""

from __future__ import annotations

import pytest

from accord.scenario import make_scenario


@pytest.fixture(scope="session")
def ray_scenario(tmp_path_factory):
    return make_scenario(tmp_path_factory.mktemp("ray-published"))


@pytest.fixture(scope="session")
def ray_deployment(ray_scenario, tmp_path_factory):
    import ray

    from accord.cluster.deployment import Deployment

    deployment = Deployment.start(state_dir=tmp_path_factory.mktemp("ray-state"), bundle=ray_scenario.publish(1),
                                  ray_options={"num_cpus": 2})  # fmt: skip
    yield deployment
    deployment.shutdown()
    ray.shutdown()

"""Shared test configuration.

Pure-logic tests never start Ray (tests/actors runs the services in one process). Tests
marked `ray` share one embedded Ray cluster and deployment per session (tests/cluster); tests
marked `multinode` or `standalone` start clusters of their own and run in a second pytest
process (see Makefile).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# No per-example deadline: the suite shares two cores with an embedded Ray cluster, and a
# slow example is not a failure. Example counts stay modest (tests set their own).
settings.register_profile("accord", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("accord")

VECTORS = Path(__file__).parent / "vectors"


@pytest.fixture(scope="session")
def vectors() -> Path:
    """Directory of the external conformance vectors copied into the repository."""
    return VECTORS

"""Shared test configuration.

Pure-logic tests never start Ray. Tests marked `ray` share one embedded Ray cluster per
session (fixture `ray_cluster` in tests/actors/conftest.py); tests marked `multinode` start
their own `ray.cluster_utils.Cluster` and run in a separate pytest process (see Makefile).
"""

from __future__ import annotations

from pathlib import Path

import pytest

VECTORS = Path(__file__).parent / "vectors"


@pytest.fixture(scope="session")
def vectors() -> Path:
    """Directory of the external conformance vectors copied into the repository."""
    return VECTORS

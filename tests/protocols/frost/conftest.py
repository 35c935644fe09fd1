"""Fixtures for the FROST tests: ready-made keys."""

from __future__ import annotations

import pytest

from accord.protocols.frost.local import run_dkg


@pytest.fixture(scope="session")
def keys_3of3():
    """(key packages, public key package) of a 3-of-3 DKG."""
    return run_dkg(3, 3)


@pytest.fixture(scope="session")
def keys_2of3():
    """(key packages, public key package) of a 2-of-3 DKG."""
    return run_dkg(3, 2)

"""Fixtures for the request-authentication protocol tests (pure logic, no Ray)."""

from __future__ import annotations

import pytest

from accord.protocols.jwk import KeyKind, SigningKey


@pytest.fixture(params=list(KeyKind), ids=lambda kind: kind.crv)
def key(request) -> SigningKey:
    """A fresh key of each kind in Accord's profile (Ed25519 and P-256)."""
    return SigningKey.generate(request.param)


@pytest.fixture
def other_key() -> SigningKey:
    return SigningKey.generate(KeyKind.ED25519)

"""Fixtures for bundle tests: administrator keys and a factory for signed bundles."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from bundle_fixtures import NOW, SOURCE_FILES, SignedBundle

from accord.bundles.build import build_bundle, sign_bundle
from accord.bundles.keys import fingerprint, generate_signing_key
from accord.bundles.layout import bundle_from_files, read_tarball
from accord.bundles.manifest import Revision
from accord.bundles.verify import TrustPolicy
from accord.protocols.jwk import SigningKey


@pytest.fixture(scope="session")
def admin_key() -> SigningKey:
    return generate_signing_key("Ed25519")


@pytest.fixture(scope="session")
def other_key() -> SigningKey:
    return generate_signing_key("Ed25519")


@pytest.fixture(scope="session")
def trust(admin_key: SigningKey) -> TrustPolicy:
    return TrustPolicy(frozenset({fingerprint(admin_key)}))


@pytest.fixture(scope="session")
def make_bundle(admin_key: SigningKey) -> Callable[..., SignedBundle]:
    """Build and sign a bundle from `files` (default: a small valid policy)."""

    def make(
        files: dict[str, bytes] | None = None,
        *,
        version: int = 1,
        expires: datetime = NOW + timedelta(days=30),
        key: SigningKey | None = None,
        scope: str = "write",
    ) -> SignedBundle:
        source = bundle_from_files((files or SOURCE_FILES).items())
        archive = build_bundle(source, Revision(version, expires), contract=False)  # layout and signatures only
        signer = key or admin_key
        signature = sign_bundle(read_tarball(archive), signer, iat=int(time.time()), scope=scope)
        return SignedBundle(archive, signature)

    return make

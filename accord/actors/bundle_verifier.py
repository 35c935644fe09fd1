"""The BundleVerifier service: fetches a bundle, its detached signature and the verifying
key from their three sources, verifies them (pinned key, rollback, expiry) and hands the
verified bytes on. It runs outside the enclaves: every evaluator verifies the same bytes
again inside its enclave before it activates them. Its own high-water mark (on the host)
refuses a rollback before any enclave is bothered.
"""

from __future__ import annotations

from dataclasses import dataclass

from accord.bundles.sources import BundleSources, Fetcher
from accord.bundles.store import ActiveBundleStore, FileHighWaterMark
from accord.bundles.verify import TrustPolicy
from accord.config.deployment import DeploymentConfig


@dataclass(frozen=True)
class VerifiedBytes:
    """What evaluators receive: the raw bytes (they verify again) and what was verified."""

    bundle: bytes
    signature: bytes | None
    public_key: bytes
    version: int
    digest: str


class BundleVerifier:
    def __init__(self, config: DeploymentConfig, ca_bundle: str | None = None) -> None:
        trust = TrustPolicy(frozenset(config.enclave.bundle_key_fingerprints), threshold=config.enclave.bundle_threshold)
        self._store = ActiveBundleStore(trust, high_water=FileHighWaterMark(config.root / "bundle-high-water.json"))
        self._fetcher = Fetcher(ca_bundle=ca_bundle)
        self._last: VerifiedBytes | None = None

    def fetch(self, sources: BundleSources) -> VerifiedBytes:
        """Fetch and verify; raises the specific BundleError (the active bundle stays). The
        very bytes it verified last are that result again (a poll of unchanged sources)."""
        fetched = self._fetcher.fetch_all(sources)
        last = self._last
        if last is not None and (last.bundle, last.signature, last.public_key) == (
                fetched.bundle, fetched.signature, fetched.public_key):  # fmt: skip
            return last
        verified = self._store.load(fetched.bundle, public_key=fetched.public_key, signature=fetched.signature)
        self._last = VerifiedBytes(fetched.bundle, fetched.signature, fetched.public_key, verified.version,
                                   verified.digest)  # fmt: skip
        return self._last

    def active(self) -> dict | None:
        bundle = self._store.active
        return None if bundle is None else {"version": bundle.version, "digest": bundle.digest}

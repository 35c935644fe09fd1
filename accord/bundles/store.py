"""The active bundle: the last good verified bundle, replaced only by a newer good one.

`ActiveBundleStore.load` verifies a candidate and activates it, or raises the specific
`BundleError` and leaves the active bundle exactly as it was. A candidate's version must be
strictly above both the active version and the persisted high-water mark, so neither an
attacker replaying an old bundle nor a restart can roll the policy back.

The high-water mark is pluggable: `FileHighWaterMark` keeps it in a local file (host storage:
it protects against accidental rollback over a restart; inside an enclave, back it with sealed
storage instead so the host cannot reset it).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from accord.atomic_file import write_atomic
from accord.bundles.errors import HighWaterMarkError, RollbackError
from accord.bundles.keys import load_public_keys
from accord.bundles.layout import DEFAULT_LIMITS, Limits, RawBundle, read_tarball
from accord.bundles.sources import BundleSources, Fetcher, SizeCaps
from accord.bundles.verify import TrustPolicy, VerifiedBundle, verify_bundle
from accord.protocols.jwk import PublicJwk


class HighWaterMark(Protocol):
    """Durable record of the highest version ever activated, with its digest."""

    def read(self) -> tuple[int, str | None]:
        """(highest activated version, its digest); (0, None) if none."""

    def write(self, version: int, digest: str) -> None:
        """Record `version` and its digest durably before activation."""


class FileHighWaterMark:
    """A high-water mark in a JSON file, replaced atomically (write, fsync, rename)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def read(self) -> tuple[int, str | None]:
        try:
            text = self.path.read_text("utf-8")
        except FileNotFoundError:
            return 0, None
        except OSError as exc:
            raise HighWaterMarkError(f"cannot read high-water mark {self.path}: {exc}") from exc
        try:
            record = json.loads(text)
            version, digest = record["version"], record["digest"]
        except (ValueError, TypeError, KeyError) as exc:
            raise HighWaterMarkError(f"high-water mark {self.path} is malformed") from exc
        if type(version) is not int or version < 0 or not isinstance(digest, str):
            raise HighWaterMarkError(f"high-water mark {self.path} holds no valid version and digest")
        return version, digest

    def write(self, version: int, digest: str) -> None:
        body = json.dumps({"version": version, "digest": digest}).encode()
        try:
            write_atomic(self.path, body, mode=0o600)
        except OSError as exc:
            raise HighWaterMarkError(f"cannot write high-water mark {self.path}: {exc}") from exc


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class ActiveBundleStore:
    """Holds the active `VerifiedBundle`; `load` is the only way to change it."""

    def __init__(
        self,
        trust: TrustPolicy,
        *,
        high_water: HighWaterMark | None = None,
        clock: Callable[[], datetime] = _utc_now,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.trust = trust
        self._high_water = high_water
        self._clock = clock
        self._limits = limits
        self._active: VerifiedBundle | None = None
        self._lock = threading.Lock()

    @property
    def active(self) -> VerifiedBundle | None:
        """The last bundle that passed every check, or None before the first."""
        return self._active

    def load(
        self,
        bundle: bytes | RawBundle,
        *,
        public_key: bytes | PublicJwk,
        signature: bytes | None = None,
        accept: Callable[[VerifiedBundle], None] | None = None,
    ) -> VerifiedBundle:
        """Verify `bundle` (a .tar.gz or an already read RawBundle) with the detached
        `signature` (or its embedded one) and the verifying `public_key` (JWK bytes), and
        activate it. `accept`, if given, is called with the verified bundle before it is
        activated (e.g. to load it into a policy engine); if it raises, so does `load`. On
        any failure the active bundle does not change."""
        with self._lock:
            verified = self._check(bundle, public_key=public_key, signature=signature)
            if accept is not None:
                accept(verified)
            return self._adopt(verified)

    def check(self, bundle: bytes | RawBundle, *, public_key: bytes | PublicJwk,
              signature: bytes | None = None) -> VerifiedBundle:  # fmt: skip
        """Every check of `load` (signature, pinned key, expiry, rollback), without
        activating: a bundle staged now and activated later by `adopt`."""
        with self._lock:
            return self._check(bundle, public_key=public_key, signature=signature)

    def adopt(self, verified: VerifiedBundle) -> VerifiedBundle:
        """Activate a bundle `check` passed, if it is still newer than the mark (the mark
        may have moved since) or is the active one already (then nothing changes)."""
        with self._lock:
            if self._active is not None and self._active.digest == verified.digest:
                return self._active
            mark, mark_digest = self._high_water.read() if self._high_water is not None else (0, None)
            floor = max(mark, self._active.version if self._active is not None else 0)
            reload = self._active is None and (verified.version, verified.digest) == (mark, mark_digest)
            if verified.version <= floor and not reload:
                raise RollbackError(f"version {verified.version} is not newer than version {floor}, activated since "
                                    "it was staged")  # fmt: skip
            return self._adopt(verified)

    def _check(self, bundle: bytes | RawBundle, *, public_key: bytes | PublicJwk,
               signature: bytes | None) -> VerifiedBundle:  # fmt: skip
        mark, mark_digest = self._high_water.read() if self._high_water is not None else (0, None)
        floor = max(mark, self._active.version if self._active is not None else 0)
        # After a restart the bundle last recorded may be activated again, exactly as it
        # was (same digest); any other bundle must have a higher version.
        reload = self._active is None and mark_digest is not None and floor == mark
        raw = bundle if isinstance(bundle, RawBundle) else read_tarball(bundle, self._limits)
        key = public_key if isinstance(public_key, PublicJwk) else load_public_keys(public_key)
        verified = verify_bundle(
            raw,
            public_key=key,
            trust=self.trust,
            signature=signature,
            min_version=floor if reload else floor + 1,
            now=self._clock(),
        )
        if verified.version == floor and verified.digest != mark_digest:
            raise RollbackError(
                f"version {floor} was already activated with digest {mark_digest}; this bundle has the same "
                f"version but digest {verified.digest}: a new revision needs a higher version"
            )
        return verified

    def _adopt(self, verified: VerifiedBundle) -> VerifiedBundle:
        # Persist first: a crash between the two leaves the mark ahead (safe side).
        if self._high_water is not None:
            self._high_water.write(verified.version, verified.digest)
        self._active = verified
        return verified

    def load_from(
        self, sources: BundleSources, fetcher: Fetcher, caps: SizeCaps = SizeCaps()
    ) -> VerifiedBundle:
        """Fetch from the three sources, then `load`."""
        fetched = fetcher.fetch_all(sources, caps)
        return self.load(fetched.bundle, public_key=fetched.public_key, signature=fetched.signature)

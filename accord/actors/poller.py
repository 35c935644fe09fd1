"""The BundlePoller service (`accord up --poll-interval S`), like OPA's bundle plugin: every
`interval` seconds it asks whether the bundle or its signature changed (a file's SHA-256;
an https source's ETag or Last-Modified, asked with If-None-Match / If-Modified-Since) and, when they did, activates the newer revision the way `accord bundle
activate` does: verified by every evaluator, switched at a batch boundary.

It is host-side and untrusted: it decides only when to try. Whatever it fetches is verified
by the BundleVerifier and again by every evaluator; an older, unsigned or foreign revision
is refused there. On any failure the running revision stays, and the failure is reported
(`status`, shown by `accord status`); the sources are tried again at the next poll.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from accord.actors.activation import activate_at_batch_boundary
from accord.actors.invoke import Invoker
from accord.bundles.sources import BundleSources, Fetcher

MIN_INTERVAL = 1.0


@dataclass(frozen=True)
class PolledGroup:
    evaluators: Sequence[Any]
    evaluator_ids: Sequence[str]


class BundlePoller:
    def __init__(self, sources: BundleSources, interval: float, verifier: Any, minter: Any,
                 groups: Sequence[PolledGroup], invoker: Invoker, *, start: bool = True) -> None:  # fmt: skip
        if not interval >= MIN_INTERVAL:
            raise ValueError(f"the poll interval is at least {MIN_INTERVAL} s, got {interval}")
        self._sources, self._interval = sources, float(interval)
        self._verifier, self._minter, self._groups, self._invoker = verifier, minter, list(groups), invoker
        self._fetcher = Fetcher()
        self._validators: dict[str, str | None] = {}
        self._lock = threading.Lock()
        self._last: dict[str, Any] | None = None
        self._last_activation: dict[str, Any] | None = None
        self._attempts = 0
        self._stop = threading.Event()
        if start:
            threading.Thread(target=self._run, name="accord-bundle-poller", daemon=True).start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.poll()

    def stop(self) -> None:
        self._stop.set()

    def poll(self) -> dict[str, Any]:
        """One attempt: check the sources, activate a newer revision. Never raises: the
        outcome (`unchanged`, `activated`, `failed` with the error) is returned and kept."""
        with self._lock:
            self._attempts += 1
            outcome: dict[str, Any] = {"at": int(time.time())}
            try:
                outcome.update(self._attempt())
            except Exception as exc:  # noqa: BLE001 - reported; the running revision stays
                outcome.update(result="failed", error=f"{type(exc).__name__}: {exc}")
            self._last = outcome
            if outcome["result"] == "activated":
                self._last_activation = outcome
            return outcome

    def _attempt(self) -> dict[str, Any]:
        urls = [u for u in (self._sources.bundle, self._sources.signature) if u is not None]
        seen = {url: self._fetcher.validator(url, self._validators.get(url)) for url in urls}
        if all(seen[u] is not None and seen[u] == self._validators.get(u) for u in urls):
            return {"result": "unchanged"}
        verified = self._invoker.call(self._verifier, "fetch", self._sources)
        statuses = self._invoker.gather([(ev, "status", ()) for g in self._groups for ev in g.evaluators])
        if {(s["bundle"] or {}).get("digest") for s in statuses} == {verified.digest}:
            self._validators.update(seen)
            return {"result": "unchanged", "version": verified.version}
        activation = activate_at_batch_boundary(self._invoker, self._minter, self._groups, verified)
        self._validators.update(seen)  # only after success: a failed attempt is retried next time
        return {"result": "activated", **activation.to_dict()}

    def status(self) -> dict[str, Any]:
        """The interval, the last attempt and the last activation."""
        return {"interval": self._interval, "sources": {"bundle": self._sources.bundle,
                "signature": self._sources.signature}, "attempts": self._attempts, "last": self._last,
                "last_activation": self._last_activation}  # fmt: skip

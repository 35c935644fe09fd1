"""How services call each other: directly in one process, or as Ray actor calls.

Accord's services (KeyShare, PolicyEvaluator, TokenMinter, Kms, BundleVerifier) are plain
classes. Deployed, each is a Ray actor and the handles they hold are actor handles; in the
fast tests they run in one process and hold each other directly. An `Invoker` hides the
difference, so the protocol code is the same in both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

Call = tuple[Any, str, tuple]


class Invoker(Protocol):
    def call(self, target: Any, method: str, *args: Any) -> Any:
        """Call `target.method(*args)` and wait for the result."""

    def submit(self, calls: Sequence[Call]) -> list[Any]:
        """Start every call, in order, without waiting; `settle` the returned handles."""

    def settle(self, pending: Sequence[Any]) -> list[Any | BaseException]:
        """Wait for submitted calls; each failure is returned in its place, not raised."""

    def gather(self, calls: Sequence[Call]) -> list[Any]:
        """Make every call (concurrently where possible) and return the results in order;
        the first failure is raised."""


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class DirectInvoker:
    """Services in the same process: plain method calls, one after the other."""

    def call(self, target: Any, method: str, *args: Any) -> Any:
        return getattr(target, method)(*args)

    def submit(self, calls: Sequence[Call]) -> list[Any]:
        done: list[Any] = []
        for target, method, args in calls:
            try:
                done.append(getattr(target, method)(*args))
            except Exception as exc:  # noqa: BLE001 - handed back by settle, as Ray would
                done.append(_Failed(exc))
        return done

    def settle(self, pending: Sequence[Any]) -> list[Any | BaseException]:
        return [p.error if isinstance(p, _Failed) else p for p in pending]

    def gather(self, calls: Sequence[Call]) -> list[Any]:
        return [getattr(target, method)(*args) for target, method, args in calls]


class RayInvoker:
    """Services as Ray actors: `.remote()` then `ray.get`, fanned out."""

    def __init__(self, timeout: float | None = 120.0) -> None:
        self.timeout = timeout

    def call(self, target: Any, method: str, *args: Any) -> Any:
        import ray

        try:
            return ray.get(getattr(target, method).remote(*args), timeout=self.timeout)
        except ray.exceptions.RayTaskError as exc:
            raise _cause(exc) from exc

    def submit(self, calls: Sequence[Call]) -> list[Any]:
        return [getattr(target, method).remote(*args) for target, method, args in calls]

    def settle(self, pending: Sequence[Any]) -> list[Any | BaseException]:
        import ray

        results: list[Any | BaseException] = []
        for ref in pending:
            try:
                results.append(ray.get(ref, timeout=self.timeout))
            except Exception as exc:  # noqa: BLE001 - actor died, timed out, or raised
                results.append(_cause(exc))
        return results

    def gather(self, calls: Sequence[Call]) -> list[Any]:
        import ray

        try:
            return ray.get(self.submit(calls), timeout=self.timeout)
        except ray.exceptions.RayTaskError as exc:
            raise _cause(exc) from exc


def _cause(exc: BaseException) -> BaseException:
    """What the actor raised, not Ray's wrapper around it (whose text holds the remote
    traceback): callers and messages see the service's own exception."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) and type(exc).__name__.startswith("RayTaskError") else exc

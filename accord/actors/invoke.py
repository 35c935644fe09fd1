"""How services call each other: directly in one process, or as Ray actor calls.

Accord's services (KeyShare, PolicyEvaluator, TokenMinter, Kms, BundleVerifier) are plain
classes. Deployed, each is a Ray actor and the handles they hold are actor handles; in the
fast tests they run in one process and hold each other directly. An `Invoker` hides the
difference, so the protocol code is the same in both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class Invoker(Protocol):
    def call(self, target: Any, method: str, *args: Any) -> Any:
        """Call `target.method(*args)` and wait for the result."""

    def gather(self, calls: Sequence[tuple[Any, str, tuple]]) -> list[Any]:
        """Make every call (concurrently where possible) and return the results in order.
        The first failure is raised."""

    def settle(self, calls: Sequence[tuple[Any, str, tuple]]) -> list[Any | BaseException]:
        """Like `gather`, but each failure is returned in its place instead of raised."""


class DirectInvoker:
    """Services in the same process: plain method calls, one after the other."""

    def call(self, target: Any, method: str, *args: Any) -> Any:
        return getattr(target, method)(*args)

    def gather(self, calls: Sequence[tuple[Any, str, tuple]]) -> list[Any]:
        return [getattr(target, method)(*args) for target, method, args in calls]

    def settle(self, calls: Sequence[tuple[Any, str, tuple]]) -> list[Any | BaseException]:
        results: list[Any | BaseException] = []
        for target, method, args in calls:
            try:
                results.append(getattr(target, method)(*args))
            except Exception as exc:  # noqa: BLE001 - returned to the caller, who names the service
                results.append(exc)
        return results


class RayInvoker:
    """Services as Ray actors: `.remote()` then `ray.get`, fanned out."""

    def __init__(self, timeout: float | None = 120.0) -> None:
        self.timeout = timeout

    def call(self, target: Any, method: str, *args: Any) -> Any:
        import ray

        return ray.get(getattr(target, method).remote(*args), timeout=self.timeout)

    def gather(self, calls: Sequence[tuple[Any, str, tuple]]) -> list[Any]:
        import ray

        refs = [getattr(target, method).remote(*args) for target, method, args in calls]
        return ray.get(refs, timeout=self.timeout)

    def settle(self, calls: Sequence[tuple[Any, str, tuple]]) -> list[Any | BaseException]:
        import ray

        refs = [getattr(target, method).remote(*args) for target, method, args in calls]
        results: list[Any | BaseException] = []
        for ref in refs:
            try:
                results.append(ray.get(ref, timeout=self.timeout))
            except Exception as exc:  # noqa: BLE001 - actor died, timed out, or raised
                results.append(exc)
        return results

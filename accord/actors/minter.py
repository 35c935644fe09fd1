"""The TokenMinter service: the coordinator (thin over MintCoordinator). Holds no secret.

For each batch of signed requests it picks a signing group (round robin), makes sure every
KeyShare of the group has handed it enough nonce commitments, sends the same tasks to the
group's evaluators in one call each, and combines their verdicts into results and tokens.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from accord.actors.invoke import Invoker
from accord.cluster.config import DeploymentConfig
from accord.enclave.signing_link import CommitmentBatch
from accord.protocols import minting
from accord.protocols.frost.identifier import Identifier
from accord.protocols.frost.keys import PublicKeyPackage
from accord.protocols.http_signatures import HttpRequest
from accord.protocols.jwk import PublicJwk, build_jwks
from accord.protocols.minting import AuthorizationResult, MintCoordinator, Status
from accord.protocols.pending import PendingRequests

REFILL = 256  # commitments fetched per KeyShare when a pool runs low


@dataclass
class _Group:
    index: int
    kid: str
    coordinator: MintCoordinator
    evaluators: list[Any]
    keyshares: list[Any]
    lock: threading.Lock


class TokenMinter:
    def __init__(self, config: DeploymentConfig, invoker: Invoker) -> None:
        self._config = config
        self._invoker = invoker
        self._groups: list[_Group] = []
        self._round_robin = itertools.count()
        self.pending = PendingRequests()

    def config(self) -> DeploymentConfig:
        return self._config

    def add_group(self, index: int, kid: str, public_key_package: bytes, enclaves: list[str],
                  evaluators: list[Any], keyshares: list[Any]) -> None:  # fmt: skip
        """Serve signing group `index`: its public key package and, per participant
        1..n in order, the enclave name, the evaluator and the KeyShare."""
        public = PublicKeyPackage.from_bytes(public_key_package)
        names = {Identifier(i + 1): name for i, name in enumerate(enclaves)}
        coordinator = MintCoordinator(public, names, token_ttl=self._config.token_ttl)
        group = _Group(index, kid, coordinator, list(evaluators), list(keyshares), threading.Lock())
        self._groups = [g for g in self._groups if g.index != index] + [group]

    def jwks(self) -> dict[str, Any]:
        """Every group's key (kid = RFC 7638 thumbprint)."""
        keys = [PublicJwk.from_dict(g.coordinator.public.verifying_key.to_jwk()) for g in self._groups]
        return build_jwks(keys)

    def groups(self) -> list[dict[str, Any]]:
        return [{"index": g.index, "kid": g.kid, "commitments": g.coordinator.available()} for g in self._groups]

    def authorize(self, requests: Sequence[HttpRequest]) -> list[AuthorizationResult]:
        """Decide a batch of signed requests; one result per request, in order."""
        if not requests:
            return []
        if not self._groups:
            return [AuthorizationResult(Status.UNAVAILABLE, "", code=minting.NOT_READY,
                                        message="no signing group is ready") for _ in requests]  # fmt: skip
        group = self._groups[next(self._round_robin) % len(self._groups)]
        with group.lock:
            try:
                self._refill(group, len(requests))
                tasks = group.coordinator.prepare(list(requests), int(time.time()))
            except Exception as exc:  # noqa: BLE001 - a KeyShare is down: no commitments, no tokens
                return [AuthorizationResult(Status.UNAVAILABLE, "", code=minting.NOT_READY,
                                            message=f"cannot get nonce commitments: {type(exc).__name__}: {exc}")
                        for _ in requests]  # fmt: skip
        answers = self._invoker.settle([(ev, "evaluate", (tasks,)) for ev in group.evaluators])
        names = list(group.coordinator.enclaves.values())
        per_task: list[list[minting.EnclaveVerdict]] = [[] for _ in tasks]
        for name, answer in zip(names, answers):
            if isinstance(answer, BaseException) or len(answer) != len(tasks):
                reason = f"{type(answer).__name__}: {answer}" if isinstance(answer, BaseException) else "wrong count"
                answer = [minting.EnclaveVerdict(name, Status.REJECTED, "", code=minting.NOT_READY,
                                                 message=f"evaluator failed: {reason}") for _ in tasks]  # fmt: skip
            for verdicts, verdict in zip(per_task, answer):
                verdicts.append(verdict)
        results = [group.coordinator.combine(task, verdicts) for task, verdicts in zip(tasks, per_task)]
        if any(r.code == minting.SIGNING_FAILED for r in results):
            with group.lock:  # a KeyShare restarted or refused: its old commitments are void
                for pool in group.coordinator.pools.values():
                    pool.void()
        self._note_pending(requests, results)
        return results

    def _refill(self, group: _Group, needed: int) -> None:
        coordinator = group.coordinator
        if coordinator.available() >= needed:
            return
        count = max(needed, REFILL)
        batches: list[CommitmentBatch] = self._invoker.gather([(ks, "commitments", (count,)) for ks in group.keyshares])
        for batch in batches:
            pool = coordinator.pools.get(Identifier(batch.identifier))
            if pool is None:
                raise minting.MintingError(f"KeyShare sent commitments as participant {batch.identifier}, unknown")
            pool.add(batch.epoch, batch.commitments)

    def _note_pending(self, requests: Sequence[HttpRequest], results: list[AuthorizationResult]) -> None:
        for request, result in zip(requests, results):
            if result.request_id is None:
                continue
            if result.status is Status.CONFIRM:
                body = _loose_json(request.body)
                self.pending.record(result.request_id, result.principal or "", str(body.get("action", "")),
                                    str(body.get("resource", "")), list(result.approvals.get("missing", [])))  # fmt: skip
            elif result.status is Status.PERMIT:
                self.pending.resolve(result.request_id)

    def request_status(self, request_id: str) -> dict[str, Any]:
        return self.pending.get(request_id).to_dict()

    def add_approval(self, request_id: str, approval: str) -> dict[str, Any]:
        return self.pending.add_approval(request_id, approval).to_dict()


def _loose_json(body: bytes) -> dict[str, Any]:
    import json

    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}

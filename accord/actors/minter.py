"""The TokenMinter service: the coordinator (thin over MintCoordinator). Holds no secret.

For each batch of signed requests it sends each request to the signing group that decides it
(`enclave.routing`: transfers to the group holding the ledger, the rest by signing key),
makes sure every KeyShare of the group has handed it enough nonce commitments, sends the
same tasks to the group's evaluators in one call each, with the group's next batch number,
and combines their verdicts into results and tokens.

It numbers each group's batches and never lets `iat` go back. An evaluator that answers
`state_behind` (it restarted, or its state was deleted or rolled back) is brought up to date
here, after the batch: the minter relays, between that evaluator and each of its peers, the
four steps of the attested state transfer (`EvaluatorCore.state_challenge` .. `import_state`);
the enclaves verify each other, the minter only carries bytes.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from accord.actors.invoke import Invoker
from accord.actors.stats import StageClock
from accord.config.deployment import DeploymentConfig
from accord.enclave.routing import route
from accord.enclave.signing_link import CommitmentBatch
from accord.protocols import minting
from accord.protocols.frost.identifier import Identifier
from accord.protocols.frost.keys import PublicKeyPackage
from accord.protocols.http_signatures import HttpRequest
from accord.protocols.jwk import PublicJwk, build_jwks
from accord.protocols.minting import AuthorizationResult, MintCoordinator, Status
from accord.protocols.pending import PendingRequests, PendingStoreFull

REFILL = 256  # commitments fetched per KeyShare when a pool runs low
PENDING_FILE = "pending.sqlite3"  # requests waiting for approvals (host-side, no secrets)


@dataclass(frozen=True)
class GroupSpec:
    """A signing group as the minter is told about it at start (and again on restart):
    per participant 1..n in order, the evaluator's enclave id, the evaluator and the KeyShare."""

    index: int
    evaluator_ids: tuple[str, ...]
    evaluators: tuple[Any, ...]
    keyshares: tuple[Any, ...]


@dataclass
class _Group:
    spec: GroupSpec
    kid: str
    coordinator: MintCoordinator
    lock: threading.Lock
    seq: int = 0  # the last batch number handed out
    iat: int = 0  # the last iat handed out
    retired: tuple[tuple[dict[str, Any], int], ...] = ()  # (public JWK, until): rotated-out keys every KeyShare lists
    key_since: int = 0  # when the group's key was made (its KeyShares say; for metrics)


class TokenMinter:
    """Holds nothing it cannot rebuild: after a restart it asks the KeyShares for the group
    keys again, and the commitments it held are simply gone."""

    def __init__(self, config: DeploymentConfig, invoker: Invoker, groups: Sequence[GroupSpec] = ()) -> None:
        self._config = config
        self._invoker = invoker
        self._specs = list(groups)
        self._groups: dict[int, _Group] = {}
        self._setup = threading.Lock()
        self.pending = PendingRequests(path=config.root / PENDING_FILE)
        self._stages = StageClock()

    def placement(self) -> dict[str, Any]:
        """Node and process (as a Ray actor only)."""
        from accord.actors.enclave_host import placement

        return placement()

    def stats(self) -> dict[str, dict[str, float]]:
        """CPU per stage (thread time): the coordinator's own cost, without waiting."""
        return self._stages.snapshot()

    def config(self) -> DeploymentConfig:
        return self._config

    def _ready(self) -> list[_Group]:
        """The groups that can sign: each built once its KeyShares report one group key."""
        with self._setup:
            for spec in self._specs:
                if spec.index not in self._groups:
                    group = self._build(spec)
                    if group is not None:
                        self._groups[spec.index] = group
            return [self._groups[i] for i in sorted(self._groups)]

    def _build(self, spec: GroupSpec) -> _Group | None:
        statuses = self._invoker.settle(self._invoker.submit([(ks, "status", ()) for ks in spec.keyshares]))
        packages = {s["public_key_package"] for s in statuses if isinstance(s, dict) and s["ready"]}
        if len(packages) != 1 or any(not isinstance(s, dict) or not s["ready"] for s in statuses):
            return None
        public = PublicKeyPackage.from_bytes(packages.pop())
        names = {Identifier(i + 1): name for i, name in enumerate(spec.evaluator_ids)}
        coordinator = MintCoordinator(public, names, token_ttl=self._config.token_ttl)
        group = _Group(spec, statuses[0]["kid"], coordinator, threading.Lock(), retired=_common_retired(statuses),
                       key_since=max(s.get("key_since", 0) for s in statuses))  # fmt: skip
        self._synchronize(group)
        return group

    # --- the group's state: sequence and catching up ---

    def _synchronize(self, group: _Group, behind: Sequence[int] | None = None) -> None:
        """Continue the group's sequence after the most advanced evaluator, and bring those
        behind it (or `behind`) up to date from their peers. Failures are left for the next
        batch to show (as `state_behind` answers)."""
        evaluators = group.spec.evaluators
        answers = self._invoker.settle(self._invoker.submit([(ev, "state_position", ()) for ev in evaluators]))
        positions = [a if isinstance(a, dict) else None for a in answers]
        known = [p for p in positions if p is not None]
        if known:
            group.seq = max(group.seq, *(p["seq"] for p in known))
            group.iat = max(group.iat, *(p["iat_high"] for p in known))
        lagging = set(behind or ()) | {i for i, p in enumerate(positions) if p is not None and p["seq"] < group.seq}
        for index in sorted(lagging):
            self._catch_up(group, index)

    def _catch_up(self, group: _Group, index: int) -> None:
        target = group.spec.evaluators[index]
        for k, peer in enumerate(group.spec.evaluators):
            if k == index:
                continue
            try:
                challenge = self._invoker.call(peer, "state_challenge")
                document, ours = self._invoker.call(target, "state_request", challenge)
                peer_document, envelope = self._invoker.call(peer, "export_state", document, challenge, ours)
                self._invoker.call(target, "import_state", peer_document, envelope, ours)
            except Exception:  # noqa: BLE001 - that peer is down or refused: try the next one
                continue

    def jwks(self) -> dict[str, Any]:
        """Every group's key (kid = RFC 7638 thumbprint), and keys rotated out whose tokens
        may still be valid (until then)."""
        now = time.time()
        keys = []
        for g in self._ready():
            keys.append(PublicJwk.from_dict(g.coordinator.public.verifying_key.to_jwk()))
            keys += [PublicJwk.from_dict(jwk) for jwk, until in g.retired if until > now]
        return build_jwks(keys)

    def groups(self) -> list[dict[str, Any]]:
        return [{"index": g.spec.index, "kid": g.kid, "commitments": g.coordinator.available(), "key_since": g.key_since}
                for g in self._ready()]  # fmt: skip

    def authorize(self, requests: Sequence[HttpRequest]) -> list[AuthorizationResult]:
        """Decide a batch of signed requests; one result per request, in order."""
        if not requests:
            return []
        groups = {g.spec.index: g for g in self._ready()}
        if not groups:
            return [AuthorizationResult(Status.UNAVAILABLE, "", code=minting.NOT_READY,
                                        message="no signing group is ready") for _ in requests]  # fmt: skip
        count = len(self._specs)
        by_group: dict[int, list[int]] = {}
        for position, request in enumerate(requests):
            by_group.setdefault(_route(request, count), []).append(position)
        results: list[AuthorizationResult | None] = [None] * len(requests)
        for index, positions in by_group.items():
            group = groups.get(index)
            batch = [requests[p] for p in positions]
            if group is None:
                answers = [AuthorizationResult(Status.UNAVAILABLE, "", code=minting.NOT_READY,
                                               message=f"signing group {index} is not ready") for _ in batch]  # fmt: skip
            else:
                answers = self._authorize_in(group, batch)
            for position, answer in zip(positions, answers):
                results[position] = answer
        return results

    def _authorize_in(self, group: _Group, requests: list[HttpRequest]) -> list[AuthorizationResult]:
        with group.lock:
            # The group key this batch is signed under: a rotation may replace the group's
            # coordinator while the batch is out, and its shares verify only under this one.
            coordinator = group.coordinator
            try:
                self._refill(group, len(requests))
                with self._stages.measure("prepare", len(requests)):
                    group.iat = max(group.iat, int(time.time()))  # iat never goes back
                    tasks = coordinator.prepare(requests, group.iat)
            except Exception as exc:  # noqa: BLE001 - a KeyShare is down: no commitments, no tokens
                return [AuthorizationResult(Status.UNAVAILABLE, "", code=minting.NOT_READY,
                                            message=f"cannot get nonce commitments: {type(exc).__name__}: {exc}")
                        for _ in requests]  # fmt: skip
            # Numbered and submitted under the lock: every evaluator of the group sees the
            # batches in the same order, so their group states evolve identically.
            group.seq += 1
            pending = self._invoker.submit([(ev, "evaluate", (tasks, group.seq)) for ev in group.spec.evaluators])
        answers = self._invoker.settle(pending)
        names = list(coordinator.enclaves.values())
        per_task: list[list[minting.EnclaveVerdict]] = [[] for _ in tasks]
        for name, answer in zip(names, answers):
            if isinstance(answer, BaseException) or len(answer) != len(tasks):
                reason = f"{type(answer).__name__}: {answer}" if isinstance(answer, BaseException) else "wrong count"
                answer = [minting.EnclaveVerdict(name, Status.REJECTED, "", code=minting.NOT_READY,
                                                 message=f"evaluator failed: {reason}") for _ in tasks]  # fmt: skip
            for verdicts, verdict in zip(per_task, answer):
                verdicts.append(verdict)
        with self._stages.measure("combine", len(tasks)):
            results = [coordinator.combine(task, verdicts) for task, verdicts in zip(tasks, per_task)]
        if any(r.code == minting.SIGNING_FAILED for r in results):
            with group.lock:  # a KeyShare restarted or refused: its old commitments are void
                for pool in group.coordinator.pools.values():
                    pool.void()
        behind = [i for i, answer in enumerate(answers) if isinstance(answer, BaseException)
                  or any(v.code == minting.STATE_BEHIND for v in answer)]  # fmt: skip
        if behind:
            with group.lock:
                self._synchronize(group, behind)
        self._note_pending(requests, results)
        return results

    def switch_bundle(self, digest: str) -> dict[int, dict[str, str | None]]:
        """Switch every signing group to the staged bundle `digest` at one batch of its
        sequence: numbered and submitted under the group's lock like any batch, so each
        evaluator applies it at the same point between the same batches. Returns, per
        group this coordinator runs, each evaluator's error (None: switched). Groups it does
        not run yet receive no batches: the caller activates their evaluators directly."""
        return self._switch("switch_bundle", digest)

    def switch_shares(self, retire_until: int | None = None) -> dict[int, dict[str, str | None]]:
        """Move every group this coordinator runs to its KeyShares' refreshed (or rotated)
        shares at one batch of its sequence (each evaluator tells its KeyShare), then take
        the group's new public key package. `retire_until`: after a rotation, until when
        the old key stays public (see `KeyShareCore.switch_share`). Errors as `switch_bundle`."""
        # Under the same hold of the group's lock as the switch batch: a batch numbered
        # after the switch is signed with the new shares, so it must meet the new package.
        return self._switch("switch_shares", retire_until, then=self._take_public_key)

    def _take_public_key(self, group: _Group) -> None:
        """The group's public key package after a share switch (the group's lock held)."""
        statuses = self._invoker.settle(self._invoker.submit([(ks, "status", ()) for ks in group.spec.keyshares]))
        packages = {s["public_key_package"] for s in statuses if isinstance(s, dict)}
        if len(packages) != 1 or None in packages:
            return  # not every KeyShare switched: the caller repairs, the next build takes it
        public = PublicKeyPackage.from_bytes(packages.pop())
        if public.verifying_key != group.coordinator.public.verifying_key:  # rotated: a new key signs
            group.kid = statuses[0]["kid"]
        # A new coordinator, not the old one changed: a batch still out when the group
        # switched combines under the package its shares were made with.
        old = group.coordinator
        group.coordinator = MintCoordinator(public, old.enclaves, token_ttl=self._config.token_ttl)
        group.coordinator.pools = old.pools  # nonces do not depend on the key
        group.retired = _common_retired(statuses)
        group.key_since = max(s.get("key_since", 0) for s in statuses)

    def _switch(self, method: str, *args: Any,
                then: Callable[[_Group], None] | None = None) -> dict[int, dict[str, str | None]]:  # fmt: skip
        out: dict[int, dict[str, str | None]] = {}
        for group in self._ready():
            with group.lock:
                group.seq += 1
                pending = self._invoker.submit([(ev, method, (group.seq, *args)) for ev in group.spec.evaluators])
                answers = self._invoker.settle(pending)
                if then is not None:
                    then(group)
            # One that failed keeps its place in the sequence: the caller repairs it, and the
            # next batch brings its state up to date.
            out[group.spec.index] = {name: (f"{type(a).__name__}: {a}" if isinstance(a, BaseException) else None)
                                     for name, a in zip(group.spec.evaluator_ids, answers)}  # fmt: skip
        return out

    def _refill(self, group: _Group, needed: int) -> None:
        coordinator = group.coordinator
        if coordinator.available() >= needed:
            return
        count = max(needed, REFILL)
        keyshares = group.spec.keyshares
        batches: list[CommitmentBatch] = self._invoker.gather([(ks, "commitments", (count,)) for ks in keyshares])
        for batch in batches:
            pool = coordinator.pools.get(Identifier(batch.identifier))
            if pool is None:
                raise minting.MintingError(f"KeyShare sent commitments as participant {batch.identifier}, unknown")
            pool.add(batch.epoch, batch.commitments)
        # Each KeyShare takes its peers' signed batches once, so that it need not decode
        # their points in every signing package. Best effort: one that misses them (down,
        # restarted, refused) validates those points as they come, as it would anyway.
        self._invoker.settle(self._invoker.submit([
            (ks, "peer_commitments", ([b for b in batches if b.identifier != own.identifier],))
            for ks, own in zip(keyshares, batches)]))  # fmt: skip

    def _note_pending(self, requests: Sequence[HttpRequest], results: list[AuthorizationResult]) -> None:
        for request, result in zip(requests, results):
            if result.request_id is None:
                continue
            if result.status is Status.CONFIRM:
                body = _loose_json(request.body)
                try:
                    self.pending.record(result.request_id, result.principal or "", str(body.get("action", "")),
                                        str(body.get("resource", "")), list(result.approvals.get("missing", [])))  # fmt: skip
                except PendingStoreFull:
                    continue  # that request cannot collect approvals here; the others are unaffected
            elif result.status is Status.PERMIT:
                self.pending.resolve(result.request_id)

    def request_status(self, request_id: str) -> dict[str, Any]:
        return self.pending.get(request_id).to_dict()

    def add_approval(self, request_id: str, approval: str) -> dict[str, Any]:
        return self.pending.add_approval(request_id, approval).to_dict()


def _common_retired(statuses: Sequence[Any]) -> tuple[tuple[dict[str, Any], int], ...]:
    """The retired keys every KeyShare of a group lists (their statements are what the
    evaluators attest; one KeyShare's say-so does not put a key in the JWKS)."""
    lists = [{(r["jwk"], r["until"]) for r in s.get("retired", ())} if isinstance(s, dict) else set() for s in statuses]
    common = set.intersection(*lists) if lists else set()
    return tuple((json.loads(jwk), until) for jwk, until in sorted(common))


def _route(request: HttpRequest, groups: int) -> int:
    """The group that decides `request` (the enclaves refuse any other: see `routing`)."""
    if groups == 1:
        return 0
    body = _loose_json(request.body)
    jkt = _keyid(request)
    return route(body.get("action"), body.get("payload"), jkt, groups) if jkt else 0


def _keyid(request: HttpRequest) -> str:
    """The `keyid` the request says it is signed with (unverified: only for routing)."""
    from accord.protocols.signature_profile import precheck_request

    try:
        return precheck_request(request, now=int(time.time()), skew=10**9).keyid
    except Exception:  # noqa: BLE001 - a malformed request: any group refuses it
        return ""


def _loose_json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}

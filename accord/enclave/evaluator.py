"""A policy evaluator inside an enclave (pure: the PolicyEvaluator actor only relays).

Its parameters (issuer, audience, skews, lifetimes, origins, engine) come from the measured
configuration (`EnclaveConfig.evaluator`), and its group key only from its own KeyShare's
attested statement (`group_key.accept_statement`): the host relays both, it chooses neither.

For each MintTask the evaluator, trusting nothing the host says except the request bytes:

1. checks the coordinator's `iat` against its own clock (allowed skew) and the token lifetime,
   and refuses to decide at all once the active bundle has expired at `iat`;
2. verifies the principal's RFC 9421 signature itself, against the key the signed bundle
   gives that principal, at time `iat`, and records the nonce in its replay cache;
3. parses the request, verifies the approvals (signed by other principals' keys over the
   same request hash), and builds the policy input deterministically (`bundles.inputs`);
4. evaluates the active bundle's `data.accord.decision`;
5. on a permit, builds the token claims and the JWS signing input itself and asks its own
   KeyShare (in one signed batch) for a FROST signature share over exactly those bytes.

Every evaluator of a group does the same on the same tasks, so honest evaluators produce
identical verdicts and their shares combine; a divergent one cannot make a token.

The history decisions read (replay nonces, spending, the `iat` high-water mark, consumed
approvals) is the group's replicated state (`group_state`): batches arrive with a sequence
number and are applied only in order; the state digest a batch was decided on is part of
every verdict; each batch is made durable (`state_log`, one fsync) before any share for it
is asked for; a restarted or rolled-back evaluator takes its peers' more advanced state
(`state_challenge` .. `import_state`, over an attested channel) before it decides again.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import cbor2

from accord.bundles.contract import DecisionPolicy, load_decision_policy
from accord.bundles.engine import PolicyEngine
from accord.bundles.inputs import prepare_input
from accord.bundles.policy_errors import InputError
from accord.bundles.principals import PrincipalIndex
from accord.bundles.store import ActiveBundleStore
from accord.bundles.verify import VerifiedBundle
from accord.enclave.configuration import EvaluatorConfig, Role, keyshare_id
from accord.enclave.decision_log import DecisionLog, DecisionLogError, LoggedRequest
from accord.enclave.group_key import AcceptedGroupKey, GroupKeyNotAttested, GroupKeyStatement, accept_statement
from accord.enclave.group_state import ApprovalsFull, GroupState, GroupStateError
from accord.enclave.platform.enclave import Enclave
from accord.enclave.platform.errors import EnclaveConfigError, EnclaveError
from accord.enclave.routing import route
from accord.enclave.signing_link import ShareResult, SignRequest, request_digest
from accord.enclave.state_log import StateLog
from accord.protocols import minting
from accord.protocols.approvals import verify_approval
from accord.protocols.auth_errors import (
    ApprovalError,
    AuthorizationRequestError,
    JwsError,
    ReplayError,
    SignatureError,
    UnknownKey,
)
from accord.protocols.authz_request import AuthorizationRequest, parse_authorization_request
from accord.protocols.http_signatures import VerifiedSignature
from accord.protocols.signature_profile import verify_request
from accord.protocols.minting import EnclaveVerdict, MintTask, Status
from accord.protocols.secret import SecretBytes, SecretLeakError
from accord.protocols.tokens import TokenClaims, signing_input, token_header

AUTHORIZE_PATH = "/v1/authorize"
STATUS_CLAIM = "accord-evaluator-status-v3"  # v3: with the retired kids
STATE_MESSAGE = "accord-group-state"
_SYNC_LABEL = b"accord-group-state-sync-v1"
MAX_SYNC_CHALLENGES = 8


class SwitchError(EnclaveError):
    """This evaluator cannot apply the group's switch batch (a bundle not staged, not the
    next batch, state not durable): it keeps its bundle and its group state does not move."""


@dataclass(frozen=True)
class BundleStatus:
    version: int
    digest: str
    expires: str


@dataclass(frozen=True)
class Evaluation:
    """The verdicts of one batch; the permits among them (`pending`, by index) still need
    the shares of `sign_request`, which goes to this host's KeyShare."""

    verdicts: tuple[EnclaveVerdict, ...]
    pending: tuple[int, ...] = ()
    sign_request: SignRequest | None = None


@dataclass(frozen=True, slots=True)
class _Authenticated:
    """What a task's signed request proves by itself, without the group state: its verified
    signature and parsed body, or the rejection (code, message) where one of them fails."""

    signature: VerifiedSignature | None = None
    body: AuthorizationRequest | None = None
    code: str = ""
    message: str = ""


class EvaluatorCore:
    """One enclave's evaluator: active bundle and engine, replay cache, spending history."""

    def __init__(self, enclave: Enclave, store: ActiveBundleStore, *, clock: Callable[[], float] = time.time,
                 state_log: StateLog | None = None, decision_log: DecisionLog | None = None) -> None:  # fmt: skip
        member = enclave.config.member(enclave.enclave_id)
        if member.role is not Role.EVALUATOR:
            raise EnclaveConfigError(f"{enclave.enclave_id!r} is configured as a {member.role.value}, not an evaluator")
        self.enclave = enclave
        self.group = member.group
        self._keyshare_id = keyshare_id(member.group, member.index)
        self.config: EvaluatorConfig = enclave.config.evaluator
        self.engine = self.config.engine_of(member.index)
        self._store = store
        self._clock = clock
        self._engine: PolicyEngine | None = None
        self._principals: PrincipalIndex | None = None
        self._log = state_log
        self._decisions = decision_log
        self.state_notes: list[str] = []
        if state_log is None:
            self.state = GroupState(signature_skew=self.config.signature_skew)
        else:
            self.state, self.state_notes = state_log.load(signature_skew=self.config.signature_skew)
        self._broken: str | None = None  # why the state may not be durable: decide nothing more
        self._exports: dict[bytes, None] = {}  # outstanding state_challenge nonces
        self._imports: dict[bytes, bytes] = {}  # our state_request challenge -> the peer's
        self._group_key: AcceptedGroupKey | None = None
        self._kid: str | None = None
        self._token_header = b""
        self._pair_nonce: bytes | None = None
        self._staged: tuple[VerifiedBundle, DecisionPolicy] | None = None

    # --- the group key, from this host's KeyShare ---

    def pairing_challenge(self) -> bytes:
        """A fresh nonce the KeyShare's statement of its group key must carry."""
        self._pair_nonce = os.urandom(32)
        return self._pair_nonce

    def accept_group_key(self, statement: GroupKeyStatement) -> str:
        """Verify this host's KeyShare's statement (see `group_key.accept_statement`) and
        sign tokens under its kid from now on; returns the kid. On failure the previous
        key stays and GroupKeyNotAttested (or GroupShapeMismatch) says why."""
        nonce, self._pair_nonce = self._pair_nonce, None
        if nonce is None:
            raise GroupKeyNotAttested("no pairing challenge is outstanding (pairing_challenge first)")
        accepted = accept_statement(self.enclave, statement, nonce=nonce, keyshare_id=self._keyshare_id, group=self.group)
        self._group_key = accepted
        self._set_kid(accepted.kid)
        return accepted.kid

    def _set_kid(self, kid: str) -> None:
        self._kid = kid
        self._token_header = token_header(kid)

    @property
    def keyshare_epoch(self) -> str | None:
        """The epoch of the KeyShare instance that made the accepted statement."""
        return self._group_key.epoch if self._group_key else None

    def activate(self, bundle: bytes, *, signature: bytes, public_key: bytes) -> BundleStatus:
        """Verify a bundle inside the enclave (pinned key, rollback, expiry), load it into a
        fresh engine, and only then make it active. On failure the last good one stays."""
        loaded: list[DecisionPolicy] = []

        def load_engine(verified: VerifiedBundle) -> None:
            loaded.append(load_decision_policy(verified.modules, verified.data, self.engine))

        self._store.load(bundle, public_key=public_key, signature=signature, accept=load_engine)
        self._engine, self._principals = loaded[0].engine, loaded[0].principals
        active = self._store.active
        if self.state.note_bundle(active.version, active.digest) and self._log is not None:
            self._log.append_bundle(active.version, active.digest, self.state)
        return self.bundle_status()

    def stage(self, bundle: bytes, *, signature: bytes | None, public_key: bytes) -> BundleStatus:
        """Every check of `activate` (pinned key, rollback, expiry, decision contract on this
        enclave's engine), without activating: the bundle waits until `switch_bundle`, which
        the whole group applies at the same batch of its sequence. A later stage replaces it."""
        verified = self._store.check(bundle, public_key=public_key, signature=signature)
        self._staged = (verified, load_decision_policy(verified.modules, verified.data, self.engine))
        return BundleStatus(verified.version, verified.digest, verified.revision.expires.isoformat())

    def switch_bundle(self, seq: int, digest: str) -> BundleStatus:
        """Batch `seq` of the group's sequence, deciding no request: activate the staged
        bundle `digest` (or keep it, if it is already active). Every evaluator of the group
        switches at the same point of the sequence, so each request is decided under the
        same bundle by all of them. Raises SwitchError, and nothing changes, when this
        evaluator cannot."""
        self._expect_switch(seq)
        active = self._store.active
        if active is None or active.digest != digest:
            if self._staged is None or self._staged[0].digest != digest:
                raise SwitchError(f"bundle {digest[:16]}... is not staged in this enclave")
            verified, policy = self._staged
            self._store.adopt(verified)
            self._engine, self._principals, self._staged = policy.engine, policy.principals, None
        self._switch_batch(seq)
        return self.bundle_status()

    def switch_shares(self, seq: int) -> None:
        """Batch `seq` of the group's sequence, deciding no request, at which this host's
        KeyShare moves to its refreshed share (the actor tells it next): every KeyShare of
        the group then changes shares between the same two batches."""
        self._expect_switch(seq)
        self._switch_batch(seq)

    def _expect_switch(self, seq: int) -> None:
        if self._broken or not self.state.expects(seq):
            raise SwitchError(self._broken or f"batch {seq} is not the next one: this enclave's group state is at "
                              f"batch {self.state.seq}")  # fmt: skip

    def _switch_batch(self, seq: int) -> None:
        state = self.state
        state.begin(seq)
        effects = state.commit()
        try:
            if self._log is not None:
                self._log.append_batch(effects, state)
            if self._decisions is not None:
                self._decisions.append_batch(seq, (), (), self._kid)
            active = self._store.active
            if active is not None and state.note_bundle(active.version, active.digest) and self._log is not None:
                self._log.append_bundle(active.version, active.digest, state)
        except (OSError, DecisionLogError) as exc:
            self._broken = f"group state not durable ({type(exc).__name__}: {exc}); restart this enclave"
            raise SwitchError(self._broken) from exc

    def bundle_status(self) -> BundleStatus | None:
        active = self._store.active
        if active is None:
            return None
        return BundleStatus(active.version, active.digest, active.revision.expires.isoformat())

    def attestation(self, nonce: bytes | None = None) -> bytes:
        """An attestation document for clients: `public_key` is the identity key, `user_data`
        CBOR [STATUS_CLAIM, deployment, group, enclave id, group kid, group binding digest,
        active bundle digest, [[retired kid, until], ...]], so a client that verifies it
        (root, PCRs, its nonce) learns which group key, bound to which members, and which
        policy this attested code signs with, and can trust the JWKS entry with that kid
        (and those of keys rotated out, until their tokens expire) once every evaluator of
        the group says the same."""
        status = self.bundle_status()
        binding = self._group_key.binding.digest() if self._group_key else ""
        retired = [[r.kid, r.until] for r in self._group_key.retired] if self._group_key else []
        fields = [STATUS_CLAIM, self.enclave.config.deployment, self.group, self.enclave.enclave_id, self._kid or "",
                  binding, status.digest if status else "", retired]  # fmt: skip
        return self.enclave.attest(nonce=nonce, public_key=self.enclave.identity_public_key(),
                                   user_data=cbor2.dumps(fields))  # fmt: skip

    # --- evaluation ---

    def evaluate(self, tasks: Sequence[MintTask], seq: int) -> Evaluation:
        """Decide every task of batch `seq` (the next of this group's sequence, else every
        task is refused `state_behind` and nothing changes), make the batch durable, and
        return the permits without a share, with the signed request for this host's
        KeyShare (`complete` attaches its answer)."""
        keyshare_epoch = self.keyshare_epoch or ""
        state = self.state
        if self._broken or not state.expects(seq):
            why = self._broken or (f"batch {seq} is not the next one: this enclave's group state is at batch "
                                   f"{state.seq}; it catches up from its peers")  # fmt: skip
            code = minting.NOT_READY if self._broken else minting.STATE_BEHIND
            bundle = self._store.active.digest if self._store.active is not None else ""
            return Evaluation(tuple(EnclaveVerdict(self.enclave.enclave_id, Status.REJECTED, bundle, code=code,
                                                   message=why, state=state.digest.hex()) for _ in tasks))  # fmt: skip
        # Every request's signature and body first, for the whole batch: neither reads the
        # group state, and one pass of each keeps its code and tables in cache (about 8 % of
        # an evaluator's time per request, benchmarks/RESULTS.md).
        authenticated = [self._authenticate(task) for task in tasks]
        decided_on = state.digest.hex()
        state.begin(seq)
        decided = [self._decide(task, proof, decided_on) for task, proof in zip(tasks, authenticated)]
        verdicts = tuple(verdict for verdict, _ in decided)
        effects = state.commit()
        try:
            if self._log is not None:
                self._log.append_batch(effects, state)
            if self._decisions is not None:
                self._decisions.append_batch(seq, tasks, verdicts, self._kid, [logged for _, logged in decided])
        except (OSError, DecisionLogError) as exc:
            # In memory the batch counted, on disk it did not: release nothing, decide no more.
            self._broken = f"group state or decision log not durable ({type(exc).__name__}: {exc}); restart this enclave"
            return Evaluation(tuple(replace(v, status=Status.REJECTED, code=minting.NOT_READY, message=self._broken,
                                            signing_input=None) for v in verdicts))  # fmt: skip
        pending = tuple(i for i, v in enumerate(verdicts) if v.status is Status.PERMIT)
        if not pending:
            return Evaluation(verdicts)
        packages = tuple(tasks[i].signing_package(verdicts[i].signing_input) for i in pending)
        evaluator_id = self.enclave.enclave_id
        digest = request_digest(evaluator_id, keyshare_epoch, packages)
        request = SignRequest(evaluator_id, keyshare_epoch, packages, self.enclave.identity_sign(digest))
        return Evaluation(verdicts, pending, request)

    @staticmethod
    def complete(evaluation: Evaluation, results: Sequence[ShareResult] | None,
                 failure: str | None = None) -> list[EnclaveVerdict]:  # fmt: skip
        """Attach the KeyShare's shares (or why there are none) to the permits."""
        if results is not None and len(results) != len(evaluation.pending):
            failure, results = f"KeyShare answered {len(results)} of {len(evaluation.pending)} packages", None
        out = list(evaluation.verdicts)
        for k, index in enumerate(evaluation.pending):
            result = results[k] if results is not None else ShareResult(error=failure or "KeyShare unavailable")
            if result.ok:
                out[index] = replace(out[index], share=result.share)
            else:
                out[index] = replace(out[index], signing_error=result.error or "no share")
        return out

    def _authenticate(self, task: MintTask) -> _Authenticated:
        """Verify `task`'s RFC 9421 signature at its `iat` against the active bundle's keys
        (the nonce is recorded later, in order) and parse its body."""
        if self._principals is None:
            return _Authenticated()  # no active bundle: `_decide` refuses the task first
        try:
            signature = verify_request(task.request, resolve_key=self._principals.resolve_key, now=task.iat,
                                       skew=self.config.signature_skew)  # fmt: skip
        except UnknownKey as exc:
            return _Authenticated(code=minting.UNKNOWN_KEY, message=str(exc))
        except SignatureError as exc:
            return _Authenticated(code=minting.BAD_SIGNATURE, message=f"{type(exc).__name__}: {exc}")
        try:
            body = parse_authorization_request(task.request.body)
        except AuthorizationRequestError as exc:
            return _Authenticated(signature, code=minting.MALFORMED, message=f"{type(exc).__name__}: {exc}")
        return _Authenticated(signature, body)

    def _decide(self, task: MintTask, proof: _Authenticated,
                decided_on: str) -> tuple[EnclaveVerdict, LoggedRequest | None]:  # fmt: skip
        """This enclave's verdict on `task` (`proof`: what `_authenticate` found), decided on
        the group state of digest `decided_on`, and what the decision log names of the
        request once its body is parsed (None before)."""
        active = self._store.active
        bundle = active.digest if active is not None else ""
        enclave = self.enclave.enclave_id
        logged: LoggedRequest | None = None

        def rejected(code: str, message: str, **extra: Any) -> tuple[EnclaveVerdict, LoggedRequest | None]:
            return EnclaveVerdict(enclave, Status.REJECTED, bundle, code=code, message=message, state=decided_on,
                                  **extra), logged  # fmt: skip

        now = int(self._clock())
        if abs(task.iat - now) > self.config.clock_skew:
            return rejected(minting.CLOCK_SKEW, f"iat {task.iat} is {task.iat - now:+d} s from this enclave's clock")
        if not 0 < task.exp - task.iat <= self.config.max_token_lifetime:
            return rejected(minting.MALFORMED, f"token lifetime {task.exp - task.iat} s is outside 1..{self.config.max_token_lifetime}")
        if self._engine is None or self._principals is None or self._kid is None:
            return rejected(minting.NOT_READY, "no active bundle or group key in this enclave yet")
        if active.version < self.state.bundle_version:
            return rejected(minting.NOT_READY, f"bundle version {active.version} is active but the group already "
                            f"ran version {self.state.bundle_version}; activate that or a newer one")  # fmt: skip
        if task.iat < self.state.iat_high:
            return rejected(minting.OUT_OF_ORDER, f"iat {task.iat} is below the group's high-water mark "
                            f"{self.state.iat_high}: time never goes back")  # fmt: skip
        expires = active.revision.expires
        if task.iat >= expires.timestamp():
            return rejected(minting.BUNDLE_EXPIRED, f"bundle version {active.revision.version} expired at "
                            f"{expires.isoformat()}; this enclave decides nothing until a newer one is activated")  # fmt: skip
        request = task.request
        target = urlsplit(request.url)
        if request.method != "POST" or target.path != AUTHORIZE_PATH:
            return rejected(minting.MALFORMED, f"signed request is {request.method} {target.path}, not POST {AUTHORIZE_PATH}")
        origin = f"{target.scheme}://{target.netloc}"
        if self.config.public_origins and origin not in self.config.public_origins:
            return rejected(minting.MALFORMED, f"request was signed for {origin}, not for {list(self.config.public_origins)}")
        signature, body = proof.signature, proof.body
        if signature is None:
            return rejected(proof.code, proof.message)
        principal = self._principals.get(signature.jkt).principal
        if body is None:
            return rejected(proof.code, proof.message, principal=principal)
        logged = LoggedRequest.of_request(body)
        groups = self.enclave.config.groups
        owner = route(body.action, body.payload, signature.jkt, groups)
        if owner != self.group:
            return rejected(minting.WRONG_GROUP, f"this request is decided by signing group {owner} (it holds the "
                            f"spending ledger, or this key's history), not by group {self.group}", principal=principal)  # fmt: skip
        try:
            self.state.record_nonce(signature.jkt, signature.nonce, created=signature.created,
                                    expires=signature.expires, now=task.iat)  # fmt: skip
        except ReplayError as exc:
            return rejected(minting.REPLAY, f"{type(exc).__name__}: {exc}", principal=principal)
        self.state.observe_iat(task.iat)
        request_hash = body.request_hash(signature.jkt)
        approvers, used, ignored = self._approvers(body.approvals, request_hash, principal, task.iat)
        decided = dict(principal=principal, request_hash=request_hash)
        try:
            prepared = prepare_input({
                "request": {"action": body.action, "resource": body.resource, "payload": body.payload},
                "principal": principal, "key": signature.jkt, "time": task.iat, "request_hash": request_hash,
                "approvals": approvers, "history": self.state.ledger,
            })  # fmt: skip
        except InputError as exc:
            return EnclaveVerdict(enclave, Status.FORBID, bundle, reasons=(f"invalid request: {exc}",),
                                  state=decided_on, **decided), logged  # fmt: skip
        decision = self._engine.decide(prepared)
        verdict = EnclaveVerdict(
            enclave, Status(decision.decision.value), bundle, reasons=decision.reasons + ignored,
            approvals=MappingProxyType(decision.approvals.to_dict()), state=decided_on, **decided,
        )  # fmt: skip
        if verdict.status is not Status.PERMIT:
            return verdict, logged
        claims = TokenClaims(
            iss=self.config.issuer, sub=principal, aud=self.config.audience, iat=task.iat, exp=task.exp,
            jti=task.jti, cnf_jkt=signature.jkt, request_hash=request_hash, bundle=bundle,
            action=body.action, resource=body.resource,
        )  # fmt: skip
        try:
            # The approvals that made this a permit authorize no other token.
            self.state.consume_approvals(used, task.iat + self.config.approval_max_age)
        except ApprovalsFull as exc:
            return rejected(minting.NOT_READY, str(exc), principal=principal)
        if prepared.transfer is not None:
            # Counted at the permit, before the token is aggregated: a failed aggregation errs
            # on the side of the limit.
            self.state.record_transfer(prepared.transfer)
        return replace(verdict, signing_input=signing_input(self._token_header, claims)), logged

    def _approvers(self, tokens: Sequence[str], request_hash: str, principal: str,
                   now: int) -> tuple[list[str], list[str], tuple[str, ...]]:  # fmt: skip
        """The principals whose approvals of `request_hash` verify, the digests of those
        approvals, and a note for each one that does not count. Anyone can file an approval
        for a pending request, so a bad one is ignored rather than spoiling the good ones; a
        principal cannot approve itself; an approval that already made a permit is spent."""
        approvers: set[str] = set()
        used: list[str] = []
        ignored: list[str] = []
        for position, token in enumerate(tokens):
            digest = hashlib.sha256(token.encode()).hexdigest()
            if self.state.approval_used(digest):
                ignored.append(f"approval {position} ignored: it was already used by an earlier permit")
                continue
            try:
                approval = verify_approval(token, request_hash=request_hash, resolve_key=self._principals.resolve_key,
                                           now=now, max_age=self.config.approval_max_age)  # fmt: skip
            except (ApprovalError, JwsError) as exc:
                ignored.append(f"approval {position} ignored: {type(exc).__name__}: {exc}")
                continue
            approver = self._principals.get(approval.approver_key).principal
            if approver == principal:
                ignored.append(f"approval {position} ignored: {approver} cannot approve its own request")
            else:
                approvers.add(approver)
                used.append(digest)
        return sorted(approvers), used, tuple(ignored)

    # --- group state from peers ---

    def state_position(self) -> dict[str, Any]:
        """Where this enclave's group state is (public)."""
        seq, digest = self.state.position()
        return {"seq": seq, "digest": digest, "bundle_version": self.state.bundle_version,
                "iat_high": self.state.iat_high, "notes": list(self.state_notes), "broken": self._broken}  # fmt: skip

    def state_challenge(self) -> bytes:
        """Step 1 (on the peer that exports): a fresh nonce the requester's document carries."""
        challenge = os.urandom(32)
        self._exports[challenge] = None
        while len(self._exports) > MAX_SYNC_CHALLENGES:
            self._exports.pop(next(iter(self._exports)))
        return challenge

    def state_request(self, peer_challenge: bytes) -> tuple[bytes, bytes]:
        """Step 2 (on the enclave that catches up): our identity document for the exporting
        peer (nonce: its challenge) and our own fresh challenge for its answer."""
        if not isinstance(peer_challenge, bytes) or len(peer_challenge) != 32:
            raise GroupStateError("a state challenge is 32 bytes")
        ours = os.urandom(32)
        self._imports[ours] = peer_challenge
        while len(self._imports) > MAX_SYNC_CHALLENGES:
            self._imports.pop(next(iter(self._imports)))
        return self.enclave.identity_document(peer_challenge), ours

    def export_state(self, document: bytes, peer_challenge: bytes, requester_challenge: bytes) -> tuple[bytes, bytes]:
        """Step 3 (exporter): verify the requester (an evaluator of our group, same code, our
        challenge) and send it our whole state over an attested, encrypted channel."""
        if peer_challenge not in self._exports:
            raise GroupStateError("no such state challenge is outstanding")
        del self._exports[peer_challenge]
        requester = self._sync_peer(document, peer_challenge)
        channel = self.enclave.channel(requester, _sync_session(peer_challenge, requester_challenge))
        envelope = channel.seal(STATE_MESSAGE, SecretBytes(self.state.snapshot(), "group state"))
        return self.enclave.identity_document(requester_challenge), envelope

    def import_state(self, document: bytes, envelope: bytes, challenge: bytes) -> dict[str, Any]:
        """Step 4 (requester): verify the exporter, open its state, and adopt it if it is
        further along our group's sequence than ours (a peer at our batch with another
        digest is a fork: refused and named). The bundle mark only ever rises. The adopted
        state is made durable before anything is decided on it."""
        peer_challenge = self._imports.pop(challenge, None)
        if peer_challenge is None:
            raise GroupStateError("no such state request is outstanding")
        exporter = self._sync_peer(document, challenge)
        channel = self.enclave.channel(exporter, _sync_session(peer_challenge, challenge))
        secret = channel.open_sealed(envelope, STATE_MESSAGE)
        try:
            theirs = GroupState.from_snapshot(secret.reveal(), signature_skew=self.config.signature_skew)
        finally:
            secret.wipe()
        ours = self.state
        if theirs.seq == ours.seq and theirs.digest != ours.digest:
            raise GroupStateError(f"{exporter.enclave_id} holds another state at batch {ours.seq} "
                                  f"({theirs.digest.hex()[:16]} vs {ours.digest.hex()[:16]}): the group has forked")  # fmt: skip
        adopted = theirs.seq > ours.seq
        if adopted:
            theirs.note_bundle(ours.bundle_version, ours.bundle_digest)
            self.state = theirs
        elif not self.state.note_bundle(theirs.bundle_version, theirs.bundle_digest):
            return {"adopted": False, "from": exporter.enclave_id, **self.state_position()}
        if self._log is not None:
            self._log.write_snapshot(self.state)
        if adopted and self._decisions is not None:
            self._decisions.note_sync(ours.seq, theirs.seq)  # these batches were decided without us
        self._broken = None
        return {"adopted": adopted, "from": exporter.enclave_id, **self.state_position()}

    def _sync_peer(self, document: bytes, nonce: bytes):
        peer = self.enclave.verify_peer(document, nonce=nonce)
        try:
            member = self.enclave.config.member(peer.enclave_id)
        except EnclaveConfigError as exc:
            raise GroupStateError(f"state peer {peer.enclave_id!r}: {exc}") from None
        if member.role is not Role.EVALUATOR or member.group != self.group or peer.enclave_id == self.enclave.enclave_id:
            raise GroupStateError(f"{peer.enclave_id!r} is not another evaluator of group {self.group}")
        return peer

    def __repr__(self) -> str:
        status = self.bundle_status()
        return f"<EvaluatorCore {self.enclave.enclave_id}: bundle {status.version if status else None}>"

    def __reduce__(self):
        raise SecretLeakError("an evaluator holds its enclave's identity key and must not be pickled")


def _sync_session(exporter_challenge: bytes, requester_challenge: bytes) -> bytes:
    return hashlib.sha256(_SYNC_LABEL + exporter_challenge + requester_challenge).digest()

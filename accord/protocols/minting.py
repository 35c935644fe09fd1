"""The token minter's protocol: what crosses between the coordinator and the evaluators, and
the coordinator's logic (pure: the TokenMinter actor is a shell around `MintCoordinator`).

The coordinator is untrusted and holds no secret. Per request it assigns `iat`, `exp` and
`jti`, picks one unused nonce commitment per signer, and sends the same `MintTask` to every
evaluator of the group. Each evaluator answers with an `EnclaveVerdict`: its decision, and on
a permit the token signing input it built itself plus its KeyShare's signature share. The
coordinator combines them: unanimous verdicts give a result, a permit gives a token once the
shares aggregate, and anything else names the enclaves that diverged. A divergent permit
cannot be turned into a token by a dishonest coordinator either: shares over different
claims do not aggregate into a valid signature.
"""

from __future__ import annotations

import enum
import os
import struct
from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from accord.errors import AccordError
from accord.protocols.frost.aggregate import aggregate_with_group_commitment
from accord.protocols.frost.errors import FrostError, InvalidSignatureShare
from accord.protocols.frost.identifier import Identifier
from accord.protocols.frost.keys import PublicKeyPackage
from accord.protocols.frost.round2 import SignatureShare
from accord.protocols.frost.signing_package import SigningPackage
from accord.protocols.http_signatures import HttpRequest
from accord.protocols.jwk import b64url_encode
from accord.protocols.tokens import assemble

COMMITMENT_SIZE = 64
_ENTRY = 32 + COMMITMENT_SIZE  # identifier || D || E


class MintingError(AccordError):
    """The coordinator cannot serve a request (no commitments, bad configuration)."""


class OutOfCommitments(MintingError):
    """A signer's commitment pool is empty; refill it from its KeyShare."""


class Status(enum.Enum):
    """The outcome of one authorization request."""

    PERMIT = "permit"  # token issued
    FORBID = "forbid"  # the policy said no
    CONFIRM = "confirm"  # permitted once the missing approvals are given
    REJECTED = "rejected"  # the request itself is bad (signature, replay, malformed): client's fault
    UNAVAILABLE = "unavailable"  # the enclaves could not reach a unanimous, signed decision


# Error codes an evaluator reports for a rejected request, and the coordinator for failures.
BAD_SIGNATURE = "bad_signature"
REPLAY = "replay"
MALFORMED = "malformed"
UNKNOWN_KEY = "unknown_key"
BAD_APPROVAL = "bad_approval"
CLOCK_SKEW = "clock_skew"
NOT_READY = "not_ready"
BUNDLE_EXPIRED = "bundle_expired"
OUT_OF_ORDER = "out_of_order"  # an iat below the group's high-water mark
STATE_BEHIND = "state_behind"  # a batch that is not the next one of the evaluator's group state
WRONG_GROUP = "wrong_group"
SIGNING_FAILED = "signing_failed"
DIVERGENCE = "divergence"


@dataclass(frozen=True)
class MintTask:
    """One request as every evaluator of the group receives it.

    `commitments`: the signing package's commitment list without the message, n:u16 ||
    n * (identifier || hiding || binding), one unused commitment per signer.
    """

    request: HttpRequest
    iat: int
    exp: int
    jti: str
    commitments: bytes

    def signing_package(self, message: bytes) -> bytes:
        """`SigningPackage.to_bytes()` for `message` (commitment list then message)."""
        return self.commitments + message


@dataclass(frozen=True)
class EnclaveVerdict:
    """One evaluator's answer to a MintTask (public: no secret).

    `status` is PERMIT/FORBID/CONFIRM for a decided request or REJECTED (with `code`) for a
    request the evaluator refused to evaluate. On PERMIT, `signing_input` is the token's
    JWS signing input the evaluator built and `share` its KeyShare's R || z_i over it
    (absent if the KeyShare refused or failed: `signing_error` says why; signing is not
    part of the decision the evaluators must agree on).
    """

    enclave: str
    status: Status
    bundle: str
    code: str = ""
    message: str = ""
    principal: str | None = None
    request_hash: str | None = None
    reasons: tuple[str, ...] = ()
    approvals: Mapping[str, Any] = field(default_factory=dict)
    signing_input: bytes | None = None
    share: bytes | None = None
    signing_error: str = ""
    state: str = ""  # digest of the group state the batch was decided on (hex)

    def agreement_key(self) -> tuple:
        """What every honest evaluator computes identically for the same task (the group
        state included: an evaluator whose history differs is divergent even where its
        answer happens to match)."""
        approvals = tuple(sorted((k, repr(v)) for k, v in self.approvals.items()))
        return (self.status, self.code, self.bundle, self.principal, self.request_hash, self.reasons, approvals,
                self.signing_input, self.state)  # fmt: skip


@dataclass(frozen=True)
class Divergence:
    """Enclaves whose verdict differed from the majority (or all, when there is none)."""

    enclaves: tuple[str, ...]
    detail: str


@dataclass(frozen=True)
class AuthorizationResult:
    """What the caller of `authorize` gets back."""

    status: Status
    jti: str
    token: str | None = None
    request_id: str | None = None  # the request hash: approvals are given for it
    principal: str | None = None
    reasons: tuple[str, ...] = ()
    approvals: Mapping[str, Any] = field(default_factory=dict)
    code: str = ""
    message: str = ""
    enclaves: tuple[str, ...] = ()  # the enclaves a failure is attributed to

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"decision": self.status.value, "jti": self.jti}
        for name in ("token", "request_id", "principal"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.reasons:
            out["reasons"] = list(self.reasons)
        if self.approvals:
            out["approvals"] = dict(self.approvals)
        if self.code:
            out["error"] = {"code": self.code, "message": self.message, "enclaves": list(self.enclaves)}
        return out


def encode_commitment_list(entries: Mapping[Identifier, bytes]) -> bytes:
    """The commitment list of a signing package (see MintTask.commitments)."""
    ordered = sorted(entries)
    return struct.pack(">H", len(ordered)) + b"".join(i.to_bytes() + entries[i] for i in ordered)


class CommitmentPool:
    """Unused commitments of one signer (one KeyShare instance, named by its epoch)."""

    def __init__(self, identifier: Identifier) -> None:
        self.identifier = identifier
        self.epoch: str | None = None
        self._queue: deque[bytes] = deque()

    def add(self, epoch: str, batch: bytes) -> None:
        """Add a KeyShare's batch. A batch from a new epoch (the KeyShare restarted) voids
        everything held from the old one. The coordinator does not validate the points: it
        only relays them, every signer validates its peers' commitments itself."""
        if len(batch) % COMMITMENT_SIZE:
            raise MintingError(f"a commitment batch is a multiple of {COMMITMENT_SIZE} bytes, got {len(batch)}")
        if epoch != self.epoch:
            self._queue.clear()
            self.epoch = epoch
        self._queue.extend(batch[k : k + COMMITMENT_SIZE] for k in range(0, len(batch), COMMITMENT_SIZE))

    def void(self) -> None:
        """Forget every commitment (their KeyShare restarted or refused them)."""
        self._queue.clear()
        self.epoch = None

    def take(self) -> bytes:
        try:
            return self._queue.popleft()
        except IndexError:
            raise OutOfCommitments(f"no unused commitments from signer {self.identifier.value}") from None

    def __len__(self) -> int:
        return len(self._queue)


class MintCoordinator:
    """The TokenMinter's logic for one signing group."""

    def __init__(self, public: PublicKeyPackage, enclaves: Mapping[Identifier, str], *, token_ttl: int = 300) -> None:
        if set(enclaves) != set(public.verifying_shares):
            raise MintingError("every participant of the group key needs exactly one enclave")
        if len(enclaves) != public.min_signers:
            # Accord's rule is unanimity: every enclave must agree, so n == t.
            raise MintingError(f"Accord signs n-of-n: {len(enclaves)} enclaves but threshold {public.min_signers}")
        if not 1 <= token_ttl <= 86400:
            raise MintingError(f"token lifetime must be 1..86400 s, got {token_ttl}")
        self.public = public
        self.enclaves = dict(enclaves)
        self.token_ttl = token_ttl
        self.pools = {i: CommitmentPool(i) for i in enclaves}

    def available(self) -> int:
        """How many requests the pools can serve right now."""
        return min(len(p) for p in self.pools.values())

    def prepare(self, requests: Sequence[HttpRequest], now: int) -> list[MintTask]:
        """One MintTask per request: fresh jti, iat = now, one commitment per signer."""
        if self.available() < len(requests):
            short = [i.value for i, p in self.pools.items() if len(p) < len(requests)]
            raise OutOfCommitments(f"signers {short} have fewer than {len(requests)} unused commitments")
        return [
            MintTask(
                request=request,
                iat=now,
                exp=now + self.token_ttl,
                jti=b64url_encode(os.urandom(16)),
                commitments=encode_commitment_list({i: p.take() for i, p in self.pools.items()}),
            )
            for request in requests
        ]

    def combine(self, task: MintTask, verdicts: Sequence[EnclaveVerdict]) -> AuthorizationResult:
        """Turn the evaluators' verdicts on one task into the result (and the token)."""
        divergence = find_divergence(verdicts, expected=self.enclaves.values())
        if divergence is not None:
            return AuthorizationResult(Status.UNAVAILABLE, task.jti, code=DIVERGENCE, message=divergence.detail,
                                       enclaves=divergence.enclaves)  # fmt: skip
        first = verdicts[0]
        common = dict(jti=task.jti, request_id=first.request_hash, principal=first.principal, reasons=first.reasons,
                      approvals=first.approvals)  # fmt: skip
        if first.status is Status.REJECTED:
            return AuthorizationResult(Status.REJECTED, code=first.code, message=first.message, **common)
        if first.status is not Status.PERMIT:
            return AuthorizationResult(first.status, **common)
        unsigned = [v for v in verdicts if v.share is None]
        if unsigned:
            return AuthorizationResult(
                Status.UNAVAILABLE, code=SIGNING_FAILED, enclaves=tuple(v.enclave for v in unsigned),
                message="; ".join(f"{v.enclave}: {v.signing_error or 'no signature share'}" for v in unsigned), **common,
            )  # fmt: skip
        try:
            token = self._aggregate(task, first.signing_input, verdicts)
        except _Culprits as exc:
            return AuthorizationResult(Status.UNAVAILABLE, code=SIGNING_FAILED, message=str(exc),
                                       enclaves=exc.enclaves, **common)  # fmt: skip
        return AuthorizationResult(Status.PERMIT, token=token, **common)

    def _aggregate(self, task: MintTask, signing_input: bytes, verdicts: Sequence[EnclaveVerdict]) -> str:
        by_enclave = {enclave: identifier for identifier, enclave in self.enclaves.items()}
        reported = {v.enclave: v.share for v in verdicts}
        commitments = Counter(share[:32] for share in reported.values())
        if len(commitments) != 1:
            majority = commitments.most_common(1)[0][0]
            odd = tuple(sorted(e for e, share in reported.items() if share[:32] != majority))
            raise _Culprits(odd, f"enclaves {list(odd)} computed another group commitment than the others")
        try:
            shares = {by_enclave[e]: SignatureShare.from_bytes(share[32:]) for e, share in reported.items()}
            signature = aggregate_with_group_commitment(
                signing_input, next(iter(commitments)), shares, self.public,
                lambda: SigningPackage.from_bytes(task.signing_package(signing_input)),
            )  # fmt: skip
        except InvalidSignatureShare as exc:
            culprits = tuple(sorted(self.enclaves[i] for i in exc.culprits))
            raise _Culprits(culprits, f"signature shares of {list(culprits)} do not verify") from exc
        except FrostError as exc:
            raise _Culprits(tuple(sorted(reported)), f"aggregation failed: {type(exc).__name__}: {exc}") from exc
        return assemble(signing_input, signature)


class _Culprits(Exception):
    def __init__(self, enclaves: tuple[str, ...], message: str) -> None:
        super().__init__(message)
        self.enclaves = enclaves


def find_divergence(verdicts: Sequence[EnclaveVerdict], *, expected: Iterable[str]) -> Divergence | None:
    """None when every expected enclave answered exactly once and all agree; otherwise who
    diverged: the enclaves outside the strict majority, or all of them if there is none."""
    expected = sorted(expected)
    answered = sorted(v.enclave for v in verdicts)
    if answered != expected:
        missing = sorted(set(expected) - set(answered))
        return Divergence(tuple(missing or answered), f"verdicts from {answered}, expected one from each of {expected}")
    keys = Counter(v.agreement_key() for v in verdicts)
    if len(keys) == 1:
        return None
    key, count = keys.most_common(1)[0]
    if count * 2 > len(verdicts):
        odd = [v for v in verdicts if v.agreement_key() != key]
        reference = next(v for v in verdicts if v.agreement_key() == key)
    else:
        odd, reference = list(verdicts), None
    detail = "; ".join(_describe(v, reference) for v in odd)
    return Divergence(tuple(sorted(v.enclave for v in odd)), f"enclaves disagree: {detail}")


def _describe(verdict: EnclaveVerdict, reference: EnclaveVerdict | None) -> str:
    own = f"{verdict.enclave} says {verdict.status.value}"
    if verdict.code:
        own += f" ({verdict.code}: {verdict.message})"
    if reference is None:
        return own
    differs = [name for name, a, b in zip(
        ("status", "code", "bundle", "principal", "request_hash", "reasons", "approvals", "claims"),
        verdict.agreement_key(), reference.agreement_key(),
    ) if a != b]  # fmt: skip
    if "bundle" in differs:
        own += f", bundle {verdict.bundle[:16]} vs {reference.bundle[:16]}"
    return f"{own}; differs from the majority in {', '.join(differs)}"

"""Approvals: a further principal's signed consent to one authorization request.

An approval is a compact JWS (RFC 7515) signed by the approver's own key, `EdDSA` for
Ed25519 or `ES256` for P-256, with header `{"alg", "kid": <approver jkt>, "typ":
"accord-approval+jwt"}` (canonical JSON) and the canonical JSON claims

    {"approver_key": <approver jkt>, "decision": "approve", "iat": <int>, "request_hash": ...}

`request_hash` is `AuthorizationRequest.request_hash(principal jkt)`, so an approval names
exactly one principal's request and survives resubmission with new nonces.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from accord.protocols import canonical_json
from accord.protocols.auth_errors import (
    ApprovalExpired,
    ApprovalForOtherRequest,
    ApprovalFromFuture,
    ApprovalKeyMismatch,
    DuplicateApproval,
    MalformedApproval,
    MalformedJws,
    UnknownJwsKey,
)
from accord.protocols.jwk import PublicJwk, SigningKey
from accord.protocols.jws_profile import check_algorithm, json_object, parse_compact, sign_compact, verify_compact

APPROVAL_TYPE = "accord-approval+jwt"
DECISION = "approve"
_CLAIMS = {"approver_key": str, "iat": int, "request_hash": str}
_OPTIONAL_CLAIMS = {"decision": str}


@dataclass(frozen=True)
class Approval:
    """A verified approval: `approver_key` (jkt) approved `request_hash` at `iat`."""

    request_hash: str
    approver_key: str
    iat: int


def create_approval(key: SigningKey, request_hash: str, *, iat: int) -> str:
    """Sign an approval of `request_hash` with the approver's `key`; return the compact JWS."""
    header = {"alg": key.public.jws_alg, "kid": key.thumbprint, "typ": APPROVAL_TYPE}
    claims = {"approver_key": key.thumbprint, "decision": DECISION, "iat": iat, "request_hash": request_hash}
    return sign_compact(header, canonical_json.dumps(claims), key)


def _claims(payload: bytes) -> dict:
    claims = json_object(payload, "approval claims", MalformedApproval)
    unknown = sorted(set(claims) - set(_CLAIMS) - set(_OPTIONAL_CLAIMS))
    if unknown:
        raise MalformedApproval(f"approval has unknown claims {unknown}")
    missing = [name for name in _CLAIMS if name not in claims]
    if missing:
        raise MalformedApproval(f"approval lacks the claims {missing}")
    for name, kind in {**_CLAIMS, **_OPTIONAL_CLAIMS}.items():
        if name in claims and type(claims[name]) is not kind:
            raise MalformedApproval(f"approval claim {name!r} must be {kind.__name__}")
    if claims.get("decision", DECISION) != DECISION:
        raise MalformedApproval(f"approval decision must be {DECISION!r}, got {claims['decision']!r}")
    return claims


def verify_approval(
    token: str,
    *,
    request_hash: str,
    resolve_key: Callable[[str], PublicJwk | None],
    now: int,
    max_age: int,
    skew: int = 30,
) -> Approval:
    """Verify one approval for `request_hash` at time `now`; return who approved.

    The key comes from `resolve_key(kid)` (the approver's thumbprint); its thumbprint, the
    `kid` and the `approver_key` claim must all agree. Raises JwsError or ApprovalError.
    """
    parts = parse_compact(token)
    check_algorithm(parts.header)  # refuse none/HS* before resolving any key
    kid = parts.header.get("kid")
    if parts.header.get("typ") != APPROVAL_TYPE:
        raise MalformedJws(f"approval header typ must be {APPROVAL_TYPE!r}, got {parts.header.get('typ')!r}")
    if not isinstance(kid, str):
        raise MalformedJws("approval header has no string 'kid'")
    key = resolve_key(kid)
    if key is None or key.thumbprint != kid:
        raise UnknownJwsKey(f"no approver key is known for kid {kid!r}")
    claims = _claims(verify_compact(token, key).payload)
    if claims["approver_key"] != kid:
        raise ApprovalKeyMismatch(f"approval claims approver {claims['approver_key']!r} but was signed by {kid!r}")
    if claims["request_hash"] != request_hash:
        raise ApprovalForOtherRequest(f"approval is for request {claims['request_hash']!r}, not {request_hash!r}")
    if claims["iat"] > now + skew:
        raise ApprovalFromFuture(f"approval iat {claims['iat']} is after now ({now}) plus skew {skew}")
    if now - claims["iat"] > max_age:
        raise ApprovalExpired(f"approval is {now - claims['iat']} s old; at most {max_age} s allowed")
    return Approval(request_hash=request_hash, approver_key=kid, iat=claims["iat"])


def verify_approvals(
    tokens: Iterable[str],
    *,
    request_hash: str,
    resolve_key: Callable[[str], PublicJwk | None],
    now: int,
    max_age: int,
    skew: int = 30,
) -> tuple[Approval, ...]:
    """Verify every approval (all must pass); one approval per approver key."""
    approvals: list[Approval] = []
    for token in tokens:
        approval = verify_approval(
            token, request_hash=request_hash, resolve_key=resolve_key, now=now, max_age=max_age, skew=skew
        )
        if any(a.approver_key == approval.approver_key for a in approvals):
            raise DuplicateApproval(f"approver {approval.approver_key} appears twice")
        approvals.append(approval)
    return tuple(approvals)

"""What the HTTP API answers, as types: decisions, pending requests, and the client's errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from accord.errors import AccordError
from accord.protocols.minting import Status


class ClientError(AccordError):
    """The client could not get an answer it can use."""


class ApiError(ClientError):
    """The server answered something that is not the HTTP API's documented JSON."""

    def __init__(self, status: int, message: str, *, code: str | None = None) -> None:
        super().__init__(f"HTTP {status}{f' {code}' if code else ''}: {message}")
        self.status, self.code = status, code


class DecisionError(ClientError):
    """The request got a decision other than permit (`result` holds it)."""

    def __init__(self, result: AuthorizeResult) -> None:
        detail = result.error.message if result.error else "; ".join(result.reasons)
        super().__init__(f"{result.decision.value} (HTTP {result.http_status}): {detail}")
        self.result = result


class Forbidden(DecisionError):
    """The policy forbids the request."""


class ApprovalsRequired(DecisionError):
    """The request needs approvals (`result.request_id`, `result.missing`)."""


class RequestRejected(DecisionError):
    """The request itself was refused: bad signature, unknown key, replay, malformed."""


class DecisionUnavailable(DecisionError):
    """The enclaves could not reach a unanimous, signed decision (retry later)."""


class ApprovalsTimeout(ClientError):
    """The approvals a pending request needs did not arrive in time."""


@dataclass(frozen=True)
class ErrorInfo:
    code: str
    message: str
    enclaves: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuthorizeResult:
    """The answer of `POST /v1/authorize`, mirroring its JSON body."""

    decision: Status
    http_status: int
    token: str | None = None
    jti: str | None = None
    request_id: str | None = None
    principal: str | None = None
    reasons: tuple[str, ...] = ()
    approvals: Mapping[str, Any] = field(default_factory=dict)
    error: ErrorInfo | None = None
    body: Mapping[str, Any] = field(default_factory=dict, repr=False)  # the JSON as received

    @property
    def permitted(self) -> bool:
        return self.decision is Status.PERMIT and self.token is not None

    @property
    def missing(self) -> list[dict[str, Any]]:
        """The approvals still missing (for a confirm), as the policy lists them."""
        return list(self.approvals.get("missing", []))

    def raise_for_decision(self) -> AuthorizeResult:
        """Return self on a permit; raise the matching DecisionError otherwise."""
        if self.permitted:
            return self
        error = {Status.FORBID: Forbidden, Status.CONFIRM: ApprovalsRequired, Status.REJECTED: RequestRejected}
        raise error.get(self.decision, DecisionUnavailable)(self)

    @classmethod
    def from_response(cls, status: int, body: Any) -> AuthorizeResult:
        """Parse the JSON body of a /v1/authorize response."""
        if not isinstance(body, Mapping):
            raise ApiError(status, f"expected a JSON object, got {type(body).__name__}")
        try:
            error = body.get("error")
            return cls(
                decision=Status(body["decision"]), http_status=status, token=body.get("token"), jti=body.get("jti"),
                request_id=body.get("request_id"), principal=body.get("principal"),
                reasons=tuple(body.get("reasons", ())), approvals=dict(body.get("approvals", {})),
                error=None if error is None else ErrorInfo(error["code"], error["message"],
                                                           tuple(error.get("enclaves", ()))),
                body=dict(body),
            )  # fmt: skip
        except (KeyError, ValueError, TypeError) as exc:
            raise ApiError(status, f"not an authorization answer: {body!r:.200}") from exc

    def to_dict(self) -> dict[str, Any]:
        """The answer's JSON body, with the HTTP status."""
        return {**self.body, "http_status": self.http_status}


@dataclass(frozen=True)
class PendingRequest:
    """`GET /v1/requests/{id}`: a request waiting for approvals."""

    request_id: str
    principal: str
    action: str
    resource: str
    missing: tuple[Any, ...]
    approvals: tuple[str, ...]  # approvers' compact JWS filed so far
    created: int
    expires: int

    @property
    def needed(self) -> int:
        """How many approvals are missing at least (the sum of the missing counts)."""
        return sum(int(item.get("count", 1)) for item in self.missing if isinstance(item, Mapping))

    @classmethod
    def from_response(cls, status: int, body: Any) -> PendingRequest:
        try:
            return cls(body["request_id"], body["principal"], body["action"], body["resource"],
                       tuple(body["missing"]), tuple(body["approvals"]), int(body["created"]), int(body["expires"]))  # fmt: skip
        except (KeyError, ValueError, TypeError) as exc:
            raise ApiError(status, f"not a pending request: {body!r:.200}") from exc

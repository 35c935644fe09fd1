"""Requests waiting for approvals (the coordinator's bookkeeping; untrusted, no secrets).

A `confirm` decision names the approvals a request still needs. Approvers sign the request
hash (see `approvals`); the coordinator only collects their signed approvals under the
request id (= request hash) so that the requester can fetch them and resubmit. It verifies
nothing that matters: every evaluator verifies each approval again on resubmission.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from accord.errors import AccordError
from accord.protocols.auth_errors import JwsError
from accord.protocols.jws_profile import json_object, parse_compact

MAX_PENDING = 10_000
MAX_APPROVALS_PER_REQUEST = 32


class PendingRequestError(AccordError):
    """An approval cannot be filed (unknown request, malformed approval, full store)."""


class UnknownRequest(PendingRequestError):
    """No pending request has this id (never asked, expired, or already permitted)."""


@dataclass
class PendingRequest:
    request_id: str
    principal: str
    action: str
    resource: str
    missing: list[Any]
    created: int
    expires: int
    approvals: dict[str, str] = field(default_factory=dict)  # approver kid -> compact JWS

    def to_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id, "status": "pending", "principal": self.principal,
            "action": self.action, "resource": self.resource, "missing": self.missing,
            "approvals": sorted(self.approvals.values()), "created": self.created, "expires": self.expires,
        }  # fmt: skip


class PendingRequests:
    """Pending requests by id, each kept for `ttl` seconds after its last confirm."""

    def __init__(self, ttl: int = 7 * 86400, clock=time.time) -> None:
        self._ttl, self._clock = ttl, clock
        self._items: dict[str, PendingRequest] = {}
        self._lock = threading.Lock()

    def record(self, request_id: str, principal: str, action: str, resource: str, missing: list[Any]) -> None:
        """Note a `confirm` for `request_id` (a later confirm refreshes what is missing)."""
        now = int(self._clock())
        with self._lock:
            self._expire(now)
            item = self._items.get(request_id)
            if item is None:
                if len(self._items) >= MAX_PENDING:
                    raise PendingRequestError(f"{MAX_PENDING} requests are pending; refusing more")
                item = self._items[request_id] = PendingRequest(request_id, principal, action, resource, missing, now,
                                                                now + self._ttl)  # fmt: skip
            item.missing, item.expires = missing, now + self._ttl

    def resolve(self, request_id: str) -> None:
        """The request was permitted: forget it."""
        with self._lock:
            self._items.pop(request_id, None)

    def get(self, request_id: str) -> PendingRequest:
        with self._lock:
            self._expire(int(self._clock()))
            item = self._items.get(request_id)
        if item is None:
            raise UnknownRequest(f"no pending request {request_id!r}")
        return item

    def add_approval(self, request_id: str, approval: str) -> PendingRequest:
        """File an approver's signed approval (checked for shape and request id only)."""
        try:
            parts = parse_compact(approval)
            claims = json_object(parts.payload, "approval claims")
        except JwsError as exc:
            raise PendingRequestError(f"approval is not a compact JWS: {exc}") from exc
        kid = parts.header.get("kid")
        if claims.get("request_hash") != request_id or not isinstance(kid, str):
            raise PendingRequestError(f"approval is not for request {request_id!r} or has no kid")
        item = self.get(request_id)
        with self._lock:
            if kid not in item.approvals and len(item.approvals) >= MAX_APPROVALS_PER_REQUEST:
                raise PendingRequestError(f"request {request_id!r} already has {MAX_APPROVALS_PER_REQUEST} approvals")
            item.approvals[kid] = approval
        return item

    def _expire(self, now: int) -> None:
        for request_id in [r for r, item in self._items.items() if item.expires < now]:
            del self._items[request_id]

    def __len__(self) -> int:
        return len(self._items)


"""Requests waiting for approvals (the coordinator's bookkeeping; untrusted, no secrets).

A `confirm` decision names the approvals a request still needs. Approvers sign the request
hash (see `approvals`); the coordinator only collects their signed approvals under the
request id (= request hash) so that the requester can fetch them and resubmit. It verifies
nothing that matters: every evaluator verifies each approval again on resubmission (and
spends it: an approval makes one permit only).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accord.errors import AccordError
from accord.protocols.auth_errors import JwsError
from accord.protocols.jws_profile import json_object, parse_compact

MAX_PENDING = 10_000
MAX_PENDING_PER_PRINCIPAL = 100
MAX_APPROVALS_PER_REQUEST = 32


class PendingRequestError(AccordError):
    """An approval cannot be filed (unknown request, malformed approval, full store)."""


class PendingStoreFull(PendingRequestError):
    """The store, or the principal's quota in it, is full: this request is not recorded."""


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
    """Pending requests by id, each kept for `ttl` seconds after its last confirm, in SQLite
    (standard library): at `path` they survive a restart of the coordinator; without one
    they live in memory. Quotas keep one principal from filling the store for everyone:
    `MAX_PENDING` in all, `MAX_PENDING_PER_PRINCIPAL` each; a full store refuses the
    offending request only."""

    def __init__(self, ttl: int = 7 * 86400, clock=time.time, *, path: str | Path | None = None) -> None:
        self._ttl, self._clock = ttl, clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(":memory:" if path is None else str(path), check_same_thread=False,
                                   isolation_level=None)  # fmt: skip
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)

    def record(self, request_id: str, principal: str, action: str, resource: str, missing: list[Any]) -> None:
        """Note a `confirm` for `request_id` (a later confirm refreshes what is missing)."""
        now = int(self._clock())
        with self._lock:
            self._expire(now)
            known = self._db.execute("SELECT 1 FROM pending WHERE request_id = ?", (request_id,)).fetchone()
            if known is None:
                (total,) = self._db.execute("SELECT COUNT(*) FROM pending").fetchone()
                if total >= MAX_PENDING:
                    raise PendingStoreFull(f"{MAX_PENDING} requests are pending; refusing more")
                (own,) = self._db.execute("SELECT COUNT(*) FROM pending WHERE principal = ?", (principal,)).fetchone()
                if own >= MAX_PENDING_PER_PRINCIPAL:
                    raise PendingStoreFull(f"{principal} has {MAX_PENDING_PER_PRINCIPAL} pending requests, its quota")
                self._db.execute("INSERT INTO pending VALUES (?, ?, ?, ?, ?, ?, ?)",
                                 (request_id, principal, action, resource, json.dumps(missing), now, now + self._ttl))  # fmt: skip
            else:
                self._db.execute("UPDATE pending SET missing = ?, expires = ? WHERE request_id = ?",
                                 (json.dumps(missing), now + self._ttl, request_id))  # fmt: skip

    def resolve(self, request_id: str) -> None:
        """The request was permitted: forget it."""
        with self._lock:
            self._db.execute("DELETE FROM pending WHERE request_id = ?", (request_id,))
            self._db.execute("DELETE FROM approvals WHERE request_id = ?", (request_id,))

    def get(self, request_id: str) -> PendingRequest:
        with self._lock:
            self._expire(int(self._clock()))
            row = self._db.execute("SELECT * FROM pending WHERE request_id = ?", (request_id,)).fetchone()
            if row is None:
                raise UnknownRequest(f"no pending request {request_id!r}")
            approvals = dict(self._db.execute("SELECT kid, jws FROM approvals WHERE request_id = ?", (request_id,)))
        rid, principal, action, resource, missing, created, expires = row
        return PendingRequest(rid, principal, action, resource, json.loads(missing), created, expires, approvals)

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
            self._db.execute("INSERT OR REPLACE INTO approvals VALUES (?, ?, ?)", (request_id, kid, approval))
        return self.get(request_id)

    def _expire(self, now: int) -> None:
        self._db.execute("DELETE FROM approvals WHERE request_id IN (SELECT request_id FROM pending WHERE expires < ?)",
                         (now,))  # fmt: skip
        self._db.execute("DELETE FROM pending WHERE expires < ?", (now,))

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM pending").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()


_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (
    request_id TEXT PRIMARY KEY, principal TEXT NOT NULL, action TEXT NOT NULL, resource TEXT NOT NULL,
    missing TEXT NOT NULL, created INTEGER NOT NULL, expires INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS pending_principal ON pending (principal);
CREATE TABLE IF NOT EXISTS approvals (
    request_id TEXT NOT NULL, kid TEXT NOT NULL, jws TEXT NOT NULL, PRIMARY KEY (request_id, kid));
"""

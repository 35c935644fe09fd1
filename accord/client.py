"""The client side of Accord: a principal's key, signed requests, approvals.

    client = Client(SigningKey.generate())
    request = client.signed_request("signMessage", "treasury-hot", {"message": "hello"})
    result = deployment.authorize(request)      # or over HTTP
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from accord.protocols import canonical_json
from accord.protocols.approvals import create_approval
from accord.protocols.authz_request import compute_request_hash
from accord.protocols.http_signatures import HttpRequest, sign_request
from accord.protocols.jwk import SigningKey

AUTHORIZE_PATH = "/v1/authorize"
DEFAULT_BASE_URL = "https://accord.invalid"


class Client:
    """A principal: its signing key and how it talks to Accord."""

    def __init__(self, key: SigningKey, *, base_url: str = DEFAULT_BASE_URL) -> None:
        self.key = key
        self.base_url = base_url.rstrip("/")

    @property
    def jkt(self) -> str:
        """The key's RFC 7638 thumbprint: the `keyid` of its requests and the `cnf.jkt` of its tokens."""
        return self.key.thumbprint

    def request_hash(self, action: str, resource: str, payload: Mapping[str, Any]) -> str:
        """The id approvals of this principal's request bind to."""
        return compute_request_hash(action, resource, dict(payload), self.jkt)

    def signed_request(self, action: str, resource: str, payload: Mapping[str, Any],
                       approvals: Sequence[str] = (), *, lifetime: int = 60, now: int | None = None) -> HttpRequest:  # fmt: skip
        """`POST /v1/authorize` with the canonical JSON body, signed per RFC 9421."""
        body: dict[str, Any] = {"action": action, "resource": resource, "payload": dict(payload)}
        if approvals:
            body["approvals"] = list(approvals)
        created = int(time.time()) if now is None else now
        request = HttpRequest("POST", self.base_url + AUTHORIZE_PATH, (("Content-Type", "application/json"),),
                              canonical_json.dumps(body))  # fmt: skip
        return sign_request(request, self.key, created=created, expires=created + lifetime)

    def approve(self, request_id: str, *, now: int | None = None) -> str:
        """This principal's signed approval of another principal's pending request."""
        return create_approval(self.key, request_id, iat=int(time.time()) if now is None else now)

"""The authorization request: the JSON body of `POST /v1/authorize`.

    {"action": str, "resource": str, "payload": {...}, "approvals": [compact JWS, ...]}

`action`, `resource` and `payload` (a JSON object) are required; `approvals` is optional.
Parsing is strict: duplicate keys, unknown members and wrong types are refused.

The request hash names "this principal asks for this action on this resource with this
payload", independent of transport details:

    request_hash = base64url(SHA-256(JCS({"action": ..., "resource": ..., "payload": ...,
                                          "principal_key": <RFC 7638 thumbprint of the requester>})))

(JCS = RFC 8785 canonical JSON; base64url without padding). Nonces, timestamps and approvals
are not in it, so a resubmission with a new signature and the collected approvals has the
same hash, and approvals bind to it. The principal's key is in it, so another principal
cannot reuse approvals given to this one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from accord.protocols import canonical_json
from accord.protocols.auth_errors import (
    InvalidFieldValue,
    MalformedRequestBody,
    MissingField,
    UnknownField,
    WrongFieldType,
)
from accord.protocols.jwk import b64url_encode
from accord.protocols.jws_profile import json_object

MAX_NAME_LENGTH = 1024  # action and resource
MAX_APPROVALS = 32
_REQUIRED = ("action", "resource", "payload")
_OPTIONAL = ("approvals",)


def compute_request_hash(action: str, resource: str, payload: Mapping[str, Any], principal_key: str) -> str:
    """The request hash defined in this module's docstring."""
    return _request_hash(action, resource, canonical_json.dumps(payload), principal_key)


def _request_hash(action: str, resource: str, payload_json: bytes, principal_key: str) -> str:
    # The JCS of the document from the payload's JCS: members in JCS order (action, payload,
    # principal_key, resource: ASCII keys, so code-unit order is byte order), each value in
    # its own JCS form, which is what RFC 8785 writes for the whole object.
    dumps = canonical_json.dumps
    document = b'{"action":%s,"payload":%s,"principal_key":%s,"resource":%s}' % (
        dumps(action), payload_json, dumps(principal_key), dumps(resource))  # fmt: skip
    return b64url_encode(hashlib.sha256(document).digest())


@dataclass(frozen=True)
class AuthorizationRequest:
    """A parsed authorization request. `payload` is a JSON object; treat it as read-only.
    `payload_json` is its canonical JSON (RFC 8785), made once; constructing a request whose
    payload has none raises CanonicalJsonError."""

    action: str
    resource: str
    payload: dict[str, Any]
    approvals: tuple[str, ...] = ()
    payload_json: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "payload_json", canonical_json.dumps(self.payload))

    def request_hash(self, principal_key: str) -> str:
        """The hash approvals bind to, for the principal whose key thumbprint is `principal_key`."""
        return _request_hash(self.action, self.resource, self.payload_json, principal_key)

    def to_json(self) -> bytes:
        """The canonical JSON body (approvals omitted when there are none)."""
        body: dict[str, Any] = {"action": self.action, "resource": self.resource, "payload": self.payload}
        if self.approvals:
            body["approvals"] = list(self.approvals)
        return canonical_json.dumps(body)


def _name(body: Mapping[str, Any], field: str) -> str:
    value = body[field]
    if not isinstance(value, str):
        raise WrongFieldType(f"{field!r} must be a string, got {type(value).__name__}")
    if not 0 < len(value) <= MAX_NAME_LENGTH:
        raise InvalidFieldValue(f"{field!r} must have 1..{MAX_NAME_LENGTH} characters")
    return value


def parse_authorization_request(body: bytes) -> AuthorizationRequest:
    """Parse and check the request body; raise a specific `AuthorizationRequestError`."""
    parsed = json_object(body, "the request body", MalformedRequestBody)
    unknown = sorted(set(parsed) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise UnknownField(f"unknown member(s) {unknown}; allowed: {[*_REQUIRED, *_OPTIONAL]}")
    missing = [f for f in _REQUIRED if f not in parsed]
    if missing:
        raise MissingField(f"missing member(s) {missing}")

    payload = parsed["payload"]
    if not isinstance(payload, dict):
        raise WrongFieldType(f"'payload' must be a JSON object, got {type(payload).__name__}")
    approvals = parsed.get("approvals", [])
    if not isinstance(approvals, list) or not all(isinstance(a, str) for a in approvals):
        raise WrongFieldType("'approvals' must be a list of strings (compact JWS)")
    if len(approvals) > MAX_APPROVALS:
        raise InvalidFieldValue(f"at most {MAX_APPROVALS} approvals, got {len(approvals)}")
    action, resource = _name(parsed, "action"), _name(parsed, "resource")
    try:
        return AuthorizationRequest(action, resource, payload, tuple(approvals))
    except canonical_json.CanonicalJsonError as exc:  # e.g. integers beyond 2**53
        raise InvalidFieldValue(f"'payload' has no canonical JSON form: {exc}") from exc

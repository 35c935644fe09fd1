"""The client SDK: a principal's key, RFC 9421 signed requests, the HTTP API, approvals,
and verification of the enclaves' attestations before the JWKS is trusted.

    from accord.client import Client
    client = Client.load("bob.jwk", base_url="http://127.0.0.1:8080")
    token = client.authorize("signMessage", "ops-wallet", {"message": "hi"}).raise_for_decision().token
"""

from __future__ import annotations

from accord.client.api import AUTHORIZE_PATH, Client
from accord.client.attested_keys import (
    AttestedEnclave,
    KeySetNotAttested,
    VerifiedKeySet,
    verify_key_set,
)
from accord.client.release import Release, ReleaseError
from accord.client.results import (
    ApiError,
    ApprovalsRequired,
    ApprovalsTimeout,
    AuthorizeResult,
    ClientError,
    DecisionError,
    DecisionUnavailable,
    ErrorInfo,
    Forbidden,
    PendingRequest,
    RequestRejected,
)

__all__ = [
    "AUTHORIZE_PATH", "ApiError", "ApprovalsRequired", "ApprovalsTimeout", "AttestedEnclave", "AuthorizeResult",
    "Client", "ClientError", "DecisionError", "DecisionUnavailable", "ErrorInfo", "Forbidden", "KeySetNotAttested",
    "PendingRequest", "Release", "ReleaseError", "RequestRejected", "VerifiedKeySet", "verify_key_set",
]  # fmt: skip

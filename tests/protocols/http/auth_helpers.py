"""Helpers shared by the request-authentication protocol tests."""

from __future__ import annotations

from accord.protocols.http_signatures import HttpRequest
from accord.protocols.jwk import PublicJwk

NOW = 1_700_000_000
URL = "https://accord.example/v1/authorize"
BODY = b'{"action":"transfer","payload":{"amount":5},"resource":"account:1"}'


def make_request(body: bytes = BODY, *, url: str = URL, method: str = "POST", headers=()) -> HttpRequest:
    return HttpRequest(method, url, (("Content-Type", "application/json"), *headers), body)


def resolver(*keys: PublicJwk):
    """keyid -> public key, as an evaluator looks principals up in its signed data."""
    return {key.thumbprint: key for key in keys}.get

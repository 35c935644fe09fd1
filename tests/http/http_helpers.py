"""Building requests Accord's client would never build: for the negative tests."""

from __future__ import annotations

import secrets
import time
from typing import Any

import httpx

from accord.protocols import canonical_json, content_digest
from accord.protocols.http_signatures import HttpRequest, SignatureParams, sign_message
from accord.protocols.jwk import SigningKey

REQUIRED = ("@method", "@target-uri", "content-type", "content-digest")
BASE_URL = "http://testserver"  # TestClient's authority: what clients sign as @target-uri
USDC = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"


def erc20_transfer(to: str, units: int) -> dict[str, Any]:
    """A USDC transfer on chain 1 (ERC-20 `transfer(to, units)`)."""
    return {"chain_id": 1, "to": USDC, "value": "0",
            "data": "0xa9059cbb" + to[2:].rjust(64, "0") + format(units, "064x")}  # fmt: skip


def now() -> int:
    return int(time.time())


def body(action: str = "signMessage", resource: str = "ops-wallet", payload: Any = None, **extra: Any) -> bytes:
    return canonical_json.dumps({"action": action, "resource": resource,
                                 "payload": {"message": "hello"} if payload is None else payload, **extra})  # fmt: skip


def raw_signed(key: SigningKey, *, url: str, content: bytes | None = None, method: str = "POST",
               keyid: str | None = None, created: int | None = None, expires: int | None = None,
               nonce: str | None = None, omit_nonce: bool = False, components=REQUIRED,
               headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),),
               alg: str | None = None, signing_key: Any = None) -> HttpRequest:  # fmt: skip
    """Sign with the RFC 9421 layer directly: any parameters, any coverage, any key."""
    content = body() if content is None else content
    created = now() if created is None else created
    request = HttpRequest(method, url, headers + (("Content-Digest", content_digest.create(content)),), content)
    params = SignatureParams(created=created, keyid=key.thumbprint if keyid is None else keyid,
                             expires=created + 60 if expires is None else expires,
                             nonce=None if omit_nonce else nonce or secrets.token_urlsafe(24))  # fmt: skip
    return sign_message(request, alg=alg or key.public.http_signature_alg,
                        key=key.crypto_key() if signing_key is None else signing_key,
                        covered_components=components, params=params, label="sig")  # fmt: skip


def send(http: httpx.Client, request: HttpRequest, *, method: str | None = None, url: str | None = None,
         content: bytes | None = None) -> httpx.Response:  # fmt: skip
    """Send `request`, optionally with another method, URL or body than it was signed with."""
    return http.request(method or request.method, url or request.url, headers=list(request.headers),
                        content=request.body if content is None else content)  # fmt: skip


def error(response: httpx.Response) -> tuple[int, str, str]:
    """(status, error code, message) of an error answer."""
    err = response.json()["error"]
    return response.status_code, err["code"], err["message"]

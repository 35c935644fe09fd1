"""The resource-server side: act on a request only with an Accord token for exactly it.

A client that holds a token calls the resource server with an HTTP request that

- carries the token as `Authorization: AccordToken <compact JWS>` (its own scheme, not
  `Bearer`: the token is sender-constrained and useless without the client's key, like
  RFC 9449's `DPoP` scheme);
- carries the client's public JWK as `Accord-Key: base64url(JSON JWK)`; its RFC 7638
  thumbprint must be the token's `cnf.jkt`, so the header needs no signature of its own;
- is signed per RFC 9421 by that key, in Accord's profile (`@method`, `@target-uri`,
  `content-type`, `content-digest`, `authorization`; `created`, `expires`, `nonce`,
  `keyid` = the thumbprint).

`verify` checks, in order: the token (signature via the JWKS, `alg` EdDSA only, `typ`, `iss`,
`aud`, `exp`, `iat`), the client key against `cnf.jkt`, the request signature, that the
token's `request_hash` (and action, resource) is that of what the service is asked to do,
and the nonce against this server's replay cache (recorded only after everything verified).
With `single_use`, a token's `jti` is accepted once. Every failure raises a specific
exception; `AccordAuth` turns them into HTTP errors for FastAPI.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from accord.errors import AccordError
from accord.protocols import canonical_json
from accord.protocols.auth_errors import (
    AuthorizationRequestError,
    InvalidHttpMessage,
    ReplayedNonce,
    ReplayError,
)
from accord.protocols.authz_request import compute_request_hash, parse_authorization_request
from accord.protocols.http_signatures import DEFAULT_SKEW, HttpRequest, VerifiedSignature
from accord.protocols.signature_profile import verify_request
from accord.protocols.jwk import PublicJwk, b64url_decode, b64url_encode
from accord.protocols.replay import ReplayCache
from accord.protocols.tokens import TokenClaims, verify_token

AUTH_SCHEME = "AccordToken"
KEY_HEADER = "Accord-Key"
DEFAULT_LEEWAY = 30
MAX_KEY_HEADER = 1024


class ResourceAccessError(AccordError):
    """The request to the resource server is not authorized by its Accord token."""


class MissingToken(ResourceAccessError):
    """No `Authorization: AccordToken <token>` header."""


class MissingClientKey(ResourceAccessError):
    """No usable `Accord-Key` header (the client's public JWK)."""


class ProofKeyMismatch(ResourceAccessError):
    """The request's key or signature keyid is not the key the token is bound to (cnf.jkt)."""


class RequestMismatch(ResourceAccessError):
    """The token authorizes another request than the one the service is asked to do."""


class MalformedResourceRequest(ResourceAccessError):
    """The request body is not an authorization request (action, resource, payload)."""


class TokenReused(ResourceAccessError):
    """A single-use token (its jti) was already accepted."""


@dataclass(frozen=True)
class VerifiedAccess:
    """What a verified request proves: the token's claims, the request signature, and the
    request (action, resource, payload) the token was issued for."""

    claims: TokenClaims
    signature: VerifiedSignature
    action: str
    resource: str
    payload: Mapping[str, Any]

    @property
    def principal(self) -> str:
        return self.claims.sub


def encode_client_key(key: PublicJwk) -> str:
    """The `Accord-Key` header value for `key`."""
    return b64url_encode(canonical_json.dumps(key.to_dict()))


def token_of(request: HttpRequest) -> str:
    """The token in `Authorization: AccordToken <token>` (scheme case-insensitive, RFC 9110)."""
    value = request.header("authorization")
    if value is None:
        raise MissingToken(f"the request has no Authorization header (expected '{AUTH_SCHEME} <token>')")
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != AUTH_SCHEME.lower() or not token.strip():
        raise MissingToken(f"the Authorization scheme must be {AUTH_SCHEME!r} with a token, got {scheme!r}")
    return token.strip()


def client_key_of(request: HttpRequest) -> PublicJwk:
    """The client's public JWK from the `Accord-Key` header."""
    value = request.header(KEY_HEADER)
    if value is None:
        raise MissingClientKey(f"the request has no {KEY_HEADER} header (the client's public JWK, base64url)")
    if len(value) > MAX_KEY_HEADER:
        raise MissingClientKey(f"{KEY_HEADER} is longer than {MAX_KEY_HEADER} characters")
    try:
        return PublicJwk.from_dict(canonical_json.loads(b64url_decode(value.strip(), KEY_HEADER)))
    except (AccordError, ValueError) as exc:
        raise MissingClientKey(f"{KEY_HEADER} is not a base64url public JWK: {exc}") from exc


def _asked_request(request: HttpRequest, action: str | None, resource: str | None,
                   payload: Mapping[str, Any] | None) -> tuple[str, str, Mapping[str, Any]]:  # fmt: skip
    if action is not None and resource is not None and payload is not None:
        return action, resource, payload
    if (action, resource, payload) != (None, None, None):
        raise TypeError("pass action, resource and payload together, or none of them (the body is read)")
    try:
        body = parse_authorization_request(request.body)
    except AuthorizationRequestError as exc:
        raise MalformedResourceRequest(f"the body is not an authorization request: {exc}") from exc
    if body.approvals:
        raise MalformedResourceRequest("a resource request carries no approvals")
    return body.action, body.resource, body.payload


class AccessVerifier:
    """A resource server's verifier: the group JWKS, who it is (audience) and whose tokens
    it takes (issuer), and its own replay caches."""

    def __init__(self, jwks: Mapping[str, Any], *, audience: str, issuer: str, leeway: int = DEFAULT_LEEWAY,
                 signature_skew: int = DEFAULT_SKEW, single_use: bool = False, replay: ReplayCache | None = None,
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        self.jwks = jwks
        self.audience, self.issuer = audience, issuer
        self.leeway, self.signature_skew = leeway, signature_skew
        self.single_use = single_use
        self.replay = replay or ReplayCache(skew=signature_skew)
        self._used_tokens = ReplayCache(skew=leeway)
        self._clock = clock

    def verify(self, request: HttpRequest, *, action: str | None = None, resource: str | None = None,
               payload: Mapping[str, Any] | None = None, now: int | None = None) -> VerifiedAccess:  # fmt: skip
        """Verify `request` (see the module docstring). The request the service is asked to
        do is `action`/`resource`/`payload`, or, when they are not given, the request body in
        Accord's authorization format."""
        now = int(self._clock()) if now is None else now
        claims = verify_token(token_of(request), self.jwks, audience=self.audience, issuer=self.issuer, now=now,
                              leeway=self.leeway)  # fmt: skip
        key = client_key_of(request)
        if key.thumbprint != claims.cnf_jkt:
            raise ProofKeyMismatch(f"the token is bound to key {claims.cnf_jkt}; the request presents {key.thumbprint}")

        def resolve(keyid: str) -> PublicJwk:
            if keyid != claims.cnf_jkt:
                raise ProofKeyMismatch(f"the request is signed by keyid {keyid}; the token is bound to {claims.cnf_jkt}")
            return key

        signature = verify_request(request, resolve_key=resolve, now=now, skew=self.signature_skew)
        action, resource, payload = _asked_request(request, action, resource, payload)
        if (claims.action, claims.resource) != (action, resource):
            raise RequestMismatch(f"the token authorizes {claims.action} on {claims.resource}, "
                                  f"not {action} on {resource}")  # fmt: skip
        expected = compute_request_hash(action, resource, dict(payload), claims.cnf_jkt)
        if claims.request_hash != expected:
            raise RequestMismatch(f"the token is for request {claims.request_hash}; this request is {expected}")
        self.replay.check_and_record(signature.jkt, signature.nonce, created=signature.created,
                                     expires=signature.expires, now=now)  # fmt: skip
        if self.single_use:
            try:
                self._used_tokens.check_and_record(claims.iss, claims.jti, created=claims.iat, expires=claims.exp,
                                                   now=now)  # fmt: skip
            except ReplayedNonce as exc:
                raise TokenReused(f"token {claims.jti} was already used") from exc
        return VerifiedAccess(claims, signature, action, resource, payload)


_PROCESS_REPLAY = ReplayCache()


def verify(request: HttpRequest, jwks: Mapping[str, Any], *, audience: str, issuer: str,
           action: str | None = None, resource: str | None = None, payload: Mapping[str, Any] | None = None,
           now: int | None = None, leeway: int = DEFAULT_LEEWAY, replay: ReplayCache | None = None) -> VerifiedAccess:  # fmt: skip
    """Verify one request to a resource server (see `AccessVerifier.verify`). Nonces are
    remembered in `replay`, by default one cache for the whole process."""
    verifier = AccessVerifier(jwks, audience=audience, issuer=issuer, leeway=leeway, replay=replay or _PROCESS_REPLAY)
    return verifier.verify(request, action=action, resource=resource, payload=payload, now=now)


# --- FastAPI -------------------------------------------------------------------------------


def error_status(exc: AccordError) -> int:
    """HTTP status for a verification failure: 400 malformed, 403 a valid token for another
    request, 409 replay, 401 anything about the token, key or signature."""
    if isinstance(exc, MalformedResourceRequest | InvalidHttpMessage):
        return 400
    if isinstance(exc, RequestMismatch):
        return 403
    if isinstance(exc, ReplayError | TokenReused):
        return 409
    return 401


def error_code(exc: BaseException) -> str:
    """`TokenExpired` -> `token_expired`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).lower()


class AccordAuth:
    """A FastAPI dependency that verifies the request and returns its `VerifiedAccess`:

        auth = AccordAuth(AccessVerifier(jwks, audience="vault", issuer="accord"))
        @app.post("/sign")
        def sign(access: VerifiedAccess = Depends(auth)): ...

    Failures become HTTPException with detail `{"code", "message"}`. `public_base_url` is the
    scheme and authority clients sign in `@target-uri` when a proxy or TLS terminator sits
    in front (default: the URL as this server sees it).
    """

    def __init__(self, verifier: AccessVerifier, *, public_base_url: str | None = None,
                 max_body: int = 64 * 1024) -> None:  # fmt: skip
        self.verifier = verifier
        self.public_base_url = None if public_base_url is None else public_base_url.rstrip("/")
        self.max_body = max_body

    async def __call__(self, request: Request) -> VerifiedAccess:
        from fastapi import HTTPException

        url = str(request.url)
        if self.public_base_url is not None:
            url = self.public_base_url + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        try:
            body = bytearray()
            async for chunk in request.stream():
                body += chunk
                if len(body) > self.max_body:
                    raise MalformedResourceRequest(f"the body may have at most {self.max_body} bytes")
            lines = tuple((n.decode("latin-1"), v.decode("latin-1")) for n, v in request.headers.raw)
            return self.verifier.verify(HttpRequest(request.method, url, lines, bytes(body)))
        except AccordError as exc:
            status = error_status(exc)
            headers = {"WWW-Authenticate": f'{AUTH_SCHEME} error="invalid_token"'} if status == 401 else None
            raise HTTPException(status, {"code": error_code(exc), "message": str(exc)}, headers=headers) from exc

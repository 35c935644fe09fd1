"""The HTTP API: an ASGI app (FastAPI) in front of a deployment.

The gateway is untrusted, like every host component: it checks requests cheaply and relays
them, and each evaluator verifies the client's signature, the time window and the nonce
itself. The checks here only spare the enclaves obvious garbage:

- the body is at most `max_body` bytes and `Content-Type` is JSON;
- Signature-Input/Signature parse, carry `created`, `expires` (at most 300 s after
  `created`), `nonce` and a thumbprint `keyid`, cover the required components, and the
  window holds at the gateway's clock (`precheck_request`);
- Content-Digest matches the body, and the body is a well-formed authorization request.

What is forwarded is an `HttpRequest` with the method, the public target URI (what the
client signed as `@target-uri`: behind TLS termination or a proxy, pass `public_base_url`),
the signature fields and exactly the header fields the signature covers. Requests go to the
deployment through a `BatchingAuthorizer`: one `authorize_many` per batch, never one actor
call per request.

Status codes: 200 permit (token), 403 forbid (reasons), 202 confirm (request id, missing
approvals), 401 bad or missing signature (including an unknown key), 409 replayed nonce,
400 malformed input, 413 body too large, 415 not JSON, 503 the enclaves cannot decide (not
ready, divergence, signing failed). Every error body is `{"error": {"code", "message"}}`
(plus `decision` on /v1/authorize).
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from accord.cluster.batching import BatchConfig, BatchingAuthorizer
from accord.cluster.metrics import CONTENT_TYPE, GatewayMetrics, ObservedAuthorizer, groups_ready
from accord.errors import AccordError
from accord.protocols import content_digest, minting
from accord.protocols.auth_errors import (
    AuthorizationRequestError,
    InvalidHttpMessage,
    JwsError,
    SignatureError,
    UnknownKey,
)
from accord.protocols.authz_request import parse_authorization_request
from accord.protocols.http_signatures import DEFAULT_SKEW, HttpRequest
from accord.protocols.jwk import b64url_decode
from accord.protocols.jws_profile import json_object
from accord.protocols.minting import AuthorizationResult, Status
from accord.protocols.pending import PendingRequestError, UnknownRequest
from accord.protocols.signature_profile import precheck_request

AUTHORIZE_PATH = "/v1/authorize"
MAX_BODY = 64 * 1024
MAX_SIGNATURE_FIELD = 8 * 1024  # Signature-Input / Signature, each
MAX_APPROVAL_BODY = 16 * 1024
MAX_ATTESTATION_NONCE = 64
_REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{43}")
_ALWAYS_FORWARDED = ("content-type", "content-digest", "signature-input", "signature")

# AuthorizationResult -> HTTP status
_STATUS = {Status.PERMIT: 200, Status.FORBID: 403, Status.CONFIRM: 202, Status.UNAVAILABLE: 503}
_REJECTED = {minting.BAD_SIGNATURE: 401, minting.UNKNOWN_KEY: 401, minting.REPLAY: 409, minting.MALFORMED: 400,
             minting.BAD_APPROVAL: 400}  # fmt: skip; anything else (not ready, clock skew) is the enclaves': 503


class GatewayError(AccordError):
    """A request the gateway refuses before forwarding it (status and code attached)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


# --- OpenAPI documentation models (the handlers read raw bytes: the signature covers them) ---


class AuthorizeBody(BaseModel):
    action: str = Field(examples=["signMessage"])
    resource: str = Field(examples=["ops-wallet"])
    payload: dict[str, Any] = Field(examples=[{"message": "hello"}])
    approvals: list[str] = Field(default=[], description="Approvers' compact JWS over the request hash")


class ErrorDetail(BaseModel):
    code: str
    message: str
    enclaves: list[str] = []


class AuthorizeResponse(BaseModel):
    decision: str = Field(description="permit | forbid | confirm | rejected | unavailable")
    jti: str | None = None
    token: str | None = Field(default=None, description="Compact JWS (EdDSA, typ at+jwt), on permit")
    request_id: str | None = Field(default=None, description="Request hash; approvals are filed for it")
    principal: str | None = None
    reasons: list[str] = []
    approvals: dict[str, Any] = Field(default={}, description="required / missing / satisfied approvals")
    error: ErrorDetail | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


class ApprovalBody(BaseModel):
    approval: str = Field(description="An approver's compact JWS (typ accord-approval+jwt) over the request id")


_AUTHORIZE_DOC = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": AuthorizeBody.model_json_schema()}}},
    "parameters": [
        {"name": name, "in": "header", "required": True, "schema": {"type": "string"}, "description": text}
        for name, text in (
            ("Content-Digest", "RFC 9530 digest of the body (sha-256 or sha-512)"),
            ("Signature-Input", 'RFC 9421; covers "@method" "@target-uri" "content-type" "content-digest"; '
                                "created, expires (<= created + 300), nonce, keyid (RFC 7638 thumbprint)"),
            ("Signature", "RFC 9421 signature (ed25519 or ecdsa-p256-sha256)"),
        )
    ],
}  # fmt: skip
_AUTHORIZE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": AuthorizeResponse, "description": "permit: the token"},
    202: {"model": AuthorizeResponse, "description": "confirm: request_id and the missing approvals"},
    400: {"model": AuthorizeResponse, "description": "malformed request or approval"},
    401: {"model": AuthorizeResponse, "description": "missing or bad signature, unknown key"},
    403: {"model": AuthorizeResponse, "description": "forbid: the reasons"},
    409: {"model": AuthorizeResponse, "description": "replayed nonce"},
    503: {"model": AuthorizeResponse, "description": "the enclaves cannot reach a unanimous, signed decision"},
}


# --- pure helpers --------------------------------------------------------------------------


def http_status(result: AuthorizationResult) -> int:
    """The HTTP status for an authorization result."""
    if result.status is Status.REJECTED:
        return _REJECTED.get(result.code, 503)
    return _STATUS[result.status]


def check_public_base_url(url: str) -> str:
    """`scheme://authority`, no path, query or fragment (evaluators require the signed path
    to be exactly /v1/authorize, so the API cannot live under a prefix)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/") \
            or parts.query or parts.fragment:  # fmt: skip
        raise ValueError(f"public base URL must be http(s)://host[:port] without a path, got {url!r}")
    return f"{parts.scheme}://{parts.netloc}"


def forwarded_request(method: str, target_uri: str, header_lines: Sequence[tuple[str, str]], body: bytes, *,
                      now: int, skew: int = DEFAULT_SKEW) -> HttpRequest:  # fmt: skip
    """The cheap checks of the module docstring, then the request to forward: the signature
    fields and the covered header fields only. Raises GatewayError."""
    content_type = next((v for n, v in header_lines if n.lower() == "content-type"), "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise GatewayError(415, minting.MALFORMED, f"Content-Type must be application/json, got {content_type!r}")
    for name in ("signature-input", "signature"):
        if sum(len(v) for n, v in header_lines if n.lower() == name) > MAX_SIGNATURE_FIELD:
            raise GatewayError(400, minting.MALFORMED, f"{name} is longer than {MAX_SIGNATURE_FIELD} characters")
    try:
        full = HttpRequest(method, target_uri, tuple(header_lines), body)
        signature = precheck_request(full, now=now, skew=skew)
        content_digest.verify(full.header("content-digest") or "", body)
    except InvalidHttpMessage as exc:
        raise GatewayError(400, minting.MALFORMED, f"{type(exc).__name__}: {exc}") from exc
    except SignatureError as exc:
        code = minting.UNKNOWN_KEY if isinstance(exc, UnknownKey) else minting.BAD_SIGNATURE
        raise GatewayError(401, code, f"{type(exc).__name__}: {exc}") from exc
    try:
        parse_authorization_request(body)
    except AuthorizationRequestError as exc:
        raise GatewayError(400, minting.MALFORMED, f"{type(exc).__name__}: {exc}") from exc
    keep = set(_ALWAYS_FORWARDED) | {c.lower() for c in signature.components if not c.startswith("@")}
    return HttpRequest(method, target_uri, tuple((n, v) for n, v in header_lines if n.lower() in keep), body)


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    headers = {"Retry-After": "1"} if status == 503 else None
    return JSONResponse({**extra, "error": {"code": code, "message": message}}, status_code=status, headers=headers)


def _decision_error(exc: GatewayError) -> JSONResponse:
    return _error(exc.status, exc.code, str(exc), decision=Status.REJECTED.value)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise GatewayError(413, "too_large", f"the body may have at most {limit} bytes (Content-Length {declared})")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise GatewayError(413, "too_large", f"the body may have at most {limit} bytes")
    return bytes(body)


def _failure(exc: BaseException, **extra: Any) -> JSONResponse:
    """A deployment call that raised (an actor died, a timeout): the enclaves' side."""
    return _error(503, minting.NOT_READY, f"the deployment did not answer: {type(exc).__name__}: {exc}", **extra)


# --- the app -------------------------------------------------------------------------------


def create_app(deployment: Any, *, public_base_url: str | None = None, batch: BatchConfig | None = None,
               max_body: int = MAX_BODY, clock: Callable[[], float] = time.time) -> FastAPI:  # fmt: skip
    """The gateway for `deployment` (a `Deployment`, or anything with its methods).

    `public_base_url`: the scheme and authority clients sign in `@target-uri` (default: as
    this server sees the request, which is right when clients reach it directly).
    """
    base = None if public_base_url is None else check_public_base_url(public_base_url)
    metrics = GatewayMetrics(deployment)
    batcher = BatchingAuthorizer(ObservedAuthorizer(deployment, metrics), batch or BatchConfig())

    async def lifespan(app: FastAPI):
        yield
        batcher.close()

    app = FastAPI(
        title="Accord",
        version="1",
        lifespan=lifespan,
        description="Authorization decisions made unanimously by three attested enclaves and signed "
                    "3-of-3 with FROST. Every request to /v1/authorize is signed per RFC 9421.",
    )  # fmt: skip
    app.state.batcher = batcher
    app.state.metrics = metrics

    @app.middleware("http")
    async def count(request: Request, call_next):
        response = await call_next(request)
        route = request.scope.get("route")  # the path template: request ids never become labels
        metrics.http_requests.labels(getattr(route, "path", "other"), str(response.status_code)).inc()
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        response = _error(exc.status_code, "http_error", str(exc.detail))
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(400, minting.MALFORMED, f"invalid parameters: {exc.errors()}")

    def target_uri(request: Request) -> str:
        if base is None:
            return str(request.url)
        query = request.url.query
        return base + request.url.path + (f"?{query}" if query else "")

    @app.post(AUTHORIZE_PATH, summary="Ask for a decision (and a token)", openapi_extra=_AUTHORIZE_DOC,
              responses=_AUTHORIZE_RESPONSES, response_model=AuthorizeResponse)  # fmt: skip
    async def authorize(request: Request) -> JSONResponse:
        arrived = time.perf_counter()
        try:
            body = await _read_body(request, max_body)
            lines = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in request.headers.raw]
            forwarded = forwarded_request(request.method, target_uri(request), lines, body, now=int(clock()))
        except GatewayError as exc:
            metrics.decisions.labels(Status.REJECTED.value, exc.code).inc()
            metrics.latency.observe(time.perf_counter() - arrived)
            return _decision_error(exc)
        try:
            result = await batcher.authorize_async(forwarded)
        except Exception as exc:  # noqa: BLE001 - the deployment failed, not the request
            metrics.decisions.labels(Status.UNAVAILABLE.value, minting.NOT_READY).inc()
            return _failure(exc, decision=Status.UNAVAILABLE.value)
        metrics.latency.observe(time.perf_counter() - arrived)
        metrics.observe_result(result)
        headers = {"Location": f"/v1/requests/{result.request_id}"} if result.status is Status.CONFIRM else {}
        status = http_status(result)
        if status == 503:
            headers["Retry-After"] = "1"
        return JSONResponse(result.to_dict(), status_code=status, headers=headers)

    @app.get("/v1/requests/{request_id}", summary="A pending request: missing and filed approvals",
             responses={404: {"model": ErrorResponse}, 400: {"model": ErrorResponse}})  # fmt: skip
    def request_status(request_id: str) -> JSONResponse:
        if not _REQUEST_ID.fullmatch(request_id):
            return _error(400, minting.MALFORMED, "a request id is 43 base64url characters (the request hash)")
        try:
            return JSONResponse(deployment.request_status(request_id))
        except UnknownRequest as exc:
            return _error(404, "unknown_request", str(exc))
        except Exception as exc:  # noqa: BLE001
            return _failure(exc)

    @app.post("/v1/requests/{request_id}/approvals", summary="File an approver's signed approval",
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": ApprovalBody.model_json_schema()}}}},
              responses={404: {"model": ErrorResponse}, 400: {"model": ErrorResponse}})  # fmt: skip
    async def add_approval(request_id: str, request: Request) -> JSONResponse:
        if not _REQUEST_ID.fullmatch(request_id):
            return _error(400, minting.MALFORMED, "a request id is 43 base64url characters (the request hash)")
        try:
            approval = _approval_of(await _read_body(request, MAX_APPROVAL_BODY))
        except GatewayError as exc:
            return _error(exc.status, exc.code, str(exc))
        try:
            return JSONResponse(await run_in_threadpool(deployment.add_approval, request_id, approval))
        except UnknownRequest as exc:
            return _error(404, "unknown_request", str(exc))
        except PendingRequestError as exc:
            return _error(400, minting.BAD_APPROVAL, str(exc))
        except Exception as exc:  # noqa: BLE001
            return _failure(exc)

    # The last JWKS the coordinator gave: public, and clients check it against the enclaves'
    # attestations, so while the coordinator restarts resource servers still get the keys
    # (stale-if-error) instead of failing every token they see.
    last_jwks: dict[str, Any] = {}

    def current_jwks() -> dict[str, Any]:
        keys = deployment.jwks()
        if keys.get("keys"):
            last_jwks["value"] = keys
        return keys

    @app.get("/.well-known/jwks.json", summary="The group keys tokens are signed with")
    def jwks() -> JSONResponse:
        try:
            return JSONResponse(current_jwks(), headers={"Cache-Control": "max-age=60"})
        except Exception as exc:  # noqa: BLE001
            if "value" in last_jwks:
                return JSONResponse(last_jwks["value"], headers={"Cache-Control": "max-age=5", "Accord-Stale": "1"})
            return _failure(exc)

    @app.get("/v1/attestations", summary="Each enclave's fresh attestation document (base64)",
             responses={400: {"model": ErrorResponse}})  # fmt: skip
    def attestations(nonce: str | None = None) -> JSONResponse:
        try:
            raw_nonce = None if nonce is None else _attestation_nonce(nonce)
        except GatewayError as exc:
            return _error(exc.status, exc.code, str(exc))
        try:
            documents = deployment.attestations(raw_nonce)
        except Exception as exc:  # noqa: BLE001
            return _failure(exc)
        encoded = {enclave: base64.b64encode(doc).decode("ascii") for enclave, doc in documents.items()}
        return JSONResponse({"nonce": nonce, "documents": encoded})

    @app.get("/readyz", summary="Readiness: every signing group of the deployment can sign")
    def readyz() -> JSONResponse:
        try:
            problem = groups_ready(deployment)
        except Exception as exc:  # noqa: BLE001
            return JSONResponse({"status": "unavailable", "error": f"{type(exc).__name__}: {exc}"}, status_code=503)
        if problem:
            return JSONResponse({"status": "unavailable", "error": problem}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", summary="Prometheus metrics (text format)", include_in_schema=False)
    def prometheus() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/healthz", summary="Liveness: the deployment answers and has a group key")
    def healthz() -> JSONResponse:
        try:
            kids = [key["kid"] for key in current_jwks()["keys"]]
        except Exception as exc:  # noqa: BLE001
            return JSONResponse({"status": "unavailable", "error": f"{type(exc).__name__}: {exc}"}, status_code=503)
        if not kids:
            return JSONResponse({"status": "unavailable", "error": "no signing group is ready"}, status_code=503)
        return JSONResponse({"status": "ok", "keys": kids})

    return app


def _approval_of(body: bytes) -> str:
    try:
        parsed = json_object(body, "the approval body")
    except JwsError as exc:
        raise GatewayError(400, minting.MALFORMED, str(exc)) from exc
    if set(parsed) != {"approval"} or not isinstance(parsed["approval"], str):
        raise GatewayError(400, minting.MALFORMED, 'the body must be {"approval": "<compact JWS>"}')
    return parsed["approval"]


def _attestation_nonce(value: str) -> bytes:
    try:
        raw = b64url_decode(value, "nonce")
    except (AccordError, binascii.Error, ValueError) as exc:
        raise GatewayError(400, minting.MALFORMED, f"nonce must be base64url: {exc}") from exc
    if not 1 <= len(raw) <= MAX_ATTESTATION_NONCE:
        raise GatewayError(400, minting.MALFORMED, f"nonce must be 1..{MAX_ATTESTATION_NONCE} bytes, got {len(raw)}")
    return raw


def _uvicorn_config(app: Any, *, host: str, port: int, tls_cert: str | None, tls_key: str | None,
                    log_level: str) -> Any:  # fmt: skip
    import uvicorn

    if (tls_cert is None) != (tls_key is None):
        raise ValueError("TLS needs both a certificate and its key")
    return uvicorn.Config(app, host=host, port=port, ssl_certfile=tls_cert, ssl_keyfile=tls_key, log_level=log_level,
                          server_header=False)  # fmt: skip


def serve(deployment: Any, *, host: str = "127.0.0.1", port: int = 8080, tls_cert: str | None = None,
          tls_key: str | None = None, public_base_url: str | None = None, batch: BatchConfig | None = None,
          log_level: str = "info") -> None:  # fmt: skip
    """Run the gateway with uvicorn until interrupted (TLS when a certificate is given)."""
    import uvicorn

    app = create_app(deployment, public_base_url=public_base_url, batch=batch)
    uvicorn.Server(_uvicorn_config(app, host=host, port=port, tls_cert=tls_cert, tls_key=tls_key,
                                   log_level=log_level)).run()  # fmt: skip


class ServerThread:
    """An ASGI app served by uvicorn in a background thread (notebooks, demos, tests):

        with ServerThread(create_app(deployment)) as server:
            Client(key, base_url=server.url).authorize(...)

    `port=0` picks a free port; `url` is known once started (https with a certificate).
    """

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0, tls_cert: str | None = None,
                 tls_key: str | None = None, log_level: str = "warning") -> None:  # fmt: skip
        import threading

        import uvicorn

        config = _uvicorn_config(app, host=host, port=port, tls_cert=tls_cert, tls_key=tls_key, log_level=log_level)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="accord-http", daemon=True)
        self._scheme = "http" if tls_cert is None else "https"
        self.url = ""

    def start(self, timeout: float = 10.0) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the HTTP server did not start (port in use?)")
            time.sleep(0.01)
        host, port = self._server.servers[0].sockets[0].getsockname()[:2]
        self.url = f"{self._scheme}://{host}:{port}"
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""A principal talking to Accord: its key, signed requests, the HTTP API, approvals.

    client = Client.generate(base_url="https://accord.example")     # or Client.load("bob.jwk", ...)
    result = client.authorize("signMessage", "ops-wallet", {"message": "hello"})
    result.raise_for_decision().token

    keys = client.verified_jwks(Release.load("accord-release.json"))  # attestations checked before the JWKS is trusted
    response = client.send(client.signed_resource_request("POST", vault_url, result.token, body))

Every request to /v1/authorize is signed per RFC 9421 (`accord.protocols.http_signatures`,
on top of the `http-message-signatures` package) with a fresh nonce. Without `base_url`
the client still signs requests for a deployment in the same process
(`Deployment.authorize(client.signed_request(...))`).
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from accord.client.attested_keys import VerifiedKeySet, verify_key_set
from accord.client.release import Release
from accord.client.results import ApiError, ApprovalsTimeout, AuthorizeResult, PendingRequest
from accord.enclave.platform.timeutil import utc_now
from accord.protocols import canonical_json
from accord.protocols.approvals import create_approval
from accord.protocols.authz_request import compute_request_hash
from accord.protocols.http_signatures import DEFAULT_LIFETIME, HttpRequest
from accord.protocols.signature_profile import sign_request
from accord.protocols.jwk import KeyKind, PublicJwk, SigningKey, b64url_encode, load_signing_key, save_signing_key
from accord.protocols.minting import Status
from accord.resource import AUTH_SCHEME, KEY_HEADER, encode_client_key

AUTHORIZE_PATH = "/v1/authorize"
DEFAULT_BASE_URL = "https://accord.invalid"
JSON = "application/json"


class Client:
    """A principal: its signing key and how it talks to Accord.

    `http`: an `httpx.Client` to use (e.g. FastAPI's TestClient, or one with TLS settings;
    the caller closes it); by default one is made on first use with `timeout`.
    """

    def __init__(self, key: SigningKey, *, base_url: str = DEFAULT_BASE_URL, http: httpx.Client | None = None,
                 timeout: float = 30.0) -> None:  # fmt: skip
        self.key = key
        self.base_url = base_url.rstrip("/")
        self._http = http
        self._owns_http = http is None
        self._timeout = timeout

    # --- keys ---

    @classmethod
    def generate(cls, kind: KeyKind = KeyKind.ED25519, **options: Any) -> Client:
        """A client with a new key (Ed25519 or P-256)."""
        return cls(SigningKey.generate(kind), **options)

    @classmethod
    def load(cls, path: str | os.PathLike[str], **options: Any) -> Client:
        """A client with the private JWK in `path` (as `accord keys generate` writes it)."""
        return cls(load_signing_key(path), **options)

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        """Write the private JWK to `path` (mode 0600, atomic)."""
        save_signing_key(self.key, path, overwrite=overwrite)

    @property
    def public_jwk(self) -> PublicJwk:
        """The public key to register for this principal in the bundle's data."""
        return self.key.public

    @property
    def jkt(self) -> str:
        """The key's RFC 7638 thumbprint: the `keyid` of its requests and the `cnf.jkt` of its tokens."""
        return self.key.thumbprint

    # --- signing ---

    def request_hash(self, action: str, resource: str, payload: Mapping[str, Any]) -> str:
        """The id approvals of this principal's request bind to."""
        return compute_request_hash(action, resource, dict(payload), self.jkt)

    def sign(self, request: HttpRequest, *, lifetime: int = DEFAULT_LIFETIME, now: int | None = None) -> HttpRequest:
        """Sign `request` per Accord's profile (Content-Digest added, fresh nonce)."""
        created = int(time.time()) if now is None else now
        return sign_request(request, self.key, created=created, expires=created + lifetime)

    def signed_request(self, action: str, resource: str, payload: Mapping[str, Any],
                       approvals: Sequence[str] = (), *, lifetime: int = 60, now: int | None = None) -> HttpRequest:  # fmt: skip
        """`POST /v1/authorize` with the canonical JSON body, signed per RFC 9421."""
        body: dict[str, Any] = {"action": action, "resource": resource, "payload": dict(payload)}
        if approvals:
            body["approvals"] = list(approvals)
        request = HttpRequest("POST", self.base_url + AUTHORIZE_PATH, (("Content-Type", JSON),),
                              canonical_json.dumps(body))  # fmt: skip
        return self.sign(request, lifetime=lifetime, now=now)

    def approve(self, request_id: str, *, now: int | None = None) -> str:
        """This principal's signed approval of another principal's pending request."""
        return create_approval(self.key, request_id, iat=int(time.time()) if now is None else now)

    def signed_resource_request(self, method: str, url: str, token: str, body: bytes | Mapping[str, Any] = b"", *,
                                content_type: str = JSON, lifetime: int = 60, now: int | None = None) -> HttpRequest:  # fmt: skip
        """A request to a resource server carrying `token` (`Authorization: AccordToken`) and
        this client's public key (`Accord-Key`), signed per RFC 9421 covering
        `authorization`: the proof that the token's holder is the key in `cnf.jkt`. A
        mapping body is sent as canonical JSON."""
        raw = canonical_json.dumps(dict(body)) if isinstance(body, Mapping) else body
        headers = (("Content-Type", content_type), ("Authorization", f"{AUTH_SCHEME} {token}"),
                   (KEY_HEADER, encode_client_key(self.public_jwk)))  # fmt: skip
        return self.sign(HttpRequest(method.upper(), url, headers, raw), lifetime=lifetime, now=now)

    # --- HTTP ---

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(timeout=self._timeout)
        return self._http

    def close(self) -> None:
        """Close the HTTP client this client made (not one it was given)."""
        if self._owns_http and self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, request: HttpRequest) -> httpx.Response:
        """Send a (signed) HttpRequest exactly as built: same method, URL, fields and body."""
        return self.http.request(request.method, request.url, headers=list(request.headers), content=request.body)

    def submit(self, request: HttpRequest) -> AuthorizeResult:
        """Send a signed /v1/authorize request; the decision as a result (never raised)."""
        return AuthorizeResult.from_response(*_json_answer(self.send(request)))

    def authorize(self, action: str, resource: str, payload: Mapping[str, Any],
                  approvals: Sequence[str] = ()) -> AuthorizeResult:  # fmt: skip
        """Ask Accord for a decision over HTTP. `result.raise_for_decision()` raises unless permitted."""
        return self.submit(self.signed_request(action, resource, payload, approvals))

    def request_status(self, request_id: str) -> PendingRequest:
        """A pending request: what is missing, which approvals were filed."""
        return PendingRequest.from_response(*_json_answer(self.http.get(f"{self.base_url}/v1/requests/{request_id}")))

    def file_approval(self, request_id: str, approval: str | None = None) -> PendingRequest:
        """File an approval for a pending request: `approval`, or this principal's own."""
        approval = self.approve(request_id) if approval is None else approval
        response = self.http.post(f"{self.base_url}/v1/requests/{request_id}/approvals", json={"approval": approval})
        return PendingRequest.from_response(*_json_answer(response))

    def authorize_with_approvals(self, action: str, resource: str, payload: Mapping[str, Any], *,
                                 timeout: float = 300.0, interval: float = 1.0,
                                 on_pending: Callable[[PendingRequest], None] | None = None) -> AuthorizeResult:  # fmt: skip
        """Authorize; on `confirm`, poll the pending request and resubmit (newly signed) with
        the approvals filed so far once there are at least as many as are missing, until
        the decision is no longer `confirm` or `timeout` seconds pass (ApprovalsTimeout).

        Approvals are verified by the enclaves only: an invalid one (anyone can file one)
        is ignored there and named in the reasons; the valid ones still count."""
        result = self.authorize(action, resource, payload)
        deadline = time.monotonic() + timeout
        tried: frozenset[str] = frozenset()
        while result.decision is Status.CONFIRM and result.request_id is not None:
            pending = self.request_status(result.request_id)
            if on_pending is not None:
                on_pending(pending)
            approvals = frozenset(pending.approvals)
            if approvals != tried and len(approvals) >= max(pending.needed, 1):
                tried = approvals
                result = self.authorize(action, resource, payload, sorted(approvals))
                continue
            if time.monotonic() >= deadline:
                raise ApprovalsTimeout(f"request {result.request_id} still misses {pending.missing} after {timeout} s")
            time.sleep(interval)
        return result

    def jwks(self) -> dict[str, Any]:
        """The JWKS as the gateway serves it (unverified: see `verified_jwks`)."""
        return _json_answer(self.http.get(f"{self.base_url}/.well-known/jwks.json"))[1]

    def verified_jwks(self, release: Release, *, expected_bundle: str | None = None) -> VerifiedKeySet:
        """Fetch every enclave's attestation with a fresh nonce, verify them against the
        operator's `release` (root, PCRs, debug, the configured evaluators of every group),
        and return the JWKS only if its keys are exactly the attested group keys (see
        `accord.client.attested_keys`)."""
        nonce = os.urandom(32)
        response = self.http.get(f"{self.base_url}/v1/attestations", params={"nonce": b64url_encode(nonce)})
        status, body = _json_answer(response)
        try:
            documents = {name: base64.b64decode(doc, validate=True) for name, doc in body["documents"].items()}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ApiError(status, f"not an attestation answer: {exc}") from exc
        return verify_key_set(documents, self.jwks(), release, nonce=nonce, at=utc_now(),
                              expected_bundle=expected_bundle)  # fmt: skip


def _json_answer(response: httpx.Response) -> tuple[int, Any]:
    """(status, JSON body) of a success or of a decision; ApiError for any other answer."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        raise ApiError(status, f"not JSON: {response.text[:200]!r}") from None
    if status >= 400 and not (isinstance(body, dict) and "decision" in body):
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            raise ApiError(status, str(error.get("message")), code=str(error.get("code")))
        raise ApiError(status, f"{body!r:.200}")
    return status, body

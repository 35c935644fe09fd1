"""The HTTP API's answers: permit, forbid, confirm, the approvals flow, JWKS, health, docs,
and a client that knows nothing of Accord's code."""

from __future__ import annotations

import ipaddress
import secrets
import ssl
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient
from http_message_signatures import HTTPMessageSigner, HTTPSignatureKeyResolver, algorithms
from joserfc import jwt
from joserfc.jwk import KeySet

from accord.client import ApprovalsRequired, Client, Forbidden
from accord.cluster.gateway import ServerThread, create_app
from accord.protocols import canonical_json
from accord.protocols.minting import Status
from http_helpers import BASE_URL, erc20_transfer, now, raw_signed, send


# --- interoperability: no Accord client code on the signing side ---


class _Message:
    """The minimal request interface the http-message-signatures package signs."""

    def __init__(self, method: str, url: str, headers: dict[str, str]) -> None:
        self.method, self.url, self.headers = method, url, headers


class _OneKey(HTTPSignatureKeyResolver):
    def __init__(self, key: ed25519.Ed25519PrivateKey) -> None:
        self.key = key

    def resolve_private_key(self, key_id: str):
        return self.key


def test_a_request_signed_with_the_library_directly_gets_a_token(world):
    # bob's key, as raw cryptography: the test never touches accord.client or http_signatures.
    private = ed25519.Ed25519PrivateKey.from_private_bytes(world.keys["bob"].crypto_key().private_bytes_raw())
    content = b'{"action":"signMessage","resource":"ops-wallet","payload":{"message":"from a stranger"}}'
    message = _Message("POST", BASE_URL + "/v1/authorize", {"Content-Type": "application/json"})
    created = datetime.now(timezone.utc)
    HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=_OneKey(private)).sign(
        message, key_id=world.keys["bob"].thumbprint, created=created, expires=created + timedelta(seconds=60),
        nonce=secrets.token_urlsafe(24), label="sig", body=content,
        covered_component_ids=("@method", "@target-uri", "content-type", "content-digest"),
    )  # fmt: skip
    assert 'alg="ed25519"' in message.headers["Signature-Input"]
    response = world.http.post("/v1/authorize", headers=message.headers, content=content)
    assert response.status_code == 200, response.text
    token = response.json()["token"]
    jwks = world.http.get("/.well-known/jwks.json").json()
    claims = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["EdDSA"]).claims
    assert claims["sub"] == "bob" and claims["cnf"] == {"jkt": world.keys["bob"].thumbprint}


# --- decisions ---


def test_permit_is_200_with_a_token(world):
    result = world.client("carol").authorize("signMessage", "ops-wallet", {"message": "P-256 works"})
    assert (result.http_status, result.decision) == (200, Status.PERMIT)
    assert result.raise_for_decision().token.count(".") == 2
    assert result.reasons == ("permitted by rule ops-sign-messages",)


def test_forbid_is_403_with_reasons(world):
    result = world.client("bob").authorize("signRaw", "ops-wallet", {"raw": "0xdeadbeef"})
    assert (result.http_status, result.decision, result.token) == (403, Status.FORBID, None)
    assert result.reasons == ("forbidden by rule no-raw-signing",)
    try:
        result.raise_for_decision()
    except Forbidden as exc:
        assert "no-raw-signing" in str(exc)


def test_confirm_is_202_with_request_id_and_missing_approvals(world):
    payload = erc20_transfer(world.exchange(), 40_000_000_000)
    bob = world.client("bob")
    response = send(world.http, bob.signed_request("signTransaction", "ops-wallet", payload))
    assert response.status_code == 202
    answer = response.json()
    assert answer["decision"] == "confirm"
    assert answer["request_id"] == bob.request_hash("signTransaction", "ops-wallet", payload)
    assert answer["approvals"]["missing"] == [{"id": "ops-usdc-large#0", "count": 2, "of": "group:approvers",
                                               "approvers": []}]  # fmt: skip
    assert response.headers["Location"] == f"/v1/requests/{answer['request_id']}"
    pending = bob.request_status(answer["request_id"])
    assert (pending.principal, pending.action, pending.needed, pending.approvals) == ("bob", "signTransaction", 2, ())


def test_approvals_flow_over_http(world):
    """confirm (202) -> two approvers file approvals -> the client resubmits -> permit (200)."""
    payload = erc20_transfer(world.exchange(), 50_000_000_000)
    bob, dave, erin = world.client("bob"), world.client("dave"), world.client("erin")
    first = bob.authorize("signTransaction", "ops-wallet", payload)
    assert first.decision is Status.CONFIRM
    try:
        first.raise_for_decision()
    except ApprovalsRequired as exc:
        assert exc.result.missing[0]["count"] == 2

    seen = []

    def approvers_act(pending):  # runs at each poll: the approvers answer after the first one
        seen.append(len(pending.approvals))
        if len(seen) == 1:
            dave.file_approval(pending.request_id)
        elif len(seen) == 2:
            erin.file_approval(pending.request_id)

    result = bob.authorize_with_approvals("signTransaction", "ops-wallet", payload, timeout=10, interval=0.01,
                                          on_pending=approvers_act)  # fmt: skip
    assert result.decision is Status.PERMIT, result
    assert seen == [0, 1, 2]
    assert result.request_id == first.request_id
    assert sorted(item["id"] for item in result.approvals["satisfied"]) == ["ops-usdc-large#0"]
    # Permitted requests leave the pending store.
    assert world.http.get(f"/v1/requests/{first.request_id}").status_code == 404


def test_an_approval_by_the_requester_does_not_count(world):
    payload = erc20_transfer(world.exchange(), 45_000_000_000)
    bob = world.client("bob")
    request_id = bob.authorize("signTransaction", "ops-wallet", payload).request_id
    self_approved = bob.authorize("signTransaction", "ops-wallet", payload, [bob.approve(request_id)])
    assert self_approved.decision is Status.CONFIRM


def test_a_forged_approval_is_ignored_and_named(world):
    payload = erc20_transfer(world.exchange(), 46_000_000_000)
    bob, mallory = world.client("bob"), world.client("mallory")
    request_id = bob.authorize("signTransaction", "ops-wallet", payload).request_id
    result = bob.authorize("signTransaction", "ops-wallet", payload, [mallory.approve(request_id)])
    assert (result.http_status, result.decision) == (202, Status.CONFIRM)
    assert any("approval 0 ignored: UnknownJwsKey" in reason for reason in result.reasons)


# --- configuration: behind a proxy ---


def test_behind_a_proxy_the_public_url_is_what_clients_sign(world):
    public = "https://accord.example"
    client = world.client("bob")
    client.base_url = public
    signed = client.signed_request("signMessage", "ops-wallet", {"message": "via proxy"})
    internal_url = BASE_URL + "/v1/authorize"  # where the proxy forwards it
    assert send(world.http, signed, url=internal_url).status_code == 401  # the gateway sees its own URL
    with TestClient(create_app(world.deployment, public_base_url=public), base_url=BASE_URL) as proxied:
        fresh = client.signed_request("signMessage", "ops-wallet", {"message": "via proxy"})
        assert send(proxied, fresh, url=internal_url).status_code == 200


# --- keys, health, docs ---


def test_jwks_health_and_docs(world):
    jwks = world.http.get("/.well-known/jwks.json").json()
    assert jwks == world.deployment.jwks() and len(jwks["keys"]) == 1
    assert world.http.get("/healthz").json() == {"status": "ok", "keys": [jwks["keys"][0]["kid"]]}
    assert world.http.get("/docs").status_code == 200
    spec = world.http.get("/openapi.json").json()
    assert {"/v1/authorize", "/v1/requests/{request_id}", "/v1/requests/{request_id}/approvals",
            "/.well-known/jwks.json", "/v1/attestations", "/healthz"} <= set(spec["paths"])  # fmt: skip
    authorize = spec["paths"]["/v1/authorize"]["post"]
    assert {"200", "202", "400", "401", "403", "409", "503"} <= set(authorize["responses"])
    assert {p["name"] for p in authorize["parameters"]} == {"Content-Digest", "Signature-Input", "Signature"}


def test_attestations_are_served_with_the_nonce(world):
    answer = world.http.get("/v1/attestations", params={"nonce": "bm9uY2U"}).json()
    assert answer["nonce"] == "bm9uY2U" and len(answer["documents"]) == 3


def test_the_gateway_batches_concurrent_requests(world):
    bob = world.client("bob")
    batcher = world.http.app.state.batcher
    before = batcher.batches
    requests = [bob.signed_request("signMessage", "ops-wallet", {"message": f"m{i}"}) for i in range(12)]
    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(lambda r: send(world.http, r).status_code, requests))
    assert statuses == [200] * 12
    assert batcher.batches - before < 12  # fewer deployment calls than requests


def test_canonical_body_is_not_required(world):
    # Any JSON spelling the client signed is fine: the evaluators hash the parsed request.
    content = b'{ "resource": "ops-wallet", "action": "signMessage", "payload": {"message": "spaced"} }'
    assert canonical_json.loads(content)
    response = send(world.http, raw_signed(world.keys["bob"], url=BASE_URL + "/v1/authorize", content=content,
                                           created=now()))  # fmt: skip
    assert response.status_code == 200


def test_framework_errors_are_json_too(world):
    wrong_method = world.http.get("/v1/authorize")
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]["code"] == "http_error"
    assert world.http.get("/v2/nothing").json()["error"]["message"] == "Not Found"


def test_over_tls_the_client_signs_the_https_uri(world, tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    start = datetime.now(timezone.utc) - timedelta(minutes=1)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))  # fmt: skip
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    with ServerThread(create_app(world.deployment), tls_cert=str(cert_file), tls_key=str(key_file)) as server:
        assert server.url.startswith("https://127.0.0.1:")
        trust = ssl.create_default_context(cafile=str(cert_file))
        with httpx.Client(verify=trust) as http:
            bob = Client(world.keys["bob"], base_url=server.url, http=http)
            result = bob.authorize("signMessage", "ops-wallet", {"message": "over TLS"})
            assert result.decision is Status.PERMIT, result

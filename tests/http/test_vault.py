"""The vault example end to end: client -> Accord gateway -> vault, all over HTTP (ASGI)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from fastapi.testclient import TestClient

from accord.protocols import canonical_json
from accord.protocols.jwk import b64url_decode
from http_helpers import erc20_transfer

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "vault"
VAULT = "http://vault.test"
REQUEST = {"action": "signMessage", "resource": "ops-wallet", "payload": {"message": "log in"}}


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"vault_example_{name}", EXAMPLE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def vault(world):
    app = load("server").create_vault_app(world.deployment.jwks())
    with TestClient(app, base_url=VAULT) as http:
        yield http


def token_for(world, request=REQUEST, who="bob") -> str:
    return world.client(who).authorize(request["action"], request["resource"], request["payload"]).raise_for_decision().token


def call(world, vault, token, body=REQUEST, who="bob"):
    signed = world.client(who).signed_resource_request("POST", VAULT + "/v1/sign", token, body)
    return vault.request(signed.method, signed.url, headers=list(signed.headers), content=signed.body), signed


def test_the_vault_refuses_without_a_valid_token_for_exactly_this_request(world, vault):
    token = token_for(world)
    no_token = vault.post("/v1/sign", json=REQUEST)
    assert no_token.status_code == 401 and no_token.json()["detail"]["code"] == "missing_token"
    assert no_token.headers["WWW-Authenticate"].startswith("AccordToken")
    stolen, _ = call(world, vault, token, who="carol")
    assert stolen.status_code == 401 and stolen.json()["detail"]["code"] == "proof_key_mismatch"
    other, _ = call(world, vault, token, body=dict(REQUEST, payload={"message": "drain the wallet"}))
    assert other.status_code == 403 and other.json()["detail"]["code"] == "request_mismatch"
    # None of the refusals used the token up: bob can still use it, once.
    ok, signed = call(world, vault, token)
    assert ok.status_code == 200
    replay = vault.request(signed.method, signed.url, headers=list(signed.headers), content=signed.body)
    assert replay.status_code == 409 and replay.json()["detail"]["code"] == "replayed_nonce"
    again, _ = call(world, vault, token)
    assert again.status_code == 409 and again.json()["detail"]["code"] == "token_reused"


def test_the_vault_signs_what_the_token_authorizes(world, vault):
    answer, _ = call(world, vault, token_for(world))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["principal"], body["account"], body["action"]) == ("bob", "ops-wallet", "signMessage")
    assert b64url_decode(body["signed"], "signed") == b"log in"
    key = vault.get("/v1/keys").json()["ops-wallet"]
    assert body["public_key"] == key
    ed25519.Ed25519PublicKey.from_public_bytes(b64url_decode(key["x"], "x")).verify(
        b64url_decode(body["signature"], "signature"), b"log in")  # fmt: skip


def test_the_vault_signs_a_transaction_after_approvals(world, vault):
    request = {"action": "signTransaction", "resource": "ops-wallet",
               "payload": erc20_transfer(world.exchange(), 60_000_000_000)}  # fmt: skip
    bob = world.client("bob")

    def approve(pending):
        for name in ("dave", "frank")[len(pending.approvals):]:
            world.client(name).file_approval(pending.request_id)

    result = bob.authorize_with_approvals(request["action"], request["resource"], request["payload"], timeout=10,
                                          interval=0.01, on_pending=approve).raise_for_decision()  # fmt: skip
    answer, _ = call(world, vault, result.token, body=request)
    assert answer.status_code == 200, answer.text
    assert b64url_decode(answer.json()["signed"], "signed") == canonical_json.dumps(request["payload"])


def test_the_demo_runs_end_to_end(tmp_path, capsys):
    assert load("run_demo").main(["--in-process", "--json", "--workdir", str(tmp_path)]) == 0
    summary = json.loads(capsys.readouterr().out)
    decisions = [step["decision"] for step in summary["steps"]]
    assert decisions == ["permit", "permit"]
    assert summary["steps"][0]["replay_status"] == 409 and summary["steps"][0]["other_request_status"] == 403

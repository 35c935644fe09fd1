"""`accord authorize`, `accord approve`, `accord token verify` against a gateway on a real
local port; `accord serve`'s argument checks (attaching to Ray is the lead's tests')."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from accord.cli import main
from accord.cluster.gateway import ServerThread, create_app
from accord.protocols.jwk import save_signing_key
from http_helpers import erc20_transfer


@pytest.fixture(scope="module")
def server(world):
    with ServerThread(create_app(world.deployment)) as running:
        yield running


@pytest.fixture(scope="module")
def key_files(world, tmp_path_factory):
    root = tmp_path_factory.mktemp("keys")
    paths = {}
    for name, key in world.keys.items():
        paths[name] = str(root / f"{name}.jwk")
        save_signing_key(key, paths[name])
    return paths


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input)


def authorize(server, key_files, who, action, resource, payload, *extra):
    return run("authorize", "--key", key_files[who], "--url", server.url, action, resource,
               "--payload", json.dumps(payload), *extra)  # fmt: skip


# --- refusals first ---


def test_unknown_key_is_refused(server, key_files):
    result = authorize(server, key_files, "mallory", "signMessage", "ops-wallet", {"message": "hi"})
    assert result.exit_code == 1
    assert "rejected (HTTP 401, unknown_key)" in result.output


def test_forbid_exits_1(server, key_files):
    result = authorize(server, key_files, "bob", "signRaw", "ops-wallet", {"raw": "0xdeadbeef"}, "--json")
    assert result.exit_code == 1
    assert json.loads(result.output)["decision"] == "forbid"


def test_bad_payload_is_a_usage_error(server, key_files):
    result = run("authorize", "--key", key_files["bob"], "--url", server.url, "signMessage", "ops-wallet",
                 "--payload", "[1]")  # fmt: skip
    assert result.exit_code == 2 and "JSON object" in result.output


def test_unreachable_gateway_is_reported(key_files):
    result = run("authorize", "--key", key_files["bob"], "--url", "http://127.0.0.1:9", "signMessage", "ops-wallet",
                 "--payload", "{}")  # fmt: skip
    assert result.exit_code == 1 and "cannot reach" in result.output


def test_invalid_tokens_exit_1(world, server, key_files, tmp_path):
    token = json.loads(authorize(server, key_files, "bob", "signMessage", "ops-wallet", {"message": "t"}, "--json")
                       .output)["token"]  # fmt: skip
    wrong_audience = run("token", "verify", token, "--jwks", server.url, "--audience", "payments")
    assert wrong_audience.exit_code == 1 and "WrongAudience" in wrong_audience.output
    garbage = run("token", "verify", "a.b.c", "--jwks", server.url)
    assert garbage.exit_code == 1 and "invalid token" in garbage.output
    other_keys = tmp_path / "other.json"
    other_keys.write_text(json.dumps({"keys": []}))
    assert run("token", "verify", token, "--jwks", str(other_keys)).exit_code == 1


def test_serve_checks_its_options():
    assert run("serve", "--tls-cert", __file__).exit_code == 2
    result = run("serve", "--public-url", "https://x/prefix", "--address", "127.0.0.1:1")
    assert result.exit_code == 2 and "without a path" in result.output


# --- the happy paths ---


def test_authorize_then_verify_the_token(world, server, key_files, tmp_path):
    result = authorize(server, key_files, "bob", "signMessage", "ops-wallet", {"message": "cli"}, "--json")
    assert result.exit_code == 0, result.output
    token = json.loads(result.output)["token"]
    verified = run("token", "verify", token, "--jwks", server.url + "/.well-known/jwks.json", "--json")
    assert verified.exit_code == 0, verified.output
    claims = json.loads(verified.output)
    assert (claims["sub"], claims["action"], claims["cnf"]) == ("bob", "signMessage", {"jkt": world.keys["bob"].thumbprint})
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(world.deployment.jwks()))
    from_stdin = run("token", "verify", "-", "--jwks", str(jwks_file), input=token + "\n")
    assert from_stdin.exit_code == 0 and "sub: bob" in from_stdin.output


def test_confirm_approve_and_wait(world, server, key_files, tmp_path):
    payload_file = tmp_path / "payout.json"
    payload_file.write_text(json.dumps(erc20_transfer(world.exchange(), 55_000_000_000)))
    ask = ("bob", "signTransaction", "ops-wallet")
    pending = run("authorize", "--key", key_files["bob"], "--url", server.url, *ask[1:], "--payload", f"@{payload_file}")
    assert pending.exit_code == 3, pending.output
    request_id = pending.output.split("request ")[1].split()[0]
    for approver in ("dave", "erin"):
        filed = run("approve", "--key", key_files[approver], "--url", server.url, "--", request_id)  # ids may start with "-"
        assert filed.exit_code == 0 and "approved" in filed.output
    done = run("authorize", "--key", key_files["bob"], "--url", server.url, *ask[1:], "--payload", f"@{payload_file}",
               "--wait-approvals", "--timeout", "10", "--json")  # fmt: skip
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["decision"] == "permit"


def test_curl_prints_a_signed_request_that_curl_can_send(server, key_files):
    import shlex
    import shutil
    import subprocess

    printed = authorize(server, key_files, "bob", "signMessage", "ops-wallet", {"message": "curl"}, "--curl")
    assert printed.exit_code == 0 and printed.output.startswith("curl -sS -X POST ")
    assert "Signature-Input: accord=" in printed.output
    if shutil.which("curl") is None:
        pytest.skip("no curl on this machine")
    answer = subprocess.run(shlex.split(printed.output), capture_output=True, timeout=30, check=True)
    assert json.loads(answer.stdout)["decision"] == "permit"

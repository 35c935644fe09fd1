"""`accord keys` and `accord bundle` through click's CliRunner."""

from __future__ import annotations

import json
import stat

import pytest
from bundle_fixtures import POLICY, SOURCE_FILES
from click.testing import CliRunner

from accord.bundles.layout import read_tarball, write_tarball
from accord.cli import main


# The bundle fixtures' files, completed to meet the decision contract (a decision rule,
# integers only): `accord bundle build` refuses anything less.
CLI_SOURCE_FILES = {
    **SOURCE_FILES,
    "accord/policy.rego": POLICY + b"""
decision := {"decision": "permit", "reasons": [], "approvals": {"required": [], "missing": [], "satisfied": []}} if allow
""",
    "accord/roles/data.json": b'{"admins": ["alice", "bob"], "limits": {"daily": 1000}}',
}


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def workspace(tmp_path):
    """A source directory, an admin key pair, a built and signed bundle."""
    src = tmp_path / "src"
    for path, content in CLI_SOURCE_FILES.items():
        (src / path).parent.mkdir(parents=True, exist_ok=True)
        (src / path).write_bytes(content)
    assert run("keys", "generate", "--alg", "Ed25519", "--out", tmp_path / "admin.jwk").exit_code == 0
    built = run("bundle", "build", src, "-o", tmp_path / "b.tar.gz", "--version", "3",
                "--expires", "2099-01-01T00:00:00Z")
    assert built.exit_code == 0, built.output
    signed = run("bundle", "sign", tmp_path / "b.tar.gz", "--key", tmp_path / "admin.jwk",
                 "-o", tmp_path / "b.sig.json")
    assert signed.exit_code == 0, signed.output
    return tmp_path


def fingerprint(path) -> str:
    result = run("keys", "fingerprint", path)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def verify(ws, *extra):
    return run("bundle", "verify", ws / "b.tar.gz", "--signature", ws / "b.sig.json",
               "--pubkey", ws / "admin.pub.jwk", *extra)


def test_help_lists_the_commands():
    result = run("--help")
    assert "keys" in result.output and "bundle" in result.output


@pytest.mark.parametrize("alg, kty", [("Ed25519", "OKP"), ("ES256", "EC")])
def test_keys_generate(tmp_path, alg, kty):
    result = run("keys", "generate", "--alg", alg, "--out", tmp_path / "admin.jwk")
    assert result.exit_code == 0, result.output
    private, public = tmp_path / "admin.jwk", tmp_path / "admin.pub.jwk"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert "d" in json.loads(private.read_text()) and "d" not in json.loads(public.read_text())
    assert json.loads(public.read_text())["kty"] == kty
    fp = fingerprint(public)
    assert f"fingerprint: {fp}" in result.stdout
    assert fingerprint(private) == fp


def test_keys_generate_does_not_overwrite(tmp_path):
    out = tmp_path / "admin.jwk"
    out.write_text("precious")
    out.chmod(0o644)
    result = run("keys", "generate", "--out", out)
    assert result.exit_code != 0 and "--force" in result.output
    assert out.read_text() == "precious"
    assert run("keys", "generate", "--out", out, "--force").exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_build_sign_verify(workspace):
    result = verify(workspace, "--pin", fingerprint(workspace / "admin.pub.jwk"), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["valid"] and report["version"] == 3
    assert report["expires"] == "2099-01-01T00:00:00Z"
    assert report["files"] == [".manifest", "accord/policy.rego", "accord/roles/data.json"]
    assert len(report["digest"]) == 64
    assert report["signer"] == fingerprint(workspace / "admin.pub.jwk")


def test_build_is_deterministic(workspace):
    again = workspace / "again.tar.gz"
    run("bundle", "build", workspace / "src", "-o", again, "--version", "3",
        "--expires", "2099-01-01T00:00:00Z")
    assert again.read_bytes() == (workspace / "b.tar.gz").read_bytes()


def test_verify_without_pin_warns(workspace):
    result = verify(workspace)
    assert result.exit_code == 0
    assert "no --pin given" in result.stderr


def test_verify_tampered_bundle_fails(workspace):
    files = {f.path: f.content for f in read_tarball((workspace / "b.tar.gz").read_bytes()).files}
    files["accord/roles/data.json"] = b'{"admins": ["mallory"]}'
    (workspace / "b.tar.gz").write_bytes(write_tarball(files))
    result = verify(workspace, "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report == {"valid": False, "error": "DigestMismatchError", "message": report["message"],
                      "problems": [report["message"]]}
    assert "accord/roles/data.json: digest mismatch" in result.stdout


@pytest.mark.parametrize(
    "extra, error",
    [
        (("--pin", "ab" * 32), "UnpinnedKeyError"),
        (("--min-version", "4"), "RollbackError"),
        (("--scope", "read"), "ScopeMismatchError"),
        (("--pin", "not-a-fingerprint"), "KeyFileError"),
    ],
)
def test_verify_refusals(workspace, extra, error):
    result = verify(workspace, *extra)
    assert result.exit_code == 1
    assert f"INVALID: {error}" in result.stderr


def test_verify_unsigned_and_missing_inputs(workspace):
    unsigned = run("bundle", "verify", workspace / "b.tar.gz", "--pubkey", workspace / "admin.pub.jwk")
    assert unsigned.exit_code == 1 and "UnsignedBundleError" in unsigned.stderr
    missing = run("bundle", "verify", workspace / "none.tar.gz", "--pubkey", workspace / "admin.pub.jwk")
    assert missing.exit_code == 1 and "SourceError" in missing.stderr


def test_verify_expired_bundle(workspace):
    built = run("bundle", "build", workspace / "src", "-o", workspace / "b.tar.gz", "--version", "3",
                "--expires", "2000-01-01T00:00:00Z")
    assert built.exit_code == 0
    run("bundle", "sign", workspace / "b.tar.gz", "--key", workspace / "admin.jwk",
        "-o", workspace / "b.sig.json")
    result = verify(workspace)
    assert result.exit_code == 1 and "ExpiredBundleError" in result.stderr


@pytest.mark.parametrize("expires", ["tomorrow", "2099-01-01", "30x"])
def test_build_rejects_bad_expiry(workspace, expires):
    result = run("bundle", "build", workspace / "src", "-o", workspace / "x.tar.gz",
                 "--version", "1", "--expires", expires)
    assert result.exit_code == 1 and "RFC 3339" in result.output


def test_build_refuses_a_presigned_directory(workspace):
    (workspace / "src" / ".signatures.json").write_text('{"signatures": []}')
    result = run("bundle", "build", workspace / "src", "-o", workspace / "x.tar.gz", "--version", "1")
    assert result.exit_code == 1 and "already has a .signatures.json" in result.output


def test_sign_with_a_public_key_fails(workspace):
    result = run("bundle", "sign", workspace / "b.tar.gz", "--key", workspace / "admin.pub.jwk",
                 "-o", workspace / "x.sig.json")
    assert result.exit_code == 1 and "needs the 'd' member" in result.output


def test_a_quorum_signs_with_add_and_verifies_with_a_threshold(workspace):
    ws = workspace
    assert run("keys", "generate", "--out", ws / "second.jwk").exit_code == 0
    keys = [json.loads((ws / name).read_text()) for name in ("admin.pub.jwk", "second.pub.jwk")]
    (ws / "admins.jwks").write_text(json.dumps({"keys": keys}))
    pins = ["--pin", fingerprint(ws / "admin.pub.jwk"), "--pin", fingerprint(ws / "second.pub.jwk")]
    args = ["bundle", "verify", ws / "b.tar.gz", "--signature", ws / "b.sig.json", "--pubkey", ws / "admins.jwks",
            *pins, "--threshold", "2"]  # fmt: skip
    short = run(*args)
    assert short.exit_code == 1 and "InsufficientSignaturesError" in short.output
    assert f"signed by 1: {fingerprint(ws / 'admin.pub.jwk')}" in short.output
    added = run("bundle", "sign", ws / "b.tar.gz", "--key", ws / "second.jwk", "-o", ws / "b.sig.json", "--add")
    assert added.exit_code == 0 and "(2 signatures in the file)" in added.output
    report = json.loads(run(*args, "--json").stdout)
    assert report["valid"] and sorted(report["signers"]) == sorted(fingerprint(ws / p) for p in
                                                                   ("admin.pub.jwk", "second.pub.jwk"))  # fmt: skip

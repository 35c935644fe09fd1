"""`accord frost demo`, through the real CLI entry point."""

from __future__ import annotations

import base64
import json
import re

from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from accord.cli import main


def run(*args: str):
    result = CliRunner().invoke(main, ["frost", "demo", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_demo_prints_a_verifiable_signature():
    output = run("--message", "hello enclaves")
    jwk = json.loads(output[output.index("{") : output.index("}") + 1])
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519"
    signature = bytes.fromhex(re.search(r"hex\): ([0-9a-f]{128})", output).group(1))
    key = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(jwk["x"] + "="))
    key.verify(signature, b"hello enclaves")  # independently of the demo's own check
    assert "3 participants, threshold 3" in output
    assert "Verified with cryptography's Ed25519PublicKey.verify: OK" in output


def test_demo_listed_in_help():
    result = CliRunner().invoke(main, ["frost", "--help"])
    assert result.exit_code == 0 and "demo" in result.output
    assert "FROST" in CliRunner().invoke(main, ["--help"]).output

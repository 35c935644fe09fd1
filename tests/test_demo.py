"""`accord demo` as `make demo` runs it, and over HTTP: two tokens an off-the-shelf JOSE
library verifies with the printed JWKS, and the three kinds of decision."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from joserfc import jwt
from joserfc.jwk import KeySet

from accord.cli import main

pytestmark = pytest.mark.standalone


@pytest.mark.parametrize("flags", [[], ["--http"]], ids=["python-api", "http"])
def test_demo_prints_a_token_the_jwks_verifies(flags):
    result = CliRunner().invoke(main, ["demo", "--json", *flags])
    assert result.exit_code == 0, result.output[-3000:]
    output = json.loads(result.output)
    token = jwt.decode(output["token"], KeySet.import_key_set(output["jwks"]), algorithms=["EdDSA"])
    assert token.header["typ"] == "at+jwt" and token.claims["sub"] == "bob"
    assert [d["decision"] for d in output["decisions"]] == ["permit", "forbid", "confirm", "permit"]
    assert output["decisions"][1]["reasons"] == ["forbidden by rule no-raw-signing"]

"""`accord cluster join` without a cluster: the resource names and the token check."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from accord.cli import main


def run(*args, env=None):
    return CliRunner().invoke(main, ["cluster", "join", *args], env=env)


@pytest.mark.parametrize("enclave, resource", [("0", "enclave-0"), ("2", "enclave-2"), ("1-2", "enclave-1-2")])
def test_join_prints_ray_start_with_the_enclave_resource_and_token_mode(enclave, resource):
    result = run("--address", "10.0.0.1:6379", "--enclave", enclave, "--print")
    assert result.exit_code == 0, result.output
    line = result.output.splitlines()[0]
    assert line.startswith("RAY_AUTH_MODE=token ") and " start --address=10.0.0.1:6379 " in line
    assert f'--resources={{"{resource}": 1}}' in line


@pytest.mark.parametrize("enclave", ["a", "1-", "-1", "1-2-3"])
def test_join_refuses_other_enclave_names(enclave):
    result = run("--address", "h:1", "--enclave", enclave)
    assert result.exit_code == 2 and "is not I or G-I" in result.output


def test_join_without_the_token_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    result = run("--address", "h:1", "--enclave", "0", env={"RAY_AUTH_TOKEN": None, "RAY_AUTH_TOKEN_PATH": None})
    assert result.exit_code == 1
    assert "no Ray cluster token" in result.output and "~/.ray/auth_token" in result.output
    assert "Traceback" not in result.output

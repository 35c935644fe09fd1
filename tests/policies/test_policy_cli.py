"""`accord policy eval`: the decision for a request file, on either engine."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import ENGINE_PARAMS, POLICY_DIR

from accord.cli import main


@pytest.mark.parametrize("engine_name", ENGINE_PARAMS)
def test_eval_prints_the_canonical_decision(tmp_path, usdc_payout, engine_name):
    request = tmp_path / "request.json"
    request.write_text(json.dumps(usdc_payout(50_000 * 10**6, approvals=["dave", "erin"])))
    args = ["policy", "eval", "--bundle-dir", str(POLICY_DIR), "--input", str(request), "--engine", engine_name]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    decision = json.loads(result.output)
    assert decision["decision"] == "permit" and decision["reasons"] == ["permitted by rule ops-usdc-large"]

    shown = CliRunner().invoke(main, [*args, "--show-input"])
    prepared, decided = shown.output.strip().split("\n")
    assert json.loads(prepared)["intent"]["type"] == "transferErc20"
    assert decided == result.output.strip()


def test_eval_refuses_a_bad_request(tmp_path, usdc_payout):
    request = tmp_path / "request.json"
    request.write_text(json.dumps({**usdc_payout(1), "time": 1.5}))
    result = CliRunner().invoke(main, ["policy", "eval", "--bundle-dir", str(POLICY_DIR), "--input", str(request)])
    assert result.exit_code != 0
    assert "time must be an integer" in result.output


def test_help_lists_the_policy_command():
    result = CliRunner().invoke(main, ["--help"])
    assert "policy" in result.output and "Test and evaluate Rego policies." in result.output

"""The shipped library's own Rego tests, run by `accord policy test` on both engines, and
the runner itself (it must report failures, not only successes)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from conftest import POLICY_DIR, TEST_RUNNER_ENGINE_PARAMS

from accord.bundles.policy_test import discover_tests, load_policy_dir, run_tests
from accord.cli import main


@pytest.mark.parametrize("engine_name", TEST_RUNNER_ENGINE_PARAMS)
def test_library_tests_pass(engine_name):
    result = CliRunner().invoke(main, ["policy", "test", str(POLICY_DIR), "--engine", engine_name, "-v"])
    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.output
    assert f"{engine_name}: PASS" in result.output


def test_every_rule_file_has_tests():
    modules, _ = load_policy_dir(POLICY_DIR)
    tested = {file for _, _, file in discover_tests(modules)}
    rule_files = {p for p in modules if not p.endswith("_test.rego")}
    assert {p.replace(".rego", "_test.rego") for p in rule_files} <= tested


FAILING = """package demo_test

test_passes if { 1 == 1 }

test_fails if { 1 == 2 }

test_errors if { 1 / 0 == 1 }
"""


@pytest.mark.parametrize("engine_name", TEST_RUNNER_ENGINE_PARAMS)
def test_runner_reports_each_failure(tmp_path, engine_name):
    (tmp_path / "demo_test.rego").write_text(FAILING)
    report = run_tests(tmp_path, engine_name)
    outcome = {r.name.rsplit(".", 1)[1]: r for r in report.results}
    assert outcome["test_passes"].passed
    assert not outcome["test_fails"].passed and "want true" in outcome["test_fails"].detail
    assert not outcome["test_errors"].passed
    assert not report.ok

    result = CliRunner().invoke(main, ["policy", "test", str(tmp_path), "--engine", engine_name])
    assert result.exit_code == 1
    assert "test_fails: FAIL" in result.output and "test_passes" not in result.output


def test_runner_refuses_ambiguous_data(tmp_path):
    (tmp_path / "data.json").write_text('{"a": 1, "a": 2}')
    (tmp_path / "p_test.rego").write_text("package p_test\n\ntest_x if { true }\n")
    result = CliRunner().invoke(main, ["policy", "test", str(tmp_path)])
    assert result.exit_code != 0 and "duplicate object key" in result.output


def test_runner_refuses_a_directory_that_does_not_load(tmp_path):
    (tmp_path / "broken_test.rego").write_text("package broken_test\n\ntest_x if {\n")
    result = CliRunner().invoke(main, ["policy", "test", str(tmp_path)])
    assert result.exit_code != 0
    assert "broken_test.rego" in result.output


def test_runner_with_no_tests_fails(tmp_path):
    (tmp_path / "p.rego").write_text("package p\n\nx := 1\n")
    result = CliRunner().invoke(main, ["policy", "test", str(tmp_path)])
    assert result.exit_code == 1


def test_data_json_is_mounted_at_its_directory(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "data.json").write_text('{"limit": 3}')
    (tmp_path / "p_test.rego").write_text("package p_test\n\ntest_data if { data.sub.limit == 3; not data.limit }\n")
    assert run_tests(tmp_path).ok

"""`accord up` / `status` / `bundle activate` / `down` as an operator runs them: separate
processes, a local Ray cluster that outlives `up`, a live update and a refused rollback, a
restart from the same state directory that unseals the same group key and re-activates the
newest bundle, and bundle polling picking up the next revision."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from accord.bundles.publish import library_bundle, publish
from accord.scenario import make_scenario

pytestmark = pytest.mark.multinode

ACCORD = [sys.executable, "-m", "accord.cli"]


def accord(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([*ACCORD, *args], capture_output=True, text=True, timeout=timeout)


def _args(sources) -> list[str]:
    return ["--bundle", sources.bundle, "--signature", sources.signature, "--pubkey", sources.public_key]


def test_up_status_activate_down_and_up_again(tmp_path: Path):
    scenario = make_scenario(tmp_path / "published")
    v1, v2 = scenario.publish(1), scenario.publish(2)
    state = str(tmp_path / "state")
    release = str(tmp_path / "published" / "accord-release.json")
    source_args = [*_args(v1), "--release-out", release]
    try:
        first = accord("up", "--state-dir", state, *source_args)
        assert first.returncode == 0, first.stderr[-2000:]
        kid = first.stdout.split("kids ['")[1].split("'")[0]
        assert f"release written to {release}" in first.stdout

        status = accord("status", "--state-dir", state, "--release", release, "--json")
        assert status.returncode == 0, status.stderr[-2000:]
        report = json.loads(status.stdout)
        assert report["healthy"] and report["groups"][0]["kid"] == kid and report["jwks"] == "attested"
        assert [e["attestation"] for e in report["groups"][0]["enclaves"]] == ["valid"] * 3
        bundle = report["groups"][0]["enclaves"][0]["bundle"]
        assert not bundle["expired"] and 0 < bundle["seconds_left"] <= 30 * 86400
        text = accord("status", "--state-dir", state)
        assert "JWKS attested" in text.stdout and "s left)" in text.stdout
        assert "g0-e0-evaluator (regorus)" in text.stdout

        # A live update, then a rollback that is refused: the running revision stays.
        activated = accord("bundle", "activate", "--state-dir", state, *_args(v2), "--json")
        assert activated.returncode == 0, activated.stdout + activated.stderr[-2000:]
        assert json.loads(activated.stdout)["version"] == 2
        assert len(json.loads(activated.stdout)["switched"]) == 3
        rollback = accord("bundle", "activate", "--state-dir", state, *_args(v1))
        assert rollback.returncode == 1 and "Traceback" not in rollback.stderr
        assert "Error: nothing activated: bundle refused:" in rollback.stderr and "version" in rollback.stderr
        report = json.loads(accord("status", "--state-dir", state, "--release", release, "--json").stdout)
        assert {e["bundle"]["version"] for e in report["groups"][0]["enclaves"]} == {2}

        refreshed = accord("keys", "refresh", "--state-dir", state)
        assert refreshed.returncode == 0, refreshed.stdout + refreshed.stderr[-2000:]
        assert f"shares refreshed, kid {kid} unchanged; 3 switched at a batch boundary" in refreshed.stdout
        rotated = accord("keys", "rotate", "--state-dir", state, "--json")
        assert rotated.returncode == 0, rotated.stdout + rotated.stderr[-2000:]
        (rotation,) = json.loads(rotated.stdout)
        assert rotation["previous"] == kid and rotation["kid"] != kid
        report = json.loads(accord("status", "--state-dir", state, "--release", release, "--json").stdout)
        assert report["healthy"] and report["jwks"] == "attested"  # the retired key is attested too
        kid = rotation["kid"]

        down = accord("down", "--state-dir", state)
        assert down.returncode == 0 and "sealed state kept" in down.stdout
        assert accord("status", "--state-dir", state).returncode != 0

        again = accord("up", "--state-dir", state, *_args(v2), "--release-out", release, "--poll-interval", "1")
        assert again.returncode == 0, again.stderr[-2000:]
        assert f"'{kid}'" in again.stdout.split("kids ")[1]  # the rotated key, unsealed again

        # Polling: a revision published over the same sources becomes active by itself.
        publish(library_bundle(scenario.data), scenario.admin, tmp_path / "published" / "v2", version=3)
        deadline = time.monotonic() + 60
        while True:
            report = json.loads(accord("status", "--state-dir", state, "--release", release, "--json").stdout)
            if {e["bundle"]["version"] for e in report["groups"][0]["enclaves"]} == {3}:
                break
            assert time.monotonic() < deadline, report.get("polling")
            time.sleep(1)
        assert report["polling"]["last_activation"]["version"] == 3
        assert "bundle polling every 1.0 s: last attempt at" in accord("status", "--state-dir", state).stdout
    finally:
        accord("down", "--state-dir", state)

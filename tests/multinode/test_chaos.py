"""A short soak under faults (benchmarks/chaos.py): KeyShare, evaluator and minter
processes SIGKILLed in turn and one restart of the whole deployment, under load. The
safety figures are asserted; the timings are the benchmark's to report, not asserted."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.standalone

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))


def test_no_invalid_duplicate_or_over_limit_token_under_kills_and_a_restart(tmp_path):
    from chaos import Soak, run

    report = run(Soak(duration=30, kill_every=5, clients=2, operators=12), tmp_path)
    assert report["kills"] >= 2 and len(report["restarts"]) == 1
    assert report["tokens"] > 0
    assert report["invalid_tokens"] == 0 and report["duplicate_tokens"] == 0 and report["nonce_reuse"] == 0
    assert report["overshoot"] == {} and report["max_permitted_per_operator"] <= report["limit"]
    assert report["group_key_unchanged"]
    assert all(r["seconds"] is not None for r in report["recovery_seconds"]), report["recovery_seconds"]

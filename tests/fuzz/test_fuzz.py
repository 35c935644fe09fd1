"""The fuzz harnesses never rot: every seed and every past finding's minimal input goes
through its target, and a short hypothesis campaign (FUZZ_TEST_EXAMPLES, default 200) runs
for each target. The long campaign is `make fuzz`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(REPO))

from fuzz.run import CORPUS, hypothesis_campaign, seeds  # noqa: E402
from fuzz.targets import TARGETS  # noqa: E402

REGRESSIONS = REPO / "fuzz" / "regressions"
EXAMPLES = int(os.environ.get("FUZZ_TEST_EXAMPLES", 200))


def test_every_target_has_a_seed_corpus():
    assert sorted(p.name for p in CORPUS.iterdir() if p.is_dir()) == sorted(TARGETS)
    assert all(seeds(name) for name in TARGETS)


@pytest.mark.parametrize("path", sorted(p for p in REGRESSIONS.rglob("*") if p.is_file()),
                         ids=lambda p: f"{p.parent.name}/{p.name}")  # fmt: skip
def test_past_findings_are_refused_the_documented_way(path):
    TARGETS[path.parent.name].check(path.read_bytes())


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_a_short_campaign_finds_nothing(name):
    summary = hypothesis_campaign(name, EXAMPLES, quiet=True)
    assert summary["finding"] is None, summary

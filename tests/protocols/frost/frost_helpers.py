"""Helpers shared by the FROST tests."""

from __future__ import annotations

import json
from pathlib import Path

FROST_VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "frost"


def load_vector(relative: str) -> dict:
    return json.loads((FROST_VECTORS / relative).read_text())


def others(packages: dict, me) -> dict:
    """The packages a participant receives: everyone's but its own."""
    return {j: p for j, p in packages.items() if j != me}

"""Fixtures of the policy-engine tests: the shipped library, both engines, request builders."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import accord
from accord.bundles.engine import PolicyEngine, engine_class
from accord.bundles.opa_engine import opa_available
from accord.bundles.policy_test import load_policy_dir

POLICY_DIR = Path(accord.__file__).parent / "policies"
OPA_MISSING = "opa_bindings (optional extra opa-golib-python-bindings) is not installed: run `make opa`"

# Both engines, the OPA one marked `opa` and skipped (saying why) without the extra.
ENGINE_PARAMS = [
    pytest.param("regorus", id="regorus"),
    pytest.param("regorus-rvm", id="regorus-rvm"),
    pytest.param("opa", id="opa", marks=[pytest.mark.opa, pytest.mark.skipif(not opa_available(), reason=OPA_MISSING)]),
]
# The engines `accord policy test` runs Rego unit tests on (regorus-rvm compiles decisions only).
TEST_RUNNER_ENGINE_PARAMS = [p for p in ENGINE_PARAMS if p.values[0] != "regorus-rvm"]

USDC = "eip155:1/erc20:0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
ETH = "eip155:1/native"
MONDAY_10AM = 1767607200  # 2026-01-05T10:00:00Z


@pytest.fixture(scope="session")
def library() -> tuple[dict[str, str], dict[str, Any]]:
    """(modules without tests, raw data) of the shipped library."""
    modules, data = load_policy_dir(POLICY_DIR)
    return {p: s for p, s in modules.items() if not p.endswith("_test.rego")}, data


@pytest.fixture(scope="session")
def loaded_engines(library) -> dict[str, PolicyEngine]:
    """Decision engines over the library, loaded once per session (by name)."""
    return {}


@pytest.fixture(params=ENGINE_PARAMS)
def engine(request, library, loaded_engines) -> PolicyEngine:
    """A decision engine over the shipped library, for each engine."""
    name = request.param
    if name not in loaded_engines:
        loaded_engines[name] = engine_class(name).load(*library)
    return loaded_engines[name]


def book_address(data: dict[str, Any], label: str) -> str:
    """The address of the address book entry with `label`."""
    return next(key.split(":")[2] for key, entry in data["address_book"].items() if entry["label"] == label)


def erc20_transfer(to: str, units: int) -> str:
    """Calldata of ERC-20 transfer(to, units)."""
    return "0xa9059cbb" + to[2:].rjust(64, "0") + format(units, "064x")


@pytest.fixture(scope="session")
def make_request(library) -> Callable[..., dict[str, Any]]:
    """Build a raw evaluator request (the argument of prepare_input) over the example data."""
    data = library[1]

    def build(principal: str = "bob", action: str = "signTransaction", resource: str = "ops-wallet",
              payload: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
        raw = {
            "request": {"action": action, "resource": resource, "payload": payload or {}},
            "principal": principal,
            "key": next(iter(data["principals"][principal]["keys"])) if principal in data["principals"] else "A" * 43,
            "time": MONDAY_10AM,
            "request_hash": base64.urlsafe_b64encode(hashlib.sha256(repr((principal, action, resource, payload)).encode()).digest()).rstrip(b"=").decode(),
        }
        raw.update(extra)
        return raw

    return build


@pytest.fixture(scope="session")
def usdc_payout(library, make_request) -> Callable[..., dict[str, Any]]:
    """A raw request: `principal` pays `units` of USDC from ops-wallet to the book entry `label`."""
    data = library[1]

    def build(units: int, label: str = "Kraken deposit", principal: str = "bob", **extra: Any) -> dict[str, Any]:
        payload = {"chain_id": 1, "to": USDC.split(":")[-1], "value": 0, "data": erc20_transfer(book_address(data, label), units)}
        return make_request(principal, "signTransaction", "ops-wallet", payload, **extra)

    return build

"""Policy decision time and bundle load time, over about 1 MB of data.

The data is the example treasury (accord/policies/data.json) grown to about 1 MB with
generated principals (real Ed25519 public JWKs keyed by their RFC 7638 thumbprints),
accounts, address book entries and tokens; the policy is the shipped library (its tests
left out). Everything the library reads is looked up by key, so the size of these maps
should not show in the decision time.

decision_us     median wall time of PolicyEngine.decide() (regorus's interpreter; rvm_decision_us:
                the regorus-rvm engine, its compiled evaluator) on the prepared input of a USDC
                payout that is permitted by the business-hours rule after checks, limits
                (a 20-transfer history, totalled by prepare_input) and every rule were
                evaluated. prepare_us (prepare_input, i.e. validation, intent decoding and
                history totals) is reported beside it, as are p90 and OPA's figure.
--rules N       adds N generated rules the payout does not meet (a third signMessage, two
                thirds signTransaction rules, each on one generated vault account): with the
                rule index the library derives at load, the decision should not grow with
                them (see accord/policies/README.md, "Performance"). --limits N adds N
                daily USDC limits on generated vault accounts, none in the payout's scope.
bundle_load_ms  median wall time from the signed .tar.gz bytes to an engine ready to decide:
                read the archive, verify it (accord.bundles.verify.verify_bundle: signature
                with the pinned key, every file hash, manifest revision), then
                RegorusEngine.from_bundle (data checks and padding, regorus parse of modules
                and data, the policy's data_errors and derived evaluations). verify_ms and
                engine_ms split it; rvm_engine_ms is the regorus-rvm engine's load up to its
                first decision (when the compiled program takes the data).

    .venv/bin/python benchmarks/policy_bench.py [--decisions 2000] [--loads 5] [--rules 0] [--limits 0] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import accord
from accord.bundles.build import build_bundle, sign_bundle
from accord.bundles.engine import engine_class
from accord.bundles.inputs import prepare_input
from accord.bundles.keys import fingerprint
from accord.bundles.layout import bundle_from_files, read_tarball
from accord.bundles.manifest import Revision
from accord.bundles.policy_test import load_policy_dir
from accord.bundles.regorus_engine import RegorusEngine
from accord.bundles.verify import TrustPolicy, verify_bundle
from accord.cpu_units import ed25519_costs
from accord.protocols.jwk import KeyKind, SigningKey

POLICY_DIR = Path(accord.__file__).parent / "policies"
USDC = "eip155:1/erc20:0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
MONDAY_10AM = 1767607200  # 2026-01-05T10:00:00Z, inside the business-hours rule


def _address(i: int, salt: str) -> str:
    return "0x" + f"{salt}{i:x}".rjust(40, "0")[-40:]


def grow_data(data: dict[str, Any], target_bytes: int) -> dict[str, Any]:
    """The example data plus generated records, to about `target_bytes` of JSON."""
    data = json.loads(json.dumps(data))
    groups = ["treasury-ops", "approvers", "payroll", "auditors", "engineering"]
    i = 0
    while len(json.dumps(data)) < target_bytes:
        for _ in range(200):
            key = SigningKey.generate(KeyKind.ED25519).public
            data["principals"][f"user-{i:05d}"] = {
                "roles": ["member"] if i % 7 else ["member", "admin"],
                "groups": [groups[i % len(groups)], groups[(i * 3) % len(groups)]],
                "keys": {key.thumbprint: key.to_dict()},
            }
            data["address_book"][f"eip155:1:{_address(i, 'b00c')}"] = {
                "label": f"Counterparty {i}", "classification": ("counterparty", "exchange")[i % 2],
            }
            data["address_book"][f"eip155:8453:{_address(i, 'ba5e')}"] = {
                "label": f"Counterparty {i} (Base)", "classification": "counterparty",
            }
            if i % 10 == 0:
                data["accounts"][f"vault-{i:05d}"] = {"label": f"Vault {i}", "chain_id": 1, "address": _address(i, "acc0")}
                data["tokens"][f"eip155:1/erc20:{_address(i, '70c')}"] = {"symbol": f"T{i}", "decimals": 18}
            i += 1
    return data


def add_rules(data: dict[str, Any], count: int) -> None:
    """`count` more rules, none of which the payout of `payout_request` meets (each names one
    generated vault account; the signTransaction ones would also need group payroll)."""
    vaults = sorted(a for a in data["accounts"] if a.startswith("vault-"))
    for i in range(count):
        account = vaults[i % len(vaults)]
        if i % 3 == 0:
            data["rules"][f"vault-messages-{i}"] = {"effect": "permit", "actions": ["signMessage"],
                                                   "accounts": [account], "groups": ["treasury-ops"]}
        else:
            data["rules"][f"vault-payroll-{i}"] = {
                "effect": "permit", "actions": ["signTransaction"], "accounts": [account], "groups": ["payroll"],
                "intents": ["transferErc20"], "tokens": [USDC], "destinations": ["counterparty"],
                "max_amount": "1000000000",
            }


def add_limits(data: dict[str, Any], count: int) -> None:
    """`count` more daily USDC limits, none in the scope of the payout (each names one
    generated vault account)."""
    vaults = sorted(a for a in data["accounts"] if a.startswith("vault-"))
    for i in range(count):
        data["limits"][f"vault-daily-{i}"] = {"kind": "spending", "token": USDC, "max_amount": "1000000000",
                                             "window": "day", "per": "account", "accounts": [vaults[i % len(vaults)]]}


def payout_request(data: dict[str, Any]) -> dict[str, Any]:
    """bob pays 5,000 USDC to Kraken from ops-wallet, with 20 transfers in his history."""
    kraken = next(k.split(":")[2] for k, v in data["address_book"].items() if v["label"] == "Kraken deposit")
    calldata = "0xa9059cbb" + kraken[2:].rjust(64, "0") + format(5_000 * 10**6, "064x")
    history = [
        {"time": MONDAY_10AM - 1800 * (n + 1), "principal": ("bob", "carol")[n % 2], "account": "ops-wallet",
         "token": USDC, "amount": 1_000 * 10**6, "destination": kraken}
        for n in range(20)
    ]
    return {
        "request": {"action": "signTransaction", "resource": "ops-wallet",
                    "payload": {"chain_id": 1, "to": USDC.rsplit(":", 1)[1], "value": 0, "data": calldata}},
        "principal": "bob",
        "key": next(iter(data["principals"]["bob"]["keys"])),
        "time": MONDAY_10AM,
        "request_hash": "n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg",
        "history": history,
    }


def signed_bundle(modules: dict[str, str], data: dict[str, Any]) -> tuple[bytes, bytes, SigningKey]:
    """(tar.gz, detached .signatures.json, signing key) of the library over `data`."""
    files = [(path, source.encode()) for path, source in sorted(modules.items())]
    files.append(("data.json", json.dumps(data).encode()))
    revision = Revision(1, datetime.now(timezone.utc) + timedelta(days=30))
    archive = build_bundle(bundle_from_files(files), revision)
    key = SigningKey.generate(KeyKind.ED25519)
    signature = sign_bundle(read_tarball(archive), key, iat=int(time.time()))
    return archive, signature, key


def timed(fn, repeats: int) -> tuple[list[float], Any]:
    samples, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - start)
    return samples, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decisions", type=int, default=2000)
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--data-bytes", type=int, default=1_000_000)
    parser.add_argument("--rules", type=int, default=0, help="generated rules to add (none apply)")
    parser.add_argument("--limits", type=int, default=0, help="generated limits to add (none in scope)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    modules, example = load_policy_dir(POLICY_DIR)
    modules = {p: s for p, s in modules.items() if not p.endswith("_test.rego")}
    data = grow_data(example, args.data_bytes)
    add_rules(data, args.rules)
    add_limits(data, args.limits)
    archive, signature, key = signed_bundle(modules, data)
    trust = TrustPolicy(frozenset({fingerprint(key.public)}))

    def verify():
        return verify_bundle(read_tarball(archive), public_key=key.public, trust=trust, signature=signature)

    verify_s, verified = timed(verify, args.loads)
    engine_s, engine = timed(lambda: RegorusEngine.from_bundle(verified), args.loads)
    load_s, _ = timed(lambda: RegorusEngine.from_bundle(verify()), args.loads)

    raw = payout_request(data)
    prepare_s, prepared = timed(lambda: prepare_input(raw), 200)
    decision = engine.decide(prepared)
    assert decision.reasons == ("permitted by rule ops-usdc-business-hours",), decision
    timed(lambda: engine.decide(prepared), 200)  # warm up
    decide_s, _ = timed(lambda: engine.decide(prepared), args.decisions)
    rvm = engine_class("regorus-rvm").from_bundle(verified)
    assert rvm.decide(prepared).to_json() == decision.to_json()
    timed(lambda: rvm.decide(prepared), 200)  # warm up
    rvm_s, _ = timed(lambda: rvm.decide(prepared), args.decisions)
    # To its first decision: that is when a thread's compiled program takes the data.
    rvm_engine_s, _ = timed(lambda: engine_class("regorus-rvm").from_bundle(verified).decide(prepared), args.loads)
    opa_s: list[float] = []
    try:
        opa = engine_class("opa").from_bundle(verified)
        opa_s, _ = timed(lambda: opa.decide(prepared), max(200, args.decisions // 10))
    except accord.errors.AccordError:
        pass  # OPA extra not installed

    us = lambda s: round(statistics.median(s) * 1e6, 1)  # noqa: E731
    ms = lambda s: round(statistics.median(s) * 1e3, 2)  # noqa: E731
    figures = {
        "decision_us": us(decide_s),
        "decision_p90_us": round(statistics.quantiles(decide_s, n=10)[-1] * 1e6, 1),
        "prepare_us": us(prepare_s),
        "input_bytes": len(prepared.json),
        "rvm_decision_us": us(rvm_s),
        "rvm_decision_p90_us": round(statistics.quantiles(rvm_s, n=10)[-1] * 1e6, 1),
        "opa_decision_us": us(opa_s) if opa_s else None,
        "bundle_load_ms": ms(load_s),
        "verify_ms": ms(verify_s),
        "engine_ms": ms(engine_s),
        "rvm_engine_ms": ms(rvm_engine_s),
        **ed25519_costs(),
        "data_bytes": len(verified.files["data.json"]),
        "principals": len(data["principals"]),
        "address_book": len(data["address_book"]),
        "rules": len(data["rules"]),
        "limits": len(data["limits"]),
    }
    if args.json:
        print(json.dumps(figures))
        return
    print(f"data: {figures['data_bytes']} bytes ({figures['principals']} principals, "
          f"{figures['address_book']} address book entries, {figures['rules']} rules)")
    print(f"decision (regorus): median {figures['decision_us']} us, p90 {figures['decision_p90_us']} us "
          f"[target <= 150]; input {figures['input_bytes']} bytes, prepare_input {figures['prepare_us']} us")
    print(f"decision (regorus-rvm, the compiled evaluator): median {figures['rvm_decision_us']} us, "
          f"p90 {figures['rvm_decision_p90_us']} us")
    if opa_s:
        print(f"decision (OPA):     median {figures['opa_decision_us']} us")
    print(f"bundle load: {figures['bundle_load_ms']} ms [target <= 50] = verify {figures['verify_ms']} ms "
          f"+ engine {figures['engine_ms']} ms (regorus-rvm engine: {figures['rvm_engine_ms']} ms)")
    print(f"(a libsodium Ed25519 sign costs {figures['ed25519_sign_us']} us in this run, a verify "
          f"{figures['ed25519_verify_us']} us)")


if __name__ == "__main__":
    main()

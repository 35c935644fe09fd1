"""One enclave evaluator's CPU per request: `EvaluatorCore.evaluate` on signed requests.

This is the per-request work each of the three evaluators does on the full path (issue 7:
>= 1,000 tokens/s on 2 cores means three evaluations per token). No Ray, no KeyShare: the
evaluator runs in this process over the library policy and about 1 MB of data (the data of
benchmarks/policy_bench.py), with its own spending history.

Setup: `--principals` ops principals (group treasury-ops) with fresh Ed25519 keys, approvers
dave and erin with fresh keys. `--history` past ETH payouts, spread over the 7 days before
the measured requests, go through the evaluator first (so its history is what its own
permits recorded). The measured requests, `--requests` of them at about 100 per second of
request time, are a mix:

    55 % permit    USDC payouts within the business-hours rule, small ETH payouts
    10 % permit    50k USDC payouts with two verified approvals (dave, erin)
    15 % confirm   50k USDC payouts without approvals
    20 % forbid    raw signing, an unknown destination, USDC above 5M, a foreign chain

Figures (microseconds per request; CPU time of this thread, so that other processes on the
machine do not count; wall time beside it):

    evaluate_us_per_request   EvaluatorCore.evaluate over a batch of `--batch` requests (incl.
                              the batch's signed request to the KeyShare), per request, median
                              over the batches, no timers inside
    verify_signature_us       RFC 9421 verification (accord.protocols.signature_profile.verify_request)
    request_us                body parsing and approval verification
    prepare_input_us          accord.bundles.inputs.prepare_input (validation, intent, spending totals)
    decide_us                 PolicyEngine.decide (regorus)
    claims_us                 token claims and their JWS signing input (permits)
    other_us                  the rest (clock checks, replay cache, verdicts, history, batch signing)
    ed25519_verify_us         one libsodium Ed25519 verify, measured in the same run (and _sign_us)
    verifies_per_request      evaluate_us_per_request in those verifies (signature_check_verifies:
                              verify_signature_us in them)

The stage figures (means) come from a second pass with timers wrapped around those calls
(each timer costs about a microsecond, counted in other_us).

    .venv/bin/python benchmarks/evaluator_bench.py [--requests 2000] [--history 3000] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from policy_bench import MONDAY_10AM, POLICY_DIR, grow_data, signed_bundle  # noqa: E402

import accord.enclave.evaluator as evaluator_module  # noqa: E402
from accord.actors.baseline import SingleKeyEvaluator  # noqa: E402
from accord.bundles.engine import engine_class  # noqa: E402
from accord.bundles.keys import fingerprint, public_key_bytes  # noqa: E402
from accord.bundles.policy_test import load_policy_dir  # noqa: E402
from accord.bundles.store import ActiveBundleStore  # noqa: E402
from accord.bundles.verify import TrustPolicy  # noqa: E402
from accord.enclave.configuration import EnclaveConfig, EvaluatorConfig, evaluator_id  # noqa: E402
from accord.enclave.evaluator import AUTHORIZE_PATH, EvaluatorCore  # noqa: E402
from accord.enclave.platform.enclave import Enclave  # noqa: E402
from accord.enclave.platform.pki import SimulatedNitroPki  # noqa: E402
from accord.cpu_units import ed25519_costs  # noqa: E402
from accord.protocols import canonical_json  # noqa: E402
from accord.protocols.approvals import create_approval  # noqa: E402
from accord.protocols.authz_request import compute_request_hash  # noqa: E402
from accord.protocols.http_signatures import HttpRequest  # noqa: E402
from accord.protocols.signature_profile import sign_request  # noqa: E402
from accord.protocols.jwk import KeyKind, SigningKey  # noqa: E402
from accord.protocols.minting import MintTask  # noqa: E402

USDC = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
UNKNOWN = "0x" + "5a" * 20
T0 = MONDAY_10AM
COMMITMENTS = bytes(2 + 2 * 96)  # the evaluator only prepends them to its signing packages


def erc20(to: str, units: int) -> dict[str, Any]:
    return {"chain_id": 1, "to": USDC, "value": "0", "data": "0xa9059cbb" + to[2:].rjust(64, "0") + format(units, "064x")}


def eth(to: str, wei: int, chain_id: int = 1) -> dict[str, Any]:
    return {"chain_id": chain_id, "to": to, "value": str(wei), "data": "0x"}


class Fixture:
    """Data, keys and signed requests."""

    def __init__(self, data_bytes: int, principals: int) -> None:
        _, example = load_policy_dir(POLICY_DIR)
        self.data = grow_data(example, data_bytes)
        book = self.data["address_book"]
        self.kraken = next(k.split(":")[2] for k, v in book.items() if v["label"] == "Kraken deposit")
        self.keys: dict[str, SigningKey] = {}
        for name in [f"ops-{i:04d}" for i in range(principals)] + ["dave", "erin"]:
            key = self.keys[name] = SigningKey.generate(KeyKind.ED25519)
            entry = self.data["principals"].setdefault(name, {"roles": ["member"], "groups": ["treasury-ops"]})
            entry["keys"] = {key.thumbprint: key.public.to_dict()}
        self.ops = [n for n in self.keys if n.startswith("ops-")]
        self._jti = itertools.count()

    def task(self, principal: str, action: str, resource: str, payload: dict[str, Any], iat: int,
             approvers: tuple[str, ...] = ()) -> MintTask:  # fmt: skip
        key = self.keys[principal]
        body: dict[str, Any] = {"action": action, "resource": resource, "payload": payload}
        if approvers:
            request_hash = compute_request_hash(action, resource, payload, key.thumbprint)
            body["approvals"] = [create_approval(self.keys[a], request_hash, iat=iat - 60) for a in approvers]
        request = HttpRequest("POST", "https://accord.invalid" + AUTHORIZE_PATH,
                              (("Content-Type", "application/json"),), canonical_json.dumps(body))  # fmt: skip
        signed = sign_request(request, key, created=iat, expires=iat + 60)
        return MintTask(signed, iat, iat + 300, f"jti-{next(self._jti)}", COMMITMENTS)

    def mixed(self, i: int, iat: int) -> MintTask:
        """The i-th measured request (see the module docstring for the mix)."""
        who = self.ops[(i + i // 20) % len(self.ops)]  # every principal meets every kind
        kind = i % 20
        if kind < 8:
            return self.task(who, "signTransaction", "ops-wallet", erc20(self.kraken, (100 + i % 9000) * 10**6), iat)
        if kind < 11:
            return self.task(who, "signTransaction", "ops-wallet", eth(self.kraken, 10**16 + i), iat)
        if kind < 13:
            return self.task(who, "signTransaction", "treasury-hot", erc20(self.kraken, 50_000 * 10**6 + i), iat,
                             ("dave", "erin"))  # fmt: skip
        if kind < 16:
            return self.task(who, "signTransaction", "treasury-hot", erc20(self.kraken, 50_000 * 10**6 + i), iat)
        if kind == 16:
            return self.task(who, "signRaw", "ops-wallet", {"raw": "0x" + format(i, "08x")}, iat)
        if kind == 17:
            return self.task(who, "signTransaction", "ops-wallet", erc20(UNKNOWN, 10**6 + i), iat)
        if kind == 18:
            return self.task(who, "signTransaction", "treasury-hot", erc20(self.kraken, 6_000_000 * 10**6 + i), iat)
        return self.task(who, "signTransaction", "ops-wallet", eth(self.kraken, 10**16 + i, chain_id=8453), iat)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return float(self.now)


def evaluator(fixture: Fixture, clock: Clock, state_dir: Path, engine: str = "regorus") -> EvaluatorCore:
    modules, _ = load_policy_dir(POLICY_DIR)
    modules = {p: s for p, s in modules.items() if not p.endswith("_test.rego")}
    archive, signature, admin = signed_bundle(modules, fixture.data)
    pins = (fingerprint(admin.public),)
    pki = SimulatedNitroPki.generate(now=datetime.now(timezone.utc))
    # The measured evaluator is member 0; the others (not run here) keep the interpreter, as
    # an engine like regorus-rvm requires.
    engines = (engine, "regorus", "regorus")
    config = EnclaveConfig(pins, attestation_root=pki.trusted_root().sha256, evaluator=EvaluatorConfig(engines=engines))
    enclave = Enclave.simulated(enclave_id=evaluator_id(0, 0), config=config, state_dir=state_dir, pki=pki)
    core = SingleKeyEvaluator(enclave, ActiveBundleStore(TrustPolicy(frozenset(pins))), clock=clock)
    core.activate(archive, signature=signature, public_key=public_key_bytes(admin.public))
    core.use_own_key("bench-group-key")
    return core


def seed_history(core: EvaluatorCore, fixture: Fixture, clock: Clock, count: int) -> tuple[Counter, float]:
    """`count` small ETH payouts, 10 per second of request time, spread over the 7 days
    before T0, through the evaluator (its permits become its spending history). Returns
    the statuses and the CPU seconds evaluate took."""
    statuses: Counter = Counter()
    cpu = 0.0
    batches = max(1, count // 10)
    for b in range(batches):
        iat = T0 - 7 * 86400 + b * (7 * 86400 - 3600) // batches
        tasks = [fixture.task(fixture.ops[(b * 10 + k) % len(fixture.ops)], "signTransaction", "ops-wallet",
                              eth(fixture.kraken, 10**15 + k), iat) for k in range(min(10, count - b * 10))]  # fmt: skip
        clock.now = iat
        start = time.thread_time()
        verdicts = core.evaluate(tasks, core.state.seq + 1).verdicts
        cpu += time.thread_time() - start
        statuses.update(v.status.value for v in verdicts)
    return statuses, cpu


class StageTimers:
    """Timers around the evaluator's calls into each stage (patched for the second pass)."""

    STAGES = {
        "verify_signature_us": ("verify_request",),
        "request_us": ("parse_authorization_request", "verify_approval"),
        "prepare_input_us": ("prepare_input",),
        "claims_us": ("TokenClaims", "signing_input", "token_header"),
    }

    def __init__(self, engine_name: str) -> None:
        self.totals: Counter = Counter()
        self._saved: list[tuple[Any, str, Any]] = []
        for stage, names in self.STAGES.items():
            for name in names:
                self._patch(evaluator_module, name, stage)
        self._patch(engine_class(engine_name), "decide", "decide_us")

    def _patch(self, owner: Any, name: str, stage: str) -> None:
        original = getattr(owner, name)
        totals, clock = self.totals, time.thread_time

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = clock()
            try:
                return original(*args, **kwargs)
            finally:
                totals[stage] += clock() - start

        self._saved.append((owner, name, original))
        setattr(owner, name, timed)

    def restore(self) -> None:
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)


def run(core: EvaluatorCore, clock: Clock, batches: list[list[MintTask]]) -> tuple[list[float], list[float], Counter]:
    """Evaluate every batch; per-request CPU and wall seconds of each batch, and the
    outcomes ("status: reasons")."""
    cpu, wall, outcomes = [], [], Counter()
    for batch in batches:
        clock.now = batch[0].iat
        start, start_cpu = time.perf_counter(), time.thread_time()
        verdicts = core.evaluate(batch, core.state.seq + 1).verdicts
        cpu.append((time.thread_time() - start_cpu) / len(batch))
        wall.append((time.perf_counter() - start) / len(batch))
        outcomes.update(f"{v.status.value}: {v.code or '; '.join(v.reasons)}" for v in verdicts)
    return cpu, wall, outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="measured requests per pass")
    parser.add_argument("--history", type=int, default=3000, help="past transfers recorded before measuring")
    parser.add_argument("--principals", type=int, default=200)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--data-bytes", type=int, default=1_000_000)
    parser.add_argument("--engine", default="regorus", help="Rego engine of the measured evaluator")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    fixture = Fixture(args.data_bytes, args.principals)
    clock = Clock()
    with tempfile.TemporaryDirectory() as state_dir:
        core = evaluator(fixture, clock, Path(state_dir), args.engine)
        seeded, seed_s = seed_history(core, fixture, clock, args.history)

        def batches(offset: int) -> list[list[MintTask]]:
            tasks = [fixture.mixed(i, T0 + (offset + i) // 100) for i in range(offset, offset + args.requests)]
            return [tasks[k:k + args.batch] for k in range(0, len(tasks), args.batch)]

        plain = batches(0)
        staged = batches(args.requests)
        samples, wall, outcomes = run(core, clock, plain)
        timers = StageTimers(core.engine)
        try:
            staged_samples, _, staged_outcomes = run(core, clock, staged)
        finally:
            timers.restore()

    n = sum(len(b) for b in staged)
    stages = {stage: round(timers.totals[stage] / n * 1e6, 1) for stage in (*StageTimers.STAGES, "decide_us")}
    staged_total = statistics.fmean(staged_samples) * 1e6
    figures = {
        "evaluate_us_per_request": round(statistics.median(samples) * 1e6, 1),
        "evaluate_mean_us_per_request": round(statistics.fmean(samples) * 1e6, 1),
        "evaluate_wall_us_per_request": round(statistics.median(wall) * 1e6, 1),
        **stages,
        "other_us": round(staged_total - sum(stages.values()), 1),
        "requests": sum(len(b) for b in plain),
        "outcomes": dict(sorted((outcomes + staged_outcomes).items())),
        "history": args.history,
        "seed_statuses": dict(sorted(seeded.items())),
        "seed_us_per_request": round(seed_s / max(1, args.history) * 1e6, 1),
        "batch": args.batch,
        "engine": core.engine,
        "data_bytes": len(json.dumps(fixture.data)),
        **ed25519_costs(),
    }
    # The targets' unit (issue 12): a libsodium verify measured in this run.
    figures["verifies_per_request"] = round(figures["evaluate_us_per_request"] / figures["ed25519_verify_us"], 1)
    figures["signature_check_verifies"] = round(figures["verify_signature_us"] / figures["ed25519_verify_us"], 1)
    if args.json:
        print(json.dumps(figures))
        return
    print(f"evaluator over {figures['data_bytes']} bytes of data, history {args.history} transfers "
          f"(seeded at {figures['seed_us_per_request']} us CPU each: {figures['seed_statuses']})")
    print(f"evaluate: median {figures['evaluate_us_per_request']} us CPU/request "
          f"(mean {figures['evaluate_mean_us_per_request']}, wall {figures['evaluate_wall_us_per_request']}), "
          f"batches of {args.batch}")
    for stage in (*StageTimers.STAGES, "decide_us", "other_us"):
        print(f"  {stage:22s} {figures[stage]:8.1f}")
    print(f"= {figures['verifies_per_request']} Ed25519 verifies per request ({figures['ed25519_verify_us']} us each, "
          f"libsodium, this run); the RFC 9421 check {figures['signature_check_verifies']}")
    print("outcomes:")
    for outcome, count in figures["outcomes"].items():
        print(f"  {count:6d}  {outcome}")


if __name__ == "__main__":
    main()

"""Soak under faults: load through the Ray deployment while its processes are killed.

    .venv/bin/python benchmarks/chaos.py [--duration 120] [--kill-every 6] [--clients 4] [--json]

Several client threads send signed transfers for many treasury operators (each may pay out
250k USDC per 24 h and sign 20 transfers an hour, and the amounts make them cross both
limits during the run) while a killer thread SIGKILLs one process every `--kill-every`
seconds, in turn a KeyShare, an evaluator and the minter (Ray restarts them), and the whole
deployment is restarted once in the middle (same state directory). Reported:

- tokens issued, each verified with joserfc against the JWKS; invalid and duplicate tokens
  (must be 0), nonce reuse seen by any signer (0);
- per operator, the amount permitted against its 250k limit (no overshoot);
- per kill, the seconds until the next decided answer (permit or forbid), and the share of
  `unavailable` answers from 5 s after each kill until the next one.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

LIMIT = 250_000 * 10**6  # ops-usdc-daily, per principal
AMOUNTS = (40_000 * 10**6, 70_000 * 10**6, 110_000 * 10**6)
ROLES = ("keyshare", "evaluator", "minter")


@dataclass
class Outcome:
    at: float
    operator: int
    amount: int
    status: str
    code: str
    token: str | None
    message: str


@dataclass
class Soak:
    duration: float = 120.0
    kill_every: float = 6.0
    clients: int = 4
    operators: int = 40
    restart_at: float | None = None  # default: the middle of the run
    seed: int = 7
    outcomes: list[Outcome] = field(default_factory=list)
    kills: list[tuple[float, str]] = field(default_factory=list)
    restarts: list[tuple[float, float]] = field(default_factory=list)


def run(soak: Soak, workdir: Path) -> dict[str, Any]:
    import ray

    from accord.cluster.deployment import Deployment
    from accord.scenario import erc20_transfer, make_scenario

    rng = random.Random(soak.seed)
    scenario = make_scenario(workdir / "published", operators=soak.operators)
    sources = scenario.publish(1)
    destination = scenario.address("internal")
    box: dict[str, Any] = {"deployment": Deployment.start(state_dir=workdir / "state", bundle=sources,
                                                          ray_options={"logging_level": "ERROR"})}  # fmt: skip
    jwks = box["deployment"].jwks()
    lock, pause = threading.Lock(), threading.Event()
    started = time.monotonic()
    stop_at = started + soak.duration
    restart_at = started + (soak.restart_at if soak.restart_at is not None else soak.duration / 2)

    def client(seed: int) -> None:
        local = random.Random(seed)
        while time.monotonic() < stop_at:
            if pause.is_set():
                time.sleep(0.05)
                continue
            index = local.randrange(soak.operators)
            amount = local.choice(AMOUNTS)
            request = scenario.operators[index].signed_request("signTransaction", "ops-wallet",
                                                               erc20_transfer(destination, amount))  # fmt: skip
            try:
                result = box["deployment"].authorize(request)
                outcome = Outcome(time.monotonic(), index, amount, result.status.value, result.code, result.token,
                                  result.message)  # fmt: skip
            except Exception as exc:  # noqa: BLE001 - the minter itself is down: unavailable
                outcome = Outcome(time.monotonic(), index, amount, "unavailable", "client", None, repr(exc))
            with lock:
                soak.outcomes.append(outcome)

    def killer() -> None:
        turn = 0
        next_kill = started + soak.kill_every
        while time.monotonic() < stop_at - soak.kill_every / 2:
            now = time.monotonic()
            if box.get("restart_pending") is None and now >= restart_at:
                box["restart_pending"] = True
                pause.set()
                t0 = time.monotonic()
                box["deployment"].shutdown()
                box["deployment"] = Deployment.start(state_dir=workdir / "state", bundle=sources)
                soak.restarts.append((t0, time.monotonic()))
                pause.clear()
                next_kill = time.monotonic() + soak.kill_every
                continue
            if now < next_kill:
                time.sleep(0.05)
                continue
            role = ROLES[turn % len(ROLES)]
            turn += 1
            deployment = box["deployment"]
            group = deployment.handles.groups[0]
            target = {"keyshare": lambda: rng.choice(group.keyshares), "evaluator": lambda: rng.choice(group.evaluators),
                      "minter": lambda: deployment.handles.minter}[role]()  # fmt: skip
            try:
                pid = ray.get(target.placement.remote(), timeout=10)["pid"]
                os.kill(pid, signal.SIGKILL)
                soak.kills.append((time.monotonic(), role))
            except Exception:  # noqa: BLE001 - still restarting from the previous kill
                pass
            next_kill = time.monotonic() + soak.kill_every

    threads = [threading.Thread(target=client, args=(soak.seed + k,), daemon=True) for k in range(soak.clients)]
    threads.append(threading.Thread(target=killer, daemon=True))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        jwks_after = box["deployment"].jwks()
    finally:
        box["deployment"].shutdown()
        ray.shutdown()
    return report(soak, jwks, jwks_after)


def report(soak: Soak, jwks: dict, jwks_after: dict) -> dict[str, Any]:
    import warnings

    from joserfc import jwt
    from joserfc.jwk import KeySet

    keys = KeySet.import_key_set(jwks)
    tokens = [o.token for o in soak.outcomes if o.token]
    invalid = 0
    jtis = Counter()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="EdDSA is deprecated")
        for token in tokens:
            try:
                jtis[jwt.decode(token, keys, algorithms=["EdDSA"]).claims["jti"]] += 1
            except Exception:  # noqa: BLE001 - counted
                invalid += 1
    permitted = defaultdict(int)
    for o in soak.outcomes:
        if o.status == "permit":
            permitted[o.operator] += o.amount
    overshoot = {op: total - LIMIT for op, total in permitted.items() if total > LIMIT}
    recovery, unavailable_after, total_after = [], 0, 0
    events = sorted(soak.kills)
    for k, (at, role) in enumerate(events):
        until = events[k + 1][0] if k + 1 < len(events) else float("inf")
        decided = [o.at for o in soak.outcomes if at <= o.at < until and o.status in ("permit", "forbid")]
        recovery.append({"role": role, "seconds": round(min(decided) - at, 2) if decided else None})
        window = [o for o in soak.outcomes if at + 5 <= o.at < until]
        total_after += len(window)
        unavailable_after += sum(o.status == "unavailable" for o in window)
    statuses = Counter(o.status for o in soak.outcomes)
    codes = Counter(o.code for o in soak.outcomes if o.status == "unavailable")
    worst = max((r["seconds"] for r in recovery if r["seconds"] is not None), default=None)
    return {
        "requests": len(soak.outcomes),
        "statuses": dict(statuses),
        "unavailable_codes": dict(codes),
        "tokens": len(tokens),
        "invalid_tokens": invalid,
        "duplicate_tokens": sum(n - 1 for n in jtis.values() if n > 1),
        "nonce_reuse": sum("NonceReuse" in o.message for o in soak.outcomes),
        "group_key_unchanged": jwks == jwks_after,
        "max_permitted_per_operator": max(permitted.values(), default=0),
        "limit": LIMIT,
        "overshoot": overshoot,
        "kills": len(events),
        "restarts": [round(b - a, 1) for a, b in soak.restarts],
        "recovery_seconds": recovery,
        "worst_recovery_seconds": worst,
        "unavailable_share_5s_after_kills": round(unavailable_after / total_after, 4) if total_after else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=120.0)
    parser.add_argument("--kill-every", type=float, default=6.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--operators", type=int, default=40)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    soak = Soak(duration=args.duration, kill_every=args.kill_every, clients=args.clients, operators=args.operators)
    result = run(soak, Path(tempfile.mkdtemp(prefix="accord-chaos-")))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for name, value in result.items():
            print(f"{name:34} {value}")


if __name__ == "__main__":
    main()

"""Group state costs: recovery of a ledger from a peer, and durability per batch.

    .venv/bin/python benchmarks/state_bench.py [--transfers 100000] [--batches 200] [--json]

- recovery: an evaluator's whole state (`--transfers` transfers, as many live nonces as the
  replay cache holds by default: 10k) exported by one simulated enclave and imported by
  another over the attested channel (snapshot, HPKE seal, open, parse, ledger rebuilt),
  the way `EvaluatorCore.export_state` / `import_state` do it, plus the sealed snapshot
  written afterwards;
- durability: `StateLog.append_batch` (one AES-GCM record and one fsync) per batch.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from accord.bundles.spending import Transfer  # noqa: E402
from accord.enclave.configuration import EnclaveConfig, evaluator_id  # noqa: E402
from accord.enclave.group_state import GroupState  # noqa: E402
from accord.enclave.platform.enclave import Enclave  # noqa: E402
from accord.enclave.platform.pki import SimulatedNitroPki  # noqa: E402
from accord.enclave.platform.timeutil import utc_now  # noqa: E402
from accord.enclave.state_log import StateLog  # noqa: E402
from accord.protocols.secret import SecretBytes  # noqa: E402

T0 = 1_800_000_000


def filled_state(transfers: int, nonces: int) -> GroupState:
    state = GroupState(signature_skew=30)
    per_batch = 100
    seq = 0
    for start in range(0, max(transfers, nonces), per_batch):
        seq += 1
        state.begin(seq)
        now = T0 + start * 10  # 100k transfers over ~11 days: all inside the retention
        state.observe_iat(now)
        for k in range(start, min(start + per_batch, transfers)):
            state.record_transfer(Transfer(now, f"p{k % 50}", f"a{k % 20}", "usdc", 1_000_000 + k, "0x" + "ab" * 20))
        for k in range(start, min(start + per_batch, nonces)):
            state.replay.restore([(f"{k:043d}", f"n{k}", now + 10**7)], None)
        state.commit()
    return state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transfers", type=int, default=100_000)
    parser.add_argument("--nonces", type=int, default=10_000)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="accord-state-bench-"))
    pki = SimulatedNitroPki.generate(now=utc_now())
    config = EnclaveConfig(("a1" * 32,), attestation_root=pki.trusted_root().sha256)
    exporter, importer = (Enclave.simulated(enclave_id=evaluator_id(0, i), config=config, state_dir=work / str(i), pki=pki)
                          for i in (0, 1))  # fmt: skip
    state = filled_state(args.transfers, args.nonces)

    started = time.perf_counter()
    peer_of_importer = exporter.verify_peer(importer.identity_document(b"c" * 32), nonce=b"c" * 32)
    peer_of_exporter = importer.verify_peer(exporter.identity_document(b"d" * 32), nonce=b"d" * 32)
    attested = time.perf_counter()
    snapshot = state.snapshot()
    envelope = exporter.channel(peer_of_importer, b"s" * 32).seal("accord-group-state", SecretBytes(snapshot))
    exported = time.perf_counter()
    opened = importer.channel(peer_of_exporter, b"s" * 32).open_sealed(envelope, "accord-group-state")
    recovered = GroupState.from_snapshot(opened.reveal(), signature_skew=30)
    imported = time.perf_counter()
    log = StateLog(work / "log", SecretBytes(os.urandom(32)), evaluator_id(0, 1))
    log.write_snapshot(recovered)
    persisted = time.perf_counter()
    assert recovered.position() == state.position() and len(recovered.ledger) == args.transfers

    small = GroupState(signature_skew=30)
    timings = []
    for seq in range(1, args.batches + 1):
        small.begin(seq)
        small.record_nonce("A" * 43, f"n{seq}", created=T0 + seq, expires=T0 + seq + 60, now=T0 + seq)
        effects = small.commit()
        t = time.perf_counter()
        log.append_batch(effects, small)
        timings.append(time.perf_counter() - t)
    timings.sort()

    report = {
        "transfers": args.transfers,
        "nonces": args.nonces,
        "snapshot_bytes": len(snapshot),
        "attest_ms": round((attested - started) * 1e3, 1),
        "export_ms": round((exported - attested) * 1e3, 1),
        "import_ms": round((imported - exported) * 1e3, 1),
        "persist_ms": round((persisted - imported) * 1e3, 1),
        "recovery_total_s": round(persisted - started, 3),
        "append_batch_p50_ms": round(timings[len(timings) // 2] * 1e3, 3),
        "append_batch_p99_ms": round(timings[int(len(timings) * 0.99) - 1] * 1e3, 3),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for name, value in report.items():
            print(f"{name:24} {value}")


if __name__ == "__main__":
    main()

"""The fuzz campaign: every target (or those named) for FUZZ_EXAMPLES inputs each.

    .venv/bin/python -m fuzz.run [--examples N] [--engine hypothesis|atheris|both] [TARGET ...]

- hypothesis (always): raw bytes, byte-level and structure-aware mutations of the seed
  corpus (fuzz/corpus/<target>/); a failing input is shrunk to a minimal one.
- atheris (where `make fuzz` could install it: x86_64): libFuzzer's coverage-guided search
  over the instrumented `accord` package, from the same corpus, one process per target.

A finding is any exception other than the target's documented refusals, an input that takes
over 1 s (`HANG_SECONDS`), or memory growth past `MEMORY_GROWTH_MB`. Findings are written
to fuzz/findings/<target>/ and the run exits 1. A JSON summary goes to stdout.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import warnings

from fuzz.targets import REPO, TARGETS, Hang

CORPUS = REPO / "fuzz" / "corpus"
FINDINGS = REPO / "fuzz" / "findings"
HANG_SECONDS = 1.0
MEMORY_GROWTH_MB = 512


class MemoryGrowth(Exception):
    """The process grew past MEMORY_GROWTH_MB while fuzzing one target."""


def seeds(name: str) -> list[bytes]:
    directory = CORPUS / name
    return [p.read_bytes() for p in sorted(directory.iterdir())] if directory.is_dir() else []


def _alarm(_signum, _frame):
    raise Hang(f"an input ran past {HANG_SECONDS} s")


def guarded(check):
    """`check` with the hang and memory rules of a campaign."""
    import psutil

    process = psutil.Process()
    state = {"count": 0, "base": None}

    def timed(data: bytes, seconds: float) -> None:
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            check(data)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)

    def run(data: bytes) -> None:
        try:
            timed(data, HANG_SECONDS * 5 if state["count"] == 0 else HANG_SECONDS)  # the first builds fixtures
        except Hang:
            timed(data, HANG_SECONDS)  # once more, alone: a pause of the machine (GC, the other core) is no hang
        state["count"] += 1
        if state["count"] % 2000 == 0:
            rss = process.memory_info().rss >> 20
            state["base"] = state["base"] or rss
            if rss - state["base"] > MEMORY_GROWTH_MB:
                raise MemoryGrowth(f"RSS grew from {state['base']} MB to {rss} MB")

    return run


def hypothesis_campaign(name: str, examples: int, *, quiet: bool = False) -> dict:
    """Fuzz one target with hypothesis; returns its summary (with the finding, if any)."""
    from hypothesis import HealthCheck, Phase, given, settings

    from fuzz.mutate import inputs

    target = TARGETS[name]
    run = guarded(target.check)
    for seed in seeds(name):
        run(seed)  # every seed must pass: the corpus is valid input
    signal.signal(signal.SIGALRM, _alarm)
    count = {"n": 0}

    @settings(max_examples=examples, deadline=None, database=None, derandomize=False, print_blob=True,
              phases=(Phase.generate, Phase.shrink), suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(inputs(seeds(name), target.prefix))
    def fuzz(data: bytes) -> None:
        count["n"] += 1
        try:
            run(data)
        except Exception as exc:
            exc.fuzz_input = data  # the shrunk input, when hypothesis replays it last
            raise

    started = time.monotonic()
    finding = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fuzz()
    except Exception as exc:  # noqa: BLE001 - the finding(s), shrunk by hypothesis
        found = exc.exceptions if isinstance(exc, BaseExceptionGroup) else (exc,)
        finding = [_record(name, e) for e in found]
    summary = {"target": name, "engine": "hypothesis", "inputs": count["n"], "seconds": round(time.monotonic() - started, 1),
               "finding": finding}  # fmt: skip
    if not quiet:
        print(json.dumps(summary), file=sys.stderr, flush=True)
    return summary


def _record(name: str, exc: BaseException) -> dict:
    """Save the minimal failing input hypothesis reports (it is in the exception's notes)."""
    data = getattr(exc, "fuzz_input", None)
    text = f"{type(exc).__name__}: {exc}"
    directory = FINDINGS / name
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / hashlib.sha256(text.encode()).hexdigest()[:16]
    path.with_suffix(".txt").write_text(text + "\n" + "\n".join(getattr(exc, "__notes__", [])))
    if data is not None:
        path.write_bytes(data)
    return {"error": text[:500], "saved": str(path.relative_to(REPO))}


def atheris_campaign(name: str, examples: int) -> dict:
    """Fuzz one target with atheris in a child process (libFuzzer exits on a finding)."""
    directory = FINDINGS / name
    directory.mkdir(parents=True, exist_ok=True)
    work = REPO / "fuzz" / ".atheris-corpus" / name  # grows during the run; not committed
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    child = subprocess.run([sys.executable, "-m", "fuzz.atheris_entry", name, str(examples), str(work), str(CORPUS / name),
                            f"-artifact_prefix={directory}/"], cwd=REPO, capture_output=True, text=True)  # fmt: skip
    marker = child.stderr.find("Uncaught Python exception")
    tail = child.stderr[marker : marker + 1500] if marker >= 0 else child.stderr[-1500:]
    runs = next((line.split()[1] for line in reversed(child.stderr.splitlines()) if line.startswith("#") and " DONE " in line
                 or line.startswith("Done ")), None)  # fmt: skip
    finding = None if child.returncode == 0 else {"error": tail, "saved": str(directory.relative_to(REPO))}
    summary = {"target": name, "engine": "atheris", "inputs": examples if runs is None else int(runs),
               "seconds": round(time.monotonic() - started, 1), "finding": finding}  # fmt: skip
    print(json.dumps(summary), file=sys.stderr, flush=True)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", choices=[[], *TARGETS], default=[], metavar="TARGET")
    parser.add_argument("--examples", type=int, default=int(os.environ.get("FUZZ_EXAMPLES", 100_000)))
    parser.add_argument("--engine", choices=("hypothesis", "atheris", "both"), default=os.environ.get("FUZZ_ENGINE", "both"))
    args = parser.parse_args(argv)
    names = args.targets or list(TARGETS)
    try:
        import atheris  # noqa: F401
        have_atheris = True
    except ImportError:
        have_atheris = False
    results = []
    for name in names:
        if args.engine in ("hypothesis", "both"):
            results.append(hypothesis_campaign(name, args.examples))
        if args.engine in ("atheris", "both"):
            if have_atheris:
                results.append(atheris_campaign(name, args.examples))
            elif args.engine == "atheris":
                raise SystemExit("atheris is not installed: `make fuzz` installs it where it has a wheel (x86_64)")
    print(json.dumps({"examples_per_target": args.examples, "results": results}, indent=1))
    return 1 if any(r["finding"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())

"""`accord log show` and `accord log verify`: the evaluators' decision logs
(`<state-dir>/logs/<enclave-id>/`, see `accord.enclave.decision_log`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from accord.commands.options import StateDir, state_dir_option

LOGS = "logs"


def _enclave_dirs(state_dir: StateDir) -> list[Path]:
    root = state_dir.path / LOGS
    dirs = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if not dirs:
        raise state_dir.nothing_here(f"no decision logs under {root}")
    return dirs


@click.group("log")
def log() -> None:
    """Show and verify the evaluators' decision logs."""


@log.command("show")
@state_dir_option("Where the deployment keeps its state (and its logs).")
@click.option("--tail", type=click.IntRange(min=1), help="Only the last N requests.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per request.")
def show(state_dir, tail, as_json) -> None:
    """Each decided request once, with the enclaves that logged it (not verified: see
    `accord log verify`)."""
    from accord.enclave.decision_log import entry_time, read_entries

    requests: dict[str, dict] = {}
    for directory in _enclave_dirs(state_dir):
        for _, _, entry, _ in read_entries(directory):
            if entry is None or entry.get("kind") != "decision":
                continue
            seen = requests.setdefault(entry.get("jti", ""), {**entry, "enclaves": []})
            seen["enclaves"].append(directory.name)
    rows = sorted(requests.values(), key=lambda e: e.get("seq", 0))  # stable: log order within a batch
    rows = rows[-tail:] if tail else rows
    for row in rows:
        row = {k: v for k, v in row.items() if k not in ("n", "prev", "hash", "kind")}
        if as_json:
            click.echo(json.dumps(row, sort_keys=True))
        else:
            reasons = "; ".join(row.get("reasons", []))
            click.echo(f"{entry_time(row)} batch {row.get('seq')} {row.get('principal') or '-'} {row.get('action')} "
                       f"{row.get('resource')}: {row.get('decision')}{' ' + row['code'] if row.get('code') else ''}"
                       f"{' (' + reasons + ')' if reasons else ''} [{len(row['enclaves'])} enclaves]")  # fmt: skip


@log.command("verify")
@state_dir_option("Where the deployment keeps its state (and its logs).")
@click.option("--release", "release_file", type=click.Path(exists=True, dir_okay=False),
              help="The published release the enclaves' attestations must match (default: the one the state "
                   "directory's recorded configuration makes).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify(state_dir, release_file, as_json) -> None:
    """Verify every log: each line's hash and place in the chain, each start's attestation
    (root, PCRs) and the signatures under its key, no batch missing; then that the
    evaluators of each group logged the same decisions. Exit 1 naming what fails."""
    from accord.client.release import Release
    from accord.cluster.deployment import recorded_release
    from accord.enclave.decision_log import compare_group, verify_log

    dirs = _enclave_dirs(state_dir)
    release = Release.load(release_file) if release_file else recorded_release(state_dir.path)
    policy = release.attestation_policy()
    reports = [verify_log(d, d.name, policy) for d in dirs]
    groups: dict[str, list] = {}
    for report in reports:
        groups.setdefault(report.enclave.split("-")[0], []).append(report)
    disagreements = {g: compare_group(members) for g, members in sorted(groups.items())}
    valid = all(r.valid for r in reports) and not any(disagreements.values())
    if as_json:
        click.echo(json.dumps({"valid": valid, "enclaves": {r.enclave: {
            "valid": r.valid, "entries": r.entries, "decisions": len(r.decisions), "batches": len(r.batches),
            "problems": r.problems} for r in reports}, "groups": disagreements}, indent=2, sort_keys=True))  # fmt: skip
    else:
        for report in reports:
            if report.valid:
                click.echo(f"{report.enclave}: valid ({report.entries} entries, {len(report.decisions)} decisions, "
                           f"{len(report.batches)} batches)")  # fmt: skip
            for problem in report.problems:
                click.echo(f"INVALID: {report.enclave}: {problem}", err=True)
        for group, problems in disagreements.items():
            for problem in problems:
                click.echo(f"INVALID: group {group}: {problem}", err=True)
    if not valid:
        sys.exit(1)


@log.command("ship")
@state_dir_option("Where the deployment keeps its state (and its logs).")
@click.option("--url", required=True, help="The decision-log service (OPA's upload shape: gzip JSON array, POST).")
@click.option("--interval", default=5.0, show_default=True, type=click.FloatRange(min=0.1), help="Seconds between passes.")
@click.option("--once", is_flag=True, help="One pass (collect and upload), then exit: 1 if the upload failed.")
def ship(state_dir, url, interval, once) -> None:
    """Upload new decision-log entries to URL, with backoff on failure and a bounded
    buffer; it reads the log files, so it never blocks a decision."""
    import time

    from accord.cluster.log_shipping import LogShipper

    _enclave_dirs(state_dir)  # a clear error when there is nothing to ship
    shipper = LogShipper(state_dir.path / LOGS, url)
    while True:
        collected, delivered = shipper.collect(), shipper.ship()
        state = shipper.state
        if collected or delivered or state.last_error:
            error = f"; last error {state.last_error} (retry in {state.backoff:g} s)" if state.last_error else ""
            click.echo(f"read {collected}, shipped {delivered} (total {state.shipped}, dropped {state.dropped})"
                       f"{error}", err=bool(state.last_error))  # fmt: skip
        if once:
            sys.exit(1 if state.last_error else 0)
        time.sleep(interval)

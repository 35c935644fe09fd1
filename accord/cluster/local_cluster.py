"""A local Ray cluster that outlives the command that started it (`accord up`).

`ray start --head --block` runs in its own session, in the background; its process id and
address are kept in `<state_dir>/cluster.json`, so `accord status` and `accord down` find
it. Stopping that process (SIGTERM) stops the whole local cluster; a cluster Accord did not
start is never stopped. Ray's token authentication stays on (Ray's default) and the
dashboard is off.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from accord.errors import AccordError

CLUSTER_FILE = "cluster.json"
LOOPBACK = "127.0.0.1"


class LocalClusterError(AccordError):
    """The local Ray cluster could not be started, found or stopped."""


@dataclass(frozen=True)
class LocalCluster:
    address: str
    pid: int
    started_by_accord: bool = True

    def save(self, state_dir: Path) -> None:
        (state_dir / CLUSTER_FILE).write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, state_dir: Path) -> LocalCluster | None:
        path = state_dir / CLUSTER_FILE
        return cls(**json.loads(path.read_text())) if path.exists() else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def _ray_executable() -> str:
    candidate = Path(sys.executable).with_name("ray")
    return str(candidate) if candidate.exists() else "ray"


def start_head(state_dir: Path, resources: dict[str, float], *, num_cpus: int | None = None,
               timeout: float = 60.0) -> LocalCluster:  # fmt: skip
    """Start a Ray head offering `resources`, detached from this process; wait until it
    accepts connections."""
    port = _free_port()
    command = [
        _ray_executable(), "start", "--head", "--block", f"--port={port}", f"--node-ip-address={LOOPBACK}",
        "--include-dashboard=false", "--disable-usage-stats", f"--resources={json.dumps(resources)}",
    ]  # fmt: skip
    if num_cpus is not None:
        command.append(f"--num-cpus={num_cpus}")
    log = open(state_dir / "ray-head.log", "ab")  # noqa: SIM115 - handed to the child process
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               start_new_session=True)  # fmt: skip
    cluster = LocalCluster(f"{LOOPBACK}:{port}", process.pid)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise LocalClusterError(f"ray start exited with {process.returncode}; see {state_dir / 'ray-head.log'}")
        try:
            with socket.create_connection((LOOPBACK, port), timeout=1):
                break
        except OSError:
            time.sleep(0.5)
    else:
        stop_head(cluster)
        raise LocalClusterError(f"the Ray head did not listen on port {port} within {timeout:.0f} s")
    cluster.save(state_dir)
    return cluster


def stop_head(cluster: LocalCluster, timeout: float = 30.0) -> None:
    """Stop a local cluster Accord started (SIGTERM to `ray start --block`, which stops the
    processes it started)."""
    if not cluster.started_by_accord:
        return
    try:
        os.kill(cluster.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if os.waitpid(cluster.pid, os.WNOHANG)[0]:  # our own child: reap it
                return
        except ChildProcessError:  # started by an earlier command: just watch it
            try:
                os.kill(cluster.pid, 0)
            except ProcessLookupError:
                return
        time.sleep(0.2)
    os.killpg(cluster.pid, signal.SIGKILL)

"""A real multi-node Ray cluster, started as the README says: `ray start --head` and, per
enclave host, `accord cluster join` (`ray start --address ... --resources`), each its own
raylet in its own process session, with Ray's token authentication on (the token in a file
of this test, as an operator copies it to every host). Then `accord up --address`, a token
over HTTP, the loss of one enclave host and its replacement by a new node offering the same
resource (same group key), and a short `accord bench --address`.

Only the processes this test started are stopped, by their session ids.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from accord.protocols.jwk import save_signing_key
from accord.scenario import make_scenario

pytestmark = pytest.mark.multinode

ACCORD = [sys.executable, "-m", "accord.cli"]
RAY = str(Path(sys.executable).with_name("ray"))
LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


class Session:
    """A background command in its own session; stopping it kills the whole session (what a
    host that dies does to its raylet, workers and actors)."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out = open(log, "wb")  # noqa: SIM115 - the child writes to it until stopped
        self.process = subprocess.Popen(command, env=env, stdout=self._out, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip

    def wait_for(self, text: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log.read_text(errors="replace"):
                return
            if self.process.poll() is not None:
                raise AssertionError(f"{self.log.name}: exited {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.5)
        raise AssertionError(f"{self.log.name}: no {text!r} within {timeout} s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)
        self._out.close()


@pytest.fixture
def ray_env(tmp_path):
    """What every process of the cluster and every driver needs: token mode and the token."""
    token = tmp_path / "ray-auth-token"
    token.write_text(secrets.token_hex(32))
    token.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_ADDRESS", "RAY_AUTH"))}
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token))
    return env


def accord(env, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*ACCORD, *map(str, args)], env=env, capture_output=True, text=True, timeout=timeout)


def join(env, address: str, enclave: int, logs: Path) -> Session:
    node = Session([*ACCORD, "cluster", "join", "--address", address, "--enclave", str(enclave), "--num-cpus", "1",
                    "--node-ip-address", LOOPBACK, "--block"], env, logs / f"node-{enclave}-{time.time_ns()}.log")  # fmt: skip
    node.wait_for("Ray runtime started")
    return node


def wait_until_one_node_offers(env, address: str, enclave: int, timeout: float = 180) -> None:
    """Until the cluster has marked a lost host's node dead (it misses heartbeats for a while
    first): before that, Ray may still place new actors there."""
    probe = ("import ray, sys; ray.init(address=sys.argv[1], logging_level='ERROR'); "
             "print(sum(1 for n in ray.nodes() if n['Alive'] and sys.argv[2] in n['Resources']))")  # fmt: skip
    deadline = time.monotonic() + timeout
    while True:
        alive = subprocess.run([sys.executable, "-c", probe, address, f"enclave-{enclave}"], env=env,
                               capture_output=True, text=True, timeout=60)  # fmt: skip
        if alive.stdout.strip().splitlines()[-1:] == ["1"]:
            return
        assert time.monotonic() < deadline, alive.stdout + alive.stderr
        time.sleep(2)


def kid_of(token: str) -> str:
    header = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]


def test_a_cluster_started_with_the_ray_cli_deploys_signs_and_survives_a_host_replacement(tmp_path, ray_env,
                                                                                            record_property):  # fmt: skip
    logs = tmp_path / "logs"
    logs.mkdir()
    port = free_port()
    address = f"{LOOPBACK}:{port}"
    started: list[Session] = []
    gateway = None
    try:
        head = Session([RAY, "start", "--head", "--block", f"--port={port}", f"--node-ip-address={LOOPBACK}",
                        "--include-dashboard=false", "--disable-usage-stats", "--num-cpus=1"], ray_env, logs / "head.log")  # fmt: skip
        started.append(head)
        head.wait_for("Ray runtime started")
        nodes = []
        for i in range(3):  # one after the other: on two cores, raylets started at once time out
            nodes.append(join(ray_env, address, i, logs))
            started.append(nodes[-1])

        # Without the token, the cluster refuses a node (what the new user met).
        no_token = {**ray_env, "RAY_AUTH_TOKEN_PATH": str(tmp_path / "missing")}
        refused = accord(no_token, "cluster", "join", "--address", address, "--enclave", "0")
        assert refused.returncode != 0 and "no Ray cluster token" in refused.stderr

        scenario = make_scenario(tmp_path / "published")
        sources = scenario.publish(1)
        state, release = tmp_path / "state", tmp_path / "published" / "accord-release.json"
        t0 = time.monotonic()
        up = accord(ray_env, "up", "--address", address, "--state-dir", state, "--bundle", sources.bundle,
                    "--signature", sources.signature, "--pubkey", sources.public_key, "--release-out", release)  # fmt: skip
        assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-2000:]
        up_seconds = time.monotonic() - t0
        record_property("up_seconds", round(up_seconds, 1))
        kid = up.stdout.split("kids ['")[1].split("'")[0]
        status = accord(ray_env, "status", "--address", address, "--state-dir", state, "--release", release, "--json")
        assert status.returncode == 0, status.stderr[-2000:]
        assert json.loads(status.stdout)["healthy"]

        http_port = free_port()
        url = f"http://{LOOPBACK}:{http_port}"
        gateway = Session([*ACCORD, "serve", "--address", address, "--state-dir", state, "--port", str(http_port)],
                          ray_env, logs / "serve.log")  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (logs / "serve.log").read_text()[-3000:]
            time.sleep(0.5)
        key = tmp_path / "bob.jwk"
        save_signing_key(scenario.bob.key, key)

        def ask() -> subprocess.CompletedProcess:
            return accord(ray_env, "authorize", "--key", key, "--url", url, "signMessage", "ops-wallet",
                          "--payload", json.dumps({"message": f"hello {time.time_ns()}"}), "--json", timeout=60)  # fmt: skip

        first = ask()
        assert first.returncode == 0, first.stdout + first.stderr
        assert kid_of(json.loads(first.stdout)["token"]) == kid
        assert httpx.get(f"{url}/readyz", timeout=10).json() == {"status": "ready"}
        metrics = httpx.get(f"{url}/metrics", timeout=30).text
        assert "accord_tokens_issued_total 1.0" in metrics and "accord_deployment_up 1.0" in metrics
        assert f'accord_group_key_age_seconds{{group="0",kid="{kid}"}}' in metrics

        # Enclave host 1 is lost; a new node offering enclave-1 replaces it.
        nodes[1].stop()
        lost = time.monotonic()
        replacement = join(ray_env, address, 1, logs)
        started.append(replacement)
        while True:
            again = ask()
            if again.returncode == 0:
                break
            assert time.monotonic() - lost < 180, again.stdout + again.stderr
            time.sleep(1)
        record_property("replacement_seconds", round(time.monotonic() - lost, 1))
        token = json.loads(again.stdout)["token"]
        assert kid_of(token) == kid  # the same group key: the shares were unsealed, not regenerated
        verified = accord(ray_env, "token", "verify", token, "--jwks", url, timeout=60)
        assert verified.returncode == 0, verified.stdout + verified.stderr + (logs / "serve.log").read_text()[-3000:]
        print(f"\nreal cluster: ready after `accord up` in {up_seconds:.1f} s; host 1 replaced, "
              f"signing again {time.monotonic() - lost:.1f} s after it was lost")  # fmt: skip

        gateway.stop()
        gateway = None
        assert accord(ray_env, "down", "--address", address, "--state-dir", state).returncode == 0

        wait_until_one_node_offers(ray_env, address, 1)  # the drivers spread over the nodes Ray thinks alive
        bench = accord(ray_env, "bench", "--address", address, "--duration", "3", "--concurrency", "1,8",
                       "--drivers", "2", "--no-baseline", "--json", timeout=400)  # fmt: skip
        assert bench.returncode == 0, bench.stdout[-2000:] + bench.stderr[-2000:]
        report = json.loads(bench.stdout[bench.stdout.index("{"):])
        figures = {level["concurrency"]: level["tokens_per_s"] for level in report["levels"]}
        record_property("bench_tokens_per_s", figures)
        print(f"accord bench --address on it: tokens/s by clients {figures}")
        assert all(tps > 0 for tps in figures.values())
        assert report["server_cpu_ms_per_token"] > 0 and report["ed25519_sign_us"] > 0
    finally:
        if gateway is not None:
            gateway.stop()
        for session in reversed(started):
            session.stop()

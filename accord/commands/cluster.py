"""`accord cluster join`: make this machine an enclave host of a Ray cluster, with the
resource name and Ray's token authentication right.

It runs `ray start --address HEAD --resources '{"enclave-<i>": 1}'` (or `enclave-<g>-<i>`)
with `RAY_AUTH_MODE=token`, after checking that this machine has the head's token: a node
without it fails to join with `InvalidAuthToken` (see "On a real multi-node Ray cluster" in
the README). `--print` shows the command instead of running it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from pathlib import Path

import click

_ENCLAVE = re.compile(r"(?:(\d+)-)?(\d+)")


def token_source() -> str | None:
    """Where Ray will read the cluster token from on this machine (as Ray looks), or None."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return "RAY_AUTH_TOKEN"
    path = os.environ.get("RAY_AUTH_TOKEN_PATH")
    if path:
        return f"RAY_AUTH_TOKEN_PATH={path}" if Path(path).is_file() else None
    default = Path.home() / ".ray" / "auth_token"
    return str(default) if default.is_file() else None


def resource_name(enclave: str) -> str:
    """`2` -> enclave-2 (one signing group); `1-2` -> enclave-1-2 (group 1, host 2)."""
    match = _ENCLAVE.fullmatch(enclave)
    if match is None:
        raise click.BadParameter(f"{enclave!r} is not I or G-I (host I of group G)", param_hint="--enclave")
    group, index = match.groups()
    return f"enclave-{index}" if group is None else f"enclave-{group}-{index}"


@click.group("cluster")
def cluster() -> None:
    """Join machines to the Ray cluster a deployment runs on."""


@cluster.command("join")
@click.option("--address", required=True, help="The Ray head, HOST:PORT.")
@click.option("--enclave", required=True, help="Which enclave host this machine is: I (one group) or G-I.")
@click.option("--num-cpus", type=int, help="CPUs this node offers Ray (default: all).")
@click.option("--node-ip-address", help="This node's address as the others reach it.")
@click.option("--block", is_flag=True, help="Stay in the foreground; stopping this command stops the node.")
@click.option("--print", "print_only", is_flag=True, help="Print the command (and the variables it needs); run nothing.")
def join(address: str, enclave: str, num_cpus: int | None, node_ip_address: str | None, block: bool,
         print_only: bool) -> None:  # fmt: skip
    """Start a Ray node offering this enclave host's resource, with token authentication."""
    resources = json.dumps({resource_name(enclave): 1})
    ray = str(Path(sys.executable).with_name("ray")) if Path(sys.executable).with_name("ray").exists() else "ray"
    command = [ray, "start", f"--address={address}", f"--resources={resources}", "--disable-usage-stats"]
    if num_cpus is not None:
        command.append(f"--num-cpus={num_cpus}")
    if node_ip_address:
        command.append(f"--node-ip-address={node_ip_address}")
    if block:
        command.append("--block")
    source = token_source()
    if print_only:
        click.echo(f"RAY_AUTH_MODE=token {shlex.join(command)}")
        if source is None:
            click.echo("# first copy the head's token here: ~/.ray/auth_token (mode 0600), or set RAY_AUTH_TOKEN_PATH")
        return
    if source is None:
        raise click.ClickException(
            "this machine has no Ray cluster token, so the head would refuse it (InvalidAuthToken): copy the head's "
            "~/.ray/auth_token here (mode 0600), or set RAY_AUTH_TOKEN_PATH to a copy, or RAY_AUTH_TOKEN"
        )
    os.environ["RAY_AUTH_MODE"] = "token"
    click.echo(f"joining {address} as {resource_name(enclave)} (token from {source})", err=True)
    sys.stdout.flush()
    os.execvp(command[0], command)

"""The one place that sets Ray actor options.

- Every actor is named and detached in the deployment's namespace, so drivers, notebooks,
  the CLI and the gateway attach to a running deployment by name.
- Enclave services are pinned to their host by the custom resource `enclave-<i>` (or
  `enclave-<g>-<i>`), never by node id. They reserve no CPU slot (they mostly wait), so a
  small machine can host many.
- Anything that uses a nonce is never retried by Ray (`max_task_retries=0`): a retried
  signing call could reuse a nonce or a replay-cache entry. Actors restart without limit and
  reload their sealed state in `__init__`.
"""

from __future__ import annotations

from typing import Any

from accord.config.topology import EnclaveSlot

PIN = 0.001  # a sliver of the host's enclave resource: many actors may share a host


def actor_options(role: str, name: str, namespace: str, slot: EnclaveSlot | None = None) -> dict[str, Any]:
    options: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "lifetime": "detached",
        "num_cpus": 0,
        "max_restarts": -1,
        "max_task_retries": 0,
    }
    if slot is not None:
        options["resources"] = {slot.resource: PIN}
    if role == "minter":
        options["max_concurrency"] = 32  # batches from many callers overlap; state is locked per group
    if role == "baseline":
        options["max_restarts"] = 0  # a benchmark fixture: its large constructor arguments are not kept for restarts
    return options


def remote(cls: type, role: str, name: str, namespace: str, slot: EnclaveSlot | None = None):
    """The Ray actor class for service `cls` with Accord's options."""
    import ray

    return ray.remote(cls).options(**actor_options(role, name, namespace, slot))

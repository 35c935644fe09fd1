"""What `accord status` shows: each enclave's verified attestation, its PCRs and active
bundle, each signing group's key, and whether the deployment can sign (healthy)."""

from __future__ import annotations

import os
from typing import Any

from accord.cluster.deployment import Deployment
from accord.enclave.timeutil import utc_now
from accord.errors import AccordError


def describe(deployment: Deployment) -> dict[str, Any]:
    """A report of the running deployment. Attestations are verified here, in the caller's
    process, with a fresh nonce against the deployment's root and expected PCRs."""
    status = deployment.status()
    nonce = os.urandom(32)
    documents = deployment.attestations(nonce)
    policy = deployment.config.attestation_policy()
    kids = {g["index"]: g["kid"] for g in status["minter"]}
    groups, healthy, digests = [], True, set()
    for group in status["groups"]:
        enclaves = []
        for evaluator in group["evaluators"]:
            entry = dict(evaluator)
            try:
                policy.verify(documents[evaluator["enclave_id"]], at=utc_now(), nonce=nonce)
                entry["attestation"] = "valid"
            except (AccordError, KeyError) as exc:
                entry["attestation"] = f"INVALID ({type(exc).__name__}: {exc})"
                healthy = False
            if entry.get("bundle"):
                digests.add(entry["bundle"]["digest"])
            else:
                healthy = False
            enclaves.append(entry)
        keyshares = group["keyshares"]
        healthy = healthy and all(k.get("ready") for k in keyshares)
        groups.append({"index": group["index"], "kid": kids.get(group["index"]), "enclaves": enclaves,
                       "keyshares": keyshares})  # fmt: skip
    healthy = healthy and len(digests) == 1
    return {"healthy": healthy, "state_dir": status["state_dir"], "groups": groups, "time": status["time"]}

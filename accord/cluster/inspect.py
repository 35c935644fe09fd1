"""What `accord status` shows: each enclave's verified attestation, its PCRs and active
bundle (with its expiry and the time left), each signing group's key, whether the JWKS is
exactly the attested keys, and whether the deployment can sign (healthy)."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from accord.client.attested_keys import verify_key_set
from accord.client.release import Release
from accord.cluster.deployment import Deployment
from accord.enclave.platform.timeutil import utc_now
from accord.errors import AccordError


def describe(deployment: Deployment, release: Release | None = None) -> dict[str, Any]:
    """A report of the running deployment. Attestations are verified here, in the caller's
    process, with a fresh nonce against `release` (default: the one this operator's
    configuration and code make, `Deployment.release`)."""
    release = release or deployment.release()
    status = deployment.status()
    nonce = os.urandom(32)
    documents = deployment.attestations(nonce)
    policy = release.attestation_policy()
    now = utc_now()
    kids = {g["index"]: g["kid"] for g in status["minter"]}
    groups, healthy, digests = [], True, set()
    for group in status["groups"]:
        enclaves = []
        for evaluator in group["evaluators"]:
            entry = dict(evaluator)
            try:
                policy.verify(documents[evaluator["enclave_id"]], at=now, nonce=nonce)
                entry["attestation"] = "valid"
            except (AccordError, KeyError) as exc:
                entry["attestation"] = f"INVALID ({type(exc).__name__}: {exc})"
                healthy = False
            if entry.get("bundle"):
                bundle = entry["bundle"]
                digests.add(bundle["digest"])
                left = int((datetime.fromisoformat(bundle["expires"]) - now).total_seconds())
                bundle["seconds_left"] = max(left, 0)
                bundle["expired"] = left <= 0
                healthy = healthy and left > 0
            else:
                healthy = False
            enclaves.append(entry)
        keyshares = group["keyshares"]
        healthy = healthy and all(k.get("ready") for k in keyshares)
        groups.append({"index": group["index"], "kid": kids.get(group["index"]), "enclaves": enclaves,
                       "keyshares": keyshares})  # fmt: skip
    healthy = healthy and len(digests) == 1
    try:
        verify_key_set(documents, deployment.jwks(), release, nonce=nonce, at=now)
        jwks = "attested"
    except AccordError as exc:
        jwks, healthy = f"NOT ATTESTED ({type(exc).__name__}: {exc})", False
    return {"healthy": healthy, "state_dir": status["state_dir"], "deployment": release.config.deployment,
            "jwks": jwks, "groups": groups, "polling": status.get("polling"), "time": status["time"]}  # fmt: skip

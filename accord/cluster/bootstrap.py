"""Bringing a signing group up: the DKG among its KeyShares (or the check that they all
unsealed the same key), pairing each evaluator with its KeyShare, activating a bundle.

The steps are the same for actors and for in-process services: they only go through an
`Invoker`. The host running them is untrusted; it only relays what the enclaves produce.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from accord.actors.invoke import Invoker
from accord.errors import AccordError, problems_by_source


class BootstrapError(AccordError):
    """A signing group cannot be brought up; the message names the enclave and the reason
    (one line per distinct problem: several enclaves saying one are one line)."""


def provision_group(invoker: Invoker, keyshares: Sequence[Any]) -> bytes:
    """Make sure every KeyShare of the group holds its share: run the DKG if none has one,
    else check that all unsealed the same group key. Returns the public key package bytes."""
    statuses = invoker.gather([(ks, "status", ()) for ks in keyshares])
    for status in statuses:
        if status["sealed_share"] and not status["ready"]:
            raise BootstrapError(f"{status['enclave_id']}: its sealed share does not open: {status['unseal_error']}")
    ready = [s for s in statuses if s["ready"]]
    if not ready:
        return run_dkg(invoker, keyshares, [s["enclave_id"] for s in statuses])
    if len(ready) != len(statuses):
        missing = [s["enclave_id"] for s in statuses if not s["ready"]]
        raise BootstrapError(f"enclaves {missing} hold no share while the others do: restore their state directories")
    packages = {s["public_key_package"] for s in statuses}
    if len(packages) != 1:
        raise BootstrapError(f"the KeyShares of this group unsealed different group keys: {[s['kid'] for s in statuses]}")
    return packages.pop()


def run_dkg(invoker: Invoker, keyshares: Sequence[Any], enclave_ids: Sequence[str], purpose: str = "dkg") -> bytes:
    """The DKG (or, with purpose "refresh", a proactive share refresh) over attested
    channels. Each KeyShare attests with a nonce derived from every participant's fresh
    challenge, verifies its peers' documents, then the rounds run as sealed and signed
    envelopes the host only relays. Returns the public key package all derived."""
    members = list(zip(enclave_ids, keyshares))
    challenges = invoker.gather([(ks, "challenge", (purpose,)) for ks in keyshares])
    documents = dict(zip(enclave_ids, invoker.gather([(ks, "identity_document", (purpose, challenges))
                                                      for ks in keyshares])))  # fmt: skip
    outgoing = dict(zip(enclave_ids, invoker.gather([(ks, f"{purpose}_round1", (documents, len(keyshares)))
                                                     for ks in keyshares])))  # fmt: skip
    outgoing = dict(zip(enclave_ids, invoker.gather([(ks, f"{purpose}_round2", (_inbox(outgoing, e),)) for e, ks in members])))
    packages = invoker.gather([(ks, f"{purpose}_finish", (_inbox(outgoing, e),)) for e, ks in members])
    if len(set(packages)) != 1:
        raise BootstrapError(f"the {purpose} participants derived different public key packages")
    return packages[0]


def _inbox(outgoing: dict[str, dict[str, bytes]], recipient: str) -> dict[str, bytes]:
    return {sender: messages[recipient] for sender, messages in outgoing.items() if recipient in messages}


def pair_group(invoker: Invoker, evaluators: Sequence[Any]) -> str:
    """Pair every evaluator with its KeyShare; returns the group key id they all report."""
    kids = set(invoker.gather([(ev, "pair", ()) for ev in evaluators]))
    if len(kids) != 1:
        raise BootstrapError(f"evaluators of one group report different group keys: {sorted(kids)}")
    return kids.pop()


def activate_bundle(invoker: Invoker, evaluators: Sequence[Any], enclave_ids: Sequence[str], bundle: bytes,
                    signature: bytes | None, public_key: bytes, digest: str) -> dict[str, Any]:  # fmt: skip
    """Every evaluator verifies and activates the bundle (the BundleVerifier found `digest`);
    all must end on that digest. An evaluator that already runs it (it reloaded it after a
    restart) is left alone. A refusal lists each distinct problem once, with the enclaves
    that reported it."""
    statuses = invoker.gather([(ev, "status", ()) for ev in evaluators])
    stale = [(ev, eid) for ev, eid, status in zip(evaluators, enclave_ids, statuses)
             if (status["bundle"] or {}).get("digest") != digest]  # fmt: skip
    results = invoker.settle(invoker.submit([(ev, "activate", (bundle, signature, public_key)) for ev, _ in stale]))
    failures = [(eid, r) for (_, eid), r in zip(stale, results) if isinstance(r, BaseException)]
    if failures:
        raise BootstrapError("\n".join(f"bundle refused: {line}" for line in problems_by_source(failures)))
    digests = {r["digest"] for r in results} | {digest}
    if len(digests) != 1:
        raise BootstrapError(f"evaluators activated other bundles than {digest}: {sorted(digests - {digest})}")
    return {"digest": digest, "activated": len(stale), "evaluators": len(evaluators)}

"""client -> Accord (HTTP gateway) -> vault, end to end, from nothing.

    python examples/vault/run_demo.py               # embedded Ray cluster (Deployment.start)
    python examples/vault/run_demo.py --in-process  # the same services in this process, no Ray
    python examples/vault/run_demo.py --json        # a summary as JSON

1. An administrator signs a bundle (the shipped policy library) registering bob (requester)
   and dave and erin (approvers); a deployment starts and serves the HTTP API.
2. The operator publishes the release (configuration, simulated root, PCRs); bob verifies
   the enclaves' attestations against it before trusting the JWKS, which the vault is then
   started with.
3. bob asks Accord to sign a login message -> permit -> token; the vault signs the message
   for that token, and refuses the same request replayed, and the token used for another one.
4. bob asks for a 50,000 USDC payout -> confirm; dave and erin file approvals over HTTP; bob
   resubmits with them -> permit; the vault signs the transaction.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from accord.bundles.publish import library_bundle, library_data, publish, with_principal
from accord.client import Client, Release
from accord.cluster.batching import BatchConfig
from accord.cluster.deployment import Deployment
from accord.cluster.gateway import ServerThread, create_app
from accord.protocols.jwk import KeyKind, SigningKey, b64url_decode

HERE = Path(__file__).resolve().parent
USDC = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"


def _vault_module():
    spec = importlib.util.spec_from_file_location("accord_example_vault", HERE / "server.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def erc20_transfer(to: str, units: int) -> dict[str, Any]:
    return {"chain_id": 1, "to": USDC, "value": "0",
            "data": "0xa9059cbb" + to[2:].rjust(64, "0") + format(units, "064x")}  # fmt: skip


def check_vault_signature(answer: dict[str, Any]) -> None:
    """Verify the vault's Ed25519 signature with the account key it reported."""
    public = ed25519.Ed25519PublicKey.from_public_bytes(b64url_decode(answer["public_key"]["x"], "x"))
    public.verify(b64url_decode(answer["signature"], "signature"), b64url_decode(answer["signed"], "signed"))


def run(workdir: Path, *, in_process: bool, say) -> dict[str, Any]:
    admin = SigningKey.generate()
    people = {"bob": SigningKey.generate(), "dave": SigningKey.generate(KeyKind.P256), "erin": SigningKey.generate()}
    data = library_data()
    for name, key in people.items():
        data = with_principal(data, name, key.public)
    sources = publish(library_bundle(data), admin, workdir / "published", version=1)
    state = workdir / "state"
    say(f"starting a deployment ({'in process' if in_process else 'embedded Ray'}) in {state}")
    deployment = (Deployment.in_process if in_process else Deployment.start)(state_dir=state, bundle=sources)
    batch = BatchConfig(max_in_flight=1 if in_process else deployment.config.topology.groups)
    summary: dict[str, Any] = {"steps": []}
    try:
        with ServerThread(create_app(deployment, batch=batch)) as gateway:
            say(f"gateway at {gateway.url}")
            bob, dave, erin = (Client(people[n], base_url=gateway.url) for n in ("bob", "dave", "erin"))
            release = Release.load(deployment.release().save(workdir / "accord-release.json"))
            verified = bob.verified_jwks(release)
            say(f"attested JWKS: kid {verified.jwks['keys'][0]['kid']} from {[e.enclave_id for e in verified.enclaves]}")
            summary["jwks"] = verified.jwks
            vault_app = _vault_module().create_vault_app(verified.jwks)
            with ServerThread(vault_app) as vault:
                sign_url = vault.url + "/v1/sign"
                summary["steps"] += message_step(bob, sign_url, say)
                summary["steps"] += payout_step(bob, dave, erin, data, sign_url, say)
    finally:
        deployment.shutdown()
    return summary


def message_step(bob: Client, sign_url: str, say) -> list[dict[str, Any]]:
    request = {"action": "signMessage", "resource": "ops-wallet", "payload": {"message": "log in to the exchange"}}
    result = bob.authorize(request["action"], request["resource"], request["payload"]).raise_for_decision()
    say(f"bob signMessage -> {result.decision.value} (HTTP {result.http_status})")
    call = bob.signed_resource_request("POST", sign_url, result.token, request)
    answer = bob.send(call)
    answer.raise_for_status()
    check_vault_signature(answer.json())
    say(f"vault signed the message for bob: {answer.json()['signature'][:32]}...")
    replayed = bob.send(call)
    other = bob.send(bob.signed_resource_request("POST", sign_url, result.token,
                                                 dict(request, payload={"message": "something else"})))  # fmt: skip
    say(f"vault refuses the replay (HTTP {replayed.status_code}) and another message (HTTP {other.status_code})")
    if (replayed.status_code, other.status_code) != (409, 403):
        raise SystemExit(f"the vault accepted what it must refuse: {replayed.status_code}, {other.status_code}")
    return [{"request": request, "decision": result.decision.value, "token": result.token,
             "vault": answer.json(), "replay_status": replayed.status_code, "other_request_status": other.status_code}]  # fmt: skip


def payout_step(bob: Client, dave: Client, erin: Client, data: dict, sign_url: str, say) -> list[dict[str, Any]]:
    exchange = next(k.split(":")[2] for k, v in data["address_book"].items() if v.get("classification") == "exchange")
    request = {"action": "signTransaction", "resource": "ops-wallet",
               "payload": erc20_transfer(exchange, 50_000 * 10**6)}  # fmt: skip

    def approvers(pending) -> None:
        say(f"pending {pending.request_id[:12]}...: {pending.needed} approvals missing, {len(pending.approvals)} filed")
        for approver in (dave, erin)[len(pending.approvals):]:
            approver.file_approval(pending.request_id)

    result = bob.authorize_with_approvals(request["action"], request["resource"], request["payload"], timeout=30,
                                          interval=0.05, on_pending=approvers).raise_for_decision()  # fmt: skip
    say(f"bob signTransaction (50,000 USDC) with dave's and erin's approvals -> {result.decision.value}")
    answer = bob.send(bob.signed_resource_request("POST", sign_url, result.token, request))
    answer.raise_for_status()
    check_vault_signature(answer.json())
    say("vault signed the transaction")
    return [{"request": request, "decision": result.decision.value, "token": result.token, "vault": answer.json()}]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="client -> Accord -> vault, end to end")
    parser.add_argument("--in-process", action="store_true", help="no Ray: the services in this process")
    parser.add_argument("--workdir", type=Path, help="keep bundle and state here (default: a temporary directory)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary")
    args = parser.parse_args(argv)
    say = (lambda _: None) if args.json else print
    if args.workdir:
        summary = run(args.workdir, in_process=args.in_process, say=say)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            summary = run(Path(tmp), in_process=args.in_process, say=say)
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())

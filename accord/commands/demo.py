"""`accord demo`: the whole system from nothing, on an embedded Ray cluster."""

from __future__ import annotations

import json
import tempfile
import time
import warnings
from pathlib import Path

import click


def _decision(name: str, result) -> dict:
    entry = {"request": name, **result.to_dict()}
    entry.pop("token", None)
    return entry


REQUESTS = ("bob moves 5 USDC between the company's wallets", "bob asks for a raw signature",
            "bob pays 50,000 USDC to an exchange", "the same payout with dave's and erin's approvals")  # fmt: skip


def _via_api(deployment, scenario) -> list:
    """The four requests through the Python API."""
    permit = deployment.authorize(scenario.permit_request())
    forbid = deployment.authorize(scenario.forbid_request())
    confirm = deployment.authorize(scenario.confirm_request())
    for approver in (scenario.dave, scenario.erin):
        deployment.add_approval(confirm.request_id, approver.approve(confirm.request_id))
    approvals = deployment.request_status(confirm.request_id)["approvals"]
    return [permit, forbid, confirm, deployment.authorize(scenario.confirm_request(approvals))]


def _via_http(deployment, scenario) -> list:
    """The same four requests over HTTP: the gateway in this process, clients that know only
    its URL (each request signed per RFC 9421, approvals filed with POST)."""
    from accord.client import Client
    from accord.cluster.gateway import ServerThread, create_app
    from accord.scenario import erc20_transfer

    with ServerThread(create_app(deployment)) as server:
        bob, dave, erin = (Client(c.key, base_url=server.url) for c in (scenario.bob, scenario.dave, scenario.erin))
        internal = erc20_transfer(scenario.address("internal"), 5_000_000)
        payout = erc20_transfer(scenario.address("exchange"), 50_000_000_000)
        permit = bob.authorize("signTransaction", "ops-wallet", internal)
        forbid = bob.authorize("signRaw", "ops-wallet", {"raw": "0xdeadbeef"})
        confirm = bob.authorize("signTransaction", "ops-wallet", payout)
        dave.file_approval(confirm.request_id)
        erin.file_approval(confirm.request_id)
        approvals = bob.request_status(confirm.request_id).approvals
        return [permit, forbid, confirm, bob.authorize("signTransaction", "ops-wallet", payout, approvals)]


def run_demo(workdir: Path, echo=click.echo, *, http: bool = False) -> dict:
    """Generate keys, publish a signed bundle of the policy library, start a deployment on
    an embedded Ray cluster, and run a permitted, a forbidden and an approved request
    (through the Python API, or with `http` through the HTTP gateway)."""
    import ray
    from joserfc import jwt
    from joserfc.jwk import KeySet

    from accord.cluster.deployment import Deployment
    from accord.scenario import make_scenario

    scenario = make_scenario(workdir / "published")
    echo(f"administrator key {scenario.admin.thumbprint}; principals bob, dave, erin got fresh keys")
    sources = scenario.publish(1)
    echo(f"bundle v1 built from the policy library, signed; hosted apart:\n  {sources.bundle}\n"
         f"  {sources.signature}\n  {sources.public_key}")  # fmt: skip
    started = time.time()
    deployment = Deployment.start(state_dir=workdir / "state", bundle=sources, ray_options={"logging_level": "ERROR"},
                                  progress=lambda step: echo(f"  [{time.time() - started:5.1f} s] {step}"))  # fmt: skip
    try:
        echo(f"deployment up in {time.time() - started:.1f} s: 3 enclaves attested each other, ran the DKG, "
             "sealed their shares and verified the bundle")  # fmt: skip
        results = (_via_http if http else _via_api)(deployment, scenario)
        decisions = [_decision(name, result) for name, result in zip(REQUESTS, results)]
        for entry in decisions:
            echo(f"- {entry['request']}: {entry['decision'].upper()} {entry.get('reasons', '')}")
        permit, approved = results[0], results[3]
        if permit.token is None or approved.token is None:
            raise click.ClickException(f"the demo expected two permits, got {decisions[0]} / {decisions[3]}")
        jwks = _attested_jwks(deployment, workdir)
        echo(f"JWKS attested: all 3 evaluators of the group vouch for kid {jwks['keys'][0]['kid']} "
             f"(checked against the release in {workdir / 'accord-release.json'})")  # fmt: skip
        # An off-the-shelf JOSE library verifies the token with nothing but the JWKS. (joserfc
        # warns that RFC 9864 deprecates the name "EdDSA", which JOSE libraries still expect.)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="EdDSA is deprecated")
            claims = jwt.decode(permit.token, KeySet.import_key_set(jwks), algorithms=["EdDSA"]).claims
        echo(f"token verified by joserfc with the JWKS: sub={claims['sub']} cnf.jkt={claims['cnf']['jkt']}")
        return {"token": permit.token, "jwks": jwks, "decisions": decisions}
    finally:
        deployment.shutdown()
        ray.shutdown()


def _attested_jwks(deployment, workdir: Path) -> dict:
    """The JWKS as a client trusts it: verified against the operator's published release."""
    import os

    from accord.client import Release, verify_key_set
    from accord.enclave.platform.timeutil import utc_now

    release = Release.load(deployment.release().save(workdir / "accord-release.json"))
    nonce = os.urandom(32)
    return verify_key_set(deployment.attestations(nonce), deployment.jwks(), release, nonce=nonce, at=utc_now()).jwks


@click.command()
@click.option("--json", "as_json", is_flag=True, help='Print {"token", "jwks", "decisions"} only.')
@click.option("--workdir", type=click.Path(file_okay=False), help="Keep keys, bundle and state here (default: a temporary directory).")
@click.option("--http", is_flag=True, help="Send the requests over HTTP, through the gateway.")
def demo(as_json: bool, workdir: str | None, http: bool) -> None:
    """From nothing: keys, a signed bundle, an embedded cluster, three kinds of decision."""
    echo = (lambda *_: None) if as_json else click.echo
    if workdir:
        output = run_demo(Path(workdir).resolve(), echo, http=http)
    else:
        with tempfile.TemporaryDirectory(prefix="accord-demo-") as tmp:
            output = run_demo(Path(tmp), echo, http=http)
    if as_json:
        click.echo(json.dumps(output, indent=2))
        return
    click.echo(f"\ntoken:\n{output['token']}\n\nJWKS:\n{json.dumps(output['jwks'], indent=2)}")

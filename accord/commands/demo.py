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


def run_demo(workdir: Path, echo=click.echo) -> dict:
    """Generate keys, publish a signed bundle of the policy library, start a deployment on
    an embedded Ray cluster, and run a permitted, a forbidden and an approved request."""
    import ray
    from joserfc import jwt
    from joserfc.jwk import KeySet

    from accord.cluster.deployment import Deployment
    from accord.protocols.minting import Status
    from accord.scenario import make_scenario

    scenario = make_scenario(workdir / "published")
    echo(f"administrator key {scenario.admin.thumbprint}; principals bob, dave, erin got fresh keys")
    sources = scenario.publish(1)
    echo(f"bundle v1 built from the policy library, signed; hosted apart:\n  {sources.bundle}\n"
         f"  {sources.signature}\n  {sources.public_key}")  # fmt: skip
    started = time.time()
    deployment = Deployment.start(state_dir=workdir / "state", bundle=sources, ray_options={"logging_level": "ERROR"})
    try:
        echo(f"deployment up in {time.time() - started:.1f} s: 3 enclaves attested each other, ran the DKG, "
             "sealed their shares and verified the bundle")  # fmt: skip
        decisions = []
        permit = deployment.authorize(scenario.permit_request())
        decisions.append(_decision("bob moves 5 USDC between the company's wallets", permit))
        forbid = deployment.authorize(scenario.forbid_request())
        decisions.append(_decision("bob asks for a raw signature", forbid))
        confirm = deployment.authorize(scenario.confirm_request())
        decisions.append(_decision("bob pays 50,000 USDC to an exchange", confirm))
        for approver in (scenario.dave, scenario.erin):
            deployment.add_approval(confirm.request_id, approver.approve(confirm.request_id))
        approvals = deployment.request_status(confirm.request_id)["approvals"]
        approved = deployment.authorize(scenario.confirm_request(approvals))
        decisions.append(_decision("the same payout with dave's and erin's approvals", approved))
        for entry in decisions:
            echo(f"- {entry['request']}: {entry['decision'].upper()} {entry.get('reasons', '')}")
        if permit.status is not Status.PERMIT or approved.status is not Status.PERMIT:
            raise click.ClickException(f"the demo expected permits, got {permit} / {approved}")
        jwks = deployment.jwks()
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


@click.command()
@click.option("--json", "as_json", is_flag=True, help='Print {"token", "jwks", "decisions"} only.')
@click.option("--workdir", type=click.Path(file_okay=False), help="Keep keys, bundle and state here (default: a temporary directory).")
def demo(as_json: bool, workdir: str | None) -> None:
    """From nothing: keys, a signed bundle, an embedded cluster, three kinds of decision."""
    echo = (lambda *_: None) if as_json else click.echo
    if workdir:
        output = run_demo(Path(workdir).resolve(), echo)
    else:
        with tempfile.TemporaryDirectory(prefix="accord-demo-") as tmp:
            output = run_demo(Path(tmp), echo)
    if as_json:
        click.echo(json.dumps(output, indent=2))
        return
    click.echo(f"\ntoken:\n{output['token']}\n\nJWKS:\n{json.dumps(output['jwks'], indent=2)}")

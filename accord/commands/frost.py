"""`accord frost`: FROST threshold signatures (RFC 9591) and the DKG."""

from __future__ import annotations

import base64
import json

import click
from cryptography.exceptions import InvalidSignature

from accord.protocols.frost.local import run_dkg, sign_locally

DEFAULT_MESSAGE = "Accord: a decision three enclaves agree on."


@click.group("frost")
def frost() -> None:
    """FROST threshold signatures (RFC 9591) and the DKG."""


@frost.command()
@click.option("--message", default=DEFAULT_MESSAGE, show_default=True, help="The message to sign.")
def demo(message: str) -> None:
    """Three participants run the DKG, sign a message 3-of-3, and verify the signature.

    All three run in this one process (a demo); in Accord each is its own enclave.
    """
    keys, public = run_dkg(max_signers=3, min_signers=3)
    click.echo("DKG: 3 participants, threshold 3; every participant derived the same group key.")
    click.echo("Group public key (JWK):")
    click.echo(json.dumps(public.verifying_key.to_jwk(), indent=2, sort_keys=True))
    data = message.encode()
    signature = sign_locally(keys, public, data)
    click.echo(f"Message: {message!r}")
    click.echo(f"Signature (Ed25519, 3-of-3 FROST, hex): {signature.hex()}")
    click.echo(f"Signature (base64url): {base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}")
    try:
        public.verifying_key.to_cryptography().verify(signature, data)
    except InvalidSignature:
        raise click.ClickException("the signature does NOT verify under the group public key") from None
    click.echo("Verified with cryptography's Ed25519PublicKey.verify: OK")

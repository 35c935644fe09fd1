"""`accord keys`: administrator signing keys (Ed25519 or P-256 JWKs), and `refresh` and
`rotate` of the signing groups' FROST keys in a running deployment."""

from __future__ import annotations

from pathlib import Path

import click

from accord.bundles.errors import BundleError
from accord.bundles.keys import KEY_KINDS, fingerprint, generate_signing_key, public_key_of
from accord.commands.options import state_dir_option
from accord.protocols.auth_errors import JwkError
from accord.protocols.jwk import save_public_key, save_signing_key


def public_key_path(private_path: Path) -> Path:
    """admin.jwk -> admin.pub.jwk (any other name gets `.pub.jwk` appended)."""
    name = private_path.name
    stem = name[: -len(".jwk")] if name.endswith(".jwk") else name
    return private_path.with_name(stem + ".pub.jwk")


@click.group("keys")
def keys() -> None:
    """Generate and inspect administrator keys; refresh or rotate the signing groups' keys."""


@keys.command("generate")
@click.option("--alg", type=click.Choice(sorted(KEY_KINDS)), default="Ed25519", show_default=True,
              help="Key type.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Private JWK file (mode 0600); the public JWK goes next to it as NAME.pub.jwk.")
@click.option("--force", is_flag=True, help="Overwrite existing key files.")
def generate(alg: str, out: Path, force: bool) -> None:
    """Generate an administrator key pair and print its fingerprint."""
    pub_path = public_key_path(out)
    if not force and pub_path.exists():
        raise click.ClickException(f"{pub_path} exists; use --force to overwrite")
    key = generate_signing_key(alg)
    try:
        save_signing_key(key, out, overwrite=force)  # atomic, 0600, refuses to clobber
        save_public_key(key.public, pub_path, overwrite=True)
    except (JwkError, OSError) as exc:
        raise click.ClickException(f"{exc}; use --force to overwrite") from exc
    click.echo(f"private key: {out}")
    click.echo(f"public key:  {pub_path}")
    click.echo(f"fingerprint: {fingerprint(key)}")


@keys.command("fingerprint")
@click.argument("key_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def show_fingerprint(key_file: Path) -> None:
    """Print the SHA-256 fingerprint (RFC 7638 thumbprint, hex) of a public or private JWK."""
    try:
        click.echo(fingerprint(public_key_of(key_file.read_bytes())))
    except BundleError as exc:
        raise click.ClickException(str(exc)) from exc


@keys.command("refresh")
@click.option("--address", help="Ray cluster address (default: the one `accord up` recorded).")
@state_dir_option("Where `accord up` recorded the cluster.")
@click.option("--json", "as_json", is_flag=True, help="Print one report per signing group as JSON.")
def refresh(address, state_dir, as_json) -> None:
    """Proactive refresh of every signing group's shares in the running deployment: the same
    group key (kid and JWKS unchanged), new shares sealed, the old ones void; switched at one
    batch of each group's sequence, so no request fails."""
    _renew("refresh", address, state_dir, as_json)


@keys.command("rotate")
@click.option("--address", help="Ray cluster address (default: the one `accord up` recorded).")
@state_dir_option("Where `accord up` recorded the cluster.")
@click.option("--retire-after", type=click.IntRange(min=1), metavar="S",
              help="Keep the old key in the JWKS S seconds (default and minimum: the token lifetime plus clock skew).")
@click.option("--json", "as_json", is_flag=True, help="Print one report per signing group as JSON.")
def rotate(address, state_dir, retire_after, as_json) -> None:
    """Rotate every signing group's key in the running deployment: a new DKG among the
    attested KeyShares, then new tokens under the new kid from one batch boundary on; the
    old key stays in the JWKS until every token it signed has expired."""
    _renew("rotate", address, state_dir, as_json, retire_after)


def _renew(purpose: str, address, state_dir, as_json: bool, retire_after: int | None = None) -> None:
    import json

    from accord.commands.deploy import connect
    from accord.commands.failures import as_failure

    deployment = connect(state_dir, address)
    try:
        reports = deployment.rotate_keys(retire_after) if purpose == "rotate" else deployment.refresh_shares()
    except Exception as exc:  # noqa: BLE001 - one line per problem; the key and shares in use stay
        raise as_failure(exc, f"keys not {'rotated' if purpose == 'rotate' else 'refreshed'}") from exc
    if as_json:
        click.echo(json.dumps(reports, indent=2, sort_keys=True))
        return
    for report in reports:
        done = (f"key rotated, kid {report['previous']} -> {report['kid']}" if purpose == "rotate"
                else f"shares refreshed, kid {report['kid']} unchanged")  # fmt: skip
        click.echo(f"signing group {report['group']}: {done}; {len(report['switched'])} switched at a batch boundary")
        for enclave, why in sorted(report["repaired"].items()):
            click.echo(f"  {enclave}: switched directly ({why})")

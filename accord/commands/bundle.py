"""`accord bundle`: build, sign (detached) and verify OPA policy bundles, and activate a new
revision on a running deployment."""

from __future__ import annotations

import json
import re
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click

from accord.bundles.build import build_bundle, sign_bundle
from accord.bundles.contract import verify_published
from accord.bundles.errors import BundleError
from accord.bundles.keys import fingerprint, load_signing_key
from accord.bundles.layout import read_directory, read_tarball
from accord.bundles.manifest import Revision, format_rfc3339, parse_rfc3339
from accord.bundles.policy_errors import ContractError
from accord.bundles.signatures import DEFAULT_SCOPE
from accord.bundles.sources import BundleSources, as_url
from accord.commands.options import state_dir_option

_RELATIVE = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_expires(text: str, now: datetime) -> datetime:
    """An RFC 3339 timestamp, or a duration from now such as `30d`, `12h`, `2w`."""
    match = _RELATIVE.fullmatch(text)
    if match:
        return now + timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    return parse_rfc3339(text)


@click.group("bundle")
def bundle() -> None:
    """Build, sign and verify policy bundles."""


@bundle.command("build")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--version", "version", required=True, type=click.IntRange(min=1),
              help="Revision version; must exceed every version deployed before.")
@click.option("--expires", default="30d", show_default=True,
              help="RFC 3339 timestamp, or a duration from now (30d, 12h, 2w).")
def build(directory: Path, output: Path, version: int, expires: str) -> None:
    """Pack DIRECTORY (.rego, data.json, optional .manifest) into a .tar.gz with the
    revision written into its manifest. Same inputs give the same bytes."""
    try:
        revision = Revision(version, parse_expires(expires, datetime.now(timezone.utc)))
        archive = build_bundle(read_directory(directory), revision)
    except BundleError as exc:
        raise click.ClickException(str(exc)) from exc
    output.write_bytes(archive)
    click.echo(f"{output}: version {version}, expires {format_rfc3339(revision.expires)}")


@bundle.command("sign")
@click.argument("bundle_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", "key_file", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Private JWK from `accord keys generate`.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Detached signature (.signatures.json content).")
@click.option("--scope", default=DEFAULT_SCOPE, show_default=True)
@click.option("--add", "add", is_flag=True,
              help="Add this key's signature to the signatures file OUTPUT already holds (a quorum of administrators).")
def sign(bundle_file: Path, key_file: Path, output: Path, scope: str, add: bool) -> None:
    """Sign every file of BUNDLE_FILE; write the signature as a separate file."""
    try:
        key = load_signing_key(key_file.read_bytes())
        raw = read_tarball(bundle_file.read_bytes())
        existing = output.read_bytes() if add else None
        signature = sign_bundle(raw, key, iat=int(time.time()), scope=scope, add_to=existing)
    except OSError as exc:
        raise click.ClickException(f"cannot read {exc.filename}: {exc.strerror}") from exc
    except BundleError as exc:
        raise click.ClickException(str(exc)) from exc
    output.write_bytes(signature)
    count = len(json.loads(signature)["signatures"])
    click.echo(f"{output}: {len(raw.files)} files signed by {fingerprint(key)}"
               + (f" ({count} signatures in the file)" if add else ""))  # fmt: skip


@bundle.command("verify")
@click.argument("bundle_location")
@click.option("--signature", help="Detached signature (path or URL); default: embedded.")
@click.option("--pubkey", required=True, help="Verifying public JWK (path or URL).")
@click.option("--pin", "pins", multiple=True,
              help="Accepted key fingerprint (repeatable); default: trust --pubkey as given.")
@click.option("--min-version", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--scope", default=DEFAULT_SCOPE, show_default=True)
@click.option("--threshold", default=1, show_default=True, type=click.IntRange(min=1),
              help="Valid signatures by distinct pinned administrators the bundle needs (--pubkey: a JWKS of them).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def verify(
    bundle_location: str,
    signature: str | None,
    pubkey: str,
    pins: tuple[str, ...],
    min_version: int,
    scope: str,
    threshold: int,
    as_json: bool,
) -> None:
    """Verify a bundle as an enclave would (strict mode, then the decision contract). Exit 0
    only when it is valid."""
    try:
        sources = BundleSources(
            bundle=as_url(bundle_location),
            public_key=as_url(pubkey),
            signature=None if signature is None else as_url(signature),
        )
        if not pins:
            click.echo("warning: no --pin given; trusting the --pubkey key as given", err=True)
        verified = verify_published(sources, pins, min_version=min_version, scope=scope, threshold=threshold)
    except (BundleError, ContractError) as exc:
        problems = list(exc.problems)
        if as_json:
            report = {"valid": False, "error": type(exc).__name__, "message": str(exc), "problems": problems}
            click.echo(json.dumps(report))
        else:
            for problem in problems:
                click.echo(f"INVALID: {type(exc).__name__}: {problem}", err=True)
        sys.exit(1)
    result = {
        "valid": True,
        "version": verified.version,
        "expires": format_rfc3339(verified.revision.expires),
        "digest": verified.digest,
        "signer": verified.signer_fingerprint,
        "signers": list(verified.signers),
        "files": sorted(verified.files),
    }
    if as_json:
        click.echo(json.dumps(result))
    else:
        click.echo(
            f"valid: version {verified.version}, expires {result['expires']}, "
            f"{len(verified.files)} files, digest {verified.digest}, "
            f"signer(s) {', '.join(verified.signers)}"
        )


@bundle.command("activate")
@click.option("--address", help="Ray cluster address (default: the one `accord up` recorded).")
@state_dir_option("Where `accord up` recorded the cluster.")
@click.option("--bundle", "bundle_location", required=True, help="Bundle .tar.gz: a path, file:// or https:// URL.")
@click.option("--signature", required=True, help="Detached .signatures.json (hosted apart from the bundle).")
@click.option("--pubkey", required=True, help="The administrator's public JWK (hosted apart from both).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def activate(address, state_dir, bundle_location, signature, pubkey, as_json) -> None:
    """Activate a new revision on the running deployment: every evaluator verifies it, then
    each signing group switches at one batch boundary (no request sees a mix). A refusal
    (rollback, signature, unpinned key, contract) exits 1 saying which; the running
    revision stays."""
    from accord.commands.deploy import connect
    from accord.commands.failures import as_failure

    sources = BundleSources(bundle=as_url(bundle_location), signature=as_url(signature), public_key=as_url(pubkey))
    deployment = connect(state_dir, address)
    try:
        activation = deployment.load_bundle(sources)
    except Exception as exc:  # noqa: BLE001 - one line per problem, the running revision stays
        raise as_failure(exc, "nothing activated") from exc
    if as_json:
        click.echo(json.dumps(activation.to_dict(), indent=2, sort_keys=True))
        return
    click.echo(f"bundle v{activation.version} ({activation.digest[:16]}...) active: {len(activation.switched)} "
               "evaluator(s) switched at a batch boundary")  # fmt: skip
    for enclave, why in sorted(activation.activated_directly.items()):
        click.echo(f"  {enclave}: activated directly ({why})")

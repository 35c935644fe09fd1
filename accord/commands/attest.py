"""`accord attest`: verify and show Nitro attestation documents.

DOC is a file (or '-' for stdin) holding the document as raw CBOR or as base64 text.
`verify` exits 0 only when the document verifies; 1 when it does not; 2 on bad usage.
"""

from __future__ import annotations

import base64
import binascii
import json
import sys
from typing import Any

import click

from accord.enclave.platform.attestation import decode_attestation, verify_attestation
from accord.enclave.platform.errors import AttestationError, MalformedAttestationError
from accord.enclave.platform.timeutil import parse_time, utc_now
from accord.enclave.platform.trust import AWS_NITRO_ROOT_G1_SHA256, TrustedRoot, aws_nitro_root_g1

_CBOR_STARTS = (0x84, 0xD2)  # an untagged 4-array, or tag 18


def read_document(data: bytes) -> bytes:
    """Raw CBOR as is; anything else must be base64 (whitespace ignored)."""
    if data[:1] and data[0] in _CBOR_STARTS:
        return data
    try:
        return base64.b64decode(b"".join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        raise MalformedAttestationError("document is neither raw CBOR nor base64") from None


def _pcr_expectations(values: tuple[str, ...]) -> dict[int, bytes]:
    expected = {}
    for value in values:
        index, sep, digest = value.partition("=")
        try:
            if not sep:
                raise ValueError
            expected[int(index)] = bytes.fromhex(digest)
        except ValueError:
            raise click.BadParameter(f"{value!r} is not N=HEX", param_hint="--expect-pcr") from None
    return expected


def _emit(as_json: bool, result: dict[str, Any], lines: list[str], *, err: bool = False) -> None:
    if as_json:
        click.echo(json.dumps(result, indent=2, sort_keys=True))
    else:
        click.echo("\n".join(lines), err=err)


@click.group("attest")
def attest() -> None:
    """Verify and show Nitro attestation documents."""


@attest.command("verify")
@click.argument("doc", type=click.File("rb"))
@click.option("--root", "root_file", type=click.File("rb"), help="Root certificate (PEM or DER) to pin. Default: AWS Nitro Enclaves Root-G1.")
@click.option("--at", "at_text", metavar="TIME", help="Verification time: RFC 3339 or Unix milliseconds. Default: now.")
@click.option("--expect-pcr", multiple=True, metavar="N=HEX", help="Require PCR N to equal HEX (repeatable).")
@click.option("--allow-debug", is_flag=True, help="Accept debug-mode documents (PCR0 all zeros).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def verify(doc, root_file, at_text: str | None, expect_pcr: tuple[str, ...], allow_debug: bool, as_json: bool) -> None:
    """Verify DOC: ES384 signature, chain to the pinned root at TIME, PCRs, debug mode."""
    try:
        at = parse_time(at_text) if at_text else utc_now()
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--at") from None
    expected = _pcr_expectations(expect_pcr)
    try:
        root = TrustedRoot.load(root_file.read()) if root_file else aws_nitro_root_g1()
        document = verify_attestation(
            read_document(doc.read()), root=root, at=at, expected_pcrs=expected, allow_debug=allow_debug
        )
    except AttestationError as exc:
        error = type(exc).__name__
        _emit(as_json, {"valid": False, "error": error, "message": str(exc)}, [f"INVALID ({error}): {exc}"], err=True)
        sys.exit(1)
    result = {"valid": True, "root_sha256": root.sha256, "at": at.isoformat(), **document.describe()}
    lines = [
        f"VALID: {document.module_id}",
        f"  root      {root.subject} (sha256 {root.sha256})",
        f"  timestamp {document.timestamp} ({document.time.isoformat()}), checked at {at.isoformat()}",
        f"  debug     {document.debug}",
        *(f"  PCR{i:<7} {value.hex()}" for i, value in document.pcrs.items()),
    ]
    if root.sha256 != AWS_NITRO_ROOT_G1_SHA256:
        lines.append("  note: the trust anchor is NOT the AWS Nitro Enclaves root")
    _emit(as_json, result, lines)


@attest.command("show")
@click.argument("doc", type=click.File("rb"))
def show(doc) -> None:
    """Decode DOC and print its fields as JSON, WITHOUT verifying anything."""
    try:
        _, document = decode_attestation(read_document(doc.read()))
    except AttestationError as exc:
        click.echo(f"INVALID ({type(exc).__name__}): {exc}", err=True)
        sys.exit(1)
    click.echo("# decoded only, NOT verified", err=True)
    click.echo(json.dumps(document.describe(), indent=2))

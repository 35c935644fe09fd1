"""`accord token verify`: check an access token as a resource server would (signature via
the JWKS, EdDSA only, typ, iss, aud, exp, iat) and print its claims. Exit 1 if invalid."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from accord.errors import AccordError


def _load_jwks(source: str) -> dict[str, Any]:
    """A JWKS from a URL (a gateway's base URL means its /.well-known/jwks.json) or a file."""
    parts = urlsplit(source)
    try:
        if parts.scheme in ("http", "https"):
            import httpx

            url = source.rstrip("/") + "/.well-known/jwks.json" if parts.path in ("", "/") else source
            response = httpx.get(url, timeout=30)
            response.raise_for_status()
            return response.json()
        return json.loads(Path(source).read_text())
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot read the JWKS from {source}: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - httpx errors
        raise click.ClickException(f"cannot fetch the JWKS from {source}: {_http_reason(exc)}") from exc


def _http_reason(exc: Exception) -> str:
    """The server's own error (a gateway answers {"error": {"code", "message"}}), else the transport's."""
    response = getattr(exc, "response", None)
    if response is not None:
        try:
            return f"HTTP {response.status_code}: {response.json()['error']['message']}"
        except (ValueError, KeyError, TypeError):
            return f"HTTP {response.status_code}: {response.text[:500]}"
    return f"{type(exc).__name__}: {exc}"


@click.group("token")
def token() -> None:
    """Verify Accord access tokens."""


@token.command("verify")
@click.argument("value", metavar="TOKEN")
@click.option("--jwks", required=True, help="The group keys: a URL (a gateway, or its JWKS) or a file.")
@click.option("--audience", default="accord-resource-servers", show_default=True)
@click.option("--issuer", default="accord", show_default=True)
@click.option("--leeway", default=0, show_default=True, type=click.IntRange(0, 3600), help="Seconds of clock skew.")
@click.option("--json", "as_json", is_flag=True, help="Print the claims as JSON.")
def verify(value, jwks, audience, issuer, leeway, as_json) -> None:
    """Verify TOKEN ('-' reads it from stdin) and print its claims."""
    import time

    from accord.protocols.tokens import verify_token

    token_text = sys.stdin.read().strip() if value == "-" else value.strip()
    try:
        claims = verify_token(token_text, _load_jwks(jwks), audience=audience, issuer=issuer, now=int(time.time()),
                              leeway=leeway)  # fmt: skip
    except AccordError as exc:
        click.echo(f"invalid token: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(claims.to_dict(), indent=2, sort_keys=True))
        return
    click.echo("valid token")
    for name, claim in sorted(claims.to_dict().items()):
        click.echo(f"  {name}: {json.dumps(claim) if isinstance(claim, dict) else claim}")

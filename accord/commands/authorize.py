"""`accord authorize` and `accord approve`: a principal talking to the HTTP API.

`authorize` exits 0 on permit (the token is printed), 3 on confirm (the request id and the
missing approvals are printed; `--wait-approvals` instead polls and resubmits), 1 otherwise.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from accord.errors import AccordError

EXIT_PENDING = 3


def _payload(value: str) -> dict[str, Any]:
    """A JSON object given inline or as @file."""
    text = Path(value[1:]).read_text() if value.startswith("@") else value
    try:
        payload = json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--payload") from exc
    if not isinstance(payload, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--payload")
    return payload


def _client(key: Path, url: str):
    from accord.client import Client

    try:
        return Client.load(key, base_url=url)
    except AccordError as exc:
        raise click.ClickException(f"cannot load the key {key}: {exc}") from exc


def _print_result(result, as_json: bool) -> None:
    from accord.protocols.minting import Status

    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, sort_keys=True))
    elif result.decision is Status.PERMIT:
        click.echo(f"permit ({'; '.join(result.reasons)})\n{result.token}")
    elif result.decision is Status.CONFIRM:
        click.echo(f"confirm: request {result.request_id} needs approvals {json.dumps(result.missing)}")
    elif result.error is not None:
        click.echo(f"{result.decision.value} (HTTP {result.http_status}, {result.error.code}): {result.error.message}")
    else:
        click.echo(f"{result.decision.value}: {'; '.join(result.reasons)}")


def curl_command(request) -> str:
    """A signed HttpRequest as a curl command line."""
    import shlex

    headers = " ".join(f"-H {shlex.quote(f'{name}: {value}')}" for name, value in request.headers)
    body = shlex.quote(request.body.decode("utf-8"))
    return f"curl -sS -X {request.method} {shlex.quote(request.url)} {headers} --data-binary {body}"


@click.command("authorize")
@click.option("--key", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Your private JWK (e.g. from `accord keys generate`).")
@click.option("--url", required=True, envvar="ACCORD_URL", help="The gateway, e.g. http://127.0.0.1:8080.")
@click.argument("action")
@click.argument("resource")
@click.option("--payload", required=True, help="The payload: a JSON object, or @file.")
@click.option("--approval", "approvals", multiple=True, help="An approver's compact JWS (repeatable).")
@click.option("--wait-approvals", is_flag=True, help="On confirm, poll for approvals and resubmit with them.")
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait for approvals.")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@click.option("--curl", "as_curl", is_flag=True, help="Send nothing: print the signed request as a curl command "
                                                      "(valid for 60 s, once).")
def authorize(key, url, action, resource, payload, approvals, wait_approvals, timeout, as_json, as_curl) -> None:
    """Ask for a decision on ACTION over RESOURCE (an RFC 9421 signed POST /v1/authorize)."""
    from accord.client import ClientError
    from accord.protocols.minting import Status

    payload = _payload(payload)
    with _client(key, url) as client:
        if as_curl:
            click.echo(curl_command(client.signed_request(action, resource, payload, approvals)))
            return
        try:
            if wait_approvals and not approvals:
                result = client.authorize_with_approvals(action, resource, payload, timeout=timeout)
            else:
                result = client.authorize(action, resource, payload, approvals)
        except ClientError as exc:
            raise click.ClickException(str(exc)) from exc
        except Exception as exc:  # noqa: BLE001 - httpx transport errors
            raise click.ClickException(f"cannot reach {url}: {type(exc).__name__}: {exc}") from exc
    _print_result(result, as_json)
    if result.decision is Status.CONFIRM:
        sys.exit(EXIT_PENDING)
    if not result.permitted:
        sys.exit(1)


@click.command("approve")
@click.option("--key", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The approver's private JWK.")
@click.option("--url", required=True, envvar="ACCORD_URL", help="The gateway.")
@click.argument("request_id")
@click.option("--json", "as_json", is_flag=True, help="Print the pending request as JSON.")
def approve(key, url, request_id, as_json) -> None:
    """Sign your approval of the pending request REQUEST_ID and file it."""
    from dataclasses import asdict

    from accord.client import ClientError

    with _client(key, url) as client:
        try:
            pending = client.file_approval(request_id)
        except ClientError as exc:
            raise click.ClickException(str(exc)) from exc
        except Exception as exc:  # noqa: BLE001 - httpx transport errors
            raise click.ClickException(f"cannot reach {url}: {type(exc).__name__}: {exc}") from exc
    if as_json:
        click.echo(json.dumps(asdict(pending), indent=2, sort_keys=True))
    else:
        click.echo(f"approved {request_id}: {len(pending.approvals)} approval(s) filed, "
                   f"missing {json.dumps(list(pending.missing))}")  # fmt: skip

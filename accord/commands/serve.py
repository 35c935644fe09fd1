"""`accord serve`: the HTTP API (gateway) of a running deployment."""

from __future__ import annotations

import click

from accord.commands.deploy import connect
from accord.commands.options import state_dir_option


@click.command("serve")
@click.option("--address", help="Ray cluster address (default: the one `accord up` recorded in --state-dir).")
@state_dir_option("Where `accord up` recorded the cluster.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False), help="PEM certificate (chain) for HTTPS.")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), help="PEM private key of --tls-cert.")
@click.option("--public-url", help="scheme://host[:port] clients sign as @target-uri, when a proxy or TLS "
                                   "terminator is in front (default: the URL as this server sees it).")
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(1, 4096),
              help="Flush a batch to the enclaves at this many requests ...")
@click.option("--batch-delay-ms", default=2.0, show_default=True, type=click.FloatRange(0, 10_000),
              help="... or when the oldest request has waited this long.")
@click.option("--batch-in-flight", type=click.IntRange(1, 64), help="Batches outstanding at once "
                                                                     "(default: the number of signing groups).")
def serve(address, state_dir, host, port, tls_cert, tls_key, public_url, batch_size, batch_delay_ms,
          batch_in_flight) -> None:  # fmt: skip
    """Serve POST /v1/authorize, the approvals endpoints, the JWKS, the enclaves' attestations
    and /healthz for the deployment on the Ray cluster; OpenAPI documentation at /docs."""
    from accord.cluster.batching import BatchConfig
    from accord.cluster.gateway import check_public_base_url
    from accord.cluster.gateway import serve as run_gateway

    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together")
    if public_url is not None:
        try:
            check_public_base_url(public_url)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--public-url") from exc
    deployment = connect(state_dir, address)
    in_flight = batch_in_flight or deployment.config.topology.groups
    if tls_cert is None and host not in ("127.0.0.1", "::1", "localhost"):
        click.echo(f"warning: serving plain HTTP on {host}; use --tls-cert/--tls-key or a TLS proxy", err=True)
    run_gateway(deployment, host=host, port=port, tls_cert=tls_cert, tls_key=tls_key, public_base_url=public_url,
                batch=BatchConfig(max_batch=batch_size, max_delay_ms=batch_delay_ms, max_in_flight=in_flight))  # fmt: skip

"""`accord up`, `accord status`, `accord down`: run a deployment that outlives the command."""

from __future__ import annotations

import json
import sys
import time

import click

from accord.commands.failures import as_failure, debug_requested
from accord.commands.options import StateDir, engine_list, state_dir_option
from accord.errors import AccordError


def origin(url: str) -> str:
    """scheme://host[:port] of a URL."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise click.BadParameter(f"{url!r} is not an http(s) URL")
    return f"{parts.scheme}://{parts.netloc}"


def cluster_address(state_dir: StateDir, address: str | None) -> str:
    """`address`, or the local cluster `accord up` recorded in `state_dir`."""
    from accord.cluster.local_cluster import LocalCluster

    if address:
        return address
    cluster = LocalCluster.load(state_dir.path)
    if cluster is None:
        raise state_dir.nothing_here("no cluster recorded by `accord up`")
    return cluster.address


def connect(state_dir: StateDir, address: str | None):
    """The running deployment (`address`, or the cluster `accord up` recorded), or a
    Failure saying it cannot be reached."""
    from accord.cluster.deployment import Deployment

    where = cluster_address(state_dir, address)
    try:
        return Deployment.connect(where)
    except Exception as exc:  # noqa: BLE001 - Ray's connection errors, a missing actor
        raise as_failure(exc, f"cannot reach the deployment at {where}") from exc


def check_locally(sources, pins: tuple[str, ...], engines: tuple[str, ...] = ("regorus",), threshold: int = 1) -> str:
    """What the enclaves will check, done here before a cluster starts (sources reachable,
    signature under a pinned key, not expired, decision contract on each engine); a
    one-line summary."""
    from accord.bundles.contract import verify_published

    verified = verify_published(sources, pins, engines=engines, threshold=threshold)
    signers = ", ".join(f"{fp[:16]}..." for fp in verified.signers)
    return (f"bundle v{verified.version} verified (signed by {signers}), policy contract "
            f"met on {', '.join(dict.fromkeys(engines))}")  # fmt: skip


@click.command()
@click.option("--address", help="Join this Ray cluster (its nodes offer enclave-<i> resources). Default: start a local one.")
@state_dir_option()
@click.option("--bundle", required=True, help="Bundle .tar.gz: a path, file:// or https:// URL.")
@click.option("--signature", required=True, help="Detached .signatures.json (hosted apart from the bundle).")
@click.option("--pubkey", required=True, help="The administrator's public JWK (hosted apart from both).")
@click.option("--pin", "pins", multiple=True, help="Pinned SHA-256 fingerprint(s) of accepted bundle keys.")
@click.option("--groups", default=1, show_default=True, help="Signing groups (3 enclave hosts each).")
@click.option("--num-cpus", type=int, help="CPUs the local Ray head offers (default: all).")
@click.option("--public-url", "public_urls", multiple=True,
              help="Origin(s) clients sign requests for (e.g. https://accord.example.com); others are refused.")
@click.option("--release-out", default="accord-release.json", show_default=True,
              help="Where to write the release clients verify the enclaves against (publish it beside the JWKS URL).")
@click.option("--platform", type=click.Choice(["simulated", "nitro"]), default="simulated", show_default=True,
              help="nitro: /dev/nsm, the AWS root and AWS KMS (measured: set at the first start of a state directory).")
@click.option("--kms-region", help="nitro: the AWS region of the sealing key.")
@click.option("--kms-key-id", help="nitro: the sealing key's id or ARN (its key policy must require the enclave's PCRs).")
@click.option("--kms-endpoint", help="nitro: the KMS endpoint as the enclave reaches it (through the vsock proxy).")
@click.option("--engines", callback=engine_list, metavar="E1,E2,E3",
              help="Rego engine of each group member, e.g. regorus,opa,regorus: an engine's bug then shows as a named "
                   "divergent enclave, never as a wrong token (measured). regorus-rvm (regorus's faster compiled "
                   "evaluator) only beside another engine. Default: regorus for all.")
@click.option("--poll-interval", type=click.FloatRange(min=1), metavar="S",
              help="Re-check the bundle sources every S seconds (file: content hash; https: ETag) and activate "
                   "newer revisions at a batch boundary; failures keep the running one (see `accord status`).")
@click.option("--bundle-threshold", type=click.IntRange(min=1), metavar="K",
              help="Bundles need valid signatures by K distinct pinned administrators (--pubkey: a JWKS of their "
                   "keys; measured). Default 1.")
def up(address, state_dir, bundle, signature, pubkey, pins, groups, num_cpus, public_urls, release_out, platform,
       kms_region, kms_key_id, kms_endpoint, engines, poll_interval, bundle_threshold) -> None:  # fmt: skip
    """Start a deployment and return once it is ready; it keeps running after this command."""
    from accord.bundles.sources import BundleSources, as_url
    from accord.cluster.deployment import Deployment
    from accord.cluster.local_cluster import start_head
    from accord.config.topology import Topology
    from accord.enclave.configuration import EvaluatorConfig, KmsKind, KmsSettings, Platform

    sources = BundleSources(bundle=as_url(bundle), signature=as_url(signature), public_key=as_url(pubkey))
    evaluator = None
    if public_urls or engines:
        evaluator = EvaluatorConfig(public_origins=tuple(origin(u) for u in public_urls), engines=engines)
    kms = KmsSettings(KmsKind.AWS, region=kms_region, endpoint=kms_endpoint, key_id=kms_key_id) if platform == "nitro" else None
    step = _Steps()
    step("checking the bundle here first (sources, signature, pins, expiry, policy contract)")
    try:
        click.echo(f"  {check_locally(sources, pins, engines or ('regorus',), bundle_threshold or 1)}")
    except AccordError as exc:
        if debug_requested():
            raise
        raise as_failure(exc, "nothing started") from exc
    root = state_dir.create()
    started = None
    if address is None:
        step("starting a local Ray cluster")
        started = start_head(root, Topology(groups=groups).resources(), num_cpus=num_cpus)
        address = started.address
        click.echo(f"  at {address} (stop it with `accord down --state-dir {root}`)")
    try:
        deployment = Deployment.start(state_dir=root, bundle=sources, address=address, groups=groups,
                                      pins=list(pins) or None, evaluator=evaluator, platform=Platform(platform),
                                      kms=kms, progress=step, poll_interval=poll_interval,
                                      bundle_threshold=bundle_threshold)  # fmt: skip
        written = deployment.release().save(release_out) if platform == "simulated" else None
    except Exception as exc:
        if started is not None:
            from accord.cluster.local_cluster import stop_head

            stop_head(started)
        if debug_requested():
            raise
        raise as_failure(exc, "deployment failed") from exc
    jwks = deployment.jwks()
    click.echo(f"ready after {step.elapsed():.1f} s: {len(jwks['keys'])} signing group(s), "
               f"kids {[k['kid'] for k in jwks['keys']]}")  # fmt: skip
    if written is None:
        click.echo("nitro: make the release from the enclave image's PCRs (Release(config, pcrs)) and publish it")
    else:
        click.echo(f"release written to {written}: publish it for clients (accord.client.Release.load)")


@click.command()
@click.option("--address", help="Ray cluster address (default: the one `accord up` recorded).")
@state_dir_option("Where `accord up` recorded the cluster.")
@click.option("--release", "release_file", help="Verify against this published release (default: this code's).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(address, state_dir, release_file, as_json) -> None:
    """Enclaves (PCRs, attestation validity), active bundle revision, digest and expiry,
    group keys and whether the JWKS is exactly the attested keys."""
    from accord.client.release import Release
    from accord.cluster.inspect import describe

    deployment = connect(state_dir, address)
    report = describe(deployment, Release.load(release_file) if release_file else None)
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=True))
        return
    click.echo(f"deployment {report['deployment']}: JWKS {report['jwks']}")
    for group in report["groups"]:
        click.echo(f"signing group {group['index']}: kid {group['kid']}")
        for enclave in group["enclaves"]:
            bundle = enclave.get("bundle") or {}
            expiry = (f"EXPIRED at {bundle.get('expires')}" if bundle.get("expired")
                      else f"expires {bundle.get('expires')} ({bundle.get('seconds_left')} s left)")  # fmt: skip
            click.echo(f"  {enclave['enclave_id']} ({enclave.get('engine')}): attestation {enclave['attestation']}, "
                       f"bundle v{bundle.get('version')} {str(bundle.get('digest'))[:16]}..., {expiry}, "
                       f"PCR0 {str(enclave.get('pcrs', {}).get('0', ''))[:16]}...")  # fmt: skip
    polling = report.get("polling")
    if polling:
        last = polling.get("last") or {}
        seen = "no attempt yet" if not last else (f"last attempt at {last.get('at')}: {last.get('result')}"
                                                 + (f" ({last['error']})" if last.get("error") else ""))  # fmt: skip
        click.echo(f"bundle polling every {polling.get('interval')} s: {seen}")
    if not report["healthy"]:
        sys.exit(1)


@click.command()
@click.option("--address", help="Ray cluster address (default: the one `accord up` recorded).")
@state_dir_option("Where `accord up` recorded the cluster.")
def down(address, state_dir) -> None:
    """Stop what `accord up` started (sealed state stays on disk)."""
    from accord.cluster.deployment import Deployment
    from accord.cluster.local_cluster import CLUSTER_FILE, LocalCluster, stop_head

    root = state_dir.path
    cluster = LocalCluster.load(root)
    try:
        Deployment.connect(cluster_address(state_dir, address)).shutdown()
        click.echo("stopped the deployment's actors")
    except Exception as exc:  # noqa: BLE001 - already gone is fine for `down`
        click.echo(f"no running deployment reached ({type(exc).__name__}); continuing")
    if cluster is not None and address in (None, cluster.address):
        stop_head(cluster)
        (root / CLUSTER_FILE).unlink(missing_ok=True)
        click.echo(f"stopped the local Ray cluster at {cluster.address}; sealed state kept in {root}")


class _Steps:
    """Progress of a long command: each step on its own line as it starts, with the time."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, text: str) -> None:
        click.echo(f"[{self.elapsed():5.1f} s] {text}")

    def elapsed(self) -> float:
        return time.monotonic() - self.started

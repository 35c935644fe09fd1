"""`accord bench`: throughput and latency of the full path, beside a single-key baseline."""

from __future__ import annotations

import json
import threading
import time

import click

from accord.commands.options import engine_list


def _levels(_ctx, _param, values) -> tuple[int, ...]:
    levels = tuple(sorted({int(v) for value in values for v in str(value).split(",") if v}))
    if not levels or min(levels) < 1:
        raise click.BadParameter("concurrency levels are positive integers")
    return levels


@click.command()
@click.option("--duration", default=10.0, show_default=True, help="Seconds measured per concurrency level.")
@click.option("--concurrency", multiple=True, default=("1", "8", "32", "64"), callback=_levels, show_default=True,
              help="Concurrent clients (repeat, or comma-separated).")
@click.option("--groups", default=1, show_default=True, help="Signing groups (3 enclave hosts each).")
@click.option("--via", type=click.Choice(["api", "http"]), default="api", show_default=True,
              help="Python API (micro-batched) or the HTTP gateway.")
@click.option("--max-batch", default=64, show_default=True, help="Micro-batch flush size.")
@click.option("--max-delay-ms", default=0.0, show_default=True, help="Micro-batch flush delay.")
@click.option("--max-in-flight", type=click.IntRange(0, 64), default=0,
              help="Batches outstanding at once, over all drivers (default: two per signing group).")
@click.option("--operators", default=0, help="Principals the load is spread over (default: 4 x max concurrency).")
@click.option("--no-baseline", is_flag=True, help="Skip the single-key baseline.")
@click.option("--num-cpus", type=int, help="CPUs the embedded cluster may use.")
@click.option("--address", help="Run on this Ray cluster (nodes offer enclave-<g>-<i>, or enclave-<i> for one group).")
@click.option("--state-dir", help="With --address and simulated enclaves: a directory every host can reach.")
@click.option("--engines", callback=engine_list, metavar="E1,E2,E3",
              help="Rego engine of each group member, as for `accord up` (e.g. regorus-rvm,regorus-rvm,regorus).")
@click.option("--drivers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Load-generator processes (Ray actors; each makes its own clients' keys). 1: this process.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--plot", type=click.Path(dir_okay=False), help="Draw throughput and latency to this PNG.")
def bench(duration, concurrency, groups, via, max_batch, max_delay_ms, max_in_flight, operators, no_baseline, num_cpus,
          address, state_dir, engines, drivers, as_json, plot) -> None:  # fmt: skip
    """Drive signed requests through the whole path and report tokens/s, latency and CPU."""
    from accord.cluster.bench import BenchConfig, plot as draw, run_bench

    config = BenchConfig(duration=duration, concurrency=concurrency, groups=groups, via=via, max_batch=max_batch,
                         max_delay_ms=max_delay_ms, operators=operators, baseline=not no_baseline,
                         num_cpus=num_cpus, address=address, state_dir=state_dir, engines=engines,
                         drivers=drivers, max_in_flight=max_in_flight)  # fmt: skip
    bars = []

    def progress(label: str, seconds: float):
        """A bar per level that fills with elapsed time; requests completing move it."""
        if bars:
            bars[-1].__exit__(None, None, None)
        bar = click.progressbar(length=max(1, int(seconds * 10)), label=label, file=click.get_text_stream("stderr"),
                                show_eta=False, show_percent=False)  # fmt: skip
        bar.__enter__()
        bars.append(bar)
        start, lock = time.monotonic(), threading.Lock()

        def tick(_completed: int) -> None:
            with lock:
                bar.update(min(bar.length, int((time.monotonic() - start) * 10)) - bar.pos)

        return tick

    report = run_bench(config, progress=progress, echo=lambda text: click.echo(text, err=True))
    if bars:
        bars[-1].__exit__(None, None, None)
    if plot:
        draw(report, plot)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"{'clients':>8} {'tokens/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'CPU ms/token':>13}")
    for level in report["levels"]:
        click.echo(f"{level['concurrency']:>8} {level['tokens_per_s']:>9} {level['p50_ms']:>8} {level['p90_ms']:>8} "
                   f"{level['p99_ms']:>8} {level['cpu_ms_per_token']:>13}")  # fmt: skip
    click.echo(f"best: {report['tokens_per_s']} tokens/s at {report['best_concurrency']} clients; "
               f"lone request p50 {report['single_request_p50_ms']} ms")  # fmt: skip
    if "baseline_tokens_per_s" in report:
        click.echo(f"single-key baseline: {report['baseline_tokens_per_s']} tokens/s; "
                   f"Accord / baseline = {report['ratio_to_baseline']}")  # fmt: skip
    click.echo("CPU per token by stage (us): " + ", ".join(f"{k} {v}" for k, v in report["stages_us_per_token"].items()))
    click.echo(f"client signing: {report['client_sign_ms']} ms per request; server CPU "
               f"{report['server_cpu_ms_per_token']} ms per token = {report['server_cpu_signs_per_token']} Ed25519 signs "
               f"({report['ed25519_sign_us']} us each, libsodium, this run)")  # fmt: skip

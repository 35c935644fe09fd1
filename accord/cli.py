"""The `accord` command.

Subcommands live in `accord.commands.<module>` and are imported only when invoked, so that
`accord --help` stays fast (Ray alone takes a second to import).
"""

from __future__ import annotations

import importlib

import click

from accord import __version__

# command name -> (module in accord.commands, attribute, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "demo": ("demo", "demo", "Run the whole system end to end on an embedded cluster."),
    "bench": ("bench", "bench", "Measure throughput and latency against a single-key baseline."),
    "up": ("deploy", "up", "Start a deployment (it keeps running after the command)."),
    "status": ("deploy", "status", "Show enclaves, attestations, bundle and group keys."),
    "down": ("deploy", "down", "Stop what `accord up` started (sealed state stays)."),
    "cluster": ("cluster", "cluster", "Join machines to the Ray cluster as enclave hosts (token auth, resources)."),
    "frost": ("frost", "frost", "FROST threshold signatures (RFC 9591) and the DKG."),
    "keys": ("keys", "keys", "Generate and inspect administrator keys; refresh the group's shares."),
    "bundle": ("bundle", "bundle", "Build, sign and verify policy bundles."),
    "attest": ("attest", "attest", "Verify and show Nitro attestation documents."),
    "policy": ("policy", "policy", "Test and evaluate Rego policies."),
    "serve": ("serve", "serve", "Serve the HTTP API of a running deployment."),
    "authorize": ("authorize", "authorize", "Ask a deployment for a decision over HTTP (signed request)."),
    "approve": ("authorize", "approve", "File your approval of a pending request over HTTP."),
    "token": ("token", "token", "Verify Accord access tokens."),
    "log": ("log", "log", "Show and verify the evaluators' decision logs."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use, and the one place where
    failures become `Error:` lines (see `accord.commands.failures`)."""

    def invoke(self, ctx: click.Context):
        from accord.commands.failures import Failure, as_failure, debug_requested

        try:
            return super().invoke(ctx)
        except (click.exceptions.UsageError, click.exceptions.Abort, click.exceptions.Exit, Failure):
            raise
        except click.exceptions.ClickException as exc:
            if "\n" not in exc.message:
                raise
            raise Failure([line for line in exc.message.splitlines() if line.strip()]) from exc
        except Exception as exc:
            if debug_requested():
                raise
            raise as_failure(exc) from exc

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in SUBCOMMANDS:
            return None
        module, attr, _ = SUBCOMMANDS[name]
        return getattr(importlib.import_module(f"accord.commands.{module}"), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SUBCOMMANDS[name][2]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="accord")
@click.option("--debug", is_flag=True, help="On failure, show the full trace (also ACCORD_DEBUG=1).")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Accord: authorization decisions no single machine can forge."""
    ctx.obj = {"debug": debug}


if __name__ == "__main__":
    main()

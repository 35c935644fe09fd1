"""`accord policy`: run Rego policy tests and evaluate requests, on either engine."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from accord.bundles.engine import DEFAULT_ENGINE, ENGINES, engine_class
from accord.bundles.inputs import prepare_input
from accord.bundles.policy_errors import PolicyEngineError
from accord.bundles.policy_test import load_policy_dir, run_tests
from accord.protocols import canonical_json
from accord.protocols.canonical_json import CanonicalJsonError

_ENGINE = click.option(
    "--engine", type=click.Choice(sorted(ENGINES)), default=DEFAULT_ENGINE, show_default=True, help="Rego engine."
)
# regorus-rvm compiles only the decision (tests run on its interpreter): not offered for tests.
_TEST_ENGINE = click.option(
    "--engine", type=click.Choice(sorted(set(ENGINES) - {"regorus-rvm"})), default=DEFAULT_ENGINE, show_default=True,
    help="Rego engine.",
)


@click.group("policy")
def policy() -> None:
    """Test and evaluate Rego policies."""


@policy.command("test")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@_TEST_ENGINE
@click.option("-v", "--verbose", is_flag=True, help="List every test, not only failures.")
def test(directory: Path, engine: str, verbose: bool) -> None:
    """Run the test_* rules of DIRECTORY's *_test.rego files; exit 1 on any failure."""
    try:
        report = run_tests(directory, engine)
    except PolicyEngineError as exc:
        raise click.ClickException(str(exc)) from None
    for result in report.results:
        if verbose or not result.passed:
            line = f"{result.name}: {'PASS' if result.passed else 'FAIL'}"
            click.echo(line + (f" ({result.detail}) [{result.file}]" if result.detail else ""))
    total, failed = len(report.results), len(report.failures)
    click.echo(f"{engine}: PASS {total - failed}/{total}" + (f", FAIL {failed}/{total}" if failed else ""))
    if not report.ok:
        sys.exit(1)


@policy.command("eval")
@click.option("--bundle-dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Policy directory (*.rego, data.json files); not verified: for exploring.")
@click.option("--input", "input_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Evaluator request as JSON (see accord/policies/README.md).")
@_ENGINE
@click.option("--show-input", is_flag=True, help="Also print the prepared input document.")
def evaluate(bundle_dir: Path, input_file: Path, engine: str, show_input: bool) -> None:
    """Print the decision (canonical JSON) for the request in --input."""
    try:
        modules, data = load_policy_dir(bundle_dir)
        prepared = prepare_input(canonical_json.loads(input_file.read_bytes()))
        decision = engine_class(engine).load(modules, data).decide(prepared)
    except (PolicyEngineError, CanonicalJsonError) as exc:
        raise click.ClickException(str(exc)) from None
    if show_input:
        click.echo(prepared.json.decode())
    click.echo(decision.to_json().decode())

"""Options several commands share, with one rule each.

`--engines` (for `up` and `bench`): one Rego engine per group member.

The state directory: `--state-dir`, else `ACCORD_STATE_DIR`, else `./accord-state`, for every
command that works on a deployment (`up`, `status`, `down`, `serve`). The value keeps where
it came from, so that an error can say which directory was looked in and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click
from click.core import ParameterSource

STATE_DIR_ENV = "ACCORD_STATE_DIR"
DEFAULT_STATE_DIR = "accord-state"


@dataclass(frozen=True)
class StateDir:
    """A resolved state directory and where the choice came from."""

    path: Path
    source: str  # "--state-dir", "ACCORD_STATE_DIR" or "the default"

    def create(self) -> Path:
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self.path

    def nothing_here(self, what: str) -> click.ClickException:
        """The error for a command that found no deployment in this directory."""
        return click.ClickException(
            f"{what} in {self.path} (state directory from {self.source}); point at the directory `accord up` used "
            f"with --state-dir DIR or {STATE_DIR_ENV}=DIR, or pass --address"
        )

    def __str__(self) -> str:
        return str(self.path)


def _resolve(ctx: click.Context, param: click.Parameter, value: str) -> StateDir:
    source = ctx.get_parameter_source(param.name)
    origin = {ParameterSource.COMMANDLINE: "--state-dir", ParameterSource.ENVIRONMENT: STATE_DIR_ENV}.get(
        source, f"the default ./{DEFAULT_STATE_DIR}"
    )
    return StateDir(Path(value).resolve(), origin)


def state_dir_option(help_text: str = "Sealed state, KMS store, PKI, the recorded cluster."):
    """`--state-dir` with the one rule above; the command receives a `StateDir`."""
    return click.option("--state-dir", "state_dir", envvar=STATE_DIR_ENV, default=DEFAULT_STATE_DIR,
                        show_default=True, show_envvar=True, callback=_resolve, help=help_text)  # fmt: skip


def engine_list(_ctx, _param, value: str | None) -> tuple[str, ...]:
    """--engines: one Rego engine per member of each group, comma-separated."""
    from accord.config.topology import Topology
    from accord.enclave.configuration import ENGINES, EvaluatorConfig
    from accord.enclave.platform.errors import EnclaveConfigError

    if value is None:
        return ()
    names = tuple(name.strip() for name in value.split(","))
    unknown = [name for name in names if name not in ENGINES]
    if unknown:
        raise click.BadParameter(f"unknown engine(s) {unknown}; choose among {list(ENGINES)}")
    size = Topology().size
    if len(names) != size:
        raise click.BadParameter(f"name one engine per group member ({size}), got {len(names)}")
    try:
        EvaluatorConfig(engines=names)
    except EnclaveConfigError as exc:
        raise click.BadParameter(str(exc)) from None
    return names

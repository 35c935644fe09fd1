"""How every `accord` command reports a failure: `Error: ` and one line per distinct problem, never a
traceback or a Ray exception type (`--debug` or `ACCORD_DEBUG=1` shows the full trace).

Problems come from an exception's `problems` (a ContractError, a BootstrapError that
names the enclaves which said each problem) or its message lines. Errors raised inside a
Ray actor are reported as the actor's own exception; Ray's own failures (a dead actor, an
unreachable cluster, a timeout) as a sentence that says what happened.
"""

from __future__ import annotations

import os

import click

from accord.errors import AccordError, problems_of

DEBUG_ENV = "ACCORD_DEBUG"


def debug_requested() -> bool:
    """`accord --debug` or ACCORD_DEBUG=1: failures keep their full trace."""
    if os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes", "on"):
        return True
    ctx = click.get_current_context(silent=True)
    return bool(ctx and (ctx.find_root().obj or {}).get("debug"))


def unwrap(exc: BaseException) -> BaseException:
    """The exception an actor raised, out of Ray's wrappers (found by duck typing: this
    layer does not import Ray)."""
    seen = 0
    while type(exc).__module__.startswith("ray.") and getattr(exc, "cause", None) is not None and seen < 8:
        exc, seen = exc.cause, seen + 1
    return exc


_RAY_SENTENCES = {
    "GetTimeoutError": "timed out waiting for the deployment's actors",
    "ActorDiedError": "an actor of the deployment died",
    "RayActorError": "an actor of the deployment died",
    "ActorUnavailableError": "an actor of the deployment is unavailable (restarting?)",
    "ObjectLostError": "a result was lost with the node that held it",
    "NodeDiedError": "a node of the cluster died",
    "OutOfMemoryError": "a node of the cluster ran out of memory",
    "RaySystemError": "the Ray cluster failed",
    "AuthenticationError": "the Ray cluster refused this client's token (RAY_AUTH_MODE=token and the head's token)",
}


def problem_lines(exc: BaseException) -> list[str]:
    """One line per distinct problem of `exc`."""
    exc = unwrap(exc)
    name = type(exc).__name__
    if type(exc).__module__.startswith("ray."):
        sentence = _RAY_SENTENCES.get(name, "the Ray cluster reported a failure")
        detail = _first_line(str(exc))
        return [f"{sentence}: {detail}" if detail else sentence]
    lines = [line for line in problems_of(exc) if not _is_trace(line)]
    if isinstance(exc, (AccordError, OSError)):
        return lines or [name]
    # Not raised on purpose: say so, and where to get the trace.
    text = "; ".join(lines) or repr(exc)
    return [f"unexpected {name}: {text} (run with --debug for the trace)"]


def _is_trace(line: str) -> bool:
    stripped = line.strip()
    return stripped.startswith(("Traceback (most recent call last)", 'File "', "^", "~"))


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip() and not _is_trace(line):
            return line.strip()[:300]
    return ""


class Failure(click.ClickException):
    """A failure already split into problems; shown as `Error: <problem>` lines (click's
    form for one)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))

    def show(self, file=None) -> None:
        for line in self.problems:
            click.echo(f"Error: {line}", err=True)


def as_failure(exc: BaseException, context: str = "") -> Failure:
    """`exc` as a Failure, each line prefixed with `context` (e.g. "deployment failed")."""
    lines = problem_lines(exc)
    return Failure([f"{context}: {line}" if context else line for line in lines])

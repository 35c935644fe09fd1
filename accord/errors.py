"""The root of Accord's exception hierarchy.

Every area defines specific subclasses (in its own `errors` module) so that callers can
catch exactly the failure they handle, and every message says what was wrong.
"""


from __future__ import annotations

from collections.abc import Iterable


class AccordError(Exception):
    """Base class of every error Accord raises on purpose. A message of several lines is
    several problems, one per line (see `problems`)."""

    @property
    def problems(self) -> tuple[str, ...]:
        """One entry per distinct problem: the message's non-empty lines."""
        return problems_of(self)


def problems_of(exc: BaseException) -> tuple[str, ...]:
    """The distinct non-empty lines of any exception's message (its type name if none)."""
    lines = tuple(dict.fromkeys(line.strip() for line in str(exc).splitlines() if line.strip()))
    return lines or (type(exc).__name__,)


def problems_by_source(failures: Iterable[tuple[str, BaseException]]) -> list[str]:
    """One line per distinct problem among `failures` (source, exception), naming every
    source that reported it: `problem (said by g0-e0-evaluator, g0-e1-evaluator)`."""
    sources: dict[str, list[str]] = {}
    for source, exc in failures:
        for problem in problems_of(exc):
            if source not in sources.setdefault(problem, []):
                sources[problem].append(source)
    return [f"{problem} (said by {', '.join(who)})" for problem, who in sources.items()]

"""The root of Accord's exception hierarchy.

Every area defines specific subclasses (in its own `errors` module) so that callers can
catch exactly the failure they handle, and every message says what was wrong.
"""


class AccordError(Exception):
    """Base class of every error Accord raises on purpose."""


def problems_by_source(failures: "list[tuple[str, BaseException]]") -> list[str]:
    """One line per distinct problem among `failures` (source, exception), naming every
    source that reported it: `problem (said by g0-e0-evaluator, g0-e1-evaluator)`. An
    exception's `problems` (if it has them) or message lines are its problems."""
    sources: dict[str, list[str]] = {}
    for source, exc in failures:
        problems = getattr(exc, "problems", None) or str(exc).splitlines() or [type(exc).__name__]
        for problem in problems:
            text = str(problem).strip()
            if text and source not in sources.setdefault(text, []):
                sources[text].append(source)
    return [f"{problem} (said by {', '.join(who)})" for problem, who in sources.items()]

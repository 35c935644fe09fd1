"""The root of Accord's exception hierarchy.

Every area defines specific subclasses (in its own `errors` module) so that callers can
catch exactly the failure they handle, and every message says what was wrong.
"""


class AccordError(Exception):
    """Base class of every error Accord raises on purpose."""

"""A mixin for objects that hold secret material: they refuse pickling and copying.

The secret bytes themselves live in `SecretBytes` (redacted repr, wipeable); this makes the
refusal explicit at the level of the protocol object, with its own name in the message.
"""

from __future__ import annotations

from accord.protocols.secret import SecretLeakError


class SecretHolder:
    """Refuses pickle, copy and deepcopy, so it never reaches a log, a pickle or the Ray
    object store by accident; `to_bytes()` (where offered) is the one deliberate exit."""

    __slots__ = ()

    def __reduce__(self):
        raise SecretLeakError(
            f"{type(self).__name__} holds secret material and must not be pickled or sent "
            "across processes"
        )

    def __copy__(self):
        raise SecretLeakError(f"{type(self).__name__} holds secret material and must not be copied")

    def __deepcopy__(self, memo):
        raise SecretLeakError(f"{type(self).__name__} holds secret material and must not be copied")

"""A container for secret bytes that does not leak.

Key material (FROST signing shares, nonces, sealing keys) is held in `SecretBytes`: its repr
and str are redacted, it refuses to be pickled or copied (so it never reaches the Ray object
store, a log or an exception in plaintext by accident), and `wipe()` overwrites the buffer.
Python cannot guarantee that no other copy of the bytes ever existed (immutable `bytes`
objects are created on the way in and out of libsodium), so wiping is best effort; refusing
serialization is the guarantee that matters.
"""

from __future__ import annotations

import hmac

from accord.errors import AccordError


class SecretLeakError(AccordError):
    """Raised when code tries to serialize, copy or reuse a secret."""


class SecretBytes:
    """Secret bytes: redacted repr, no pickling, no copying, wipeable."""

    __slots__ = ("_buf", "_label")

    def __init__(self, data: bytes | bytearray, label: str = "secret") -> None:
        self._buf = bytearray(data)
        self._label = label

    def reveal(self) -> bytes:
        """Return the plaintext bytes. Call only where the secret is used."""
        if self._buf is None:
            raise SecretLeakError(f"{self._label} was wiped and can no longer be used")
        return bytes(self._buf)

    @property
    def wiped(self) -> bool:
        return self._buf is None

    def wipe(self) -> None:
        """Overwrite the buffer with zeros and forget it."""
        if self._buf is not None:
            for i in range(len(self._buf)):
                self._buf[i] = 0
            self._buf = None

    def __len__(self) -> int:
        return 0 if self._buf is None else len(self._buf)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretBytes):
            return NotImplemented
        return hmac.compare_digest(self.reveal(), other.reveal())

    __hash__ = None  # type: ignore[assignment]  # secrets are not dict keys

    def __repr__(self) -> str:
        state = "wiped" if self._buf is None else f"{len(self._buf)} bytes"
        return f"<SecretBytes {self._label}: {state}, redacted>"

    __str__ = __repr__

    def __reduce__(self):
        raise SecretLeakError(f"{self._label} must not be pickled or sent across processes")

    def __copy__(self):
        raise SecretLeakError(f"{self._label} must not be copied")

    def __deepcopy__(self, memo):
        raise SecretLeakError(f"{self._label} must not be copied")

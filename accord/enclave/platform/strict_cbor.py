"""Strict CBOR decoding for untrusted input: one item, nothing after it, no duplicate keys."""

from __future__ import annotations

import io
from typing import Any

import cbor2


def loads_exact(data: bytes, error: type[Exception], what: str) -> Any:
    """Decode exactly one CBOR item from `data`, raising `error` naming `what` otherwise."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise error(f"{what} must be bytes, not {type(data).__name__}")
    buffer = io.BytesIO(bytes(data))
    try:
        item = cbor2.CBORDecoder(buffer, allow_duplicate_keys=False).decode()
    except cbor2.CBORDecodeEOF as exc:
        raise error(f"{what} is truncated ({len(data)} bytes): {exc}") from exc
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError) as exc:
        raise error(f"{what} is not valid CBOR: {exc}") from exc
    if buffer.tell() != len(data):
        raise error(f"{what} has {len(data) - buffer.tell()} trailing bytes after the CBOR item")
    return item

"""Canonical JSON (RFC 8785, JCS): the only JSON Accord hashes or signs.

Three evaluators build the same claims independently; they must agree byte for byte, so
every JSON value that is hashed, signed or compared across enclaves goes through `dumps`.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

from accord.errors import AccordError


class CanonicalJsonError(AccordError):
    """A value cannot be represented in canonical JSON, or input JSON is ambiguous."""


def dumps(value: Any) -> bytes:
    """Serialize `value` per RFC 8785 (UTF-8 bytes)."""
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise CanonicalJsonError(f"cannot canonicalize value: {exc}") from exc


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, val in pairs:
        if key in obj:
            raise CanonicalJsonError(f"duplicate JSON object key {key!r}")
        obj[key] = val
    return obj


def _no_constant(name: str) -> Any:
    raise CanonicalJsonError(f"non-standard JSON constant {name}")


def loads(data: bytes | str) -> Any:
    """Parse JSON strictly: duplicate keys, NaN and Infinity are errors (they are ambiguous
    across parsers, so two enclaves could read the same bytes differently)."""
    try:
        return json.loads(data, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise CanonicalJsonError(f"invalid JSON: {exc}") from exc

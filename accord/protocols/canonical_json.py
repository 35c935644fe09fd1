"""Canonical JSON (RFC 8785, JCS): the only JSON Accord hashes or signs.

Three evaluators build the same claims independently; they must agree byte for byte, so
every JSON value that is hashed, signed or compared across enclaves goes through `dumps`.

`dumps` has two paths with one result. The `rfc8785` package is the reference. Because it is
pure Python (about 3 microseconds per value), `dumps` first checks whether `value` is *plain*
and, if so, lets the standard library's C encoder write it:

    json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)

For a plain value these bytes are exactly the RFC 8785 serialization:

- plain means: built only from dict (str keys), list, str, bool, None and int within
  +-(2^53 - 1), all of exactly these types (no subclasses, tuples, floats or other
  mappings), and no object key containing a character above U+FFFF;
- literals: `null`, `true`, `false` are the same; integers in the safe range are their
  shortest decimal form in both (JCS formats them as ES6 numbers, which for integers below
  2^53 is the decimal integer); no floats, so number formatting never differs;
- strings (RFC 8785 section 3.2.2.2): both escape exactly `"`, `\\`, and U+0000..U+001F,
  using `\\b \\t \\n \\f \\r` where they exist and `\\u00xx` (lowercase hex) otherwise, and
  write every other character as itself in UTF-8 (U+007F, U+2028, U+2029 and astral
  characters included). A lone surrogate has no UTF-8 form: encoding fails and the
  reference path reports it;
- whitespace: none in either (`separators`);
- member order (section 3.2.3): JCS sorts keys by their UTF-16 code units, `sort_keys` by
  code points. The two orders agree unless, at the first position where two keys differ,
  one has an astral character (UTF-16: a surrogate D800..DBFF) and the other a character
  in U+E000..U+FFFF. Keys without astral characters can never meet that case.

Anything else takes the reference path, which serializes or refuses it as RFC 8785 says.
tests/protocols/test_canonical_json.py checks both paths against `rfc8785` on generated
values.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

from accord.errors import AccordError

MAX_SAFE_INTEGER = 2**53 - 1
_ASTRAL = "\U00010000"  # the first character outside the BMP
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False).encode


class CanonicalJsonError(AccordError):
    """A value cannot be represented in canonical JSON, or input JSON is ambiguous."""


def _plain(value: Any) -> bool:
    """True if the standard encoder writes `value` exactly as RFC 8785 does (see above)."""
    pending = [value]
    pop, push, extend = pending.pop, pending.append, pending.extend
    while pending:
        item = pop()
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is int:
            if -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                continue
            return False
        if kind is dict:
            for key, member in item.items():
                if type(key) is not str or (not key.isascii() and max(key) >= _ASTRAL):
                    return False
                push(member)
        elif kind is list:
            extend(item)
        else:
            return False
    return True


def reference_dumps(value: Any) -> bytes:
    """Serialize `value` with the `rfc8785` package alone (the reference `dumps` agrees with)."""
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise CanonicalJsonError(f"cannot canonicalize value: {exc}") from exc


def dumps(value: Any) -> bytes:
    """Serialize `value` per RFC 8785 (UTF-8 bytes)."""
    try:
        # Encoding first also proves `value` acyclic (the encoder checks), so `_plain` ends.
        text = _encode(value)
    except (TypeError, ValueError, RecursionError):
        text = None  # the reference path names the error
    if text is not None and _plain(value):
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            pass  # a lone surrogate: the reference path names the error
    return reference_dumps(value)


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
    except UnicodeDecodeError as exc:  # bytes that are not UTF-8 (JSON is, RFC 8259 section 8.1)
        raise CanonicalJsonError(f"invalid JSON: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except RecursionError:
        raise CanonicalJsonError("invalid JSON: nested too deeply") from None

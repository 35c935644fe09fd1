"""Parsing the Signature-Input and Signature fields (RFC 9421 section 4): Structured Field
Dictionaries (RFC 9651), parsed by `http_sf`, with a fast path for the form Accord's signer
writes.

`http_sf` parses byte by byte in Python (about 40 microseconds for a Signature-Input). Every
request Accord verifies carries one signature in the exact form `http_sf` serializes:

    accord=("@method" "@target-uri" "content-type" "content-digest");created=1767607200;keyid="...";expires=...;nonce="..."
    accord=:<base64>:

`parse_dictionary` matches that form with one regular expression (one member; an Inner
List of Strings separated by single spaces, or a Byte Sequence with canonical padding;
Integer or String parameters without escapes or repeats) and builds the very structure
`http_sf.parse` returns for it; anything else, valid or not, goes to `http_sf`. The fast
path accepts only valid Structured Fields and is checked against `http_sf` on generated
fields in tests/protocols/http/test_signature_fields.py.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Any

import http_sf

_KEY = r"[a-z*][a-z0-9_.*-]*"
_STRING = r'"[\x20\x21\x23-\x5b\x5d-\x7e]*"'  # no DQUOTE, no backslash: nothing to unescape
_INTEGER = r"-?[0-9]{1,15}"
_PARAMETER = re.compile(rf";({_KEY})=(?:({_INTEGER})|\"([\x20\x21\x23-\x5b\x5d-\x7e]*)\")")  # findall
_MEMBER = re.compile(
    rf"({_KEY})="
    rf"(?:\(((?:{_STRING}(?: {_STRING})*)?)\)|:((?:[A-Za-z0-9+/]{{4}})*(?:[A-Za-z0-9+/]{{2}}==|[A-Za-z0-9+/]{{3}}=)?):)"
    rf"((?:;{_KEY}=(?:{_INTEGER}|{_STRING}))*)"
)
_STRING_CONTENT = re.compile(r'"([^"]*)"')


def _fast_parse(value: str) -> dict[str, Any] | None:
    """The `http_sf.parse(value, tltype="dictionary")` result for Accord's form, else None."""
    match = _MEMBER.fullmatch(value)
    if match is None:
        return None
    label, inner, byteseq, parameters = match.groups()
    params: dict[str, Any] = {}
    for name, integer, string in _PARAMETER.findall(parameters):
        if name in params:
            return None  # a repeated parameter: leave the rules for that to http_sf
        params[name] = int(integer) if integer else string
    if inner is not None:
        return {label: ([(item, {}) for item in _STRING_CONTENT.findall(inner)], params)}
    try:
        return {label: (base64.b64decode(byteseq, validate=True), params)}
    except binascii.Error:  # cannot happen for the matched alphabet and padding; be safe
        return None


def parse_dictionary(value: str, on_duplicate_key: Callable[[str, str], None] | None = None) -> dict[str, Any]:
    """`http_sf.parse(value, tltype="dictionary", on_duplicate_key=...)` (same result, same
    errors: UnicodeEncodeError for non-ASCII, ValueError for malformed fields)."""
    fast = _fast_parse(value)
    if fast is not None:
        return fast
    return http_sf.parse(value.encode("ascii"), tltype="dictionary", on_duplicate_key=on_duplicate_key)

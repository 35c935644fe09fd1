"""canonical_json.dumps: byte-identical to the `rfc8785` package on every value, whichever
path it takes, and the reference path is taken exactly where the fast one could differ."""

from __future__ import annotations

import contextlib
import enum
import json
from unittest import mock

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.protocols import canonical_json
from accord.protocols.canonical_json import MAX_SAFE_INTEGER, CanonicalJsonError

# Characters where serializers tend to differ: escapes, controls, separators JavaScript
# treats specially, the BMP private-use / specials block that sorts differently in UTF-16,
# astral characters, and lone surrogates (which have no UTF-8 form).
EDGE_CHARACTERS = [
    *map(chr, range(0x20)), '"', "\\", "/", "\x7f", "\x80", "\xff", "\u2028", "\u2029", "\ufeff",
    "\ue000", "\uffff", "\ufffd", "\U00010000", "\U0001f600", "\U0010ffff", "\ud800", "\udfff",
]
characters = st.one_of(st.sampled_from(EDGE_CHARACTERS), st.characters(blacklist_categories=()))
strings = st.text(characters, max_size=8)
integers = st.one_of(
    st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER),
    st.sampled_from([MAX_SAFE_INTEGER, MAX_SAFE_INTEGER + 1, -MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER - 1, 2**64, -(2**256)]),
    st.integers(),
)
scalars = st.one_of(st.none(), st.booleans(), integers, strings, st.floats(allow_nan=True, allow_infinity=True))
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(strings, inner, max_size=5),
        st.lists(inner, max_size=3).map(tuple),
    ),
    max_leaves=30,
)
# What Accord canonicalizes in practice: no floats, safe integers, no surrogates, keys in
# the BMP (astral characters in values are fine).
plain_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER),
              st.text(st.characters(blacklist_categories=("Cs",)))),
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.text(st.characters(max_codepoint=0xFFFF, blacklist_categories=("Cs",)), max_size=6),
                        inner, max_size=5),
    ),
    max_leaves=40,
)  # fmt: skip


def reference(value):
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError):
        return CanonicalJsonError


def ours(value):
    try:
        return canonical_json.dumps(value)
    except CanonicalJsonError:
        return CanonicalJsonError


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_dumps_equals_rfc8785_on_any_value(value):
    assert ours(value) == reference(value)


@contextlib.contextmanager
def reference_calls():
    """The values `dumps` hands to the reference path while the block runs."""
    calls: list = []
    original = canonical_json.reference_dumps

    def spy(value):
        calls.append(value)
        return original(value)

    with mock.patch.object(canonical_json, "reference_dumps", spy):
        yield calls


@settings(max_examples=200, deadline=None)
@given(plain_values)
def test_plain_values_take_the_fast_path_and_equal_rfc8785(value):
    with reference_calls() as calls:
        assert canonical_json.dumps(value) == rfc8785.dumps(value)
    assert calls == []


class Color(enum.IntEnum):
    RED = 1


class Name(str, enum.Enum):
    ALICE = "alice"


@pytest.mark.parametrize(
    "value",
    [
        1.5, 1e21, -0.0, float("nan"), float("inf"),  # floats: ES6 number formatting
        MAX_SAFE_INTEGER + 1, -MAX_SAFE_INTEGER - 1, 2**256,  # beyond the safe range
        (1, 2), {"a": (1,)},  # tuples
        {1: "a"}, {"a": 1, 2: "b"}, {None: 1},  # keys that are not strings
        Color.RED, Name.ALICE, {"k": Name.ALICE},  # subclasses of int and str
        {"\U0001f600": 1}, [{"\ue000": 1, "\U00010000": 2}],  # astral characters in keys
        "\ud800", {"a": ["x\udfffy"]}, {"\ud800": 1},  # lone surrogates
    ],
)  # fmt: skip
def test_reference_path_is_taken_where_the_fast_path_could_differ(value):
    with reference_calls() as calls:
        assert ours(value) == reference(value)
    assert len(calls) == 1


@pytest.mark.parametrize(
    "value",
    [
        {"v": "\U0001f600", "k": ["\U0010ffff"]},  # astral in values only
        {"c": "\x00\x01\x1f\x7f\u2028\u2029\"\\\b\f\n\r\t", "b": [MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, 0]},
        {"\ue000": 1, "\uffff": 2, "z": 3, "Z": 4, "\x7f": 5, "é": 6}, [], {}, "", None, [[[{}]]],
    ],
)  # fmt: skip
def test_fast_path_covers_edge_characters_and_boundaries(value):
    with reference_calls() as calls:
        assert canonical_json.dumps(value) == rfc8785.dumps(value)
    assert calls == []


def test_astral_keys_are_why_the_fallback_exists():
    # UTF-16 puts U+10000 (D800 DC00) before U+E000; code point order does the opposite.
    value = {"\ue000": 1, "\U00010000": 2}
    expected = '{"\U00010000":2,"\ue000":1}'.encode()
    assert canonical_json.dumps(value) == rfc8785.dumps(value) == expected
    assert json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode() != expected


def test_errors_are_canonical_json_errors():
    for value in (float("nan"), 2**53, {1: 2}, "\ud800", object()):
        with pytest.raises(CanonicalJsonError, match="cannot canonicalize value"):
            canonical_json.dumps(value)


def test_circular_values_fail_as_before():
    value: list = []
    value.append(value)
    with pytest.raises(RecursionError):
        canonical_json.dumps(value)


@pytest.mark.parametrize("data, message", [
    (b"\x80", "not UTF-8"),
    (b'{"a": "\xff"}', "not UTF-8"),
    (b"[" * 100_000, "nested too deeply"),
])
def test_loads_refuses_bytes_that_are_not_json_text(data, message):
    """Found by the policy_engines fuzz target: these raised UnicodeDecodeError/RecursionError."""
    with pytest.raises(canonical_json.CanonicalJsonError, match=message):
        canonical_json.loads(data)

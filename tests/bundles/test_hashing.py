"""OPA's canonical form for structured files: Go escaping, literal numbers, both encoders."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.bundles import hashing
from accord.bundles.errors import DocumentError, HashAlgorithmError
from accord.bundles.hashing import HashAlgorithm, hashed_bytes, is_structured, parse_document


def canon(text: str, path: str = "data.json") -> str:
    return hashed_bytes(path, text.encode()).decode()


def literal_canon(text: str) -> str:
    parts: list[str] = []
    hashing._encode_literal(hashing._parse_json_literal(text), parts)
    return "".join(parts)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(value=json_values, indent=st.sampled_from([None, 1, 4]), sort=st.booleans())
def test_fast_encoder_equals_literal_encoder(value, indent, sort):
    text = json.dumps(value, indent=indent, sort_keys=sort, ensure_ascii=indent is None)
    assert canon(text) == literal_canon(text)


@settings(max_examples=100, deadline=None)
@given(value=json_values)
def test_formatting_does_not_change_the_hash(value):
    compact = json.dumps(value, separators=(",", ":"))
    pretty = json.dumps(value, indent=3, ensure_ascii=False)
    assert canon(compact) == canon(pretty)


@pytest.mark.parametrize(
    "text, expected",
    [
        ('{"b": 1, "a": [true, null, "x"]}', '{"a":[true,null,"x"],"b":1}'),
        ('{"a": 1.0}', '{"a":1.0}'),
        ('{"a": 1e2}', '{"a":1e2}'),
        ('{"a": 1E+2}', '{"a":1E+2}'),
        ('{"a": 0.50}', '{"a":0.50}'),
        ('{"a": -0}', '{"a":-0}'),
        ('{"a": -0.0}', '{"a":-0.0}'),
        ('[123456789012345678901234567890]', "[123456789012345678901234567890]"),
        ('"<&>\\u00e9"', '"<&>\u00e9"'),
        ('"\\u2028\\u2029"', '"\\u2028\\u2029"'),
        ('"\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f"', '"\\b\\f\\n\\r\\t\\u0001\\u001f\x7f"'),
        ('"\\"\\\\/"', '"\\"\\\\/"'),
        ('{"\\u00e9": 1, "z": 2, "Z": 3}', '{"Z":3,"z":2,"\u00e9":1}'),
    ],
)
def test_canonical_form(text, expected):
    assert canon(text) == expected
    assert literal_canon(text) == expected


def test_number_spelling_changes_the_hash():
    a = hashing.file_hash("data.json", b'{"limit": 1000}', HashAlgorithm.SHA256)
    b = hashing.file_hash("data.json", b'{"limit": 1000.0}', HashAlgorithm.SHA256)
    assert a != b


@pytest.mark.parametrize(
    "content, message",
    [
        (b'{"a": 1, "a": 2}', "duplicate object key"),
        (b'{"a": NaN}', "non-standard JSON constant"),
        (b'{"a": 1e400}', "out of range"),
        (b"\xef\xbb\xbf{}", "invalid JSON"),
        (b'{"a": "\xff"}', "not valid UTF-8"),
        (b"{'a': 1}", "invalid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "invalid JSON"),
    ],
)
def test_malformed_json_is_refused(content, message):
    with pytest.raises(DocumentError, match=message):
        hashed_bytes("data.json", content)


def test_lone_surrogate_is_refused():
    with pytest.raises(DocumentError, match="surrogate"):
        hashed_bytes("data.json", b'["\\ud800"]')


def test_structured_names_follow_opa():
    assert is_structured("a/b/data.json") and is_structured("data.yaml")
    assert is_structured(".manifest") and is_structured("x/signatures.json")
    assert not is_structured(".signatures.json")  # base name must be exactly signatures.json
    assert not is_structured("data.yml")  # OPA loads it but hashes it raw
    assert not is_structured("policy.rego") and not is_structured("x.json")
    assert hashed_bytes("x.json", b'{ "a" : 1 }') == b'{ "a" : 1 }'


@pytest.mark.parametrize(
    "content, expected",
    [
        ("foo: 1", '{"foo":1}'),
        ("a: 1.0\nb: -0.0\nc: 1.5e+300\nd: [x, true, null]", '{"a":1,"b":-0,"c":1.5e+300,"d":["x",true,null]}'),
        ('\ufeff{"a": 1.0}', '{"a":1.0}'),  # valid JSON is read as JSON (literal numbers)
    ],
)
def test_yaml_data_is_hashed_like_go(content, expected):
    assert canon(content, "data.yaml") == expected


def test_yaml_values_without_json_form_are_refused():
    with pytest.raises(DocumentError, match="no JSON equivalent"):
        parse_document("data.yaml", b"when: 2024-01-01")
    with pytest.raises(DocumentError, match="not a string"):
        parse_document("data.yaml", b"1: a")


def test_unknown_hash_algorithm():
    with pytest.raises(HashAlgorithmError, match="unsupported hashing algorithm: sha256"):
        HashAlgorithm.parse("sha256")
    assert HashAlgorithm.parse("SHA-512-256").strong
    assert not HashAlgorithm.parse("MD5").strong

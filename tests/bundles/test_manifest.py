"""The manifest: OPA's field types, Accord's revision, RFC 3339, OPA's roots rules."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from accord.bundles.errors import ManifestError
from accord.bundles.manifest import (
    Manifest,
    Revision,
    accord_revision,
    format_rfc3339,
    manifest_with_revision,
    module_package_path,
    parse_manifest,
    parse_rfc3339,
    validate_roots,
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-01-01T00:00:00Z", datetime(2026, 1, 1, tzinfo=timezone.utc)),
        ("2026-01-01T02:00:00+02:00", datetime(2026, 1, 1, tzinfo=timezone.utc)),
        ("2026-01-01T00:00:00.123456789Z", datetime(2026, 1, 1, 0, 0, 0, 123456, timezone.utc)),
    ],
)
def test_rfc3339(text, expected):
    assert parse_rfc3339(text) == expected


@pytest.mark.parametrize(
    "text", ["2026-01-01", "2026-01-01T00:00:00", "2026-01-01 00:00:00Z", "2026-13-01T00:00:00Z"]
)
def test_not_rfc3339(text):
    with pytest.raises(ManifestError):
        parse_rfc3339(text)


def test_revision_round_trip():
    revision = Revision(7, datetime(2026, 7, 1, tzinfo=timezone.utc))
    manifest = manifest_with_revision(Manifest(roots=("accord",), metadata={"team": "x"}), revision)
    assert manifest.revision == "7" and manifest.roots == ("accord",)
    assert manifest.metadata["team"] == "x"
    assert accord_revision(parse_manifest(manifest.to_json())) == revision
    assert format_rfc3339(revision.expires + timedelta(microseconds=5)) == "2026-07-01T00:00:00.000005Z"


@pytest.mark.parametrize(
    "value",
    [{"rego_version": True}, {"roots": ["a", 1]}, {"metadata": []}, {"file_rego_versions": {"a": "1"}},
     {"wasm": [1]}, {"revision": 7}],
)
def test_manifest_types_follow_go(value):
    with pytest.raises(ManifestError):
        parse_manifest(value)


def test_unknown_fields_and_nulls_are_ignored():
    manifest = parse_manifest({"revision": None, "roots": None, "x": 1})
    assert manifest == Manifest() and manifest.effective_roots == ("",)


@pytest.mark.parametrize(
    "source, path",
    [
        ("package a.b.c", "a/b/c"),
        ('# comment\n\npackage a["b-c"].d\nimport rego.v1', "a/b-c/d"),
        ("package x", "x"),
        ("import rego.v1\npackage x", None),
    ],
)
def test_module_package_path(source, path):
    assert module_package_path(source) == path


@pytest.mark.parametrize(
    "roots, modules, data, message",
    [
        (["a", "a/b"], {}, {}, "overlapped roots: 'a' and 'a/b'"),
        (["a"], {"p.rego": "package b"}, {}, "do not permit 'package b' in module 'p.rego'"),
        (["a"], {"p.rego": "import rego.v1"}, {}, "cannot determine the package"),
        (["a/b"], {}, {"a": {"c": 1}}, "do not permit data at path '/a/c'"),
        (["a"], {}, {"b": 1}, "do not permit data at path '/b'"),
    ],
)
def test_roots_violations(roots, modules, data, message):
    with pytest.raises(ManifestError, match=message):
        validate_roots(Manifest(roots=tuple(roots)), modules, data)


def test_roots_allow_what_they_contain():
    validate_roots(
        Manifest(roots=("a/b", "c")),
        {"x.rego": "package a.b.x", "y.rego": "package c"},
        {"a": {"b": {"k": 1}}, "c": [1]},
    )
    validate_roots(Manifest(), {"p.rego": "not even rego"}, {"anything": 1})

"""The bundle `.manifest`: OPA's fields, Accord's revision, and OPA's roots rules.

OPA's `revision` is a free string, so Accord keeps its own revision where OPA keeps metadata,
and mirrors the version into `revision` so OPA's status and decision logs show it:

    {"revision": "7",
     "roots": ["accord"],
     "metadata": {"accord": {"version": 7, "expires": "2026-07-01T00:00:00Z"}}}

`version` is a positive integer that only ever increases (rollback protection); `expires` is
an RFC 3339 timestamp with a time zone. Both are signed, since `.manifest` is a signed file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

from accord.bundles.errors import ManifestError
from accord.protocols import canonical_json

MANIFEST_PATH = ".manifest"
ACCORD_METADATA_KEY = "accord"


@dataclass(frozen=True)
class Revision:
    """Accord's signed revision: a strictly increasing version and an expiry."""

    version: int
    expires: datetime

    def __post_init__(self) -> None:
        if type(self.version) is not int or self.version < 1:
            raise ManifestError(
                f"revision version must be a positive integer, not {self.version!r}"
            )
        if self.expires.tzinfo is None:
            raise ManifestError("revision expiry must carry a time zone")

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "expires": format_rfc3339(self.expires)}


@dataclass(frozen=True)
class Manifest:
    """OPA's manifest fields. `roots` is None when absent (OPA then uses [""]: everything)."""

    revision: str = ""
    roots: tuple[str, ...] | None = None
    rego_version: int | None = None
    file_rego_versions: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    metadata: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    wasm: tuple[Mapping[str, Any], ...] = ()

    @property
    def effective_roots(self) -> tuple[str, ...]:
        """Roots as OPA uses them: default [""], each stripped of surrounding slashes."""
        return tuple(r.strip("/") for r in (self.roots if self.roots is not None else ("",)))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"revision": self.revision}
        if self.roots is not None:
            out["roots"] = list(self.roots)
        if self.rego_version is not None:
            out["rego_version"] = self.rego_version
        if self.file_rego_versions:
            out["file_rego_versions"] = dict(self.file_rego_versions)
        if self.metadata:
            out["metadata"] = dict(self.metadata)
        if self.wasm:
            out["wasm"] = [dict(w) for w in self.wasm]
        return out


def parse_manifest(value: Any) -> Manifest:
    """Decode a parsed `.manifest` with the type rules of OPA's Go struct (unknown fields
    ignored, `null` meaning absent)."""
    if value is None:
        return Manifest()
    if not isinstance(value, dict):
        raise ManifestError(f"manifest must be a JSON object, not {type(value).__name__}")
    revision = _typed(value, "revision", str, "")
    roots = _typed(value, "roots", list, None)
    if roots is not None and not all(isinstance(r, str) for r in roots):
        raise ManifestError("manifest roots must be strings")
    rego_version = _typed(value, "rego_version", int, None)
    frv = _typed(value, "file_rego_versions", dict, {})
    if not all(type(v) is int for v in frv.values()):
        raise ManifestError("manifest file_rego_versions values must be integers")
    metadata = _typed(value, "metadata", dict, {})
    wasm = _typed(value, "wasm", list, [])
    if not all(isinstance(w, dict) for w in wasm):
        raise ManifestError("manifest wasm entries must be objects")
    return Manifest(
        revision=revision,
        roots=None if roots is None else tuple(roots),
        rego_version=rego_version,
        file_rego_versions=MappingProxyType(dict(frv)),
        metadata=MappingProxyType(dict(metadata)),
        wasm=tuple(MappingProxyType(dict(w)) for w in wasm),
    )


def _typed(obj: dict[str, Any], key: str, kind: type, default: Any) -> Any:
    value = obj.get(key)
    if value is None:
        return default
    # bool is an int in Python but not in Go's decoder
    if not isinstance(value, kind) or (kind is int and type(value) is not int):
        raise ManifestError(
            f"manifest field {key!r} must be {kind.__name__}, not {type(value).__name__}"
        )
    return value


def accord_revision(manifest: Manifest) -> Revision:
    """Accord's revision from a manifest; refuses a manifest without one, or whose OPA
    `revision` string disagrees with the version."""
    meta = manifest.metadata.get(ACCORD_METADATA_KEY)
    if not isinstance(meta, Mapping):
        raise ManifestError(
            f"manifest has no metadata.{ACCORD_METADATA_KEY} object (version and expiry)"
        )
    version = meta.get("version")
    if type(version) is not int:
        raise ManifestError(f"manifest metadata.accord.version must be an integer, not {version!r}")
    expires = meta.get("expires")
    if not isinstance(expires, str):
        raise ManifestError("manifest metadata.accord.expires must be an RFC 3339 timestamp")
    revision = Revision(version, parse_rfc3339(expires))
    if manifest.revision != str(version):
        raise ManifestError(
            f"manifest revision {manifest.revision!r} does not match version {version}"
        )
    return revision


def manifest_with_revision(base: Manifest, revision: Revision) -> Manifest:
    """`base` with Accord's revision written into `revision` and `metadata.accord`."""
    metadata = {**base.metadata, ACCORD_METADATA_KEY: revision.to_json()}
    return replace(base, revision=str(revision.version), metadata=MappingProxyType(metadata))


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})")


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 date-time with an explicit offset (`Z` or `+hh:mm`)."""
    match = _RFC3339.fullmatch(text)
    if not match:
        raise ManifestError(f"{text!r} is not an RFC 3339 timestamp with a time zone")
    # Python keeps microseconds: digits beyond 6 are dropped, never rounded up.
    start, end = match.span(1)
    if start >= 0:
        text = text[:start] + text[start:end][:7] + text[end:]
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ManifestError(f"{text!r} is not a valid timestamp: {exc}") from exc


def format_rfc3339(moment: datetime) -> str:
    """UTC, second precision unless there are microseconds, with a `Z`."""
    text = moment.astimezone(timezone.utc).isoformat()
    return text.replace("+00:00", "Z")


# --- roots (OPA's Manifest.validateAndInjectDefaults) --------------------------------------


def validate_roots(manifest: Manifest, modules: Mapping[str, str], data: dict[str, Any]) -> None:
    """Refuse what OPA refuses: overlapping roots, a module whose package or data whose path
    lies outside the roots."""
    roots = list(manifest.effective_roots)
    for i, a in enumerate(roots):
        for b in roots[i + 1 :]:
            if _contains(a, b) or _contains(b, a):
                raise ManifestError(f"manifest has overlapped roots: '{a}' and '{b}'")
    if roots == [""]:
        return  # the default root contains everything
    shown = "[" + " ".join(roots) + "]"
    for path, source in modules.items():
        package = module_package_path(source)
        if package is None:
            raise ManifestError(f"cannot determine the package of module '{path}' to check roots")
        if not any(_contains(r, package) for r in roots):
            pkg = package.replace("/", ".")
            raise ManifestError(
                f"manifest roots {shown} do not permit 'package {pkg}' in module '{path}'"
            )
    _check_data_roots(roots, shown, data, "")


def _check_data_roots(roots: list[str], shown: str, node: Any, path: str) -> None:
    if any(_contains(r, path) for r in roots):
        return
    # A proper prefix of some root: keep descending, the data may sit below it.
    if isinstance(node, dict) and any(_contains(path, r) for r in roots):
        for key in sorted(node):
            _check_data_roots(roots, shown, node[key], f"{path}/{key}".strip("/"))
        return
    raise ManifestError(
        f"manifest roots {shown} do not permit data at path '/{path}' "
        "(hint: check bundle directory structure)"
    )


def _contains(root: str, path: str) -> bool:
    """OPA's rootContains over '/'-separated segments; the root "" contains everything."""
    r, p = root.split("/"), path.split("/")
    if r == [""]:
        return True
    return len(r) <= len(p) and p[: len(r)] == r


_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_STRING = r'"(?:[^"\\]|\\.)*"'
_PACKAGE = re.compile(
    rf"\A(?:\s|#[^\n]*)*package\s+({_IDENT}(?:\.{_IDENT}|\[{_STRING}\])*)(?![A-Za-z0-9_.\[])"
)
_SEGMENT = re.compile(rf"({_IDENT})|\[({_STRING})\]")


def module_package_path(source: str) -> str | None:
    """The module's package as OPA's root path (`package a.b["c"]` -> "a/b/c"), or None when
    the package clause is not in the simple form this can read."""
    match = _PACKAGE.match(source)
    if not match:
        return None
    segments = []
    for ident, quoted in _SEGMENT.findall(match.group(1)):
        segments.append(ident if ident else canonical_json.loads(quoted))
    return "/".join(segments)

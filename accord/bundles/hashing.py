"""OPA's file hashing rules for bundle signatures (v1/bundle/hash.go).

Unstructured files (`.rego`, `.wasm`, anything else) are hashed as raw bytes. Structured files
(base name `data.json`, `data.yaml`, `.manifest` or `signatures.json`) are parsed and the hash
is taken over OPA's canonical form:

- object: `{` then `key:value` pairs, keys sorted bytewise, `,` between, then `}`;
- array: `[` values `,`-separated `]`;
- string (and key): Go `encoding/json` with HTML escaping off: `"` `\\` `\\b` `\\f` `\\n` `\\r`
  `\\t` short escapes, other controls `\\u00xx`, U+2028/U+2029 escaped, the rest literal UTF-8;
- number: the literal text from the file (OPA decodes with `json.Number`), so `1000` and
  `1000.0` hash differently; YAML numbers are formatted as Go formats a float64/int;
- `true`, `false`, `null`.

So whitespace and key order do not change a signature; number spelling does.

Two encoders produce that form. The fast one is Python's C JSON encoder (keys sorted by code
point, which is UTF-8 byte order); it is exact whenever every number's literal text is what
Python prints for the parsed value (true of integers except `-0`, and of most floats).
Otherwise the literal encoder walks a second parse that kept every number's text. Tests check
that both agree.

Stricter than OPA (one parser for hashing and loading, so no parser differential inside a
bundle): duplicate object keys, invalid UTF-8, lone surrogates, non-finite numbers and a BOM
in a `.json` file are refused rather than silently normalized.
"""

from __future__ import annotations

import hashlib
import json
import math
import posixpath
import re
from collections import Counter
from enum import Enum
from json.encoder import encode_basestring
from operator import itemgetter
from typing import Any

import rfc8785

from accord.bundles.errors import DocumentError, HashAlgorithmError

STRUCTURED_BASENAMES = frozenset({"data.json", "data.yaml", ".manifest", "signatures.json"})
_UTF8_BOM = "\ufeff"


class HashAlgorithm(Enum):
    """The hash algorithms OPA accepts in a signature's file list, by OPA's name."""

    MD5 = "MD5"
    SHA1 = "SHA-1"
    SHA224 = "SHA-224"
    SHA256 = "SHA-256"
    SHA384 = "SHA-384"
    SHA512 = "SHA-512"
    SHA512_224 = "SHA-512-224"
    SHA512_256 = "SHA-512-256"

    @classmethod
    def parse(cls, name: str) -> HashAlgorithm:
        try:
            return cls(name)
        except ValueError:
            raise HashAlgorithmError(f"unsupported hashing algorithm: {name}") from None

    @property
    def strong(self) -> bool:
        """Accord accepts only these in strict mode (>= 128-bit collision resistance)."""
        return self in _STRONG

    def digest(self, data: bytes) -> bytes:
        name = _HASHLIB_NAMES[self]
        return hashlib.new(name, data, usedforsecurity=self.strong).digest()


_STRONG = frozenset(
    {HashAlgorithm.SHA256, HashAlgorithm.SHA384, HashAlgorithm.SHA512, HashAlgorithm.SHA512_256}
)
_HASHLIB_NAMES = {
    HashAlgorithm.MD5: "md5",
    HashAlgorithm.SHA1: "sha1",
    HashAlgorithm.SHA224: "sha224",
    HashAlgorithm.SHA256: "sha256",
    HashAlgorithm.SHA384: "sha384",
    HashAlgorithm.SHA512: "sha512",
    HashAlgorithm.SHA512_224: "sha512_224",
    HashAlgorithm.SHA512_256: "sha512_256",
}


def is_structured(path: str) -> bool:
    """OPA's `IsStructuredDoc`: hashed in canonical form rather than as bytes. (`data.yml` is
    data but not structured: OPA hashes it raw.)"""
    return posixpath.basename(path) in STRUCTURED_BASENAMES


class Document:
    """A parsed JSON/YAML file: its value, and (computed on first use) the canonical bytes
    OPA hashes."""

    __slots__ = ("value", "_text", "_yaml", "_exact", "_canonical")

    def __init__(self, value: Any, text: str, *, yaml: bool, exact: bool) -> None:
        self.value = value
        self._text = text
        self._yaml = yaml
        self._exact = exact
        self._canonical: bytes | None = None

    def canonical(self) -> bytes:
        if self._canonical is None:
            if self._exact:
                encoded = _FAST_ENCODER.encode(self.value)
                # Go escapes these two; they can only occur inside strings, so replacing is safe.
                encoded = encoded.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
            else:
                if self._yaml:
                    literal = _yaml_literals(self.value)
                else:
                    literal = _parse_json_literal(self._text)
                parts: list[str] = []
                _encode_literal(literal, parts)
                encoded = "".join(parts)
            try:
                self._canonical = encoded.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise DocumentError(f"document contains a lone surrogate: {exc}") from exc
        return self._canonical


def parse_document(path: str, content: bytes) -> Document:
    """Parse a data file or manifest as OPA does: `.json` and `.manifest` as JSON;
    `data.yaml`/`data.yml` as JSON when the text is valid JSON, else as YAML."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"{path}: not valid UTF-8: {exc}") from exc
    if posixpath.basename(path) in ("data.yaml", "data.yml"):
        text = text.removeprefix(_UTF8_BOM)  # OPA's util.Unmarshal strips a BOM
        try:
            return _parse_json(path, text)
        except DocumentError:
            return _parse_yaml(path, text)
    return _parse_json(path, text)


def hashed_bytes(path: str, content: bytes, document: Document | None = None) -> bytes:
    """The exact bytes OPA feeds to the hash function for this file."""
    if not is_structured(path):
        return content
    return (document or parse_document(path, content)).canonical()


def file_hash(path: str, content: bytes, algorithm: HashAlgorithm) -> bytes:
    """OPA's signature hash of one bundle file."""
    return algorithm.digest(hashed_bytes(path, content))


# --- JSON ----------------------------------------------------------------------------------

_FAST_ENCODER = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, check_circular=False, allow_nan=False, sort_keys=True
)
_NEGATIVE_ZERO_INT = re.compile(r"-0(?![.0-9eE])")
_first = itemgetter(0)


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Refusing duplicates keeps one reading of the file (Go keeps the last, others the first).
    obj = dict(pairs)
    if len(obj) != len(pairs):
        dupes = sorted(k for k, n in Counter(map(_first, pairs)).items() if n > 1)
        raise DocumentError(f"duplicate object key(s) {dupes}")
    return obj


def _reject_constant(name: str) -> Any:
    raise DocumentError(f"non-standard JSON constant {name}")


def _parse_json(path: str, text: str) -> Document:
    exact = _NEGATIVE_ZERO_INT.search(text) is None

    def parse_float(literal: str) -> float:
        nonlocal exact
        value = float(literal)
        if not math.isfinite(value):
            raise DocumentError(f"number {literal} is out of range")
        if exact and repr(value) != literal:
            exact = False
        return value

    try:
        value = json.loads(
            text,
            object_pairs_hook=_unique_object,
            parse_float=parse_float,
            parse_constant=_reject_constant,
        )
    except DocumentError as exc:
        raise DocumentError(f"{path}: {exc}") from exc
    except (json.JSONDecodeError, ValueError, RecursionError) as exc:
        raise DocumentError(f"{path}: invalid JSON: {exc}") from exc
    return Document(value, text, yaml=False, exact=exact)


class _Literal(str):
    """A number kept as the text it was written with."""

    __slots__ = ()


def _parse_json_literal(text: str) -> Any:
    # Only reached after _parse_json accepted the same text, so it cannot fail.
    return json.loads(
        text, object_pairs_hook=_unique_object, parse_int=_Literal, parse_float=_Literal
    )


def _encode_literal(value: Any, out: list[str]) -> None:
    kind = type(value)
    if kind is str:
        out.append(_go_string(value))
    elif kind is _Literal:
        out.append(value)
    elif kind is dict:
        out.append("{")
        for i, key in enumerate(sorted(value)):
            if i:
                out.append(",")
            out.append(_go_string(key))
            out.append(":")
            _encode_literal(value[key], out)
        out.append("}")
    elif kind is list:
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode_literal(item, out)
        out.append("]")
    else:
        out.append(_CONSTANTS[value])


_CONSTANTS = {True: "true", False: "false", None: "null"}


def _go_string(s: str) -> str:
    return encode_basestring(s).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


# --- YAML ----------------------------------------------------------------------------------


def _parse_yaml(path: str, text: str) -> Document:
    try:
        import yaml
    except ImportError as exc:  # pragma: no cover - PyYAML ships with Ray
        raise DocumentError(f"{path}: YAML data files need PyYAML") from exc
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DocumentError(f"{path}: invalid YAML: {exc}") from exc
    _check_yaml_types(path, value)
    return Document(value, text, yaml=True, exact=False)


def _check_yaml_types(path: str, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise DocumentError(f"{path}: YAML object key {key!r} is not a string")
            _check_yaml_types(path, item)
    elif isinstance(value, list):
        for item in value:
            _check_yaml_types(path, item)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise DocumentError(f"{path}: YAML number {value} is not finite")
    elif value is not None and not isinstance(value, (str, int, bool)):
        raise DocumentError(f"{path}: YAML value {value!r} has no JSON equivalent")


def _yaml_literals(value: Any) -> Any:
    """YAML values as the literal tree Go would produce after YAML -> JSON conversion."""
    if isinstance(value, dict):
        return {k: _yaml_literals(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_yaml_literals(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return _Literal(str(value))
    # Go formats float64 as ECMAScript does (RFC 8785 too), except that it keeps "-0".
    if value == 0 and math.copysign(1.0, value) < 0:
        return _Literal("-0")
    return _Literal(rfc8785.dumps(value).decode("ascii"))

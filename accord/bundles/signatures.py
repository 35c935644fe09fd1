"""OPA's bundle signature format (`.signatures.json`) and its verification (v1/bundle/verify.go).

`.signatures.json` is `{"signatures": ["<JWS compact>"]}` (OPA supports exactly one token),
optionally with `"plugin"` naming a custom verifier. The JWS payload is

    {"files": [{"name": "roles/data.json", "hash": "<hex>", "algorithm": "SHA-256"}, ...],
     "keyid": "...", "scope": "...", "iss": "...", "iat": 1700000000}

Verification follows OPA step by step: split the token, decode header and payload, pick the
key id (configured `keyid`, else header `kid`, else the deprecated payload `keyid`), look the
key up, take the algorithm from the key configuration, verify, then compare scopes. The token
header's `alg` is never used to choose anything: a token whose `alg` differs from the
configured one (`none`, or HS256 against a public key) is refused before any cryptography.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from joserfc import jws
from joserfc.errors import BadSignatureError as JoseBadSignature
from joserfc.errors import JoseError
from joserfc.jwa import EdDSAAlgorithm
from joserfc.jwk import import_key
from joserfc.jws import JWSRegistry

from accord.bundles.errors import (
    AlgorithmMismatchError,
    BadSignatureError,
    KeyConfigError,
    ScopeMismatchError,
    SignatureFormatError,
)
from accord.bundles.keys import fingerprint, sign_compact
from accord.protocols import canonical_json
from accord.protocols.jwk import SigningKey

SIGNATURES_PATH = ".signatures.json"
DEFAULT_SCOPE = "write"
# Payloads list every file (~150 bytes each); joserfc's default cap (128 kB) is too small.
MAX_TOKEN_BYTES = 16 * 1024 * 1024


class _OpaEdDSA(EdDSAAlgorithm):
    # RFC 9864 deprecates "EdDSA" for "Ed25519", but "EdDSA" is the name OPA's verifier knows.
    security_warning = None


class _Registry(JWSRegistry):
    algorithms = {**JWSRegistry.algorithms, "EdDSA": _OpaEdDSA()}
    max_payload_length = MAX_TOKEN_BYTES


# Algorithm name (as in OPA's key config) -> JWK key type that can verify it.
_KEY_TYPE_FOR_ALG = {
    **{f"HS{n}": "oct" for n in (256, 384, 512)},
    **{f"{p}{n}": "RSA" for p in ("RS", "PS") for n in (256, 384, 512)},
    **{alg: "EC" for alg in ("ES256", "ES384", "ES512", "ES256K")},
    "EdDSA": "OKP",
}


@dataclass(frozen=True)
class FileEntry:
    """One signed file: bundle path (no leading slash), hex digest, OPA algorithm name."""

    name: str
    hash: str
    algorithm: str

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "hash": self.hash, "algorithm": self.algorithm}


@dataclass(frozen=True)
class SignaturePayload:
    files: tuple[FileEntry, ...]
    keyid: str = ""
    scope: str = ""
    iss: str = ""
    iat: int = 0


@dataclass(frozen=True)
class SignaturesConfig:
    """Decoded `.signatures.json`. `signatures` is None when absent or null (OPA tells that
    apart from an empty list: an empty list is a signed bundle with no JWT, an error)."""

    signatures: tuple[str, ...] | None
    plugin: str = ""

    @property
    def is_empty(self) -> bool:
        return self.signatures is None and not self.plugin

    def to_bytes(self) -> bytes:
        out: dict[str, Any] = {"signatures": list(self.signatures or ())}
        if self.plugin:
            out["plugin"] = self.plugin
        return json.dumps(out, indent=1).encode() + b"\n"


@dataclass(frozen=True)
class KeyConfig:
    """OPA's key configuration: a PEM key (or HMAC secret), its algorithm, a default scope."""

    key: str = field(repr=False)  # may be an HMAC secret
    algorithm: str
    scope: str = ""


@dataclass(frozen=True)
class VerificationConfig:
    """OPA's bundle verification configuration."""

    keys: Mapping[str, KeyConfig] | None = field(default_factory=dict)
    keyid: str = ""
    scope: str = ""
    exclude: tuple[str, ...] = ()

    def is_excluded(self, path: str) -> bool:
        return any(go_path_match(pattern, path) for pattern in self.exclude)


# --- decoding ------------------------------------------------------------------------------


def parse_signatures_config(content: bytes) -> SignaturesConfig:
    """Decode `.signatures.json` with the type rules of OPA's Go struct."""
    try:
        value = canonical_json.loads(content)
    except Exception as exc:  # noqa: BLE001 - CanonicalJsonError or UnicodeDecodeError
        raise SignatureFormatError(f"bundle load failed on signatures decode: {exc}") from exc
    if value is None:
        return SignaturesConfig(None)
    if not isinstance(value, dict):
        raise SignatureFormatError(
            "bundle load failed on signatures decode: .signatures.json is not a JSON object"
        )
    tokens = value.get("signatures")
    plugin = value.get("plugin") or ""
    if tokens is not None and not (
        isinstance(tokens, list) and all(isinstance(t, str) for t in tokens)
    ):
        raise SignatureFormatError(
            "bundle load failed on signatures decode: 'signatures' must be a list of strings"
        )
    if not isinstance(plugin, str):
        raise SignatureFormatError(
            "bundle load failed on signatures decode: 'plugin' must be a string"
        )
    return SignaturesConfig(None if tokens is None else tuple(tokens), plugin)


_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def _b64url(segment: str, what: str) -> bytes:
    # Go's RawURLEncoding: URL alphabet, no padding; Python's decoder alone would skip junk.
    if not _B64URL.fullmatch(segment) or len(segment) % 4 == 1:
        raise SignatureFormatError(f"failed to base64 decode JWT {what}: illegal base64 data")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _json(data: bytes, what: str) -> Any:
    try:
        return canonical_json.loads(data)
    except Exception as exc:  # noqa: BLE001
        raise SignatureFormatError(f"failed to parse JWT {what}: {exc}") from exc


def _json_type(value: Any) -> str:
    """The JSON type name Go's decoder uses in its errors."""
    if isinstance(value, bool):
        return "bool"
    return {dict: "object", list: "array", str: "string"}.get(type(value), "number")


def _str_field(obj: dict[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise SignatureFormatError(
            f"json: cannot unmarshal {_json_type(value)} into Go struct field {where}.{key} "
            "of type string"
        )
    return value


def decode_payload(data: bytes) -> SignaturePayload:
    """The JWT payload, with the type rules of OPA's `DecodedSignature`."""
    value = _json(data, "payload")
    if value is None:
        return SignaturePayload(())
    if not isinstance(value, dict):
        raise SignatureFormatError("json: cannot unmarshal JWT payload: not a JSON object")
    raw_files = value.get("files")
    if raw_files is not None and not isinstance(raw_files, list):
        raise SignatureFormatError(
            f"json: cannot unmarshal {_json_type(raw_files)} into Go struct field "
            "DecodedSignature.files of type []bundle.FileInfo"
        )
    files = []
    for item in raw_files or ():
        if item is None:
            item = {}
        if not isinstance(item, dict):
            raise SignatureFormatError("json: JWT payload file entry is not an object")
        files.append(
            FileEntry(
                _str_field(item, "name", "FileInfo"),
                _str_field(item, "hash", "FileInfo"),
                _str_field(item, "algorithm", "FileInfo"),
            )
        )
    iat = value.get("iat")
    if iat is not None and (type(iat) is not int or not -(2**63) <= iat < 2**63):
        raise SignatureFormatError("json: JWT payload iat is not a 64-bit integer")
    return SignaturePayload(
        files=tuple(files),
        keyid=_str_field(value, "keyid", "DecodedSignature"),
        scope=_str_field(value, "scope", "DecodedSignature"),
        iss=_str_field(value, "iss", "DecodedSignature"),
        iat=iat or 0,
    )


# --- verification --------------------------------------------------------------------------


def verify_bundle_signature(
    config: SignaturesConfig,
    verification: VerificationConfig,
    default_verifier_aliases: Collection[str] = (),
) -> dict[str, FileEntry]:
    """OPA's `VerifyBundleSignature`: the signed file list, by name.

    A `plugin` names a custom verifier; only the names in `default_verifier_aliases` (plugins
    registered with OPA's default implementation) are known here. Accord's strict mode passes
    none, so any plugin is refused."""
    if config.plugin and config.plugin not in default_verifier_aliases:
        raise SignatureFormatError(f"no verifier exists under id {config.plugin}")
    tokens = config.signatures or ()
    if not tokens:
        raise SignatureFormatError(".signatures.json: missing JWT (expected exactly one)")
    if len(tokens) > 1:
        raise SignatureFormatError(
            ".signatures.json: multiple JWTs not supported (expected exactly one)"
        )
    payload = verify_jwt_signature(tokens[0], verification)
    return {entry.name: entry for entry in payload.files}


def verify_jwt_signature(token: str, verification: VerificationConfig) -> SignaturePayload:
    """OPA's `verifyJWTSignature`: check one token and return its payload."""
    if len(token) > MAX_TOKEN_BYTES:
        raise SignatureFormatError(f"JWT is longer than {MAX_TOKEN_BYTES} bytes")
    parts = token.split(".")
    if len(parts) != 3:
        raise SignatureFormatError("failed to split compact JWT: invalid number of segments")
    header = _json(_b64url(parts[0], "headers"), "headers")
    if header is None:
        header = {}
    if not isinstance(header, dict):
        raise SignatureFormatError("failed to parse JWT headers: not a JSON object")
    payload = decode_payload(_b64url(parts[1], "payload"))

    key_id = verification.keyid
    if not key_id and isinstance(header.get("kid"), str):
        key_id = header["kid"]
    if not key_id:
        key_id = payload.keyid  # deprecated claim, still honoured by OPA
    if not key_id:
        raise KeyConfigError("verification key ID is empty")
    key_config = (verification.keys or {}).get(key_id)
    if key_config is None:
        raise KeyConfigError(f"verification key corresponding to ID {key_id} not found")

    alg = key_config.algorithm
    if alg == "none":
        raise KeyConfigError("signature algorithm none cannot verify anything")
    if alg not in _KEY_TYPE_FOR_ALG:
        raise KeyConfigError(f"unknown signature algorithm: {alg}")
    key = _verification_key(key_config, key_id)

    token_alg = header.get("alg")
    if token_alg != alg:
        raise AlgorithmMismatchError(f"alg mismatch: token {token_alg} vs key config {alg}")

    try:
        jws.deserialize_compact(
            token, key, registry=_Registry(algorithms=[alg], strict_check_header=False)
        )
    except JoseBadSignature:
        raise BadSignatureError(
            f"failed to verify JWT signature: signature does not verify under key {key_id} ({alg})"
        ) from None
    except (JoseError, ValueError) as exc:
        raise BadSignatureError(f"failed to verify JWT signature: {exc}") from None

    scope = verification.scope or key_config.scope
    if payload.scope != scope:
        raise ScopeMismatchError("scope mismatch")
    return payload


_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\r?\n.*?-----END \1-----", re.S)


def _verification_key(config: KeyConfig, key_id: str) -> Any:
    """OPA's `parseVerificationKey`, producing a joserfc key of the algorithm's type."""
    kty = _KEY_TYPE_FOR_ALG[config.algorithm]
    try:
        if kty == "oct":
            return import_key(config.key.encode(), "oct")
        spki = _pem_public_key(config.key, key_id)
        return import_key(spki, kty)
    except (JoseError, ValueError) as exc:
        raise KeyConfigError(
            f"verification key {key_id} cannot be used with {config.algorithm}: {exc}"
        ) from None


def _pem_public_key(text: str, key_id: str) -> bytes:
    match = _PEM_BLOCK.search(text)
    if match is None:
        if "-----BEGIN" in text:
            raise KeyConfigError("failed to parse PEM block containing the key")
        raise KeyConfigError(f"verification key {key_id} is not PEM-encoded")
    kind, pem = match.group(1), match.group(0).encode()
    try:
        if kind in ("PUBLIC KEY", "RSA PUBLIC KEY"):
            public = serialization.load_pem_public_key(pem)
        elif kind in ("PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"):
            public = serialization.load_pem_private_key(pem, password=None).public_key()
        elif kind == "CERTIFICATE":
            public = x509.load_pem_x509_certificate(pem).public_key()
        else:
            raise KeyConfigError(f"unsupported PEM block type: {kind}")
    except (ValueError, TypeError, UnsupportedAlgorithm, x509.InvalidVersion):
        raise KeyConfigError("failed to parse PEM block containing the key") from None
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def check_hex(entry: FileEntry) -> bytes:
    """The signed digest of a file entry as bytes (Go's hex.DecodeString)."""
    try:
        return binascii.a2b_hex(entry.hash)
    except (binascii.Error, ValueError) as exc:
        raise SignatureFormatError(f"{entry.name}: signed hash is not hex: {exc}") from None


# --- signing -------------------------------------------------------------------------------


def sign_files(
    files: list[FileEntry],
    key: SigningKey,
    *,
    scope: str = DEFAULT_SCOPE,
    iat: int,
    iss: str = "accord",
) -> str:
    """A bundle signature token over `files`, in OPA's format. `kid` and the (deprecated)
    `keyid` claim carry the key's fingerprint."""
    payload = {
        "files": [f.to_json() for f in sorted(files, key=lambda f: f.name)],
        "iat": iat,
        "iss": iss,
        "keyid": fingerprint(key),
        "scope": scope,
    }
    header = {"kid": fingerprint(key), "typ": "JWT"}
    return sign_compact(key, header, canonical_json.dumps(payload))


# --- Go's filepath.Match, for OPA's exclude_files ------------------------------------------


def go_path_match(pattern: str, name: str) -> bool:
    """Go's `filepath.Match` on '/' paths: `*` and `?` never match '/', `[...]` classes with
    `^` negation, `\\` escapes. A malformed pattern matches nothing (OPA ignores the error)."""
    regex = _go_glob_regex(pattern)
    return regex is not None and regex.fullmatch(name) is not None


def _go_glob_regex(pattern: str) -> re.Pattern[str] | None:
    out, i, n = [], 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\":
            i += 1
            if i == n:
                return None
            out.append(re.escape(pattern[i]))
        elif c == "[":
            end, cls = _go_class(pattern, i + 1)
            if end is None:
                return None
            out.append(cls)
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out), re.S)


def _go_class(pattern: str, i: int) -> tuple[int | None, str]:
    n = len(pattern)
    negate = i < n and pattern[i] == "^"
    if negate:
        i += 1
    items: list[str] = []
    while True:
        if i >= n:
            return None, ""
        if pattern[i] == "]" and items:
            return i, "[" + ("^" if negate else "") + "".join(items) + "]"
        lo, i = _go_class_char(pattern, i)
        if lo is None:
            return None, ""
        if i < n and pattern[i] == "-":
            hi, i = _go_class_char(pattern, i + 1)
            if hi is None or hi < lo:
                return None, ""
            items.append(f"{re.escape(lo)}-{re.escape(hi)}")
        else:
            items.append(re.escape(lo))


def _go_class_char(pattern: str, i: int) -> tuple[str | None, int]:
    if i >= len(pattern) or pattern[i] in "-]":
        return None, i
    if pattern[i] == "\\":
        i += 1
        if i >= len(pattern):
            return None, i
    return pattern[i], i + 1

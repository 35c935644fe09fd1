"""Bundle verification: OPA's rules, then Accord's stricter ones.

`load_opa_bundle` reads a bundle exactly as OPA's `bundle.Reader.Read` does, check for check
and in the same order (so the first error reported is OPA's): decode `.signatures.json`;
refuse a missing signature only if a key id is configured; verify the one JWT; then, file by
file in container order, require each file to be listed, to name a hash algorithm and to
match its digest (unless excluded), loading data, modules and the manifest as it goes; then
refuse listed files that were not found; then check the manifest roots.

`verify_bundle` is what Accord activates. On top of OPA it requires: a signature (never
unsigned), from the pinned key only (SHA-256 fingerprint in the trust policy, checked before
the signature is), no verifier plugin, no exclusions (every file present is listed and every
listed file present), strong file hashes, a plain layout (no hidden directories, no second
manifest or signature file, no wasm, plan, delta or YAML files), a manifest revision whose
version is at least `min_version` and whose expiry is in the future.

Bundle digest (what three enclaves compare): lowercase hex SHA-256 of the RFC 8785 JSON

    {"files": [{"name": <bundle path>, "sha256": <hex SHA-256 of the file's OPA-hashed bytes>},
               ...sorted by name]}

over every file except `.signatures.json`, where "OPA-hashed bytes" are the canonical form for
structured files and the raw bytes otherwise (see hashing). It depends on content only: not
on the archive's order, compression, JSON whitespace, or which key signed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import posixpath
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

from accord.bundles.errors import (
    BundleLayoutError,
    DataConflictError,
    DigestMismatchError,
    DocumentError,
    ExpiredBundleError,
    FileNotSignedError,
    HashAlgorithmError,
    InsufficientSignaturesError,
    KeyConfigError,
    ManifestError,
    RollbackError,
    SignatureError,
    SignatureFormatError,
    SignedFileMissingError,
    UnpinnedKeyError,
    UnsignedBundleError,
)
from accord.bundles.hashing import Document, HashAlgorithm, is_structured, parse_document
from accord.bundles.keys import fingerprint, normalize_fingerprint, verification_pem
from accord.bundles.layout import BundleFile, RawBundle
from accord.bundles.manifest import (
    MANIFEST_PATH,
    Manifest,
    Revision,
    accord_revision,
    parse_manifest,
    validate_roots,
)
from accord.bundles.signatures import (
    DEFAULT_SCOPE,
    SIGNATURES_PATH,
    FileEntry,
    KeyConfig,
    SignaturesConfig,
    VerificationConfig,
    check_hex,
    parse_signatures_config,
    verify_bundle_signature,
    verify_jwt_signature,
)
from accord.protocols import canonical_json
from accord.protocols.jwk import PublicJwk

DATA_FILES = frozenset({"data.json", "data.yaml", "data.yml"})
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*")
_UNSUPPORTED_FILES = frozenset({"patch.json", "policy.wasm", "plan.json"})


@dataclass(frozen=True)
class OpaBundle:
    """A bundle as OPA would load it. `hashed` maps each verified file to the bytes OPA
    hashed for it (canonical form for structured files); empty when unsigned."""

    manifest: Manifest
    modules: Mapping[str, str]
    data: dict[str, Any]
    files: Mapping[str, bytes]
    signed: bool
    hashed: Mapping[str, bytes]


@dataclass(frozen=True)
class VerifiedBundle:
    """A bundle that passed every check. Do not mutate `data`: it is shared, not copied.

    - `modules`: bundle path (e.g. "authz/policy.rego") -> Rego source
    - `data`: the merged data document, each data file placed at its directory's path
    - `files`: every file except `.signatures.json`, bundle path -> bytes
    - `digest`: see the module docstring; equal on every enclave that loaded these files
    """

    manifest: Manifest
    revision: Revision
    digest: str
    modules: Mapping[str, str]
    data: dict[str, Any]
    files: Mapping[str, bytes]
    signer_fingerprint: str  # the first of `signers`
    signers: tuple[str, ...] = ()  # fingerprints of every pinned administrator who signed validly

    @property
    def version(self) -> int:
        return self.revision.version


@dataclass(frozen=True)
class TrustPolicy:
    """What an enclave accepts: the pinned signing-key fingerprints and the token scope."""

    pinned_fingerprints: frozenset[str]
    scope: str = DEFAULT_SCOPE
    threshold: int = 1  # distinct pinned administrators whose valid signatures a bundle needs

    def __post_init__(self) -> None:
        pins = frozenset(normalize_fingerprint(fp) for fp in self.pinned_fingerprints)
        if not pins:
            raise KeyConfigError("the trust policy pins no signing key")
        if type(self.threshold) is not int or not 1 <= self.threshold <= len(pins):
            raise KeyConfigError(f"a threshold of {self.threshold!r} signatures cannot be met by {len(pins)} pinned "
                                 "key(s)")  # fmt: skip
        object.__setattr__(self, "pinned_fingerprints", pins)


# --- OPA semantics -------------------------------------------------------------------------


def load_opa_bundle(
    raw: RawBundle,
    verification: VerificationConfig | None,
    *,
    skip_verify: bool = False,
    base_dir: str = "",
    detached: SignaturesConfig | None = None,
    verifier_aliases: Collection[str] = (),
    strong_hashes_only: bool = False,
) -> OpaBundle:
    """Read and verify a bundle with OPA's semantics (see the module docstring).

    `detached` replaces the embedded `.signatures.json`. `base_dir` is OPA's reader base
    directory: it prefixes the signed file names. `verifier_aliases` are plugin names served
    by the default verifier. `strong_hashes_only` refuses MD5/SHA-1/SHA-224 file hashes."""
    embedded, files = _split_signatures(raw, skip_verify)
    signatures = detached if detached is not None else embedded
    pending: dict[str, FileEntry] | None = None
    if not skip_verify:
        if signatures is None or signatures.is_empty:
            if verification is not None and verification.keyid:
                raise UnsignedBundleError("bundle missing .signatures.json file")
        elif verification is None:
            raise KeyConfigError("verification key not provided")
        else:
            pending = verify_bundle_signature(signatures, verification, verifier_aliases)

    reader = _Reader()
    prefix = base_dir.strip("/")
    for f in files:
        if pending is not None:
            assert verification is not None
            name = f"{prefix}/{f.path}" if prefix else f.path
            if verification.is_excluded(name):
                pending.pop(name, None)
            else:
                reader.verify_file(name, f, pending, strong_hashes_only)
        reader.load(f)

    if pending:
        missing = " ".join(sorted(pending))
        raise SignedFileMissingError(
            f"file(s) [{missing}] specified in bundle signatures but not found in the target bundle"
        )
    modules = MappingProxyType(reader.modules)
    validate_roots(reader.manifest, modules, reader.data)
    return OpaBundle(
        manifest=reader.manifest,
        modules=modules,
        data=reader.data,
        files=MappingProxyType({f.path: f.content for f in files}),
        signed=pending is not None,
        hashed=MappingProxyType(reader.hashed),
    )


def _split_signatures(
    raw: RawBundle, skip_verify: bool
) -> tuple[SignaturesConfig | None, list[BundleFile]]:
    # OPA treats every path ending in "signatures.json" as the signature file (last wins),
    # and ignores them all when verification is skipped.
    signatures = None
    files = []
    for f in raw.files:
        if f.path.endswith("signatures.json"):
            if not skip_verify:
                signatures = parse_signatures_config(f.content)
            continue
        if posixpath.basename(f.path) == "patch.json":
            raise BundleLayoutError("delta bundles (patch.json) are not supported")
        files.append(f)
    return signatures, files


class _Reader:
    """Per-file state of one `load_opa_bundle` call."""

    def __init__(self) -> None:
        self.manifest = Manifest()
        self.modules: dict[str, str] = {}
        self.data: dict[str, Any] = {}
        self.hashed: dict[str, bytes] = {}
        self._documents: dict[str, Document] = {}

    def document(self, f: BundleFile) -> Document:
        doc = self._documents.get(f.path)
        if doc is None:
            try:
                doc = self._documents[f.path] = parse_document(f.path, f.content)
            except DocumentError as exc:
                if f.path.endswith(".manifest"):
                    raise ManifestError(f"bundle load failed on manifest decode: {exc}") from exc
                raise
        return doc

    def hashed_bytes(self, f: BundleFile) -> bytes:
        if f.path not in self.hashed:
            self.hashed[f.path] = (
                self.document(f).canonical() if is_structured(f.path) else f.content
            )
        return self.hashed[f.path]

    def verify_file(
        self, name: str, f: BundleFile, pending: dict[str, FileEntry], strong_only: bool
    ) -> None:
        """OPA's `VerifyBundleFile`; removes the file from `pending` once verified."""
        entry = pending.get(name)
        if entry is None:
            raise FileNotSignedError(f"file {name} not included in bundle signature")
        if not entry.algorithm:
            raise HashAlgorithmError(f"no hashing algorithm provided for file {name}")
        algorithm = HashAlgorithm.parse(entry.algorithm)
        if strong_only and not algorithm.strong:
            raise HashAlgorithmError(
                f"file {name} is signed with {algorithm.value}; "
                "Accord requires SHA-256 or stronger"
            )
        if not self._raw_is_canonical(f, entry, algorithm):
            got = algorithm.digest(self.hashed_bytes(f))
            want = check_hex(entry)
            if want != got:
                raise DigestMismatchError(
                    f"{name}: digest mismatch (want: {want.hex()}, got: {got.hex()})"
                )
        del pending[name]

    def _raw_is_canonical(
        self, f: BundleFile, entry: FileEntry, algorithm: HashAlgorithm
    ) -> bool:
        """Shortcut for structured files stored in canonical form (as `accord bundle build`
        writes them): if the raw bytes hash to the signed value under a collision-resistant
        hash, they *are* the canonical bytes that were signed, and re-encoding is skipped."""
        if not (is_structured(f.path) and algorithm.strong and _HEX.fullmatch(entry.hash)):
            return False
        if algorithm.digest(f.content) != bytes.fromhex(entry.hash):
            return False
        self.hashed[f.path] = f.content
        return True

    def load(self, f: BundleFile) -> None:
        base = posixpath.basename(f.path)
        if f.path.endswith(".rego"):
            try:
                self.modules[f.path] = f.content.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DocumentError(f"{f.path}: Rego module is not valid UTF-8: {exc}") from exc
        elif base in DATA_FILES:
            # Merging shares the document's objects; verify_file has already hashed them.
            self._insert(f.path, self.document(f).value)
        elif f.path.endswith(".manifest"):
            self.manifest = parse_manifest(self.document(f).value)

    def _insert(self, path: str, value: Any) -> None:
        # OPA's getNormalizedPath: the directory, leading '/' and '.' characters trimmed.
        directory = posixpath.dirname(path).lstrip("/.")
        key = directory.split("/") if directory else []
        if not key and not isinstance(value, dict):
            raise DataConflictError(f"bundle load failed on {path}: root value must be object")
        tree = value
        for part in reversed(key):
            tree = {part: tree}
        _merge(self.data, tree, path, key)


def _merge(dst: dict[str, Any], src: dict[str, Any], path: str, key: list[str]) -> None:
    """OPA's merge.InterfaceMaps, in place: objects merge, anything else may not collide."""
    for k, v in src.items():
        if k not in dst:
            dst[k] = v
        elif isinstance(dst[k], dict) and isinstance(v, dict):
            _merge(dst[k], v, path, key)
        else:
            raise DataConflictError(
                f"bundle load failed on {path}: failed to insert data file from path "
                f"{'/'.join(key)}"
            )


# --- Accord's strict verification ----------------------------------------------------------


def verify_bundle(
    raw: RawBundle,
    *,
    public_key: PublicJwk | Sequence[PublicJwk],
    trust: TrustPolicy,
    signature: bytes | None = None,
    min_version: int = 1,
    now: datetime | None = None,
) -> VerifiedBundle:
    """Verify a bundle for activation (see the module docstring); raise the specific
    `BundleError` subclass on the first failure.

    `public_key` is the verifying key, or the administrators' keys when the trust policy
    needs `threshold` of them (k of n): each token of `.signatures.json` is verified under
    the pinned key its `kid` names, and at least `threshold` distinct pinned keys must have
    signed the same file list. `signature` is a detached `.signatures.json` (as `accord
    bundle sign` writes); without it the bundle's embedded one is used. `now` defaults to
    the current UTC time."""
    keys = [public_key] if isinstance(public_key, PublicJwk) else list(public_key)
    offered = {fingerprint(k): k for k in keys}
    pinned = {fp: k for fp, k in offered.items() if fp in trust.pinned_fingerprints}
    if not pinned:
        raise UnpinnedKeyError(f"signing key(s) {', '.join(sorted(offered))} not pinned in the trust policy")
    check_strict_layout(raw)
    detached = _resolve_signature(raw, signature)
    if detached.plugin:
        raise SignatureFormatError(
            f"verifier plugin {detached.plugin!r} refused: Accord verifies with the pinned key only"
        )
    verification = VerificationConfig(
        keys={fp: KeyConfig(verification_pem(k), k.jws_alg) for fp, k in pinned.items()}, scope=trust.scope
    )
    token, signers = _enough_signers(detached, verification, trust.threshold)
    bundle = load_opa_bundle(raw, verification, detached=SignaturesConfig((token,)), strong_hashes_only=True)
    assert set(bundle.hashed) == set(bundle.files)  # no exclusions: every file was verified
    if MANIFEST_PATH not in bundle.files:
        raise ManifestError("bundle has no .manifest (Accord needs its signed revision)")
    revision = accord_revision(bundle.manifest)
    if revision.version < min_version:
        raise RollbackError(
            f"bundle version {revision.version} is below the minimum accepted version "
            f"{min_version}: rollback refused"
        )
    moment = now or datetime.now(timezone.utc)
    if revision.expires <= moment:
        raise ExpiredBundleError(
            f"bundle version {revision.version} expired at {revision.expires.isoformat()}"
        )
    return VerifiedBundle(
        manifest=bundle.manifest,
        revision=revision,
        digest=bundle_digest(bundle.hashed),
        modules=bundle.modules,
        data=bundle.data,
        files=bundle.files,
        signer_fingerprint=signers[0],
        signers=signers,
    )


def _enough_signers(config: SignaturesConfig, verification: VerificationConfig,
                    threshold: int) -> tuple[str, tuple[str, ...]]:  # fmt: skip
    """A valid token and the distinct pinned signers of `config`'s tokens, all over one
    file list; at least `threshold` of them. With one token and a threshold of 1 this is
    OPA's rule (its error, unchanged); otherwise each token's fate is named."""
    tokens = config.signatures or ()
    if threshold == 1 and len(tokens) <= 1:
        verify_bundle_signature(config, verification)
        return tokens[0], (_kid(tokens[0]),)
    valid: dict[str, tuple[str, frozenset[FileEntry]]] = {}
    refused: list[str] = []
    for index, token in enumerate(tokens, 1):
        try:
            payload = verify_jwt_signature(token, verification)
        except SignatureError as exc:
            refused.append(f"signature {index}: {exc}")
            continue
        valid.setdefault(_kid(token), (token, frozenset(payload.files)))
    listings = {files for _, files in valid.values()}
    if len(listings) > 1:
        raise SignatureFormatError("the signatures sign different file lists: they are not of one bundle")
    if len(valid) < threshold:
        signed = ", ".join(sorted(valid)) or "nobody"
        raise InsufficientSignaturesError(
            f"the bundle needs valid signatures by {threshold} distinct pinned administrators; signed by "
            f"{len(valid)}: {signed}" + (f" ({'; '.join(refused)})" if refused else "")
        )
    signers = tuple(sorted(valid))
    return valid[signers[0]][0], signers


def _kid(token: str) -> str:
    """The key id a verified token was checked under (Accord's signer: its fingerprint)."""
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    return str(header.get("kid") or json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "==")).get("keyid"))


def check_strict_layout(raw: RawBundle) -> None:
    """Refuse files OPA would read differently from what their path suggests, and files
    Accord does not evaluate."""
    for path in raw.paths():
        base = posixpath.basename(path)
        if path in (MANIFEST_PATH, SIGNATURES_PATH):
            continue
        if path.endswith("signatures.json") or path.endswith(".manifest"):
            raise BundleLayoutError(
                f"{path}: only the root .manifest and .signatures.json are allowed "
                "(OPA would read this file as one of them)"
            )
        if any(part.startswith(".") for part in path.split("/")):
            raise BundleLayoutError(
                f"{path}: hidden files and directories are not allowed "
                "(OPA strips leading dots from data paths)"
            )
        if base in _UNSUPPORTED_FILES:
            raise BundleLayoutError(f"{path}: wasm, plan and delta bundles are not supported")
        if base in ("data.yaml", "data.yml"):
            raise BundleLayoutError(
                f"{path}: YAML data is not accepted (YAML 1.1 typing differs between parsers, "
                "so OPA and Accord could read different values); use data.json"
            )


def _resolve_signature(raw: RawBundle, detached: bytes | None) -> SignaturesConfig:
    embedded_bytes = raw.get(SIGNATURES_PATH)
    embedded = None if embedded_bytes is None else parse_signatures_config(embedded_bytes)
    given = None if detached is None else parse_signatures_config(detached)
    if given is not None and embedded is not None and given != embedded:
        raise SignatureFormatError(
            "the bundle's embedded .signatures.json differs from the detached signature"
        )
    chosen = given if given is not None else embedded
    if chosen is None or chosen.is_empty:
        raise UnsignedBundleError(
            "bundle is unsigned: no detached signature and no embedded .signatures.json"
        )
    return chosen


def bundle_digest(hashed: Mapping[str, bytes]) -> str:
    """The bundle digest (module docstring) from each file's OPA-hashed bytes."""
    listing = [
        {"name": name, "sha256": hashlib.sha256(hashed[name]).hexdigest()}
        for name in sorted(hashed)
    ]
    return hashlib.sha256(canonical_json.dumps({"files": listing})).hexdigest()

"""The administrator's side: build a bundle with its revision, sign it (detached).

`build_bundle` writes Accord's revision into the manifest (keeping any roots and metadata the
source directory's `.manifest` has), rewrites data files and manifest in OPA's canonical JSON
form (the form that is hashed, so verification need not re-encode them) and packs a
deterministic .tar.gz. `sign_bundle` lists
every file with its SHA-256 under OPA's hashing rules and signs the list, producing the
content of a `.signatures.json`, kept as a separate file so that bundle, signature and key
can be hosted apart.
"""

from __future__ import annotations

import base64
import binascii
import json

from accord.bundles.contract import load_decision_policy
from accord.bundles.errors import BundleLayoutError, SignatureFormatError
from accord.bundles.keys import fingerprint
from accord.bundles.hashing import HashAlgorithm, file_hash, is_structured, parse_document
from accord.bundles.layout import RawBundle, read_tarball, write_tarball
from accord.bundles.manifest import (
    MANIFEST_PATH,
    Manifest,
    Revision,
    manifest_with_revision,
    parse_manifest,
)
from accord.bundles.signatures import (
    DEFAULT_SCOPE,
    SIGNATURES_PATH,
    FileEntry,
    SignaturesConfig,
    decode_payload,
    parse_signatures_config,
    sign_files,
)
from accord.bundles.verify import check_strict_layout, load_opa_bundle
from accord.protocols.jwk import SigningKey


def build_bundle(source: RawBundle, revision: Revision, *, contract: bool = True) -> bytes:
    """A .tar.gz of `source` with `revision` in its manifest. The source is checked as a
    verifier will check it (layout, data files, roots) and, unless `contract` is False (tests
    that need a bad bundle), as an enclave will load it (`contract.load_decision_policy`:
    ContractError listing every problem), so a bad bundle fails here."""
    if source.get(SIGNATURES_PATH) is not None:
        raise BundleLayoutError(
            "the source already has a .signatures.json: remove it, then sign the built bundle"
        )
    check_strict_layout(source)
    existing = source.get(MANIFEST_PATH)
    base = Manifest() if existing is None else parse_manifest(
        parse_document(MANIFEST_PATH, existing).value
    )
    files = {f.path: f.content for f in source.files}
    files[MANIFEST_PATH] = json.dumps(manifest_with_revision(base, revision).to_json()).encode()
    for path, content in files.items():
        if is_structured(path):
            # OPA's canonical form: verifiers then hash the raw bytes and skip re-encoding.
            files[path] = parse_document(path, content).canonical()
    archive = write_tarball(files)
    bundle = load_opa_bundle(read_tarball(archive), None)  # parses data and checks roots
    if contract:
        load_decision_policy(bundle.modules, bundle.data)
    return archive


def sign_bundle(raw: RawBundle, key: SigningKey, *, iat: int, scope: str = DEFAULT_SCOPE,
                add_to: bytes | None = None) -> bytes:  # fmt: skip
    """A detached `.signatures.json` for every file of `raw` except an embedded one. With
    `add_to` (an existing signatures file of the same bundle), this key's signature is
    added to the others: a quorum of administrators (`TrustPolicy.threshold`) each adds
    theirs. A key that signed already is replaced, not counted twice."""
    entries = [
        FileEntry(f.path, file_hash(f.path, f.content, HashAlgorithm.SHA256).hex(), "SHA-256")
        for f in raw.files
        if f.path != SIGNATURES_PATH
    ]
    token = sign_files(entries, key, scope=scope, iat=iat)
    if add_to is None:
        return SignaturesConfig((token,)).to_bytes()
    existing = parse_signatures_config(add_to)
    if existing.plugin:
        raise SignatureFormatError(f"the signatures file names a verifier plugin ({existing.plugin!r})")
    others = []
    for other in existing.signatures or ():
        payload = decode_payload(_segment(other, 1))
        if sorted(payload.files, key=lambda f: f.name) != sorted(entries, key=lambda f: f.name):
            raise SignatureFormatError("the existing signatures sign other files: they are not of this bundle")
        if payload.keyid != fingerprint(key):
            others.append(other)
    return SignaturesConfig((*others, token)).to_bytes()


def _segment(token: str, index: int) -> bytes:
    parts = token.split(".")
    if len(parts) != 3:
        raise SignatureFormatError("an existing signature is not a compact JWS")
    try:
        return base64.urlsafe_b64decode(parts[index] + "=" * (-len(parts[index]) % 4))
    except (binascii.Error, ValueError) as exc:
        raise SignatureFormatError(f"an existing signature does not decode: {exc}") from None

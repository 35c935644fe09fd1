"""Accord's strict verification: one negative test per rule, and the verified bundle."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import time
from datetime import timedelta

import pytest
from bundle_fixtures import (
    DATA,
    NOW,
    POLICY,
    SOURCE_FILES,
    forge_hmac,
    forge_unsigned,
    signatures_json,
    token_parts,
)

from accord.bundles import errors
from accord.bundles.hashing import Document, HashAlgorithm, file_hash, hashed_bytes, is_structured
from accord.bundles.keys import (
    fingerprint,
    generate_signing_key,
    public_key_bytes,
    sign_compact,
    verification_pem,
)
from accord.bundles.layout import read_tarball, write_tarball
from accord.bundles.signatures import (
    FileEntry,
    KeyConfig,
    SignaturesConfig,
    VerificationConfig,
    sign_files,
)
from accord.bundles.verify import TrustPolicy, load_opa_bundle, verify_bundle
from accord.protocols import canonical_json

MANIFEST_V1 = json.dumps(
    {"revision": "1", "metadata": {"accord": {"version": 1, "expires": "2026-02-01T00:00:00Z"}}}
).encode()


def files_of(archive: bytes) -> dict[str, bytes]:
    return {f.path: f.content for f in read_tarball(archive).files}


def retar(archive: bytes, changes: dict[str, bytes | None]) -> bytes:
    """The archive with files replaced or added (bytes) or removed (None)."""
    files = files_of(archive)
    for path, content in changes.items():
        if content is None:
            files.pop(path)
        else:
            files[path] = content
    return write_tarball(files)


def verify(archive, signature, key, trust, **kw):
    kw.setdefault("now", NOW)
    return verify_bundle(read_tarball(archive), public_key=key.public, trust=trust, signature=signature, **kw)


def sign_raw(files: dict[str, bytes], key) -> tuple[bytes, bytes]:
    """Tar and sign `files` as given (no manifest rewriting). A file that cannot be hashed
    the OPA way (malformed JSON) is listed with the SHA-256 of its bytes."""
    archive = write_tarball(files)
    entries = []
    for path, content in files.items():
        try:
            digest = file_hash(path, content, HashAlgorithm.SHA256)
        except errors.DocumentError:
            digest = hashlib.sha256(content).digest()
        entries.append(FileEntry(path, digest.hex(), "SHA-256"))
    return archive, signatures_json(sign_files(entries, key, iat=int(time.time())))


# --- the good path -------------------------------------------------------------------------


def test_verified_bundle_shape(make_bundle, admin_key, trust):
    b = make_bundle(version=7)
    v = verify(b.archive, b.signature, admin_key, trust)
    assert v.version == 7 and v.revision.expires == NOW + timedelta(days=30)
    assert dict(v.modules) == {"accord/policy.rego": POLICY.decode()}
    assert v.data == {"accord": {"roles": json.loads(DATA)}}
    assert set(v.files) == {".manifest", "accord/policy.rego", "accord/roles/data.json"}
    assert v.signer_fingerprint == fingerprint(admin_key)
    assert v.manifest.revision == "7" and v.manifest.roots == ("accord",)


def test_digest_follows_its_definition(make_bundle, admin_key, trust):
    b = make_bundle()
    v = verify(b.archive, b.signature, admin_key, trust)
    listing = [
        {"name": p, "sha256": file_hash(p, c, HashAlgorithm.SHA256).hex()}
        for p, c in sorted(files_of(b.archive).items())
    ]
    expected = hashlib.sha256(canonical_json.dumps({"files": listing})).hexdigest()
    assert v.digest == expected


def test_digest_ignores_formatting_signer_and_embedding(make_bundle, admin_key, trust):
    b = make_bundle()
    reference = verify(b.archive, b.signature, admin_key, trust).digest
    # Same content, data.json reformatted, signed by another pinned ES256 key, embedded.
    es_key = generate_signing_key("ES256")
    files = files_of(b.archive)
    files["accord/roles/data.json"] = json.dumps(json.loads(DATA), indent=4, sort_keys=True).encode()
    archive, sig = sign_raw(files, es_key)
    embedded = retar(archive, {".signatures.json": sig})
    both = TrustPolicy(frozenset({fingerprint(admin_key), fingerprint(es_key)}))
    assert verify(embedded, None, es_key, both).digest == reference
    # Any content change changes it.
    changed = make_bundle({**SOURCE_FILES, "accord/policy.rego": POLICY + b"\n"})
    assert verify(changed.archive, changed.signature, admin_key, trust).digest != reference


def test_embedded_and_identical_detached_signature(make_bundle, admin_key, trust):
    b = make_bundle()
    embedded = retar(b.archive, {".signatures.json": b.signature})
    assert verify(embedded, None, admin_key, trust).version == 1
    assert verify(embedded, b.signature, admin_key, trust).version == 1


# --- signatures ----------------------------------------------------------------------------


def test_unsigned_bundle_is_refused(make_bundle, admin_key, trust):
    b = make_bundle()
    with pytest.raises(errors.UnsignedBundleError, match="unsigned"):
        verify(b.archive, None, admin_key, trust)


def test_unpinned_key_is_refused_even_though_it_verifies(make_bundle, other_key, trust):
    b = make_bundle(key=other_key)
    open_trust = TrustPolicy(frozenset({fingerprint(other_key)}))
    assert verify(b.archive, b.signature, other_key, open_trust)  # it does verify
    with pytest.raises(errors.UnpinnedKeyError, match=fingerprint(other_key)):
        verify(b.archive, b.signature, other_key, trust)


def test_other_key_under_the_pinned_key(make_bundle, admin_key, other_key, trust):
    b = make_bundle(key=other_key)
    with pytest.raises(errors.KeyConfigError, match=f"ID {fingerprint(other_key)} not found"):
        verify(b.archive, b.signature, admin_key, trust)
    # Claiming the pinned key's id does not help: the signature is the other key's.
    _, payload = token_parts(b.signature)
    forged = sign_compact(other_key, {"kid": fingerprint(admin_key)}, canonical_json.dumps(payload))
    with pytest.raises(errors.BadSignatureError, match="does not verify"):
        verify(b.archive, signatures_json(forged), admin_key, trust)


def test_wrong_kid(make_bundle, admin_key, trust):
    b = make_bundle()
    _, payload = token_parts(b.signature)
    token = sign_compact(admin_key, {"kid": "bar"}, canonical_json.dumps(payload))
    with pytest.raises(errors.KeyConfigError, match="corresponding to ID bar not found"):
        verify(b.archive, signatures_json(token), admin_key, trust)


def test_scope_mismatch(make_bundle, admin_key, trust):
    b = make_bundle(scope="read")
    with pytest.raises(errors.ScopeMismatchError):
        verify(b.archive, b.signature, admin_key, trust)


def test_alg_none_is_refused(make_bundle, admin_key, trust):
    b = make_bundle()
    _, payload = token_parts(b.signature)
    token = forge_unsigned({"alg": "none", "kid": fingerprint(admin_key)}, payload)
    with pytest.raises(errors.AlgorithmMismatchError, match="token none vs key config EdDSA"):
        verify(b.archive, signatures_json(token), admin_key, trust)


@pytest.mark.parametrize("secret_form", ["pem", "jwk"])
def test_alg_confusion_hmac_with_the_public_key(make_bundle, admin_key, trust, secret_form):
    b = make_bundle()
    _, payload = token_parts(b.signature)
    secret = verification_pem(admin_key.public).encode() if secret_form == "pem" else public_key_bytes(admin_key.public)
    token = forge_hmac({"alg": "HS256", "kid": fingerprint(admin_key)}, payload, secret)
    with pytest.raises(errors.AlgorithmMismatchError, match="token HS256 vs key config EdDSA"):
        verify(b.archive, signatures_json(token), admin_key, trust)


def test_bad_signature_bytes(make_bundle, admin_key, trust):
    b = make_bundle()
    token = json.loads(b.signature)["signatures"][0]
    head, body, sig = token.split(".")
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    with pytest.raises(errors.BadSignatureError):
        verify(b.archive, signatures_json(f"{head}.{body}.{flipped}"), admin_key, trust)


def test_verifier_plugin_is_refused(make_bundle, admin_key, trust):
    b = make_bundle()
    config = SignaturesConfig(tuple(json.loads(b.signature)["signatures"]), plugin="_bar")
    with pytest.raises(errors.SignatureFormatError, match="plugin '_bar' refused"):
        verify(b.archive, config.to_bytes(), admin_key, trust)


def test_one_key_signing_twice_counts_once(make_bundle, admin_key, other_key):
    # Several tokens are Accord's quorum extension (tests/bundles/test_quorum.py); one
    # administrator's token twice is still one signer.
    b = make_bundle()
    token = json.loads(b.signature)["signatures"][0]
    two = TrustPolicy(frozenset({fingerprint(admin_key), fingerprint(other_key)}), threshold=2)
    with pytest.raises(errors.InsufficientSignaturesError, match="signed by 1"):
        verify_bundle(read_tarball(b.archive), public_key=[admin_key.public, other_key.public], trust=two,
                      signature=SignaturesConfig((token, token)).to_bytes(), now=NOW)  # fmt: skip


def test_embedded_signature_differing_from_detached(make_bundle, admin_key, trust):
    b, other = make_bundle(), make_bundle(version=2)
    embedded = retar(b.archive, {".signatures.json": other.signature})
    with pytest.raises(errors.SignatureFormatError, match="differs from the detached"):
        verify(embedded, b.signature, admin_key, trust)


def test_weak_file_hash_is_refused(make_bundle, admin_key, trust):
    b = make_bundle()
    entries = [
        FileEntry(p, file_hash(p, c, HashAlgorithm.MD5).hex(), "MD5")
        for p, c in files_of(b.archive).items()
    ]
    token = sign_files(entries, admin_key, iat=0)
    with pytest.raises(errors.HashAlgorithmError, match="signed with MD5"):
        verify(b.archive, signatures_json(token), admin_key, trust)


# --- the file list -------------------------------------------------------------------------


def test_extra_unlisted_file(make_bundle, admin_key, trust):
    b = make_bundle()
    archive = retar(b.archive, {"accord/backdoor.rego": b"package accord\nallow := true"})
    with pytest.raises(errors.FileNotSignedError, match="accord/backdoor.rego not included"):
        verify(archive, b.signature, admin_key, trust)


def test_missing_listed_file(make_bundle, admin_key, trust):
    b = make_bundle()
    archive = retar(b.archive, {"accord/roles/data.json": None})
    with pytest.raises(errors.SignedFileMissingError, match=r"\[accord/roles/data.json\]"):
        verify(archive, b.signature, admin_key, trust)


@pytest.mark.parametrize(
    "path, content",
    [
        ("accord/roles/data.json", b'{"admins": ["alice", "mallory"], "limits": {"daily": 1000, "ratio": 0.5}}'),
        ("accord/roles/data.json", b'{"admins": ["alice", "bob"], "limits": {"daily": 1000.0, "ratio": 0.5}}'),
        ("accord/policy.rego", POLICY.replace(b"default allow := false", b"default allow := true")),
        (".manifest", MANIFEST_V1),
    ],
    ids=["tampered-data", "number-literal-1000.0", "tampered-rego", "tampered-manifest"],
)
def test_tampered_file(make_bundle, admin_key, trust, path, content):
    b = make_bundle()
    archive = retar(b.archive, {path: content})
    with pytest.raises(errors.DigestMismatchError, match=f"{path}: digest mismatch"):
        verify(archive, b.signature, admin_key, trust)


def test_reformatted_json_still_verifies(make_bundle, admin_key, trust):
    b = make_bundle()
    pretty = json.dumps(json.loads(DATA), indent=2, sort_keys=True).encode()
    archive = retar(b.archive, {"accord/roles/data.json": pretty})
    assert verify(archive, b.signature, admin_key, trust).data["accord"]["roles"] == json.loads(DATA)


def test_signature_of_another_bundle(make_bundle, admin_key, trust):
    b = make_bundle()
    other = make_bundle({**SOURCE_FILES, "accord/roles/data.json": b'{"admins": []}'})
    with pytest.raises(errors.DigestMismatchError):
        verify(b.archive, other.signature, admin_key, trust)


# --- layout --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [".hidden/data.json", "accord/.x.rego", "accord/.manifest", "accord/signatures.json",
     "policy.wasm", "accord/plan.json", "accord/data.yaml"],
)
def test_strict_layout(make_bundle, admin_key, trust, path):
    b = make_bundle()
    files = files_of(b.archive)
    files[path] = b"{}"
    archive, sig = sign_raw(files, admin_key)
    with pytest.raises(errors.BundleLayoutError, match=path):
        verify(archive, sig, admin_key, trust)


def test_data_conflict(admin_key, trust):
    files = {".manifest": MANIFEST_V1, "data.json": b'{"a": {"b": 1}}', "a/b/data.json": b"2"}
    archive, sig = sign_raw(files, admin_key)
    with pytest.raises(errors.DataConflictError, match="failed to insert data file"):
        verify(archive, sig, admin_key, trust)


def test_path_traversal_in_tar():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("../../etc/cron.d/evil")
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(errors.BundleLayoutError, match="escapes the bundle"):
        read_tarball(buf.getvalue())


# --- manifest and freshness ----------------------------------------------------------------


def _manifest(**accord) -> bytes:
    meta = {"version": 1, "expires": "2026-02-01T00:00:00Z", **accord}
    return json.dumps({"revision": str(meta["version"]), "metadata": {"accord": meta}}).encode()


@pytest.mark.parametrize(
    "manifest, message",
    [
        (None, "no .manifest"),
        (b'{"revision": "1"}', "no metadata.accord"),
        (_manifest(version="1"), "version must be an integer"),
        (_manifest(version=0), "positive integer"),
        (_manifest(expires="2026-02-01"), "not an RFC 3339 timestamp"),
        (_manifest(expires="2026-02-01T00:00:00"), "not an RFC 3339 timestamp"),
        (json.dumps({"revision": "2", "metadata": {"accord": {"version": 1, "expires": "2026-02-01T00:00:00Z"}}}).encode(), "does not match version"),
        (b'{"revision": 1}', "must be str"),
        (b'{"revision": "1", "roots": ["other"], "metadata": {"accord": {"version": 1, "expires": "2026-02-01T00:00:00Z"}}}', "do not permit"),
        (b'["not", "an", "object"]', "must be a JSON object"),
        (b"{not json", "manifest decode"),
    ],
)
def test_malformed_manifest(admin_key, trust, manifest, message):
    files = {"accord/policy.rego": POLICY, "accord/roles/data.json": DATA}
    if manifest is not None:
        files[".manifest"] = manifest
    archive, sig = sign_raw(files, admin_key)
    with pytest.raises(errors.ManifestError, match=message):
        verify(archive, sig, admin_key, trust)


def test_older_version_is_refused(make_bundle, admin_key, trust):
    b = make_bundle(version=4)
    with pytest.raises(errors.RollbackError, match="version 4 is below the minimum accepted version 5"):
        verify(b.archive, b.signature, admin_key, trust, min_version=5)
    assert verify(b.archive, b.signature, admin_key, trust, min_version=4).version == 4


def test_expired_bundle_is_refused(make_bundle, admin_key, trust):
    b = make_bundle(expires=NOW)
    with pytest.raises(errors.ExpiredBundleError, match="expired at 2026-01-01"):
        verify(b.archive, b.signature, admin_key, trust, now=NOW)
    assert verify(b.archive, b.signature, admin_key, trust, now=NOW - timedelta(seconds=1))


def test_trust_policy_needs_a_pin():
    with pytest.raises(errors.KeyConfigError, match="pins no signing key"):
        TrustPolicy(frozenset())


# --- canonical storage and OPA compatibility -----------------------------------------------


def test_built_bundles_store_structured_files_in_canonical_form(make_bundle):
    for f in read_tarball(make_bundle().archive).files:
        if is_structured(f.path):
            assert hashed_bytes(f.path, f.content) == f.content


def test_canonical_shortcut_is_used_only_when_sound(monkeypatch, make_bundle, admin_key, trust):
    calls = []
    real = Document.canonical
    monkeypatch.setattr(Document, "canonical", lambda self: calls.append(1) or real(self))
    b = make_bundle()
    calls.clear()
    verify(b.archive, b.signature, admin_key, trust)
    assert calls == []  # canonical raw bytes: hashed as they are
    pretty = json.dumps(json.loads(DATA), indent=2).encode()
    verify(retar(b.archive, {"accord/roles/data.json": pretty}), b.signature, admin_key, trust)
    assert calls == [1]  # reformatted: re-encoded
    files = files_of(b.archive)
    md5 = [FileEntry(p, file_hash(p, c, HashAlgorithm.MD5).hex(), "MD5") for p, c in files.items()]
    config = VerificationConfig({"k": KeyConfig(verification_pem(admin_key.public), "EdDSA")})
    token = sign_compact(admin_key, {"kid": "k"}, canonical_json.dumps({"files": [e.to_json() for e in md5]}))
    calls.clear()
    load_opa_bundle(read_tarball(b.archive), config, detached=SignaturesConfig((token,)))
    assert len(calls) == 2  # MD5 is not collision resistant: never trust raw bytes under it


def test_accord_bundles_verify_under_opa_rules(make_bundle, admin_key):
    """What OPA would do with an Accord bundle and the key in OPA's configuration form."""
    b = make_bundle()
    config = VerificationConfig(
        {fingerprint(admin_key): KeyConfig(verification_pem(admin_key.public), "EdDSA")},
        scope="write",
    )
    embedded = retar(b.archive, {".signatures.json": b.signature})
    bundle = load_opa_bundle(read_tarball(embedded), config)
    assert bundle.signed and bundle.manifest.revision == "1"

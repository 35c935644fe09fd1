"""OPA's own bundle signature cases (tests/vectors/opa-bundles), run exhaustively.

Each bundle case must give OPA's result; on error, the same error class and, where OPA's
message does not depend on its JWT library, the same message. Every hash vector and every JWT
vector is reproduced.
"""

from __future__ import annotations

import json

import pytest
from bundle_fixtures import OPA_VECTORS

from accord.bundles import errors
from accord.bundles.hashing import HashAlgorithm, file_hash, hashed_bytes
from accord.bundles.layout import bundle_from_files, read_tarball
from accord.bundles.signatures import (
    KeyConfig,
    SignaturesConfig,
    VerificationConfig,
    verify_bundle_signature,
)
from accord.bundles.verify import load_opa_bundle

# OPA's tests use the 6-byte HMAC secret "secret"; joserfc rightly warns that it is short.
pytestmark = pytest.mark.filterwarnings("ignore:Key size should be")

# OPA message prefix -> the class that must carry it.
ERROR_CLASSES = [
    ("digest mismatch", errors.DigestMismatchError),
    ("specified in bundle signatures but not found", errors.SignedFileMissingError),
    ("not included in bundle signature", errors.FileNotSignedError),
    ("no hashing algorithm provided", errors.HashAlgorithmError),
    ("bundle missing .signatures.json file", errors.UnsignedBundleError),
    ("verification key", errors.KeyConfigError),
    ("unknown signature algorithm", errors.KeyConfigError),
    ("failed to parse PEM block", errors.KeyConfigError),
    (".signatures.json: ", errors.SignatureFormatError),
    ("failed to split compact JWT", errors.SignatureFormatError),
    ("json: cannot unmarshal", errors.SignatureFormatError),
    ("failed to verify JWT signature", errors.BadSignatureError),
    ("alg mismatch", errors.AlgorithmMismatchError),
    ("scope mismatch", errors.ScopeMismatchError),
]
# Messages whose tail is text from OPA's JWT library (jwx, crypto/rsa): compare the prefix.
LIBRARY_SPECIFIC = ("failed to verify JWT signature", "failed to split compact JWT")

BUNDLE_CASES = sorted(OPA_VECTORS.glob("bundles/*/*/case.json"))
JWT_CASES = json.loads((OPA_VECTORS / "jwt-vectors.json").read_text())["cases"]
HASH_VECTORS = json.loads((OPA_VECTORS / "hash-vectors.json").read_text())


def _config(keys, keyid="", scope="", exclude=()) -> VerificationConfig:
    key_configs = None if keys is None else {
        kid: KeyConfig(k["key"], k["algorithm"]) for kid, k in keys.items()
    }
    return VerificationConfig(key_configs, keyid, scope, tuple(exclude or ()))


def _check_error(exc: Exception, expected: str) -> None:
    classes = [cls for prefix, cls in ERROR_CLASSES if prefix in expected]
    assert classes, f"no class mapped for OPA error {expected!r}"
    assert isinstance(exc, classes[0]), f"{type(exc).__name__}: {exc} (OPA: {expected})"
    if expected.startswith(LIBRARY_SPECIFIC):
        assert str(exc).split(":")[0] == expected.split(":")[0]
    else:
        assert expected in str(exc)


def _case_bundle(case_dir):
    case = json.loads((case_dir / "case.json").read_text())
    files = case_dir / "files"
    raw = bundle_from_files((p, (files / p.lstrip("/")).read_bytes()) for p in case["file_order"])
    return case, raw


def _load(case, raw):
    vc = case["verification_config"]
    config = None if vc is None else _config(
        vc["keys"], vc["keyid"], vc["scope"], vc.get("exclude_files")
    )
    # TestReadWithSignatures registers plugin "_bar" with OPA's default verifier.
    return load_opa_bundle(
        raw,
        config,
        skip_verify=case["skip_verify"],
        base_dir=case.get("base_dir", ""),
        verifier_aliases=("_bar",),
    )


@pytest.mark.parametrize(
    "case_dir", BUNDLE_CASES, ids=[f"{p.parent.parent.name}/{p.parent.name}" for p in BUNDLE_CASES]
)
def test_bundle_case_matches_opa(case_dir):
    case, raw = _case_bundle(case_dir.parent)
    if case["expect"] == "ok":
        bundle = _load(case, raw)
        assert bundle.signed == (not case["skip_verify"] and raw.get(".signatures.json") is not None)
    else:
        with pytest.raises(errors.BundleError) as info:
            _load(case, raw)
        _check_error(info.value, case["expected_error"])


def test_every_case_is_covered():
    assert len(BUNDLE_CASES) == 24


def test_valid_bundle_content_is_loaded():
    case, raw = _case_bundle(OPA_VECTORS / "bundles/derived/valid_hs256")
    bundle = _load(case, raw)
    assert bundle.data == {"roles": {"admins": ["alice", "bob"], "limits": {"daily": 1000, "ratio": 0.5}}}
    assert list(bundle.modules) == ["authz/policy.rego"]
    assert bundle.manifest.roots == ("authz", "roles")
    assert bundle.manifest.revision == "r-2024-01"


def test_gzipped_tarball_with_slash_prefixed_members():
    case_dir = OPA_VECTORS / "bundles/derived/valid_hs256"
    case, from_dir = _case_bundle(case_dir)
    raw = read_tarball((case_dir / "bundle.tar.gz").read_bytes())
    assert raw.paths() == [p.lstrip("/") for p in case["file_order"]]
    assert raw == from_dir
    assert _load(case, raw).signed


@pytest.mark.parametrize("vector", HASH_VECTORS["from_opa_tests"], ids=lambda v: f"{v['path']}-{v['algorithm']}")
def test_opa_hash_vectors(vector):
    path = vector["path"].lstrip("/")
    digest = file_hash(path, vector["content"].encode(), HashAlgorithm(vector["algorithm"]))
    assert digest.hex() == vector["hash"]


@pytest.mark.parametrize("vector", HASH_VECTORS["derived_illustrations_unconfirmed_by_go"])
def test_canonical_form_illustrations(vector):
    path = vector["path"].lstrip("/")
    content = vector["content"].encode()
    assert hashed_bytes(path, content).decode() == vector["canonical_bytes_hashed"]
    assert file_hash(path, content, HashAlgorithm(vector["algorithm"])).hex() == vector["hash"]


@pytest.mark.parametrize("case", JWT_CASES, ids=[c["case"] for c in JWT_CASES])
def test_jwt_vectors(case):
    config = _config(case["keys"], case["keyid"], case["scope"])
    signatures = SignaturesConfig(tuple(case["signatures"]))
    if case["expect"] == "ok":
        files = verify_bundle_signature(signatures, config)
        assert len(files) == case.get("files_count", 2)
        assert all(name == entry.name and entry.hash for name, entry in files.items())
    else:
        with pytest.raises(errors.BundleError) as info:
            verify_bundle_signature(signatures, config)
        _check_error(info.value, case["error"])


def test_all_jwt_vectors_present():
    assert len(JWT_CASES) == 15

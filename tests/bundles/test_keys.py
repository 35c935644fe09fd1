"""Administrator keys: fingerprints (RFC 7638, hex), loading, signing, no leaks.

The JWK profile itself (member checks, point validation) is tested with accord.protocols.jwk;
here: what the bundle layer adds on top.
"""

from __future__ import annotations

import base64
import hashlib
import json
import pickle

import pytest
from cryptography.hazmat.primitives import serialization

from accord.bundles.errors import KeyFileError
from accord.bundles.keys import (
    fingerprint,
    generate_signing_key,
    load_public_key,
    load_signing_key,
    normalize_fingerprint,
    public_key_bytes,
    public_key_of,
    sign_compact,
    verification_pem,
)
from accord.protocols import jws_profile
from accord.protocols.jwk import save_signing_key
from accord.protocols.secret import SecretLeakError

# RFC 8037 appendix A.1/A.3: the Ed25519 example key and its RFC 7638 thumbprint.
RFC8037_JWK = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
RFC8037_THUMBPRINT_B64 = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_fingerprint_is_rfc7638_sha256_hex():
    key = load_public_key(json.dumps(RFC8037_JWK))
    assert fingerprint(key) == base64.urlsafe_b64decode(RFC8037_THUMBPRINT_B64 + "=").hex()


def test_ec_fingerprint_matches_the_definition():
    key = generate_signing_key("ES256")
    members = {k: key.public.to_dict()[k] for k in ("crv", "kty", "x", "y")}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    assert fingerprint(key) == fingerprint(key.public) == hashlib.sha256(canonical).hexdigest()


@pytest.mark.parametrize("kind, alg", [("Ed25519", "EdDSA"), ("ES256", "ES256")])
def test_key_kinds_sign_with_their_own_algorithm(kind, alg):
    key = generate_signing_key(kind)
    token = sign_compact(key, {"alg": "HS256", "kid": "x"}, b"{}")  # header alg is overridden
    parts = jws_profile.verify_compact(token, key.public)
    assert parts.header["alg"] == alg and parts.header["kid"] == "x"


def test_public_key_bytes_round_trip_and_pem():
    key = generate_signing_key("Ed25519")
    assert load_public_key(public_key_bytes(key.public)) == key.public
    pem = verification_pem(key.public).encode()
    assert serialization.load_pem_public_key(pem) is not None


def test_private_key_file_round_trip(tmp_path):
    key = generate_signing_key("ES256")
    save_signing_key(key, tmp_path / "admin.jwk")
    data = (tmp_path / "admin.jwk").read_bytes()
    assert fingerprint(load_signing_key(data)) == fingerprint(key)
    assert public_key_of(data) == key.public
    assert public_key_of(public_key_bytes(key.public)) == key.public


def test_signing_key_does_not_leak():
    key = generate_signing_key("Ed25519")
    d = key.to_private_dict()["d"]
    assert d not in repr(key)
    with pytest.raises(SecretLeakError):
        pickle.dumps(key)


def test_public_loader_refuses_a_private_key(tmp_path):
    key = generate_signing_key("Ed25519")
    save_signing_key(key, tmp_path / "admin.jwk")
    with pytest.raises(KeyFileError, match="private JWK"):
        load_public_key((tmp_path / "admin.jwk").read_bytes())


def test_private_loader_refuses_a_public_key():
    with pytest.raises(KeyFileError, match="'d'"):
        load_signing_key(public_key_bytes(generate_signing_key("ES256").public))


@pytest.mark.parametrize(
    "jwk",
    [
        {"kty": "EC", "crv": "P-384", "x": "a", "y": "b"},
        {"kty": "RSA", "n": "a", "e": "AQAB"},
        {"kty": "OKP", "crv": "Ed448", "x": "a"},
        {**RFC8037_JWK, "alg": "ES256"},
        {"kty": "OKP", "crv": "Ed25519", "x": "short"},
    ],
)
def test_bad_public_keys_raise_bundle_errors(jwk):
    with pytest.raises(KeyFileError, match="public key: "):
        load_public_key(json.dumps(jwk))


@pytest.mark.parametrize("data", [b"not json", b"[1]", b""])
def test_not_a_jwk(data):
    with pytest.raises(KeyFileError, match="not a JSON Web Key"):
        load_public_key(data)


def test_fingerprint_normalization():
    fp = "AB" * 32
    assert normalize_fingerprint(f" {fp} ") == fp.lower()
    for bad in ("ab" * 31, "zz" * 32, ""):
        with pytest.raises(KeyFileError):
            normalize_fingerprint(bad)

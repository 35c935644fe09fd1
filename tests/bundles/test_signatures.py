"""OPA's signature format details beyond the vectors: decoding rules, key forms, globs."""

from __future__ import annotations

import datetime
import json

import pytest
from bundle_fixtures import OPA_VECTORS, forge_hmac
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from accord.bundles import errors
from accord.bundles.keys import fingerprint, generate_signing_key, verification_pem
from accord.bundles.signatures import (
    KeyConfig,
    VerificationConfig,
    decode_payload,
    go_path_match,
    parse_signatures_config,
    sign_files,
    verify_jwt_signature,
)

KEYS = json.loads((OPA_VECTORS / "keys.json").read_text())


@pytest.mark.parametrize(
    "pattern, name, expected",
    [
        (".*", ".manifest", True),
        ("*", "a/b", False),  # '*' never crosses '/'
        ("a/*/c.rego", "a/b/c.rego", True),
        ("a/?/c", "a/b/c", True),
        ("a?b", "a/b", False),
        ("[abc].rego", "b.rego", True),
        ("[^abc].rego", "b.rego", False),
        ("[a-c]x", "bx", True),
        ("\\*", "*", True),
        ("\\*", "a", False),
        ("[", "[", False),  # malformed: matches nothing
        ("[]a]", "]", False),
        ("a\\", "a", False),
    ],
)
def test_go_path_match(pattern, name, expected):
    assert go_path_match(pattern, name) is expected


@pytest.mark.parametrize(
    "content, signatures, plugin",
    [
        (b'{"signatures": ["t"]}', ("t",), ""),
        (b'{"signatures": []}', (), ""),
        (b'{"signatures": null}', None, ""),
        (b"null", None, ""),
        (b'{"plugin": "p"}', None, "p"),
    ],
)
def test_signatures_config_decoding(content, signatures, plugin):
    config = parse_signatures_config(content)
    assert (config.signatures, config.plugin) == (signatures, plugin)


@pytest.mark.parametrize(
    "content",
    [b'{"signatures": "t"}', b'{"signatures": [1]}', b'{"plugin": 1}', b"[]", b"{", b'{"a":1,"a":2}'],
)
def test_signatures_config_type_errors(content):
    with pytest.raises(errors.SignatureFormatError, match="signatures decode"):
        parse_signatures_config(content)


@pytest.mark.parametrize(
    "payload, message",
    [
        ({"files": [{"name": 1}]}, "cannot unmarshal number into Go struct field FileInfo.name"),
        ({"files": [1]}, "not an object"),
        ({"scope": ["w"]}, "cannot unmarshal array into Go struct field DecodedSignature.scope"),
        ({"iat": 1.5}, "iat is not a 64-bit integer"),
        ({"iat": 2**63}, "iat is not a 64-bit integer"),
        ([], "not a JSON object"),
    ],
)
def test_payload_type_errors(payload, message):
    with pytest.raises(errors.SignatureFormatError, match=message):
        decode_payload(json.dumps(payload).encode())


def test_payload_defaults():
    decoded = decode_payload(b'{"files": [null, {"name": "a"}], "iat": null}')
    assert [f.name for f in decoded.files] == ["", "a"] and decoded.iat == 0


def test_key_config_repr_hides_the_secret():
    assert "hunter2" not in repr(KeyConfig("hunter2", "HS256"))


# --- key forms (OPA's parseVerificationKey) -------------------------------------------------


@pytest.fixture(scope="module")
def es_key():
    return generate_signing_key("ES256")


def _token(key):
    return sign_files([], key, iat=0, scope="write")


def _config(key_text, alg="ES256", kid=None):
    return VerificationConfig({kid or "k": KeyConfig(key_text, alg)}, keyid=kid or "k", scope="write")


def _certificate_pem(key) -> str:
    private = key.crypto_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "admin")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(private.public_key()).serial_number(1)
        .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .sign(private, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_public_private_and_certificate_pem_forms(es_key):
    private_pem = es_key.crypto_key().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    for text in (verification_pem(es_key.public), private_pem, _certificate_pem(es_key)):
        assert verify_jwt_signature(_token(es_key), _config(text)).scope == "write"


@pytest.mark.parametrize(
    "key_text, message",
    [
        ("-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n", "unsupported PEM block type: FOO"),
        ("-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n", "failed to parse PEM"),
        ("just a string", "not PEM-encoded"),
    ],
)
def test_unusable_key_texts(es_key, key_text, message):
    with pytest.raises(errors.KeyConfigError, match=message):
        verify_jwt_signature(_token(es_key), _config(key_text))


def test_key_of_the_wrong_type_for_the_algorithm(es_key):
    with pytest.raises(errors.KeyConfigError, match="cannot be used with RS256"):
        verify_jwt_signature(_token(es_key), _config(verification_pem(es_key.public), "RS256"))


def test_configured_alg_none_is_refused(es_key):
    with pytest.raises(errors.KeyConfigError, match="none cannot verify"):
        verify_jwt_signature(_token(es_key), _config(verification_pem(es_key.public), "none"))


def test_hmac_config_holding_a_public_key_is_refused(es_key):
    """OPA's own configuration can hold alg confusion (HS256 + a PEM public key): refused."""
    pem = verification_pem(es_key.public)
    token = forge_hmac({"alg": "HS256", "kid": "k"}, {"files": [], "scope": "write"}, pem.encode())
    with pytest.raises(errors.KeyConfigError, match="cannot be used with HS256"):
        verify_jwt_signature(token, _config(pem, "HS256"))


def test_rsa_private_key_from_opa_vectors_verifies_its_tokens():
    """keys.json's RSA private key (OPA's, for regenerating test tokens) works as a key config:
    the derived RS256 bundle's token verifies with it as with the public key."""
    case = json.loads((OPA_VECTORS / "bundles/derived/valid_rs256_opa_test_key/case.json").read_text())
    sig = json.loads(
        (OPA_VECTORS / "bundles/derived/valid_rs256_opa_test_key/files/.signatures.json").read_text()
    )
    for key in (KEYS["rsa_private_for_valid"]["key"], case["verification_config"]["keys"]["foo"]["key"]):
        config = VerificationConfig({"foo": KeyConfig(key, "RS256")}, scope="write")
        assert verify_jwt_signature(sig["signatures"][0], config).files


def test_kid_choice_order(es_key):
    """Configured keyid, else header kid, else the deprecated payload keyid."""
    token = _token(es_key)  # kid = keyid claim = fingerprint
    pem = verification_pem(es_key.public)
    fp = fingerprint(es_key)
    assert verify_jwt_signature(token, VerificationConfig({fp: KeyConfig(pem, "ES256")}, scope="write"))
    with pytest.raises(errors.KeyConfigError, match="ID other not found"):
        verify_jwt_signature(token, VerificationConfig({fp: KeyConfig(pem, "ES256")}, keyid="other"))

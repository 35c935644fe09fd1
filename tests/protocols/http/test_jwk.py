"""JWK handling: RFC 7638 thumbprints, RFC 8037 keys, strict parsing, no private-key leaks."""

from __future__ import annotations

import copy
import hashlib
import json
import pickle
import stat

import pytest
from joserfc import jwk as jose_jwk

from accord.protocols.auth_errors import (
    InvalidJwk,
    KeyFileError,
    PrivateKeyMaterial,
    UnsupportedKeyType,
)
from accord.protocols.jwk import (
    KeyKind,
    PublicJwk,
    SigningKey,
    b64url_encode,
    build_jwks,
    load_public_key,
    load_signing_key,
    parse_jwks,
    save_public_key,
    save_signing_key,
)
from accord.protocols.secret import SecretLeakError

# RFC 7638 section 3.1 (RSA, so checked against joserfc's function Accord calls).
RFC7638_KEY = {
    "kty": "RSA",
    "e": "AQAB",
    "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPe"
    "bWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMi"
    "cAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3X"
    "PksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
}
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
# RFC 8037 A.1 (private key), A.2 (public key), A.3 (thumbprint).
RFC8037_PRIVATE = {
    "kty": "OKP",
    "crv": "Ed25519",
    "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
    "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
}
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


# --- negative ------------------------------------------------------------------------------


def test_private_jwk_refused_where_public_expected():
    with pytest.raises(PrivateKeyMaterial):
        PublicJwk.from_dict(RFC8037_PRIVATE)


@pytest.mark.parametrize(
    "jwk",
    [
        RFC7638_KEY,
        {"kty": "OKP", "crv": "Ed448", "x": "A" * 76},
        {"kty": "EC", "crv": "P-384", "x": "A" * 64, "y": "A" * 64},
        {"kty": "oct", "k": "c2VjcmV0"},
        {"kty": "EC", "crv": "Ed25519", "x": RFC8037_PRIVATE["x"]},
    ],
)
def test_unsupported_key_types(jwk):
    with pytest.raises(UnsupportedKeyType):
        PublicJwk.from_dict(jwk)


def _public(kind: KeyKind) -> dict:
    return SigningKey.generate(kind).public.to_dict()


@pytest.mark.parametrize(
    "mutate, why",
    [
        (lambda j: j.update(x=j["x"] + "="), "padded base64url"),
        (lambda j: j.update(x=j["x"][:-2]), "short coordinate"),
        (lambda j: j.update(x=j["x"].replace(j["x"][0], "+")), "non-url alphabet"),
        (lambda j: j.update(x=42), "x not a string"),
        (lambda j: j.update(extra="1"), "unknown member"),
        (lambda j: j.update(alg="ES256"), "alg of another key kind"),
        (lambda j: j.update(use="enc"), "encryption use"),
        (lambda j: j.update(key_ops=["encrypt"]), "encryption key_ops"),
        (lambda j: j.pop("x"), "missing x"),
    ],
)
def test_malformed_ed25519_jwk(mutate, why):
    jwk = _public(KeyKind.ED25519)
    mutate(jwk)
    with pytest.raises(InvalidJwk):
        PublicJwk.from_dict(jwk)


def test_p256_point_not_on_curve():
    jwk = _public(KeyKind.P256)
    jwk["y"] = b64url_encode(bytes(31) + b"\x01")
    with pytest.raises(InvalidJwk, match="valid P-256"):
        PublicJwk.from_dict(jwk)


def test_p256_missing_y_and_ed25519_with_y():
    jwk = _public(KeyKind.P256)
    del jwk["y"]
    with pytest.raises(InvalidJwk):
        PublicJwk.from_dict(jwk)
    with pytest.raises(InvalidJwk):
        PublicJwk("OKP", "Ed25519", RFC8037_PRIVATE["x"], RFC8037_PRIVATE["x"])


def test_private_jwk_whose_public_part_belongs_to_another_key():
    jwk = dict(RFC8037_PRIVATE, x=_public(KeyKind.ED25519)["x"])
    with pytest.raises(InvalidJwk, match="do not belong"):
        SigningKey.from_dict(jwk)


def test_p256_private_scalar_out_of_range():
    jwk = SigningKey.generate(KeyKind.P256).to_private_dict()
    jwk["d"] = b64url_encode(b"\xff" * 32)  # >= group order
    with pytest.raises(InvalidJwk):
        SigningKey.from_dict(jwk)


def test_signing_key_never_leaks(key):
    secret = key.to_private_dict()["d"]
    assert secret not in repr(key) and secret not in str(key)
    for leak in (pickle.dumps, copy.copy, copy.deepcopy):
        with pytest.raises(SecretLeakError):
            leak(key)


def test_key_files(tmp_path, key):
    path = tmp_path / "client.jwk"
    save_signing_key(key, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(KeyFileError, match="exists"):
        save_signing_key(key, path)
    assert load_signing_key(path).public == key.public
    replacement = SigningKey.generate(key.public.kind)
    save_signing_key(replacement, path, overwrite=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_signing_key(path).public == replacement.public
    with pytest.raises(PrivateKeyMaterial):
        load_public_key(path)
    with pytest.raises(KeyFileError):
        load_signing_key(tmp_path / "missing.jwk")
    (tmp_path / "bad.jwk").write_text('{"kty": "OKP", "kty": "EC"}')
    with pytest.raises(InvalidJwk, match="strict JSON"):
        load_signing_key(tmp_path / "bad.jwk")


def test_jwks_refusals(key):
    with pytest.raises(InvalidJwk, match="twice"):
        build_jwks([key.public, key.public])
    entry = key.public.to_jwks_entry()
    with pytest.raises(InvalidJwk, match="kid"):
        parse_jwks({"keys": [entry, entry]})
    with pytest.raises(InvalidJwk, match="no string kid"):
        parse_jwks({"keys": [key.public.to_dict()]})
    with pytest.raises(PrivateKeyMaterial):
        parse_jwks({"keys": [{**key.to_private_dict(), "kid": "k"}]})
    with pytest.raises(InvalidJwk):
        parse_jwks({"keys": {}})
    with pytest.raises(InvalidJwk):
        parse_jwks({"keys": [], "extra": 1})


# --- known answers and round trips -------------------------------------------------------------


def test_joserfc_thumbprint_matches_rfc7638_example():
    assert jose_jwk.thumbprint(RFC7638_KEY) == RFC7638_THUMBPRINT


def test_rfc8037_key_and_thumbprint():
    key = SigningKey.from_dict(RFC8037_PRIVATE)
    assert key.public == PublicJwk.from_dict({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_PRIVATE["x"]})
    assert key.thumbprint == RFC8037_THUMBPRINT
    assert key.to_private_dict() == RFC8037_PRIVATE


def test_p256_thumbprint_independently(key):
    # RFC 7638 section 3.2: required members, lexicographic order, no whitespace.
    members = {k: v for k, v in key.public.to_dict().items()}
    text = json.dumps(dict(sorted(members.items())), separators=(",", ":"))
    expected = b64url_encode(hashlib.sha256(text.encode()).digest())
    assert key.thumbprint == expected == key.public.jose_key().thumbprint()


def test_round_trips(tmp_path, key):
    assert SigningKey.from_dict(key.to_private_dict()).public == key.public
    assert PublicJwk.from_dict(key.public.to_jwks_entry()) == key.public
    assert pickle.loads(pickle.dumps(key.public)) == key.public
    save_public_key(key.public, tmp_path / "pub.jwk")
    assert load_public_key(tmp_path / "pub.jwk") == key.public
    kind = key.public.kind
    assert (key.public.jws_alg, key.public.http_signature_alg) == (kind.jws_alg, kind.http_alg)


def test_jwks_is_usable_by_joserfc(key, other_key):
    jwks = build_jwks([key.public, other_key.public])
    assert [e["kid"] for e in jwks["keys"]] == [key.thumbprint, other_key.thumbprint]
    assert parse_jwks(jwks) == {key.thumbprint: key.public, other_key.thumbprint: other_key.public}
    key_set = jose_jwk.KeySet.import_key_set(jwks)
    assert key_set.get_by_kid(key.thumbprint).thumbprint() == key.thumbprint

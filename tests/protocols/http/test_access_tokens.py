"""Access tokens. Signed here with a plain Ed25519 key: a FROST aggregate signature is a
standard Ed25519 signature over the same signing input, so this is the same token."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json

import pytest
from auth_helpers import NOW
from cryptography.exceptions import InvalidSignature
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.util import urlsafe_b64decode

from accord.protocols import canonical_json
from accord.protocols.auth_errors import (
    BadJwsSignature,
    JwsAlgorithmMismatch,
    JwsAlgorithmRefused,
    MalformedJws,
    MalformedTokenClaims,
    TokenExpired,
    TokenNotYetValid,
    UnknownJwsKey,
    WrongAudience,
    WrongIssuer,
    WrongTokenType,
)
from accord.protocols.jwk import KeyKind, SigningKey, b64url_encode, build_jwks
from accord.protocols.jws_profile import sign_compact
from accord.protocols.tokens import TokenClaims, assemble, signing_input, token_header, verify_token

ISS, AUD = "https://accord.example", "vault"
CLAIMS = TokenClaims(
    iss=ISS,
    sub="alice",
    aud=AUD,
    iat=NOW,
    exp=NOW + 300,
    jti="req-0001",
    cnf_jkt="kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k",
    request_hash="kGqRWNI7N_p5U-epLZdkGwhtLKjHsEdOYT7frSrva6o",
    bundle="sha256:" + "ab" * 32,
    action="transfer",
    resource="account:1",
)


@pytest.fixture(scope="module")
def group_key() -> SigningKey:
    return SigningKey.generate(KeyKind.ED25519)


@pytest.fixture(scope="module")
def jwks(group_key):
    return build_jwks([group_key.public])


def mint(key: SigningKey, claims: TokenClaims = CLAIMS, kid: str | None = None) -> str:
    message = signing_input(token_header(kid or key.thumbprint), claims)
    return assemble(message, key.crypto_key().sign(message))


def _verify(token, jwks, now=NOW + 10, audience=AUD, issuer=ISS, leeway=0):
    return verify_token(token, jwks, audience=audience, issuer=issuer, now=now, leeway=leeway)


def _raw(header: dict, claims: dict, key: SigningKey) -> str:
    """A token with arbitrary header/claims, properly Ed25519-signed."""
    message = ".".join(b64url_encode(canonical_json.dumps(p)) for p in (header, claims)).encode()
    return assemble(message, key.crypto_key().sign(message))


def _header(key, **override):
    return {"alg": "EdDSA", "kid": key.thumbprint, "typ": "at+jwt", **override}


# --- negative ------------------------------------------------------------------------------


def test_unknown_kid(group_key, jwks):
    with pytest.raises(UnknownJwsKey):
        _verify(mint(group_key, kid="some-other-kid"), jwks)
    with pytest.raises(UnknownJwsKey):
        _verify(_raw({"alg": "EdDSA", "typ": "at+jwt"}, CLAIMS.to_dict(), group_key), jwks)


def test_signed_by_another_group_key(group_key, jwks):
    rogue = SigningKey.generate(KeyKind.ED25519)
    with pytest.raises(BadJwsSignature):
        _verify(mint(rogue, kid=group_key.thumbprint), jwks)


def test_tampered_claims(group_key, jwks):
    header, _, signature = mint(group_key).split(".")
    richer = b64url_encode(dataclasses.replace(CLAIMS, resource="account:2").to_json())
    with pytest.raises(BadJwsSignature):
        _verify(f"{header}.{richer}.{signature}", jwks)


def test_alg_none(group_key, jwks):
    header = b64url_encode(canonical_json.dumps(_header(group_key, alg="none")))
    with pytest.raises(JwsAlgorithmRefused, match="none"):
        _verify(f"{header}.{b64url_encode(CLAIMS.to_json())}.", jwks)


def test_hs256_keyed_with_the_public_key(group_key, jwks):
    message = ".".join(
        b64url_encode(canonical_json.dumps(p)) for p in (_header(group_key, alg="HS256"), CLAIMS.to_dict())
    )
    for secret in (group_key.public.x.encode(), json.dumps(jwks["keys"][0]).encode()):
        mac = hmac.new(secret, message.encode(), hashlib.sha256).digest()
        with pytest.raises(JwsAlgorithmRefused, match="symmetric"):
            _verify(f"{message}.{b64url_encode(mac)}", jwks)


def test_es256_token_refused_even_with_a_p256_key_in_the_set():
    p256 = SigningKey.generate(KeyKind.P256)
    token = sign_compact(_header(p256, alg="ES256"), CLAIMS.to_json(), p256)
    with pytest.raises(JwsAlgorithmRefused, match="ES256"):
        _verify(token, build_jwks([p256.public]))


def test_eddsa_header_with_a_p256_key_under_the_kid(group_key):
    p256 = SigningKey.generate(KeyKind.P256)
    with pytest.raises(JwsAlgorithmMismatch):
        _verify(mint(group_key, kid=p256.thumbprint), build_jwks([p256.public]))


@pytest.mark.parametrize("typ", ["JWT", "at+JWT", None])
def test_wrong_typ(group_key, jwks, typ):
    header = _header(group_key, typ=typ)
    if typ is None:
        del header["typ"]
    with pytest.raises(WrongTokenType):
        _verify(_raw(header, CLAIMS.to_dict(), group_key), jwks)


def test_extra_header_member(group_key, jwks):
    with pytest.raises(MalformedJws, match="jku"):
        _verify(_raw(_header(group_key, jku="https://evil.example/jwks"), CLAIMS.to_dict(), group_key), jwks)


def test_expired(group_key, jwks):
    token = mint(group_key)
    _verify(token, jwks, now=CLAIMS.exp)
    with pytest.raises(TokenExpired):
        _verify(token, jwks, now=CLAIMS.exp + 1)
    _verify(token, jwks, now=CLAIMS.exp + 5, leeway=5)


def test_not_yet_valid(group_key, jwks):
    token = mint(group_key)
    with pytest.raises(TokenNotYetValid):
        _verify(token, jwks, now=NOW - 1)
    _verify(token, jwks, now=NOW - 5, leeway=5)


def test_wrong_audience_and_issuer(group_key, jwks):
    token = mint(group_key)
    with pytest.raises(WrongAudience):
        _verify(token, jwks, audience="other-service")
    with pytest.raises(WrongIssuer):
        _verify(token, jwks, issuer="https://evil.example")


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda c: c.update(extra=1), "exactly"),
        (lambda c: c.pop("cnf"), "exactly"),
        (lambda c: c.update(cnf={"jkt": "x", "x5t#S256": "y"}), "cnf"),
        (lambda c: c.update(cnf="jkt"), "cnf"),
        (lambda c: c.update(exp=str(NOW + 300)), "exp"),
        (lambda c: c.update(iat=True), "iat"),
        (lambda c: c.update(aud=[AUD]), "aud"),
        (lambda c: c.update(sub=""), "sub"),
        (lambda c: c.update(exp=NOW), "later than iat"),
    ],
)
def test_malformed_claims(group_key, jwks, mutate, message):
    claims = CLAIMS.to_dict()
    mutate(claims)
    with pytest.raises(MalformedTokenClaims, match=message):
        _verify(_raw(_header(group_key), claims, group_key), jwks)


def test_assemble_rejects_wrong_signature_length():
    with pytest.raises(MalformedJws, match="64 bytes"):
        assemble(b"a.b", b"\x00" * 63)


# --- the format ----------------------------------------------------------------------------


def test_deterministic_bytes():
    assert token_header("kid-1") == b'{"alg":"EdDSA","kid":"kid-1","typ":"at+jwt"}'
    assert CLAIMS.to_json() == (
        b'{"action":"transfer","aud":"vault","bundle":"sha256:' + b"ab" * 32 + b'",'
        b'"cnf":{"jkt":"kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"},"exp":1700000300,"iat":1700000000,'
        b'"iss":"https://accord.example","jti":"req-0001",'
        b'"request_hash":"kGqRWNI7N_p5U-epLZdkGwhtLKjHsEdOYT7frSrva6o","resource":"account:1","sub":"alice"}'
    )
    assert signing_input(token_header("kid-1"), CLAIMS) == (
        b64url_encode(token_header("kid-1")) + "." + b64url_encode(CLAIMS.to_json())
    ).encode("ascii")
    assert TokenClaims.from_dict(json.loads(CLAIMS.to_json())) == CLAIMS


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated:UserWarning")  # joserfc on RFC 9864
def test_verified_three_ways(group_key, jwks):
    token = mint(group_key)
    assert _verify(token, jwks) == CLAIMS
    # joserfc's JWT API with the published JWKS, as a resource server would.
    decoded = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["EdDSA"])
    assert decoded.header == {"alg": "EdDSA", "kid": group_key.thumbprint, "typ": "at+jwt"}
    assert decoded.claims == CLAIMS.to_dict()
    # Plain cryptography over the signing input.
    message, _, signature = token.rpartition(".")
    group_key.public.crypto_key().verify(urlsafe_b64decode(signature.encode()), message.encode())
    with pytest.raises(InvalidSignature):
        group_key.public.crypto_key().verify(urlsafe_b64decode(signature.encode()), message.encode() + b"x")

"""accord.resource: a resource server acts only on a token for exactly this request, presented
by the key it is bound to. Refusals first."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from accord.protocols import canonical_json, content_digest
from accord.protocols.auth_errors import (
    BadJwsSignature,
    BadSignature,
    JwsAlgorithmRefused,
    MissingCoveredComponent,
    ReplayedNonce,
    TokenExpired,
    UnknownJwsKey,
    WrongAudience,
    WrongIssuer,
    WrongTokenType,
)
from accord.protocols.http_signatures import HttpRequest, SignatureParams, sign_message
from accord.protocols.jwk import KeyKind, SigningKey, b64url_encode
from accord.protocols.jws_profile import parse_compact, sign_compact
from accord.protocols.tokens import TokenClaims
from accord.resource import (
    AUTH_SCHEME,
    KEY_HEADER,
    AccessVerifier,
    MalformedResourceRequest,
    MissingClientKey,
    MissingToken,
    ProofKeyMismatch,
    RequestMismatch,
    TokenReused,
    encode_client_key,
    verify,
)
from http_helpers import REQUIRED, now

AUDIENCE, ISSUER = "accord-resource-servers", "accord"
URL = "https://vault.test/v1/sign"
ACTION, RESOURCE, PAYLOAD = "signMessage", "ops-wallet", {"message": "log in to the exchange"}
BODY = {"action": ACTION, "resource": RESOURCE, "payload": PAYLOAD}


@pytest.fixture(scope="module")
def token(world) -> str:
    return world.client("bob").authorize(ACTION, RESOURCE, PAYLOAD).raise_for_decision().token


@pytest.fixture(scope="module")
def claims(token) -> TokenClaims:
    return TokenClaims.from_dict(json.loads(parse_compact(token).payload))


def verifier(world, **options) -> AccessVerifier:
    return AccessVerifier(world.deployment.jwks(), audience=AUDIENCE, issuer=ISSUER, **options)


def presented(world, token: str, *, by: str = "bob", body=BODY, **options) -> HttpRequest:
    return world.client(by).signed_resource_request("POST", URL, token, body, **options)


def forged(header: dict, claims: TokenClaims, signature: bytes = b"") -> str:
    return f"{b64url_encode(canonical_json.dumps(header))}.{b64url_encode(claims.to_json())}.{b64url_encode(signature)}"


# --- the token's holder ---


def test_token_presented_by_another_client_is_refused(world, token):
    with pytest.raises(ProofKeyMismatch, match="bound to key"):
        verifier(world).verify(presented(world, token, by="carol"))


def test_claiming_the_bound_key_without_holding_it_is_refused(world, token):
    bob, mallory = world.keys["bob"], world.keys["mallory"]
    stolen = presented(world, token, by="mallory").with_header(KEY_HEADER, encode_client_key(bob.public))
    with pytest.raises(ProofKeyMismatch, match="signed by keyid"):
        verifier(world).verify(stolen)
    # ... and signing under bob's keyid with mallory's key does not verify.
    raw = HttpRequest("POST", URL, (("Content-Type", "application/json"), ("Authorization", f"{AUTH_SCHEME} {token}"),
                                    (KEY_HEADER, encode_client_key(bob.public))), canonical_json.dumps(BODY))  # fmt: skip
    raw = raw.with_header("Content-Digest", content_digest.create(raw.body))
    impersonation = sign_message(raw, alg="ed25519", key=mallory.crypto_key(), covered_components=(*REQUIRED, "authorization"),
                                 params=SignatureParams(created=now(), keyid=bob.thumbprint, expires=now() + 60,
                                                        nonce="x" * 24))  # fmt: skip
    with pytest.raises(BadSignature):
        verifier(world).verify(impersonation)


def test_authorization_must_be_covered_by_the_signature(world, token):
    bob = world.keys["bob"]
    signed = presented(world, token)
    uncovered = sign_message(signed, alg="ed25519", key=bob.crypto_key(), covered_components=REQUIRED,
                             params=SignatureParams(created=now(), keyid=bob.thumbprint, expires=now() + 60,
                                                    nonce="y" * 24), label="accord")  # fmt: skip
    with pytest.raises(MissingCoveredComponent, match="authorization"):
        verifier(world).verify(uncovered)


def test_swapping_the_token_after_signing_is_refused(world, token):
    other = world.client("bob").authorize(ACTION, RESOURCE, PAYLOAD).raise_for_decision().token  # same request, new jti
    swapped = presented(world, token).with_header("Authorization", f"{AUTH_SCHEME} {other}")
    with pytest.raises(BadSignature):
        verifier(world).verify(swapped)


# --- the request the token is for ---


def test_token_for_another_request_is_refused(world, token):
    other_payload = dict(BODY, payload={"message": "transfer everything"})
    with pytest.raises(RequestMismatch, match="the token is for request"):
        verifier(world).verify(presented(world, token, body=other_payload))
    with pytest.raises(RequestMismatch, match="authorizes signMessage on ops-wallet"):
        verifier(world).verify(presented(world, token, body=dict(BODY, action="signRaw")))
    with pytest.raises(RequestMismatch):  # the service names what it is asked to do
        verifier(world).verify(presented(world, token), action=ACTION, resource=RESOURCE, payload={"message": "other"})


def test_body_that_is_not_a_request_is_refused(world, token):
    with pytest.raises(MalformedResourceRequest):
        verifier(world).verify(presented(world, token, body=b"[1, 2]"))
    with pytest.raises(MalformedResourceRequest, match="no approvals"):
        verifier(world).verify(presented(world, token, body=dict(BODY, approvals=["a.b.c"])))


# --- the token itself ---


def test_expired_token_is_refused(world, token, claims):
    later = claims.exp + 31
    with pytest.raises(TokenExpired):
        verifier(world).verify(presented(world, token, now=later), now=later)


def test_wrong_audience_or_issuer_is_refused(world, token):
    with pytest.raises(WrongAudience):
        AccessVerifier(world.deployment.jwks(), audience="payments", issuer=ISSUER).verify(presented(world, token))
    with pytest.raises(WrongIssuer):
        AccessVerifier(world.deployment.jwks(), audience=AUDIENCE, issuer="other").verify(presented(world, token))


def test_token_signed_by_another_group_key_is_refused(world, token, claims):
    kid = world.deployment.jwks()["keys"][0]["kid"]
    other_group = SigningKey.generate()  # a FROST aggregate is a plain Ed25519 signature
    same_kid = sign_compact({"alg": "EdDSA", "kid": kid, "typ": "at+jwt"}, claims.to_json(), other_group)
    with pytest.raises(BadJwsSignature):
        verifier(world).verify(presented(world, same_kid))
    own_kid = sign_compact({"alg": "EdDSA", "kid": other_group.thumbprint, "typ": "at+jwt"}, claims.to_json(), other_group)
    with pytest.raises(UnknownJwsKey):
        verifier(world).verify(presented(world, own_kid))


def test_alg_none_is_refused(world, claims):
    kid = world.deployment.jwks()["keys"][0]["kid"]
    with pytest.raises(JwsAlgorithmRefused, match="none"):
        verifier(world).verify(presented(world, forged({"alg": "none", "kid": kid, "typ": "at+jwt"}, claims)))


def test_hs256_with_the_public_key_as_secret_is_refused(world, claims):
    group = world.deployment.jwks()["keys"][0]
    header = {"alg": "HS256", "kid": group["kid"], "typ": "at+jwt"}
    signing_input = forged(header, claims).rsplit(".", 1)[0].encode()
    for secret in (group["x"].encode(), json.dumps(group).encode()):  # the usual confusion inputs
        mac = hmac.new(secret, signing_input, hashlib.sha256).digest()
        with pytest.raises(JwsAlgorithmRefused, match="HS256"):
            verifier(world).verify(presented(world, forged(header, claims, mac)))


@pytest.mark.parametrize("alg", ["ES256", "RS256", "ES384", "PS256"])
def test_other_asymmetric_algorithms_are_refused(world, claims, alg):
    kid = world.deployment.jwks()["keys"][0]["kid"]
    token = forged({"alg": alg, "kid": kid, "typ": "at+jwt"}, claims, b"\x01" * 64)
    if alg == "ES256":  # a real ES256 signature by a P-256 key under the group's kid
        token = sign_compact({"alg": "ES256", "kid": kid, "typ": "at+jwt"}, claims.to_json(), SigningKey.generate(KeyKind.P256))
    with pytest.raises(JwsAlgorithmRefused):
        verifier(world).verify(presented(world, token))


def test_wrong_token_type_is_refused(world, claims):
    kid = world.deployment.jwks()["keys"][0]["kid"]
    token = sign_compact({"alg": "EdDSA", "kid": kid, "typ": "JWT"}, claims.to_json(), SigningKey.generate())
    with pytest.raises(WrongTokenType):
        verifier(world).verify(presented(world, token))


# --- headers ---


def test_missing_or_misnamed_token_is_refused(world, token):
    signed = presented(world, token)
    without = HttpRequest(signed.method, signed.url, tuple((n, v) for n, v in signed.headers if n != "Authorization"),
                          signed.body)  # fmt: skip
    with pytest.raises(MissingToken, match="no Authorization"):
        verifier(world).verify(without)
    with pytest.raises(MissingToken, match="scheme"):
        verifier(world).verify(signed.with_header("Authorization", f"Bearer {token}"))


@pytest.mark.parametrize("value", [None, "not-base64!", b64url_encode(b'{"kty":"oct","k":"AAAA"}')])
def test_missing_or_bad_client_key_is_refused(world, token, value):
    signed = presented(world, token)
    if value is None:
        signed = HttpRequest(signed.method, signed.url, tuple((n, v) for n, v in signed.headers if n != KEY_HEADER),
                             signed.body)  # fmt: skip
    else:
        signed = signed.with_header(KEY_HEADER, value)
    with pytest.raises(MissingClientKey):
        verifier(world).verify(signed)


# --- replay ---


def test_replayed_resource_request_is_refused(world, token):
    check = verifier(world)
    request = presented(world, token)
    check.verify(request)
    with pytest.raises(ReplayedNonce):
        check.verify(request)


def test_single_use_tokens_are_accepted_once(world, token):
    reusable, single = verifier(world), verifier(world, single_use=True)
    reusable.verify(presented(world, token))
    reusable.verify(presented(world, token))
    single.verify(presented(world, token))
    with pytest.raises(TokenReused):
        single.verify(presented(world, token))


# --- acceptance ---


def test_a_valid_request_is_accepted(world, token, claims):
    access = verifier(world).verify(presented(world, token))
    assert (access.principal, access.action, access.resource, dict(access.payload)) == ("bob", ACTION, RESOURCE, PAYLOAD)
    assert access.claims == claims
    assert access.signature.jkt == world.keys["bob"].thumbprint
    assert '"authorization"' in access.signature.covered_components


def test_the_service_may_name_the_request_itself(world, token):
    # The body is the service's own format; the service says what it is asked to do.
    request = presented(world, token, body={"anything": "the service understands"})
    access = verifier(world).verify(request, action=ACTION, resource=RESOURCE, payload=PAYLOAD)
    assert access.payload == PAYLOAD


def test_module_level_verify(world, token):
    access = verify(presented(world, token), world.deployment.jwks(), audience=AUDIENCE, issuer=ISSUER)
    assert access.principal == "bob"

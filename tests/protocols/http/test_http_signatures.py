"""Accord's RFC 9421 profile: sign_request / verify_request, negative cases first."""

from __future__ import annotations

import base64
import datetime
import re

import httpx
import pytest
from auth_helpers import BODY, NOW, URL, make_request, resolver
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from hypothesis import given, settings
from hypothesis import strategies as st
from http_message_signatures import HTTPMessageSigner, MappingKeyResolver, algorithms
from joserfc import jwk as jose_jwk

from accord.protocols import content_digest
from accord.protocols.auth_errors import (
    AlgorithmMismatch,
    BadSignature,
    ContentDigestMismatch,
    CreatedInFuture,
    Expired,
    ExpiresTooFar,
    InvalidHttpMessage,
    MalformedContentDigest,
    MalformedSignatureHeader,
    MissingCoveredComponent,
    MissingSignature,
    MissingSignatureParameter,
    ReplayedNonce,
    SigningError,
    UnknownKey,
    UnresolvableComponent,
    UnsupportedDigestAlgorithm,
)
from accord.protocols.http_signatures import (
    MAX_LIFETIME,
    REQUIRED_COMPONENTS,
    HttpRequest,
    SignatureParams,
    sign_message,
    sign_request,
    signature_base,
    verify_request,
)
from accord.protocols.jwk import KeyKind, PublicJwk, SigningKey
from accord.protocols.replay import ReplayCache

NONCE = "n" * 22


def _signed(key, request=None, **kwargs):
    return sign_request(request or make_request(), key, created=NOW, nonce=NONCE, **kwargs)


def _verify(request, *keys, now=NOW, **kwargs):
    return verify_request(request, resolve_key=resolver(*keys), now=now, **kwargs)


def _raw_sign(key, request, *, components=REQUIRED_COMPONENTS, keyid=None, **params):
    """Sign with the RFC layer only, to build requests the profile signer would refuse."""
    fields = {"created": NOW, "expires": NOW + 60, "nonce": NONCE, "keyid": keyid or key.thumbprint, **params}
    if request.header("content-digest") is None:
        request = request.with_header("Content-Digest", content_digest.create(request.body))
    return sign_message(
        request,
        alg=key.public.http_signature_alg,
        key=key.crypto_key(),
        covered_components=components,
        params=SignatureParams(**fields),
        label="accord",
    )


# --- replay, time window ---------------------------------------------------------------------


def test_replayed_nonce(key):
    """What an evaluator does per request: verify, then record the nonce."""
    cache = ReplayCache()
    signed = _signed(key)

    def accept():
        v = _verify(signed, key.public)
        cache.check_and_record(v.jkt, v.nonce, created=v.created, expires=v.expires, now=NOW)

    accept()
    with pytest.raises(ReplayedNonce):
        accept()


def test_expired(key):
    signed = _signed(key, expires=NOW + 60)
    _verify(signed, key.public, now=NOW + 60 + 30)  # within the default 30 s skew
    with pytest.raises(Expired):
        _verify(signed, key.public, now=NOW + 60 + 31)
    with pytest.raises(Expired):
        _verify(signed, key.public, now=NOW + 61, skew=0)


def test_created_in_future(key):
    signed = _signed(key)
    _verify(signed, key.public, now=NOW - 30)
    with pytest.raises(CreatedInFuture):
        _verify(signed, key.public, now=NOW - 31)


def test_expires_too_far(key):
    with pytest.raises(SigningError, match="expires"):
        _signed(key, expires=NOW + MAX_LIFETIME + 1)
    far = _raw_sign(key, make_request(), expires=NOW + MAX_LIFETIME + 1)
    with pytest.raises(ExpiresTooFar):
        _verify(far, key.public)
    _verify(_raw_sign(key, make_request(), expires=NOW + MAX_LIFETIME), key.public)


def test_expires_not_after_created(key):
    with pytest.raises(MalformedSignatureHeader, match="later than created"):
        _verify(_raw_sign(key, make_request(), expires=NOW), key.public)


# --- message changed after signing -----------------------------------------------------------


def test_body_changed_after_signing(key):
    signed = _signed(key)
    with pytest.raises(ContentDigestMismatch):
        _verify(HttpRequest(signed.method, signed.url, signed.headers, BODY + b" "), key.public)


def test_digest_header_replaced_to_match_new_body(key):
    signed = _signed(key)
    forged = HttpRequest(signed.method, signed.url, signed.headers, b"{}").with_header(
        "Content-Digest", content_digest.create(b"{}")
    )
    with pytest.raises(BadSignature):
        _verify(forged, key.public)


@pytest.mark.parametrize(
    "method, url",
    [
        ("PUT", URL),
        ("POST", URL + "?x=1"),
        ("POST", "https://accord.example/v1/other"),
        ("POST", "https://evil.example/v1/authorize"),
        ("POST", "http://accord.example/v1/authorize"),
    ],
)
def test_method_or_uri_changed(key, method, url):
    signed = _signed(key)
    with pytest.raises(BadSignature):
        _verify(HttpRequest(method, url, signed.headers, signed.body), key.public)


def test_content_type_changed(key):
    signed = _signed(key)
    with pytest.raises(BadSignature):
        _verify(signed.with_header("Content-Type", "text/plain"), key.public)


# --- keys and algorithms ---------------------------------------------------------------------


def test_unknown_keyid(key, other_key):
    with pytest.raises(UnknownKey, match="no key is known"):
        _verify(_signed(key), other_key.public)


def test_keyid_that_is_not_a_thumbprint(key):
    with pytest.raises(UnknownKey, match="not an RFC 7638"):
        verify_request(_raw_sign(key, make_request(), keyid="alice"), resolve_key=lambda _: key.public, now=NOW)


def test_resolver_returning_another_key(key, other_key):
    with pytest.raises(UnknownKey, match="has thumbprint"):
        verify_request(_signed(key), resolve_key=lambda _: other_key.public, now=NOW)


@pytest.mark.parametrize("signer_kind", list(KeyKind), ids=lambda k: k.crv)
def test_signature_by_another_key(key, signer_kind):
    impostor = SigningKey.generate(signer_kind)
    forged = _raw_sign(impostor, make_request(), keyid=key.thumbprint)
    with pytest.raises((BadSignature, AlgorithmMismatch)) as info:
        _verify(forged, key.public)
    assert type(info.value) is BadSignature  # both profile signatures are 64 bytes


@pytest.mark.parametrize("alg", ["hmac-sha256", "rsa-pss-sha512", "ed25519", "ecdsa-p256-sha256"])
def test_alg_parameter_must_match_the_key(key, alg):
    signed = _signed(key)
    claimed = signed.with_header("Signature-Input", signed.header("signature-input") + f';alg="{alg}"')
    if alg == key.public.http_signature_alg:
        with pytest.raises(BadSignature):  # alg is covered by @signature-params: now it differs
            _verify(claimed, key.public)
    else:
        with pytest.raises(AlgorithmMismatch):
            _verify(claimed, key.public)


def test_hmac_with_the_public_key_as_secret_is_refused(key):
    """Algorithm confusion: an attacker MACs with the (public) key bytes and claims hmac."""
    request = make_request().with_header("Content-Digest", content_digest.create(BODY))
    confused = sign_message(
        request,
        alg="hmac-sha256",
        key=key.public.x.encode(),
        covered_components=REQUIRED_COMPONENTS,
        params=SignatureParams(created=NOW, keyid=key.thumbprint, expires=NOW + 60, nonce=NONCE),
        label="accord",
    )
    confused = confused.with_header("Signature-Input", confused.header("signature-input") + ';alg="hmac-sha256"')
    with pytest.raises(AlgorithmMismatch):
        _verify(confused, key.public)
    # Without the alg parameter, the key's algorithm is used and the 32-byte MAC is refused.
    unclaimed = confused.header("signature-input").removesuffix(';alg="hmac-sha256"')
    with pytest.raises(BadSignature, match="64 bytes"):
        _verify(confused.with_header("Signature-Input", unclaimed), key.public)


def test_truncated_signature(key):
    signed = _signed(key)
    value = signed.header("signature")
    with pytest.raises(BadSignature, match="64 bytes"):
        _verify(signed.with_header("Signature", value[:-6] + ":"), key.public)


# --- malformed headers -----------------------------------------------------------------------


@pytest.mark.parametrize("drop", ["Signature", "Signature-Input"])
def test_missing_signature_fields(key, drop):
    signed = _signed(key)
    stripped = _without(signed, drop)
    with pytest.raises(MissingSignature, match=drop):
        _verify(stripped, key.public)


def _without(request, name):
    return HttpRequest(request.method, request.url, tuple(h for h in request.headers if h[0] != name), request.body)


def _with_input(signed, transform):
    return signed.with_header("Signature-Input", transform(signed.header("signature-input")))


@pytest.mark.parametrize(
    "transform, message",
    [
        (lambda v: "not a dictionary(", "Structured Field"),
        (lambda v: v.replace("accord=", "other="), "differ"),
        (lambda v: v.replace('"@method"', "@method"), "Structured Field"),
        (lambda v: v.replace('"@method"', "method"), "not a String"),
        (lambda v: v.replace('"@method"', "1"), "not a String"),
        (lambda v: v.replace("created=", 'created="').replace(";keyid", '";keyid'), "Integer"),
        (lambda v: v + ";foo=1", "unknown parameters"),
        (lambda v: v.replace('"@method"', '"@method" "@method"'), "twice"),
        (lambda v: v + ";tag=accord", "String"),
        (lambda v: "accord=:AAAA:", "Inner List"),
    ],
)
def test_malformed_signature_input(key, transform, message):
    signed = _signed(key)
    with pytest.raises(MalformedSignatureHeader, match=message):
        _verify(_with_input(signed, transform), key.public)


@pytest.mark.parametrize(
    "value, message",
    [
        ("accord=(1)", "Byte Sequence"),
        ("accord=:AAAA:;p=1", "Byte Sequence"),
        ("accord=:not base64:", "Structured Field"),
        ("accord=:AAAA:, accord=:AAAA:", "twice"),
    ],
)
def test_malformed_signature(key, value, message):
    with pytest.raises(MalformedSignatureHeader, match=message):
        _verify(_signed(key).with_header("Signature", value), key.public)


def test_two_signatures_refused(key):
    signed = _signed(key)
    both = signed.with_header("Signature-Input", signed.header("signature-input") + ", second=()").with_header(
        "Signature", signed.header("signature") + ", second=:AAAA:"
    )
    with pytest.raises(MalformedSignatureHeader, match="exactly one"):
        _verify(both, key.public)


@pytest.mark.parametrize("param", ["created", "expires", "nonce", "keyid"])
def test_missing_required_parameter(key, param):
    signed = _signed(key)
    without = re.sub(rf";{param}=[^;]*", "", signed.header("signature-input"))
    with pytest.raises(MissingSignatureParameter, match=param):
        _verify(signed.with_header("Signature-Input", without), key.public)


@pytest.mark.parametrize("nonce", ["short", "x" * 129])
def test_nonce_length(key, nonce):
    with pytest.raises(SigningError, match="nonce"):
        sign_request(make_request(), key, created=NOW, nonce=nonce)
    with pytest.raises(MalformedSignatureHeader, match="nonce"):
        _verify(_raw_sign(key, make_request(), nonce=nonce), key.public)


def _sign_over_digest(key, field):
    """A request whose signature covers the given Content-Digest value verbatim. The library's
    signer refuses to sign a malformed digest, so the base is built for a valid one, edited,
    and signed with the key directly (as a careless third-party signer might)."""
    valid = content_digest.create(BODY)
    params = SignatureParams(created=NOW, keyid=key.thumbprint, expires=NOW + 60, nonce=NONCE)
    request = make_request().with_header("Content-Digest", valid)
    alg = key.public.http_signature_alg
    base = signature_base(request, alg=alg, covered_components=REQUIRED_COMPONENTS, params=params)
    algorithm = algorithms.ED25519 if key.public.kind is KeyKind.ED25519 else algorithms.ECDSA_P256_SHA256
    signature = algorithm(private_key=key.crypto_key()).sign(base.replace(valid.encode(), field.encode()))
    signature_params = base.decode().rsplit('"@signature-params": ', 1)[1]
    return (
        request.with_header("Content-Digest", field)
        .with_header("Signature-Input", f"accord={signature_params}")
        .with_header("Signature", f"accord=:{base64.b64encode(signature).decode()}:")
    )


@pytest.mark.parametrize(
    "field, error",
    [
        ("sha-256=:AAAA:", MalformedContentDigest),
        ("sha-256", MalformedContentDigest),
        ("md5=:1B2M2Y8AsgTpgAmY7PhCfg==:", UnsupportedDigestAlgorithm),
    ],
)
def test_malformed_content_digest(key, field, error):
    with pytest.raises(error):
        _verify(_sign_over_digest(key, field), key.public)
    with pytest.raises(error):
        sign_request(make_request().with_header("Content-Digest", field), key, created=NOW)


def test_signed_digest_crafting_is_sound(key):
    _verify(_sign_over_digest(key, content_digest.create(BODY)), key.public)


# --- coverage --------------------------------------------------------------------------------


@pytest.mark.parametrize("dropped", REQUIRED_COMPONENTS)
def test_required_component_not_covered(key, dropped):
    partial = _raw_sign(key, make_request(), components=[c for c in REQUIRED_COMPONENTS if c != dropped])
    with pytest.raises(MissingCoveredComponent, match=dropped):
        _verify(partial, key.public)


def test_authorization_must_be_covered_when_present(key):
    request = make_request(headers=[("Authorization", "Bearer token")])
    with pytest.raises(MissingCoveredComponent, match="authorization"):
        _verify(_raw_sign(key, request), key.public)
    signed = _signed(key, request)
    assert '"authorization"' in _verify(signed, key.public).covered_components
    with pytest.raises(BadSignature):
        _verify(signed.with_header("Authorization", "Bearer other"), key.public)


def test_covered_component_missing_from_message(key):
    signed = _raw_sign(
        key, make_request(headers=[("X-Extra", "1")]), components=[*REQUIRED_COMPONENTS, "x-extra"]
    )
    assert _verify(signed, key.public, extra_components=["x-extra"])
    stripped = _without(signed, "X-Extra")
    with pytest.raises(UnresolvableComponent, match="x-extra"):
        _verify(stripped, key.public)


def test_signing_without_content_type(key):
    with pytest.raises(SigningError, match="content-type"):
        sign_request(HttpRequest("POST", URL, (), BODY), key, created=NOW)


@pytest.mark.parametrize(
    "build",
    [
        lambda: HttpRequest("post", URL),
        lambda: HttpRequest("POST", URL, (("Bad Name", "v"),)),
        lambda: HttpRequest("POST", URL, (("X", "a\r\nInjected: 1"),)),
        lambda: HttpRequest("POST", URL, (), "text"),
    ],
)
def test_invalid_messages(build):
    with pytest.raises(InvalidHttpMessage):
        build()


# --- accepted requests -----------------------------------------------------------------------


def test_sign_and_verify(key):
    signed = _signed(key, digest_algorithm="sha-512")
    assert signed.header("content-digest").startswith("sha-512=:")
    verified = _verify(signed, key.public)
    assert verified.keyid == verified.jkt == key.thumbprint
    assert verified.alg == key.public.http_signature_alg
    assert (verified.created, verified.expires, verified.nonce) == (NOW, NOW + 60, NONCE)
    assert verified.covered_components == tuple(f'"{c}"' for c in REQUIRED_COMPONENTS)
    assert (verified.method, verified.target_uri, verified.label) == ("POST", URL, "accord")


def test_random_nonces_differ(key):
    first, second = (sign_request(make_request(), key, created=NOW) for _ in range(2))
    assert _verify(first, key.public).nonce != _verify(second, key.public).nonce


def _third_party_key(kind: KeyKind):
    """A key made and named without Accord code: cryptography + joserfc's RFC 7638 thumbprint."""
    if kind is KeyKind.ED25519:
        private = ed25519.Ed25519PrivateKey.generate()
    else:
        private = ec.generate_private_key(ec.SECP256R1())
    jwk = jose_jwk.import_key(private.public_key(), kind.kty).as_dict()
    return private, jwk, jose_jwk.thumbprint(jwk)


@pytest.mark.parametrize("kind", list(KeyKind), ids=lambda k: k.crv)
def test_request_signed_by_the_library_directly_is_accepted(kind):
    """A client with only `http-message-signatures` and httpx (no Accord code) is accepted."""
    private, jwk, keyid = _third_party_key(kind)
    algorithm = algorithms.ED25519 if kind is KeyKind.ED25519 else algorithms.ECDSA_P256_SHA256
    request = httpx.Request("POST", URL, headers={"Content-Type": "application/json"}, content=BODY)
    keys = MappingKeyResolver(public_keys={}, private_keys={keyid: private})
    signer = HTTPMessageSigner(signature_algorithm=algorithm, key_resolver=keys)
    created = datetime.datetime.fromtimestamp(NOW, tz=datetime.timezone.utc)
    signer.sign(
        request,
        key_id=keyid,
        created=created,
        expires=created + datetime.timedelta(minutes=5),
        nonce="client-nonce-0123456789",
        covered_component_ids=("@method", "@target-uri", "content-type"),
        body=BODY,  # the library adds Content-Digest (sha-256) and covers it
    )
    wire = HttpRequest(request.method, str(request.url), tuple(request.headers.multi_items()), request.content)
    verified = verify_request(wire, resolve_key=resolver(PublicJwk.from_dict(jwk)), now=NOW + 10)
    assert verified.jkt == keyid and verified.alg == algorithm.algorithm_id
    assert '"content-digest"' in verified.covered_components


@settings(max_examples=15, deadline=None)
@given(
    body=st.binary(max_size=200),
    path=st.from_regex(r"/[a-z0-9/_-]{0,30}", fullmatch=True),
    now=st.integers(NOW - 30, NOW + 90),
)
def test_round_trip_and_window(body, path, now):
    key = SigningKey.generate(KeyKind.ED25519)
    signed = sign_request(make_request(body, url="https://accord.example" + path), key, created=NOW)
    assert _verify(signed, key.public, now=now).target_uri == "https://accord.example" + (path or "/")

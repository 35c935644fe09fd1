"""The hot path's RFC 9421 profile (accord.protocols.signature_profile) against the reference
(accord.protocols.http_signatures, over the http-message-signatures package).

- Signing: for generated requests, Ed25519 output is byte for byte the reference's; P-256
  (randomized) output verifies with the reference, and the reference's with the profile.
- Verifying: on every generated message, signed by either side or by the package directly
  (with `alg`, `tag`), and on thousands of malformed variants, whatever the profile accepts
  the reference accepts with the same result; where the reference refuses, the profile
  refuses; where only the profile refuses, it says the message is outside the profile.
- Appendix B: the profile's signature base reproduces every request vector whose components
  it knows, and Ed25519/P-256 signing and verifying agree with the vectors' keys.
"""

from __future__ import annotations

import base64
import json
import re
import string
from datetime import datetime, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from http_message_signatures import HTTPMessageSigner, HTTPSignatureKeyResolver, algorithms

from accord.protocols import http_signatures as reference
from accord.protocols import signature_profile as profile
from accord.protocols.auth_errors import (
    AccordError,
    BadSignature,
    ContentDigestMismatch,
    MissingCoveredComponent,
    OutsideProfile,
    SignatureError,
    SigningError,
)
from accord.protocols.http_signatures import HttpRequest
from accord.protocols.jwk import KeyKind, SigningKey

KEYS = {kind: SigningKey.generate(kind) for kind in KeyKind}
NOW = 1_700_000_000
DIR = Path(__file__).parents[2] / "vectors" / "rfc9421"
DATA = json.loads((DIR / "vectors.json").read_text())


def resolve(kid: str):
    return next((k.public for k in KEYS.values() if k.thumbprint == kid), None)


def outcome(verify, message: HttpRequest, now: int = NOW):
    try:
        return verify(message, resolve_key=resolve, now=now)
    except AccordError as exc:
        return exc


def assert_agree(message: HttpRequest, now: int = NOW) -> object:
    """The profile never accepts what the reference refuses, nor answers differently."""
    ours, theirs = outcome(profile.verify_request, message, now), outcome(reference.verify_request, message, now)
    if not isinstance(ours, Exception):
        assert ours == theirs, (message, theirs)
    elif isinstance(theirs, Exception):
        assert isinstance(ours, SignatureError | ContentDigestMismatch | type(theirs)), (message, ours, theirs)
        if type(ours) is not type(theirs):
            assert isinstance(ours, OutsideProfile), (message, ours, theirs)  # the profile explains itself
    else:
        assert isinstance(ours, OutsideProfile), (message, ours)
    return ours


# --- generated requests --------------------------------------------------------------------

_UNRESERVED = string.ascii_letters + string.digits + "-._~"
_SEGMENT = st.lists(st.sampled_from(list(_UNRESERVED + "!$&'()*+,;=:@") + ["%2F", "%41", "%e9"]),
                    max_size=8).map("".join)  # fmt: skip
_HOST = st.one_of(st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z]{2,5})?", fullmatch=True),
                  st.sampled_from(["EXAMPLE.com", "127.0.0.1", "[::1]", "[2001:db8::7]"]))  # fmt: skip
_PORT = st.sampled_from(["", ":443", ":0443", ":80", ":8443", ":"])
_QUERY = st.one_of(st.just(""), st.lists(_SEGMENT, max_size=3).map(lambda parts: "?" + "&".join(parts)))
URLS = st.builds(lambda scheme, host, port, segments, query: f"{scheme}://{host}{port}/{'/'.join(segments)}{query}",
                 st.sampled_from(["http", "https"]), _HOST, _PORT, st.lists(_SEGMENT, max_size=3), _QUERY)  # fmt: skip
_VALUE = st.text(alphabet=string.ascii_letters + string.digits + " \t;=,/\"'()-", max_size=30)
_NAMES = st.sampled_from(["x-request-id", "date", "x-tenant", "accept"])
NONCES = st.text(alphabet=st.characters(codec="ascii", min_codepoint=0x20, max_codepoint=0x7E,
                                        exclude_characters='"\\'), min_size=16, max_size=64)  # fmt: skip


@st.composite
def requests(draw) -> tuple[HttpRequest, tuple[str, ...]]:
    """A request and extra components to cover (derived, or fields it carries)."""
    headers = [("Content-Type", draw(st.sampled_from(["application/json", " application/json ", "text/plain"])))]
    if draw(st.booleans()):
        headers.append(("Authorization", "Bearer " + draw(st.text(alphabet=_UNRESERVED, min_size=1, max_size=20))))
    extra_fields = draw(st.lists(st.tuples(_NAMES, _VALUE), max_size=3))
    headers += [(name.title() if draw(st.booleans()) else name, value) for name, value in extra_fields]
    request = HttpRequest(draw(st.sampled_from(["POST", "GET", "PUT"])), draw(URLS), tuple(headers),
                          draw(st.binary(max_size=64)))  # fmt: skip
    derived = draw(st.lists(st.sampled_from(["@scheme", "@authority", "@path", "@query"]), unique=True, max_size=2))
    fields = draw(st.lists(st.sampled_from(sorted({n for n, _ in extra_fields})), unique=True)) if extra_fields else []
    return request, tuple(derived + fields)


SIGNING = dict(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@settings(**SIGNING)
@given(requests(), st.sampled_from(list(KeyKind)), st.integers(0, 2**37), st.integers(1, 300), NONCES)  # the reference: years < 10000
def test_the_profile_signs_as_the_reference_does(generated, kind, created, lifetime, nonce):
    request, extra = generated
    key = KEYS[kind]
    args = dict(created=created, expires=created + lifetime, nonce=nonce, extra_components=extra)
    ours, theirs = profile.sign_request(request, key, **args), reference.sign_request(request, key, **args)
    if kind is KeyKind.ED25519:
        assert ours == theirs
    else:
        assert ours.headers[:-1] == theirs.headers[:-1]  # all but the (randomized) Signature
    for message in (ours, theirs):
        for verify in (profile.verify_request, reference.verify_request):
            verified = verify(message, resolve_key=resolve, now=created)
            assert verified.nonce == nonce and verified.keyid == key.thumbprint


class _Key(HTTPSignatureKeyResolver):
    def __init__(self, key) -> None:
        self.key = key

    def resolve_private_key(self, key_id: str):
        return self.key


class _View:
    def __init__(self, request: HttpRequest) -> None:
        self.method, self.url, self.headers = request.method, request.url, dict(request.headers)


@settings(**SIGNING)
@given(requests(), st.sampled_from(list(KeyKind)), st.booleans(), st.one_of(st.none(), st.sampled_from(["t", "x y"])))
def test_what_the_package_signs_directly_the_profile_verifies(generated, kind, include_alg, tag):
    request, extra = generated
    if len({n.lower() for n, _ in request.headers}) != len(request.headers):
        return  # the package's plain dict of headers holds one line per name
    key = KEYS[kind]
    algorithm = algorithms.ED25519 if kind is KeyKind.ED25519 else algorithms.ECDSA_P256_SHA256
    view = _View(request)
    created = datetime.fromtimestamp(NOW, tz=timezone.utc)
    HTTPMessageSigner(signature_algorithm=algorithm, key_resolver=_Key(key.crypto_key())).sign(
        view, key_id=key.thumbprint, created=created, expires=datetime.fromtimestamp(NOW + 60, tz=timezone.utc),
        nonce="n" * 24, tag=tag, label="sig", include_alg=include_alg, body=request.body,
        covered_component_ids=reference.components_for(request, extra),
    )  # fmt: skip
    signed = HttpRequest(request.method, request.url, tuple(view.headers.items()), request.body)
    verified = assert_agree(signed)
    assert not isinstance(verified, Exception), verified


# --- malformed messages --------------------------------------------------------------------

_MUTATIONS = [
    lambda v, r: v[:r] + v[r + 1:],  # drop a character
    lambda v, r: v[:r] + " " + v[r:],  # insert a space
    lambda v, r: v[:r] + chr(0x20 + r % 95) + v[r + 1:],  # replace a character
    lambda v, r: v[:r] + '\\"' + v[r:],  # an escape
    lambda v, r: v + ';alg="ed25519"',
    lambda v, r: v + ';alg="ecdsa-p256-sha256"',
    lambda v, r: v + ';tag="x"',
    lambda v, r: v + ";created=1",
    lambda v, r: v + ", other=:AAAA:",
    lambda v, r: v.replace(";", ";nonce=\"0123456789abcdefgh\";", 1),
    lambda v, r: v.replace("created=", "created=0", 1),
    lambda v, r: v.replace('"content-type"', '"content-type";sf', 1),
    lambda v, r: v.replace('"content-type"', '"Content-Type"', 1),
    lambda v, r: v.replace('"@method"', '"@method" "@method"', 1),
    lambda v, r: v.replace('"@method"', '"@request-target"', 1),
    lambda v, r: v.upper(),
    lambda v, r: " " + v + "\t",
]


def _mutated(signed: HttpRequest, choice: int, where: int, position: int) -> HttpRequest:
    field = ("Signature-Input", "Signature")[where % 2]
    value = signed.header(field)
    if where == 2:
        return HttpRequest(signed.method, signed.url, (*signed.headers, ("Signature", "x=:AAAA:")), signed.body)
    if where == 3:
        return HttpRequest(signed.method, signed.url.replace("/", "/./", 3)[:-1] + "#f", signed.headers, signed.body)
    if where == 4:
        return HttpRequest(signed.method, signed.url, signed.headers, signed.body + b" ")
    if where == 5:
        return HttpRequest(signed.method, signed.url.replace("://", "://user@", 1), signed.headers, signed.body)
    mutated = _MUTATIONS[choice % len(_MUTATIONS)](value, position % max(len(value), 1))
    return signed.with_header(field, mutated)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests(), st.sampled_from(list(KeyKind)), st.integers(0, 100), st.integers(0, 7), st.integers(0, 400),
       st.integers(-400, 400))  # fmt: skip
def test_on_malformed_messages_the_profile_is_never_looser(generated, kind, choice, where, position, drift):
    request, extra = generated
    signed = profile.sign_request(request, KEYS[kind], created=NOW, extra_components=extra)
    try:
        message = _mutated(signed, choice, where, position)
    except AccordError:
        return  # not even an HTTP message (the types refuse it first)
    assert_agree(message, NOW + drift)


def test_each_refusal_names_its_reason():
    key = KEYS[KeyKind.ED25519]
    signed = profile.sign_request(HttpRequest("POST", "https://gw.example/v1/authorize",
                                              (("Content-Type", "application/json"),), b"{}"), key, created=NOW)  # fmt: skip
    uncovered = signed.with_header("Signature-Input", signed.header("signature-input").replace(' "content-type"', ""))
    with pytest.raises(MissingCoveredComponent):  # from the reference's checks, where they apply
        profile.verify_request(uncovered, resolve_key=resolve, now=NOW)
    reordered = re.sub(r";created=(\d+);keyid=(\"[^\"]+\")", r";keyid=\2;created=\1", signed.header("signature-input"))
    with pytest.raises(BadSignature):  # any order is the profile's, but what is signed is signed
        profile.verify_request(signed.with_header("Signature-Input", reordered), resolve_key=resolve, now=NOW)
    with_userinfo = HttpRequest(signed.method, "https://u@gw.example/v1/authorize", signed.headers, signed.body)
    with pytest.raises(OutsideProfile, match="target URI"):
        profile.verify_request(with_userinfo, resolve_key=resolve, now=NOW)
    with pytest.raises(ContentDigestMismatch):
        profile.verify_request(HttpRequest(signed.method, signed.url, signed.headers, b"[]"), resolve_key=resolve,
                               now=NOW)  # fmt: skip


def test_the_signer_refuses_what_the_profile_cannot_carry():
    key, request = KEYS[KeyKind.ED25519], HttpRequest("POST", "https://gw.example/x", (("Content-Type", "a/b"),))
    for bad in (dict(nonce='has "quotes" inside'), dict(extra_components=("@query-param",)), dict(label="Sig"),
                dict(expires=NOW), dict(extra_components=("x-missing",))):  # fmt: skip
        with pytest.raises(SigningError):
            profile.sign_request(request, key, **{"created": NOW, **bad})
    with pytest.raises(SigningError, match="target URI"):
        profile.sign_request(HttpRequest("POST", "https://gw.example", request.headers), key, created=NOW)


# --- RFC 9421 Appendix B -------------------------------------------------------------------


def _vector_request() -> HttpRequest:
    m = DATA["messages"]["test-request"]
    return HttpRequest(m["method"], m["url_for_clients"], tuple(map(tuple, m["headers"])), m["body"].encode())


@pytest.mark.parametrize("vector", DATA["vectors"], ids=lambda v: v["rfc"])
def test_appendix_b_signature_bases(vector):
    components = [c.strip('"') for c in vector["covered_components"]]
    inner = vector["signature_input"].split("=", 1)[1]
    known = vector["message"] == "test-request" and components and re.fullmatch(
        r'\((?:"[^";]+"(?: |(?=\))))*\).*', inner)  # fmt: skip
    signed = _vector_request().with_header("Signature-Input", vector["signature_input"]).with_header(
        "Signature", vector["signature"])  # fmt: skip
    if known:
        assert profile.signature_base(_vector_request(), components, inner) == vector["signature_base"].encode()
    # No Appendix B signature is in Accord's profile (their keyids are no thumbprints, they
    # carry no nonce or expiry): both refuse each, neither more loosely than the other.
    assert isinstance(assert_agree(signed, vector["params"]["created"]), SignatureError)


@pytest.mark.parametrize("rfc, keyid", [("B.2.6", "test-key-ed25519"), ("B.2.4", "test-key-ecc-p256")])
def test_appendix_b_keys_sign_and_verify_as_the_vectors(rfc, keyid):
    vector = next(v for v in DATA["vectors"] if v["rfc"] == rfc)
    private = load_pem_private_key(DATA["keys"][keyid]["private_pem"].encode(), password=None)
    key = SigningKey._from_crypto(private)
    base = vector["signature_base"].encode()
    given_signature = base64.b64decode(vector["signature"].split("=:", 1)[1].rstrip(":"))
    ours = key.sign(base)
    if rfc == "B.2.6":
        assert ours == given_signature  # deterministic
    for signature in (ours, given_signature):
        profile._verify_signature(key.public, signature, base, vector["label"])
    with pytest.raises(BadSignature):
        profile._verify_signature(key.public, ours, base + b" ", vector["label"])

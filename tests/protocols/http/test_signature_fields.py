"""The Signature-Input / Signature fast path (accord.protocols.signature_fields) against
http_sf: whatever the fast path accepts, http_sf parses to the very same structure (types
included); everything else is left to http_sf."""

from __future__ import annotations

import http_sf
import pytest
from http_message_signatures import HTTPMessageSignaturesException
from http_message_signatures.signatures import HTTPSignatureHandler
from http_sf.compat import InnerList
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.protocols import signature_fields
from accord.protocols.auth_errors import BadSignature, MissingCoveredComponent
from accord.protocols.http_signatures import HttpRequest, _library_dictionary, sign_request, verify_request
from accord.protocols.jwk import KeyKind, SigningKey


def shape(value):
    """`value` with the type of every part spelled out (Token is a str, True an int)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [shape(v) for v in value])
    return (type(value).__name__, value)


def node_shape(node):
    """A compat node (what http-message-signatures builds) as plain, typed values."""
    if isinstance(node, InnerList):
        return ("inner", [node_shape(item) for item in node], shape(dict(node.params)))
    return ("item", shape(node.value), shape(dict(node.params)))


def reference(text: str):
    try:
        return shape(http_sf.parse(text.encode("ascii"), tltype="dictionary"))
    except (ValueError, UnicodeEncodeError):
        return "refused"


keys = st.from_regex(r"[a-z*][a-z0-9_.*-]{0,6}", fullmatch=True)
sf_strings = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=10)
bare_params = st.one_of(st.integers(-(10**15) + 1, 10**15 - 1), sf_strings)
MUTATIONS = [" ", "  ", "\t", '"', "\\", ";", "=", ",", "(", ")", ":", "A", "a", "0", "-", "+", "/", "*", "=="]


@st.composite
def fields(draw):
    """Serialized one- or two-member dictionaries of Accord's shape, then mutated a little."""
    members = {}
    for _ in range(draw(st.integers(1, 2))):
        params = draw(st.dictionaries(keys, bare_params, max_size=4))
        if draw(st.booleans()):
            members[draw(keys)] = ([(s, {}) for s in draw(st.lists(sf_strings, max_size=4))], params)
        else:
            members[draw(keys)] = (draw(st.binary(max_size=66)), params)
    text = http_sf.ser(members)
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "repeat"]))
        if action == "insert":
            text = text[:at] + draw(st.sampled_from(MUTATIONS)) + text[at:]
        elif action == "delete":
            text = text[:at] + text[at + 1:]
        else:
            end = draw(st.integers(at, len(text)))
            text = text[:end] + text[at:end] + text[end:]
    return text


@settings(max_examples=600, deadline=None)
@given(fields())
def test_fast_path_agrees_with_http_sf(text):
    fast = signature_fields._fast_parse(text)
    if fast is not None:
        assert shape(fast) == reference(text)
    try:
        parsed = shape(signature_fields.parse_dictionary(text))
    except (ValueError, UnicodeEncodeError):
        parsed = "refused"
    assert parsed == reference(text)


@settings(max_examples=200, deadline=None)
@given(fields())
def test_the_verifier_gets_what_the_library_would_parse(text):
    """The dictionaries handed to the library's verifier equal its own parse of the field."""
    try:
        expected = HTTPSignatureHandler._parse_signature_dictionary(text)
    except (HTTPMessageSignaturesException, ValueError):
        return  # refused: parse_dictionary refuses it too (test above)
    ours = _library_dictionary(signature_fields.parse_dictionary(text))
    assert {k: node_shape(v) for k, v in ours.items()} == {k: node_shape(v) for k, v in expected.items()}


@pytest.mark.parametrize("text", [
    'sig=("@method" "@target-uri");created=1;keyid="k";expires=-0;nonce=""',
    'sig=();created=007', 'sig=:AAAA:', 'sig=::', 'sig=:AA==:', 'sig=:AAA=:', 'x*.-_9=("a b" "!#$%&\'()*+,-./:;<=>?@[]^_`{|}~")',
])  # fmt: skip
def test_fast_path_takes_accords_forms(text):
    assert signature_fields._fast_parse(text) is not None
    assert shape(signature_fields._fast_parse(text)) == reference(text)


@pytest.mark.parametrize("text", [
    'sig=("a\\"b")', 'sig=(tok)', 'sig=("a"  "b")', 'sig=( "a")', 'sig=("a");p', 'sig=("a");p=1;p=2',
    'sig=("a");p=1.5', 'sig=("a");p=?1', 'sig=:AA:', 'sig=:A===:', 'sig=:AAAA:, sig=:AAAA:', 'Sig=("a")',
    ' sig=("a")', 'sig=("a");p=1234567890123456', 'sig=("a");p=@1', 'sig=("é")',
])  # fmt: skip
def test_other_forms_are_left_to_http_sf(text):
    assert signature_fields._fast_parse(text) is None


def test_signed_requests_take_the_fast_path():
    key = SigningKey.generate(KeyKind.ED25519)
    request = HttpRequest("POST", "https://accord.invalid/v1/authorize", (("Content-Type", "application/json"),), b"{}")
    signed = sign_request(request, key, created=1767607200)
    for field in ("signature-input", "signature"):
        value = signed.header(field)
        assert signature_fields._fast_parse(value) is not None
        assert shape(signature_fields._fast_parse(value)) == reference(value)


@pytest.mark.parametrize("change", [
    lambda v: v.replace("nonce=\"", "nonce=\"x"),  # another nonce, still in the fast path's form
    lambda v: v.replace(";created=1767607200", ";created=1767607201"),
    lambda v: v.replace('"content-type" ', ""),  # covers less than was signed
])  # fmt: skip
def test_signature_input_changed_in_the_fast_paths_form_does_not_verify(change):
    key = SigningKey.generate(KeyKind.ED25519)
    request = HttpRequest("POST", "https://accord.invalid/v1/authorize", (("Content-Type", "application/json"),), b"{}")
    signed = sign_request(request, key, created=1767607200)
    tampered = signed.with_header("Signature-Input", change(signed.header("signature-input")))
    assert signature_fields._fast_parse(tampered.header("signature-input")) is not None
    with pytest.raises((BadSignature, MissingCoveredComponent)):
        verify_request(tampered, resolve_key=lambda kid: key.public if kid == key.thumbprint else None, now=1767607200)

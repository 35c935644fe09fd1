"""The authorization request body and its request hash."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.protocols.auth_errors import (
    InvalidFieldValue,
    MalformedRequestBody,
    MissingField,
    UnknownField,
    WrongFieldType,
)
from accord.protocols.authz_request import (
    MAX_APPROVALS,
    AuthorizationRequest,
    compute_request_hash,
    parse_authorization_request,
)
from accord.protocols.canonical_json import CanonicalJsonError, reference_dumps

BODY = b'{"action": "transfer", "resource": "account:1", "payload": {"amount": 5, "to": "bob"}}'
JKT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


# --- negative ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, error, message",
    [
        (b"not json", MalformedRequestBody, "strict JSON"),
        (b"\xff\xfe", MalformedRequestBody, "strict JSON"),
        (b'{"action": "a", "action": "b", "resource": "r", "payload": {}}', MalformedRequestBody, "duplicate"),
        (b'{"action": "a", "resource": "r", "payload": {"x": NaN}}', MalformedRequestBody, "NaN"),
        (b'["action"]', MalformedRequestBody, "object"),
        (b'{"action": "a", "resource": "r", "payload": {}, "nonce": "x"}', UnknownField, "nonce"),
        (b'{"action": "a", "payload": {}}', MissingField, "resource"),
        (b'{"action": 1, "resource": "r", "payload": {}}', WrongFieldType, "action"),
        (b'{"action": "a", "resource": null, "payload": {}}', WrongFieldType, "resource"),
        (b'{"action": "a", "resource": "r", "payload": [1]}', WrongFieldType, "payload"),
        (b'{"action": "a", "resource": "r", "payload": {}, "approvals": "jws"}', WrongFieldType, "approvals"),
        (b'{"action": "a", "resource": "r", "payload": {}, "approvals": [1]}', WrongFieldType, "approvals"),
        (b'{"action": "", "resource": "r", "payload": {}}', InvalidFieldValue, "action"),
        (b'{"action": "a", "resource": "r", "payload": {"n": 9007199254740993}}', InvalidFieldValue, "canonical"),
    ],
)
def test_malformed_bodies(body, error, message):
    with pytest.raises(error, match=message):
        parse_authorization_request(body)


def test_too_many_approvals():
    approvals = ",".join(['"a.b.c"'] * (MAX_APPROVALS + 1))
    with pytest.raises(InvalidFieldValue, match="approvals"):
        parse_authorization_request(b'{"action":"a","resource":"r","payload":{},"approvals":[%s]}' % approvals.encode())


# --- request hash --------------------------------------------------------------------------


def test_request_hash_known_answer():
    request = parse_authorization_request(BODY)
    canonical = (
        b'{"action":"transfer","payload":{"amount":5,"to":"bob"},'
        b'"principal_key":"kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k","resource":"account:1"}'
    )
    expected = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()
    assert request.request_hash(JKT) == expected


def test_request_hash_is_stable_across_resubmission():
    first = parse_authorization_request(BODY)
    again = parse_authorization_request(
        b'{"payload": {"to": "bob", "amount": 5}, "approvals": ["a.b.c"],'
        b' "resource": "account:1", "action": "transfer"}'
    )
    assert again.approvals == ("a.b.c",)
    assert first.request_hash(JKT) == again.request_hash(JKT)


@pytest.mark.parametrize(
    "change",
    [
        {"action": "close"},
        {"resource": "account:2"},
        {"payload": {"amount": 6, "to": "bob"}},
        {"principal_key": "another-key"},
    ],
)
def test_request_hash_binds_every_part(change):
    parts = {"action": "transfer", "resource": "account:1", "payload": {"amount": 5, "to": "bob"}, "principal_key": JKT}
    assert compute_request_hash(**parts) != compute_request_hash(**{**parts, **change})


def test_to_json_round_trip():
    request = AuthorizationRequest("transfer", "account:1", {"amount": 5}, ("a.b.c",))
    assert parse_authorization_request(request.to_json()) == request
    assert b"approvals" not in AuthorizationRequest("a", "r", {}).to_json()


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)  # astral, quotes, controls
_payloads = st.dictionaries(_text, st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4), max_leaves=12), max_size=5)


@settings(max_examples=500, deadline=None)
@given(action=_text, resource=_text, payload=_payloads, principal_key=_text)
def test_request_hash_from_the_payload_json_equals_the_whole_document_canonicalised(action, resource, payload,
                                                                                   principal_key):  # fmt: skip
    """The hash is made from the payload's canonical JSON written once; it must be the hash
    of RFC 8785 over the whole document (the reference package, not our fast path)."""
    document = {"action": action, "resource": resource, "payload": payload, "principal_key": principal_key}
    expected = base64.urlsafe_b64encode(hashlib.sha256(reference_dumps(document)).digest()).rstrip(b"=").decode()
    assert compute_request_hash(action, resource, payload, principal_key) == expected
    assert AuthorizationRequest(action, resource, payload).request_hash(principal_key) == expected


def test_a_payload_without_canonical_json_cannot_make_a_request():
    with pytest.raises(CanonicalJsonError):
        AuthorizationRequest("a", "r", {"n": 2**60})

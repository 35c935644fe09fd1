"""Approvals (compact JWS by the approver's key) and the JWS profile they share with tokens."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from auth_helpers import NOW, resolver
from joserfc import jws as jose_jws

from accord.protocols import canonical_json
from accord.protocols.approvals import APPROVAL_TYPE, create_approval, verify_approval, verify_approvals
from accord.protocols.auth_errors import (
    ApprovalExpired,
    ApprovalForOtherRequest,
    ApprovalFromFuture,
    ApprovalKeyMismatch,
    BadJwsSignature,
    DuplicateApproval,
    JwsAlgorithmMismatch,
    JwsAlgorithmRefused,
    MalformedApproval,
    MalformedJws,
    UnknownJwsKey,
)
from accord.protocols.jwk import KeyKind, SigningKey, b64url_encode
from accord.protocols.jws_profile import sign_compact, verify_compact

HASH = "kGqRWNI7N_p5U-epLZdkGwhtLKjHsEdOYT7frSrva6o"
MAX_AGE = 600


def _verify(token, *keys, request_hash=HASH, now=NOW + 10):
    return verify_approval(token, request_hash=request_hash, resolve_key=resolver(*keys), now=now, max_age=MAX_AGE)


def _claims(key, **override):
    return {"approver_key": key.thumbprint, "decision": "approve", "iat": NOW, "request_hash": HASH, **override}


def _header(key, **override):
    return {"alg": key.public.jws_alg, "kid": key.thumbprint, "typ": APPROVAL_TYPE, **override}


def _forge(header: dict, claims: dict, signature: bytes = b"\x00" * 64) -> str:
    parts = (json.dumps(header).encode(), json.dumps(claims).encode(), signature)
    return ".".join(b64url_encode(part) for part in parts)


# --- negative ------------------------------------------------------------------------------


def test_approval_for_another_request(key):
    with pytest.raises(ApprovalForOtherRequest):
        _verify(create_approval(key, HASH, iat=NOW), key.public, request_hash="another-hash")


def test_foreign_key(key, other_key):
    with pytest.raises(UnknownJwsKey):
        _verify(create_approval(key, HASH, iat=NOW), other_key.public)


def test_resolver_returning_another_key(key, other_key):
    token = create_approval(key, HASH, iat=NOW)
    with pytest.raises(UnknownJwsKey):
        verify_approval(token, request_hash=HASH, resolve_key=lambda _: other_key.public, now=NOW, max_age=MAX_AGE)


def test_signed_by_another_key_under_a_known_kid(key):
    impostor = SigningKey.generate(key.public.kind)
    token = sign_compact(_header(key), canonical_json.dumps(_claims(key)), impostor)
    with pytest.raises(BadJwsSignature):
        _verify(token, key.public, impostor.public)


def test_approver_claim_differs_from_signer(key, other_key):
    token = sign_compact(_header(key), canonical_json.dumps(_claims(key, approver_key=other_key.thumbprint)), key)
    with pytest.raises(ApprovalKeyMismatch):
        _verify(token, key.public, other_key.public)


def test_tampered(key):
    header, payload, signature = create_approval(key, HASH, iat=NOW).split(".")
    tampered_payload = b64url_encode(canonical_json.dumps(_claims(key, iat=NOW + 1)))
    with pytest.raises(BadJwsSignature):
        _verify(f"{header}.{tampered_payload}.{signature}", key.public)
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    with pytest.raises((BadJwsSignature, MalformedJws)):
        _verify(f"{header}.{payload}.{flipped}", key.public)


def test_expired_and_future(key):
    token = create_approval(key, HASH, iat=NOW)
    _verify(token, key.public, now=NOW + MAX_AGE)
    with pytest.raises(ApprovalExpired):
        _verify(token, key.public, now=NOW + MAX_AGE + 1)
    with pytest.raises(ApprovalFromFuture):
        _verify(token, key.public, now=NOW - 31)


def test_alg_none_refused(key):
    token = _forge(_header(key, alg="none"), _claims(key), b"")
    with pytest.raises(JwsAlgorithmRefused, match="none"):
        _verify(token, key.public)


def test_hmac_with_public_key_as_secret_refused(key):
    """The classic confusion: HS256 keyed with the public key's bytes or JSON."""
    for secret in (key.public.x.encode(), canonical_json.dumps(key.public.to_dict())):
        signing_input = ".".join(
            b64url_encode(canonical_json.dumps(part)) for part in (_header(key, alg="HS256"), _claims(key))
        )
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        with pytest.raises(JwsAlgorithmRefused, match="symmetric"):
            _verify(f"{signing_input}.{b64url_encode(mac)}", key.public)


def test_alg_of_the_other_key_kind_refused(key):
    other_alg = "ES256" if key.public.kind is KeyKind.ED25519 else "EdDSA"
    with pytest.raises(JwsAlgorithmMismatch):
        _verify(_forge(_header(key, alg=other_alg), _claims(key)), key.public)
    with pytest.raises(JwsAlgorithmMismatch):
        sign_compact(_header(key, alg=other_alg), b"{}", key)
    with pytest.raises(JwsAlgorithmRefused):
        _verify(_forge(_header(key, alg="RS256"), _claims(key)), key.public)


@pytest.mark.parametrize(
    "claims, message",
    [
        ({"decision": "deny"}, "decision"),
        ({"extra": 1}, "unknown"),
        ({"iat": "now"}, "iat"),
        ({"iat": True}, "iat"),
    ],
)
def test_malformed_claims(key, claims, message):
    token = sign_compact(_header(key), canonical_json.dumps(_claims(key, **claims)), key)
    with pytest.raises(MalformedApproval, match=message):
        _verify(token, key.public)


def test_missing_claim(key):
    claims = _claims(key)
    del claims["iat"]
    with pytest.raises(MalformedApproval, match="iat"):
        _verify(sign_compact(_header(key), canonical_json.dumps(claims), key), key.public)


@pytest.mark.parametrize(
    "token, message",
    [
        ("a.b", "3 dot-separated"),
        ("a.b.c.d", "3 dot-separated"),
        ("!!.e30.AA", "base64url"),
        (b64url_encode(b"[1]") + ".e30.AA", "object"),
        (b64url_encode(b'{"alg":"EdDSA","alg":"none"}') + ".e30.AA", "duplicate"),
        (b64url_encode(b'{"kid":"x"}') + ".e30.AA", "no string 'alg'"),
        (b64url_encode(b'{"alg":["EdDSA"]}') + ".e30.AA", "no string 'alg'"),
        ("x" * 20_000, "at most"),
    ],
)
def test_malformed_tokens(key, token, message):
    with pytest.raises(MalformedJws, match=message):
        _verify(token, key.public)


def test_wrong_typ_and_missing_kid(key):
    with pytest.raises(MalformedJws, match="typ"):
        _verify(sign_compact(_header(key, typ="JWT"), canonical_json.dumps(_claims(key)), key), key.public)
    header = _header(key)
    del header["kid"]
    with pytest.raises(MalformedJws, match="kid"):
        _verify(sign_compact(header, canonical_json.dumps(_claims(key)), key), key.public)


def test_duplicate_approver(key):
    tokens = [create_approval(key, HASH, iat=NOW), create_approval(key, HASH, iat=NOW + 1)]
    with pytest.raises(DuplicateApproval):
        verify_approvals(tokens, request_hash=HASH, resolve_key=resolver(key.public), now=NOW + 10, max_age=MAX_AGE)


# --- accepted ------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated:UserWarning")  # joserfc on RFC 9864
def test_approval_round_trip_and_joserfc_agrees(key, other_key):
    token = create_approval(key, HASH, iat=NOW)
    approval = _verify(token, key.public)
    assert (approval.approver_key, approval.request_hash, approval.iat) == (key.thumbprint, HASH, NOW)
    # The token is a standard JWS: joserfc verifies it on its own.
    obj = jose_jws.deserialize_compact(token, key.public.jose_key(), algorithms=[key.public.jws_alg])
    assert json.loads(obj.payload) == _claims(key)
    both = verify_approvals(
        [token, create_approval(other_key, HASH, iat=NOW)],
        request_hash=HASH,
        resolve_key=resolver(key.public, other_key.public),
        now=NOW + 10,
        max_age=MAX_AGE,
    )
    assert [a.approver_key for a in both] == [key.thumbprint, other_key.thumbprint]


def test_rfc8037_a4_known_answer():
    """RFC 8037 A.4: Ed25519 JWS over "Example of Ed25519 signing" with header {"alg":"EdDSA"}."""
    key = SigningKey.from_dict(
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
        }
    )
    expected = (
        "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
        "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
    )
    assert sign_compact({"alg": "EdDSA"}, b"Example of Ed25519 signing", key) == expected
    assert verify_compact(expected, key.public).payload == b"Example of Ed25519 signing"

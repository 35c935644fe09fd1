"""RFC 9530 Content-Digest: creation, verification, strict parsing."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.protocols import content_digest
from accord.protocols.auth_errors import (
    ContentDigestMismatch,
    MalformedContentDigest,
    SignatureError,
    UnsupportedDigestAlgorithm,
)

VECTORS = json.loads((Path(__file__).parents[2] / "vectors" / "rfc9421" / "vectors.json").read_text())
HELLO = b'{"hello": "world"}'  # RFC 9530 section 2 example body (also RFC 9421 B.2)
HELLO_SHA256 = "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
HELLO_SHA512 = "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:"


# --- negative ------------------------------------------------------------------------------


def test_body_change_is_detected():
    with pytest.raises(ContentDigestMismatch, match="sha-256"):
        content_digest.verify(HELLO_SHA256, HELLO + b" ")


def test_every_member_is_checked():
    wrong_512 = content_digest.create(b"other", "sha-512")
    with pytest.raises(ContentDigestMismatch, match="sha-512"):
        content_digest.verify(f"{HELLO_SHA256}, {wrong_512}", HELLO)


@pytest.mark.parametrize(
    "field",
    [
        "md5=:" + base64.b64encode(hashlib.md5(HELLO).digest()).decode() + ":",
        "sha-384=:" + base64.b64encode(hashlib.sha384(HELLO).digest()).decode() + ":",
        f"{HELLO_SHA256}, unixsum=:AAAA:",
    ],
)
def test_unknown_algorithms_refused(field):
    with pytest.raises(UnsupportedDigestAlgorithm):
        content_digest.verify(field, HELLO)
    with pytest.raises(UnsupportedDigestAlgorithm):
        content_digest.create(HELLO, "md5")


@pytest.mark.parametrize(
    "field, message",
    [
        ("", "empty"),
        ("sha-256", "Byte Sequence"),
        ('sha-256="X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE="', "Byte Sequence"),
        ("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:;p=1", "parameters"),
        ("sha-256=:AAAA:", "3 bytes, expected 32"),
        (f"{HELLO_SHA256}, {HELLO_SHA256}", "twice"),
        ("sha-256=:not base64!:", "Structured Field"),
        ("sha-256=(:AAAA:)", "Byte Sequence"),
        ("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:\u00e9", "Structured Field"),
    ],
)
def test_malformed_fields(field, message):
    with pytest.raises(MalformedContentDigest, match=message):
        content_digest.verify(field, HELLO)


def test_digest_errors_are_signature_errors():
    assert issubclass(ContentDigestMismatch, SignatureError)


# --- known answers -------------------------------------------------------------------------


def test_rfc9530_examples():
    assert content_digest.create(HELLO) == HELLO_SHA256
    assert content_digest.create(HELLO, "sha-512") == HELLO_SHA512
    assert content_digest.verify(f"{HELLO_SHA512}, {HELLO_SHA256}", HELLO) == ("sha-512", "sha-256")


@pytest.mark.parametrize("name", ["test-request", "test-response"])
def test_rfc9421_messages_digests(name):
    message = VECTORS["messages"][name]
    field = dict((k.lower(), v) for k, v in message["headers"])["content-digest"]
    assert content_digest.verify(field, message["body"].encode()) == ("sha-512",)


@settings(max_examples=40, deadline=None)
@given(
    body=st.binary(max_size=256),
    algorithm=st.sampled_from(sorted(content_digest.ALGORITHMS)),
    flip=st.integers(0, 255),
)
def test_any_body_round_trips_and_any_change_is_caught(body, algorithm, flip):
    field = content_digest.create(body, algorithm)
    assert content_digest.verify(field, body) == (algorithm,)
    changed = body[:-1] + bytes([body[-1] ^ (flip or 1)]) if body else b"\x00"
    with pytest.raises(ContentDigestMismatch):
        content_digest.verify(field, changed)

"""POST /v1/authorize refuses what it must, with the right status and a JSON error saying why.

Where the gateway refuses early, the same request handed straight to the deployment is
refused by the evaluators too: the gateway is untrusted and its checks only save work.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from accord.cluster.gateway import MAX_BODY, create_app
from accord.protocols import canonical_json, content_digest
from accord.protocols.minting import BUNDLE_EXPIRED, DIVERGENCE, AuthorizationResult, Status
from http_helpers import BASE_URL, body, error, now, raw_signed, send


URL = BASE_URL + "/v1/authorize"


def assert_evaluators_reject(world, request, code: str) -> None:
    result = world.deployment.authorize(request)
    assert (result.status, result.code) == (Status.REJECTED, code), result


# --- signature and freshness: 401 / 409 ---


def test_replayed_request_is_409(world):
    signed = world.client("bob").signed_request("signMessage", "ops-wallet", {"message": "once"})
    assert send(world.http, signed).status_code == 200
    status, code, message = error(send(world.http, signed))
    assert (status, code) == (409, "replay")
    assert "already used" in message


def test_expired_created_is_401(world):
    bob = world.keys["bob"]
    stale = raw_signed(bob, url=URL, created=now() - 400, expires=now() - 340)
    status, code, message = error(send(world.http, stale))
    assert (status, code) == (401, "bad_signature") and "Expired" in message
    assert_evaluators_reject(world, stale, "bad_signature")


def test_created_in_the_future_is_401(world):
    early = raw_signed(world.keys["bob"], url=URL, created=now() + 600)
    status, _, message = error(send(world.http, early))
    assert status == 401 and "CreatedInFuture" in message


def test_expires_more_than_five_minutes_after_created_is_401(world):
    bob = world.keys["bob"]
    long_lived = raw_signed(bob, url=URL, created=now(), expires=now() + 301)
    status, _, message = error(send(world.http, long_lived))
    assert status == 401 and "ExpiresTooFar" in message
    assert_evaluators_reject(world, long_lived, "bad_signature")


def test_body_changed_after_signing_is_401(world):
    signed = world.client("bob").signed_request("signMessage", "ops-wallet", {"message": "pay 1"})
    tampered = signed.body.replace(b"pay 1", b"pay 9")
    status, _, message = error(send(world.http, signed, content=tampered))
    assert status == 401 and "ContentDigestMismatch" in message
    # A gateway that "fixes" the digest gets no further: the signature covers it.
    fixed = signed.with_header("Content-Digest", content_digest.create(tampered))
    status, code, _ = error(send(world.http, fixed, content=tampered))
    assert (status, code) == (401, "bad_signature")


def test_method_changed_is_401(world):
    signed_as_put = raw_signed(world.keys["bob"], url=URL, method="PUT")
    status, code, message = error(send(world.http, signed_as_put, method="POST"))
    assert (status, code) == (401, "bad_signature") and "does not verify" in message


def test_target_uri_changed_is_401(world):
    elsewhere = raw_signed(world.keys["bob"], url="https://other.example/v1/authorize")
    status, code, _ = error(send(world.http, elsewhere, url=URL))
    assert (status, code) == (401, "bad_signature")


def test_unknown_keyid_is_401(world):
    status, code, message = error(send(world.http, raw_signed(world.keys["mallory"], url=URL)))
    assert (status, code) == (401, "unknown_key")
    assert world.keys["mallory"].thumbprint in message


def test_signature_by_another_key_is_401(world):
    forged = raw_signed(world.keys["bob"], url=URL, signing_key=world.keys["mallory"].crypto_key())
    status, code, _ = error(send(world.http, forged))
    assert (status, code) == (401, "bad_signature")


def test_algorithm_confusion_hmac_with_the_public_key_is_401(world):
    bob = world.keys["bob"]
    public_bytes = bob.public.crypto_key().public_bytes_raw()
    confused = raw_signed(bob, url=URL, alg="hmac-sha256", signing_key=public_bytes)
    assert 'alg="hmac-sha256"' not in confused.header("signature-input")  # the library omits it ...
    status, code, _ = error(send(world.http, confused))
    assert (status, code) == (401, "bad_signature")  # ... and the key decides the algorithm anyway
    naming_alg = confused.with_header("Signature-Input", confused.header("signature-input") + ';alg="hmac-sha256"')
    status, code, message = error(send(world.http, naming_alg))
    assert status == 401 and "AlgorithmMismatch" in message


def test_p256_key_cannot_sign_as_ed25519(world):
    carol = world.keys["carol"]  # registered with a P-256 key
    wrong_alg = raw_signed(carol, url=URL, alg="ed25519", signing_key=world.keys["mallory"].crypto_key())
    status, _, _ = error(send(world.http, wrong_alg))
    assert status == 401


# --- malformed signatures and headers: 401 ---


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda r: r.with_header("Signature-Input", "garbage((("), "MalformedSignatureHeader"),
        (lambda r: r.with_header("Signature", "sig=:not base64!:"), "MalformedSignatureHeader"),
        (lambda r: r.with_header("Signature", "other=:AAAA:"), "MalformedSignatureHeader"),
        (lambda r: r.with_header("Content-Digest", "md5=:AAAA:"), "UnsupportedDigestAlgorithm"),
        (lambda r: r.with_header("Content-Digest", "sha-256=:AAAA:"), "MalformedContentDigest"),
    ],
)
def test_malformed_signature_fields_are_401(world, mutate, expected):
    status, _, message = error(send(world.http, mutate(raw_signed(world.keys["bob"], url=URL))))
    assert status == 401 and expected in message


def test_missing_signature_is_401(world):
    unsigned = raw_signed(world.keys["bob"], url=URL)
    headers = [(n, v) for n, v in unsigned.headers if n.lower() not in ("signature", "signature-input")]
    response = world.http.post(URL, headers=headers, content=unsigned.body)
    assert response.status_code == 401 and "MissingSignature" in response.json()["error"]["message"]


def test_missing_nonce_is_401(world):
    status, _, message = error(send(world.http, raw_signed(world.keys["bob"], url=URL, omit_nonce=True)))
    assert status == 401 and "nonce" in message


def test_signature_not_covering_the_digest_is_401(world):
    partial = raw_signed(world.keys["bob"], url=URL, components=("@method", "@target-uri", "content-type"))
    status, _, message = error(send(world.http, partial))
    assert status == 401 and "does not cover ['content-digest']" in message


def test_keyid_that_is_not_a_thumbprint_is_401(world):
    status, code, _ = error(send(world.http, raw_signed(world.keys["bob"], url=URL, keyid="bob")))
    assert (status, code) == (401, "unknown_key")


# --- malformed bodies: 400 / 413 / 415 ---


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"not json", "MalformedRequestBody"),
        (b'{"action":"a","action":"b","resource":"r","payload":{}}', "MalformedRequestBody"),
        (body(extra_field=1), "UnknownField"),
        (canonical_json.dumps({"action": "signMessage", "payload": {}}), "MissingField"),
        (canonical_json.dumps({"action": "signMessage", "resource": "r", "payload": [1]}), "WrongFieldType"),
        (canonical_json.dumps({"action": "", "resource": "r", "payload": {}}), "InvalidFieldValue"),
    ],
)
def test_malformed_body_is_400(world, content, expected):
    status, code, message = error(send(world.http, raw_signed(world.keys["bob"], url=URL, content=content)))
    assert (status, code) == (400, "malformed") and expected in message


def test_body_too_large_is_413(world):
    huge = body(payload={"message": "x" * MAX_BODY})
    status, code, _ = error(send(world.http, raw_signed(world.keys["bob"], url=URL, content=huge)))
    assert (status, code) == (413, "too_large")


def test_non_json_content_type_is_415(world):
    text = raw_signed(world.keys["bob"], url=URL, headers=(("Content-Type", "text/plain"),))
    assert error(send(world.http, text))[0] == 415


def test_error_bodies_name_the_decision(world):
    answer = send(world.http, raw_signed(world.keys["mallory"], url=URL)).json()
    assert answer["decision"] == "rejected" and set(answer["error"]) >= {"code", "message"}


# --- the other endpoints ---


def test_request_ids_are_checked(world):
    assert world.http.get("/v1/requests/not-a-hash").status_code == 400
    unknown = world.http.get("/v1/requests/" + "A" * 43)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_request"


def test_approval_bodies_are_checked(world):
    path = "/v1/requests/" + "A" * 43 + "/approvals"
    assert world.http.post(path, content=b"[]").status_code == 400
    assert world.http.post(path, json={"approval": 5}).status_code == 400
    assert world.http.post(path, json={"approval": "a.b.c"}).status_code == 400  # not a JWS
    approval = world.client("dave").approve("A" * 43)
    assert world.http.post(path, json={"approval": approval}).status_code == 404  # no such pending request
    assert world.http.post(path, content=b"x" * 20_000).status_code == 413


@pytest.mark.parametrize("nonce", ["not base64!", "", "A" * 100])
def test_attestation_nonces_are_checked(world, nonce):
    assert world.http.get("/v1/attestations", params={"nonce": nonce}).status_code == 400


# --- 503: the enclaves cannot decide ---


class Unavailable:
    """A deployment whose enclaves disagree, or whose coordinator is gone."""

    def __init__(self, raises: bool = False) -> None:
        self.raises = raises

    def authorize_many(self, requests):
        if self.raises:
            raise ConnectionError("minter actor unreachable")
        return [AuthorizationResult(Status.UNAVAILABLE, "j", code=DIVERGENCE, message="enclaves disagree: e2 says forbid",
                                    enclaves=("e2",)) for _ in requests]  # fmt: skip

    def jwks(self):
        raise ConnectionError("minter actor unreachable")


@pytest.mark.parametrize("raises", [False, True])
def test_enclaves_that_cannot_decide_give_503(world, raises):
    with TestClient(create_app(Unavailable(raises)), base_url=BASE_URL) as http:
        response = send(http, world.client("bob").signed_request("signMessage", "ops-wallet", {"message": "x"}))
        assert response.status_code == 503 and response.headers["Retry-After"] == "1"
        answer = response.json()
        assert answer["decision"] == "unavailable"
        if raises:
            assert "unreachable" in answer["error"]["message"]
        else:
            assert answer["error"] == {"code": "divergence", "message": "enclaves disagree: e2 says forbid",
                                       "enclaves": ["e2"]}  # fmt: skip
        assert http.get("/healthz").status_code == 503


class Restarting(Unavailable):
    """A coordinator that answered once, then is gone (restarting on another node)."""

    def __init__(self) -> None:
        super().__init__(raises=True)
        self.calls = 0

    def jwks(self):
        self.calls += 1
        if self.calls == 1:
            return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AAAA", "kid": "k1"}]}
        raise ConnectionError("minter actor unreachable")


def test_jwks_is_served_stale_while_the_coordinator_is_gone_but_never_invented():
    with TestClient(create_app(Unavailable()), base_url=BASE_URL) as http:
        never = http.get("/.well-known/jwks.json")
        assert never.status_code == 503 and "unreachable" in never.json()["error"]["message"]
    with TestClient(create_app(Restarting()), base_url=BASE_URL) as http:
        fresh = http.get("/.well-known/jwks.json")
        assert fresh.status_code == 200 and "Accord-Stale" not in fresh.headers
        stale = http.get("/.well-known/jwks.json")
        assert stale.status_code == 200 and stale.json() == fresh.json() and stale.headers["Accord-Stale"] == "1"
        assert http.get("/healthz").status_code == 503  # health stays honest


class Expired(Unavailable):
    """A deployment whose active bundle has expired: every evaluator refuses to decide."""

    def authorize_many(self, requests):
        return [AuthorizationResult(Status.REJECTED, "j", code=BUNDLE_EXPIRED,
                                    message="bundle version 1 expired at 2026-01-01T00:00:00+00:00")
                for _ in requests]  # fmt: skip


def test_an_expired_bundle_gives_503(world):
    with TestClient(create_app(Expired()), base_url=BASE_URL) as http:
        response = send(http, world.client("bob").signed_request("signMessage", "ops-wallet", {"message": "x"}))
        assert response.status_code == 503 and response.headers["Retry-After"] == "1"
        assert response.json()["error"]["code"] == "bundle_expired"


def test_public_base_url_must_be_an_origin():
    for bad in ("ftp://x", "https://x/prefix", "https://x?q=1", "x"):
        with pytest.raises(ValueError):
            create_app(Unavailable(), public_base_url=bad)

"""The authorization path end to end, in one process: client-signed request, three
evaluators, FROST 3-of-3 over the claims each built, a token any JOSE library verifies.
Negative cases first."""

from __future__ import annotations

import base64
import dataclasses
import json
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from joserfc import jwt
from joserfc.jwk import KeySet

from accord.client import Client
from accord.cluster.deployment import Deployment
from accord.protocols import minting
from accord.protocols.http_signatures import HttpRequest
from accord.protocols.minting import Status
from accord.protocols.tokens import verify_token


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- negative: the request itself ----------------------------------------------------------


def test_replayed_request_is_refused(deployment, scenario):
    request = scenario.forbid_request()
    assert deployment.authorize(request).status is Status.FORBID
    replay = deployment.authorize(request)
    assert replay.status is Status.REJECTED
    assert replay.code == minting.REPLAY
    assert "nonce" in replay.message.lower()


def test_body_changed_after_signing_is_refused(deployment, scenario):
    request = scenario.permit_request()
    forged = dataclasses.replace(request, body=request.body.replace(b"ops-wallet", b"treasury-hot"))
    result = deployment.authorize(forged)
    assert result.status is Status.REJECTED and result.code == minting.BAD_SIGNATURE
    assert "ContentDigest" in result.message
    assert result.token is None


def test_signature_by_unknown_key_is_refused(deployment, scenario):
    request = scenario.mallory.signed_request("signMessage", "ops-wallet", {"message": "hi"})
    result = deployment.authorize(request)
    assert result.status is Status.REJECTED and result.code == minting.UNKNOWN_KEY


def test_signature_by_another_key_under_a_known_keyid_is_refused(deployment, scenario):
    # Mallory signs, but claims Bob's keyid.
    request = scenario.mallory.signed_request("signMessage", "ops-wallet", {"message": "hi"})
    spoofed = request.with_header(
        "Signature-Input", request.header("signature-input").replace(scenario.mallory.jkt, scenario.bob.jkt)
    )
    result = deployment.authorize(spoofed)
    assert result.status is Status.REJECTED and result.code == minting.BAD_SIGNATURE


def test_unsigned_request_is_refused(deployment, scenario):
    request = scenario.permit_request()
    bare = HttpRequest(request.method, request.url, (("Content-Type", "application/json"),), request.body)
    result = deployment.authorize(bare)
    assert result.status is Status.REJECTED and result.code == minting.BAD_SIGNATURE


def test_expired_request_is_refused(deployment, scenario):
    old = scenario.permit_request(now=int(time.time()) - 600)
    result = deployment.authorize(old)
    assert result.status is Status.REJECTED and result.code == minting.BAD_SIGNATURE
    assert "Expired" in result.message


def test_request_for_another_endpoint_is_refused(deployment, scenario):
    request = scenario.bob.signed_request("signRaw", "ops-wallet", {"raw": "0x00"})
    moved = Client(scenario.bob.key, base_url="https://accord.invalid/v2").signed_request(
        "signRaw", "ops-wallet", {"raw": "0x00"}
    )
    assert deployment.authorize(request).status is Status.FORBID
    result = deployment.authorize(moved)
    assert result.status is Status.REJECTED and result.code == minting.MALFORMED


def test_malformed_body_is_refused(deployment, scenario):
    request = scenario.bob.signed_request("signRaw", "ops-wallet", {"raw": "0x00"})
    broken = dataclasses.replace(request, body=b'{"action": "signRaw"}')
    # Resign the broken body with Bob's key so only the body is wrong.
    from accord.protocols.http_signatures import sign_request

    resigned = sign_request(HttpRequest(broken.method, broken.url, (("Content-Type", "application/json"),),
                                         broken.body), scenario.bob.key, created=int(time.time()))  # fmt: skip
    result = deployment.authorize(resigned)
    assert result.status is Status.REJECTED and result.code == minting.MALFORMED
    assert "missing" in result.message


def test_approval_for_another_request_does_not_count(deployment, scenario):
    other_id = scenario.bob.request_hash("signRaw", "ops-wallet", {"raw": "0x01"})
    approval = scenario.dave.approve(other_id)
    result = deployment.authorize(scenario.confirm_request([approval]))
    assert result.status is Status.CONFIRM and result.token is None
    assert any("approval 0 ignored: ApprovalForOtherRequest" in r for r in result.reasons)


def test_self_approval_does_not_count(deployment, scenario):
    pending = deployment.authorize(scenario.confirm_request())
    own = scenario.bob.approve(pending.request_id)
    result = deployment.authorize(scenario.confirm_request([own, scenario.dave.approve(pending.request_id)]))
    assert result.status is Status.CONFIRM
    assert any("bob cannot approve its own request" in r for r in result.reasons)


def test_junk_approvals_do_not_spoil_valid_ones(deployment, scenario):
    pending = deployment.authorize(scenario.confirm_request())
    junk = [scenario.mallory.approve(pending.request_id), "not.a.jws", scenario.dave.approve("x" * 43)]
    valid = [scenario.dave.approve(pending.request_id), scenario.erin.approve(pending.request_id)]
    result = deployment.authorize(scenario.confirm_request(junk + valid))
    assert result.status is Status.PERMIT and result.token
    assert sum("ignored" in r for r in result.reasons) == 3


def test_request_signed_for_another_origin_is_refused(scenario, tmp_path):
    from accord.enclave.evaluator import EvaluatorConfig

    pinned = Deployment.in_process(state_dir=tmp_path / "state", bundle=scenario.publish(1),
                                   evaluator=EvaluatorConfig(public_origins=("https://accord.example.com",)))  # fmt: skip
    elsewhere = pinned.authorize(scenario.forbid_request())  # the scenario signs for https://accord.invalid
    assert elsewhere.status is Status.REJECTED and "accord.invalid" in elsewhere.message
    here = Client(scenario.bob.key, base_url="https://accord.example.com")
    assert pinned.authorize(here.signed_request("signRaw", "ops-wallet", {"raw": "0x00"})).status is Status.FORBID


# --- positive --------------------------------------------------------------------------------


def test_permit_yields_a_token_any_jose_library_verifies(deployment, scenario):
    result = deployment.authorize(scenario.permit_request())
    assert result.status is Status.PERMIT, result
    jwks = deployment.jwks()
    # joserfc, with nothing from Accord but the JWKS.
    decoded = jwt.decode(result.token, KeySet.import_key_set(jwks), algorithms=["EdDSA"])
    assert decoded.header["typ"] == "at+jwt" and decoded.header["kid"] == jwks["keys"][0]["kid"]
    claims = decoded.claims
    assert claims["sub"] == "bob" and claims["cnf"] == {"jkt": scenario.bob.jkt}
    assert claims["action"] == "signTransaction" and claims["resource"] == "ops-wallet"
    assert claims["exp"] - claims["iat"] == deployment.config.token_ttl
    assert claims["request_hash"] == result.request_id
    # The FROST aggregate is a plain Ed25519 signature over the signing input.
    head, body, signature = result.token.split(".")
    group_key = Ed25519PublicKey.from_public_bytes(b64url_decode(jwks["keys"][0]["x"]))
    group_key.verify(b64url_decode(signature), f"{head}.{body}".encode())
    # Accord's own verifier agrees.
    config = deployment.config.enclave.evaluator
    assert verify_token(result.token, jwks, audience=config.audience, issuer=config.issuer, now=int(time.time()))


def test_bundle_digest_in_token_is_the_active_one(deployment, scenario):
    result = deployment.authorize(scenario.permit_request())
    claims = json.loads(b64url_decode(result.token.split(".")[1]))
    digests = {e["bundle"]["digest"] for e in deployment.status()["groups"][0]["evaluators"]}
    assert digests == {claims["bundle"]}


def test_forbid_has_reasons_and_no_token(deployment, scenario):
    result = deployment.authorize(scenario.forbid_request())
    assert result.status is Status.FORBID
    assert result.reasons == ("forbidden by rule no-raw-signing",)
    assert result.token is None


def test_confirm_then_approvals_then_permit(deployment, scenario):
    # A request of its own: Ed25519 approvals are deterministic, so dave's approval of the
    # request another test got a permit for, in the same second, is that spent approval.
    from accord.scenario import erc20_transfer

    payload = erc20_transfer(scenario.address("exchange"), 50_000_000_001)

    def request(approvals=()):
        return scenario.bob.signed_request("signTransaction", "ops-wallet", payload, approvals)

    pending = deployment.authorize(request())
    assert pending.status is Status.CONFIRM and pending.token is None
    assert pending.approvals["missing"][0]["count"] == 2
    request_id = pending.request_id
    deployment.add_approval(request_id, scenario.dave.approve(request_id))
    deployment.add_approval(request_id, scenario.erin.approve(request_id))
    status = deployment.request_status(request_id)
    assert status["status"] == "pending" and len(status["approvals"]) == 2
    one = deployment.authorize(request(status["approvals"][:1]))
    assert one.status is Status.CONFIRM
    done = deployment.authorize(request(status["approvals"]))
    assert done.status is Status.PERMIT and done.token, done.reasons
    assert done.request_id == request_id


def test_batch_results_are_in_order(deployment, scenario):
    requests = [scenario.permit_request(), scenario.forbid_request(), scenario.confirm_request()]
    results = deployment.authorize_many(requests)
    assert [r.status for r in results] == [Status.PERMIT, Status.FORBID, Status.CONFIRM]
    assert len({r.jti for r in results}) == 3


def test_each_request_of_a_mixed_batch_gets_its_own_answer_and_nonces_count_in_order(deployment, scenario):
    # The evaluators check every signature and body of a batch before deciding any request
    # of it: the failures stay with their requests, and a nonce is still spent in batch order
    # (the second copy of a request is the replay, not the first).
    from accord.protocols.http_signatures import sign_request

    permit = scenario.permit_request()
    forged = dataclasses.replace(scenario.permit_request(), body=permit.body.replace(b"ops-wallet", b"treasury-hot"))
    unknown = scenario.mallory.signed_request("signMessage", "ops-wallet", {"message": "hi"})
    malformed = sign_request(HttpRequest("POST", permit.url, (("Content-Type", "application/json"),),
                                         b'{"action": "signRaw"}'), scenario.bob.key, created=int(time.time()))  # fmt: skip
    forbid = scenario.forbid_request()
    results = deployment.authorize_many([forged, permit, unknown, permit, malformed, forbid])
    assert [(r.status, r.code) for r in results] == [
        (Status.REJECTED, minting.BAD_SIGNATURE), (Status.PERMIT, ""), (Status.REJECTED, minting.UNKNOWN_KEY),
        (Status.REJECTED, minting.REPLAY), (Status.REJECTED, minting.MALFORMED), (Status.FORBID, ""),
    ]  # fmt: skip
    config = deployment.config.enclave.evaluator
    assert verify_token(results[1].token, deployment.jwks(), audience=config.audience, issuer=config.issuer,
                        now=int(time.time()))  # fmt: skip
    assert "missing" in results[4].message


def test_attestations_bind_the_group_key(deployment):
    import cbor2

    from accord.enclave.platform.attestation import verify_attestation
    from accord.enclave.platform.enclave import expected_pcrs
    from accord.enclave.platform.pki import SimulatedNitroPki
    from accord.enclave.platform.timeutil import utc_now

    root = SimulatedNitroPki.load_or_create(deployment.config.root / "simulated-nitro-pki.cbor", now=utc_now()).trusted_root()
    nonce = b"client-nonce-0123456789abcdef"
    kid = deployment.jwks()["keys"][0]["kid"]
    documents = deployment.attestations(nonce)
    assert len(documents) == 3
    for enclave_id, raw in documents.items():
        document = verify_attestation(raw, root=root, at=utc_now(), nonce=nonce,
                                      expected_pcrs=expected_pcrs(deployment.config.enclave))  # fmt: skip
        claim = cbor2.loads(document.user_data)
        deployment_id, group, attested_id, attested_kid, binding = claim[1:6]
        assert deployment_id == deployment.config.enclave.deployment and group == 0
        assert attested_id == enclave_id and attested_kid == kid and len(binding) == 64

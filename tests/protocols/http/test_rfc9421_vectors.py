"""RFC 9421 Appendix B: every B.2 vector through Accord's signer and verifier (the RFC layer
of accord.protocols.http_signatures, which the profile functions use).

For each vector: the signature base equals the vector's bytes; the given signature verifies;
the deterministic algorithms (hmac-sha256, ed25519) reproduce it byte for byte; the
randomized ones (rsa-pss-sha512, ecdsa-p256-sha256) sign-then-verify, and the fresh signature
also verifies with plain `cryptography` over the vector's base.
"""

from __future__ import annotations

import base64
import importlib.metadata
import json
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

from accord.protocols.auth_errors import (
    AlgorithmMismatch,
    BadSignature,
    MissingSignatureParameter,
    SignatureError,
    UnknownKey,
    UnsupportedAlgorithm,
)
from accord.protocols.http_signatures import (
    HttpRequest,
    HttpResponse,
    SignatureParams,
    sign_message,
    signature_base,
    verify_message,
    verify_request,
)
from accord.protocols.jwk import KeyKind, SigningKey

DIR = Path(__file__).parents[2] / "vectors" / "rfc9421"
DATA = json.loads((DIR / "vectors.json").read_text())
RESULTS = json.loads((DIR / "http-message-signatures-3.0.0-results.json").read_text())
VECTORS = {v["rfc"]: v for v in DATA["vectors"]}

# What the pinned library cannot do with Appendix B, per the recorded results: nothing. Every
# B.2 algorithm (rsa-pss-sha512, ecdsa-p256-sha256, hmac-sha256, ed25519) is implemented; the
# B.1.1 rsa-v1_5-sha256 key belongs to B.3/B.4 (TLS proxy, HTTP message), not to B.2.
UNSUPPORTED: set[str] = set()


def _request(name: str = "test-request") -> HttpRequest:
    m = DATA["messages"][name]
    return HttpRequest(m["method"], m["url_for_clients"], tuple(map(tuple, m["headers"])), m["body"].encode())


def _message(vector: dict) -> HttpRequest | HttpResponse:
    if vector["message"] == "test-request":
        return _request()
    m = DATA["messages"]["test-response"]
    return HttpResponse(m["status"], tuple(map(tuple, m["headers"])), m["body"].encode(), _request())


def _keys(vector: dict):
    """(signing key, verification key) in the forms the library takes."""
    entry = DATA["keys"][vector["keyid"]]
    if vector["alg"] == "hmac-sha256":
        secret = base64.b64decode(entry["secret_base64"])
        return secret, secret
    return (
        load_pem_private_key(entry["private_pem"].encode(), password=None),
        load_pem_public_key(entry["public_pem"].encode()),
    )


def _params(vector: dict) -> SignatureParams:
    p = vector["params"]
    return SignatureParams(created=p["created"], keyid=p["keyid"], nonce=p.get("nonce"), tag=p.get("tag"))


def _signed(vector: dict):
    return _message(vector).with_header("Signature-Input", vector["signature_input"]).with_header(
        "Signature", vector["signature"]
    )


def _signature_bytes(field_value: str) -> bytes:
    return base64.b64decode(re.fullmatch(r"[^=]+=:(.*):", field_value).group(1))


def _verify_independently(alg: str, public, signature: bytes, base: bytes) -> None:
    """The same check with nothing but `cryptography` (raises InvalidSignature)."""
    if alg == "rsa-pss-sha512":
        public.verify(signature, base, padding.PSS(padding.MGF1(hashes.SHA512()), 64), hashes.SHA512())
    elif alg == "ecdsa-p256-sha256":
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        public.verify(utils.encode_dss_signature(r, s), base, ec.ECDSA(hashes.SHA256()))
    elif alg == "hmac-sha256":
        mac = hmac.HMAC(public, hashes.SHA256())
        mac.update(base)
        mac.verify(signature)
    else:
        public.verify(signature, base)


vector_ids = pytest.mark.parametrize("rfc", sorted(VECTORS))


# --- negative ------------------------------------------------------------------------------


@vector_ids
def test_tampered_signature_params_fail(rfc):
    vector = VECTORS[rfc]
    _, public = _keys(vector)
    tampered = _signed(vector).with_header(
        "Signature-Input", vector["signature_input"].replace("created=1618884473", "created=1618884474")
    )
    with pytest.raises(BadSignature):
        verify_message(tampered, alg=vector["alg"], keyid=vector["keyid"], key=public)


@vector_ids
def test_tampered_body_digest_fails_where_covered(rfc):
    vector = VECTORS[rfc]
    _, public = _keys(vector)
    signed = _signed(vector)
    digest = signed.header("content-digest")
    tampered = signed.with_header("Content-Digest", digest.replace("WZDP", "WZDQ").replace("mEWX", "mEWY"))
    if '"content-digest"' in vector["covered_components"]:
        with pytest.raises(BadSignature):
            verify_message(tampered, alg=vector["alg"], keyid=vector["keyid"], key=public)
    else:
        verify_message(tampered, alg=vector["alg"], keyid=vector["keyid"], key=public)


def test_key_of_another_type_is_refused():
    vector = VECTORS["B.2.6"]
    p256 = load_pem_public_key(DATA["keys"]["test-key-ecc-p256"]["public_pem"].encode())
    with pytest.raises(AlgorithmMismatch):
        verify_message(_signed(vector), alg="ed25519", keyid=vector["keyid"], key=p256)


def test_unknown_algorithm():
    vector = VECTORS["B.2.6"]
    with pytest.raises(UnsupportedAlgorithm):
        signature_base(_request(), alg="ed448", covered_components=(), params=_params(vector))


def test_keyid_must_match():
    vector = VECTORS["B.2.6"]
    _, public = _keys(vector)
    with pytest.raises(UnknownKey):
        verify_message(_signed(vector), alg="ed25519", keyid="another-key", key=public)


@pytest.mark.parametrize("rfc", [rfc for rfc, v in sorted(VECTORS.items()) if v["message"] == "test-request"])
def test_accord_profile_refuses_the_rfc_vectors(rfc):
    """The request vectors lack Accord's required parameters (expires, nonce, thumbprint keyid)."""
    vector = VECTORS[rfc]
    ed = SigningKey.generate(KeyKind.ED25519).public
    with pytest.raises(SignatureError) as info:
        verify_request(_signed(vector), resolve_key=lambda _: ed, now=vector["params"]["created"])
    assert isinstance(info.value, MissingSignatureParameter)


# --- the vectors ---------------------------------------------------------------------------


def test_library_results_record_no_unsupported_vector():
    assert importlib.metadata.version("http-message-signatures") == "3.0.0"
    failed = {name for name, (ok, _) in RESULTS.items() if not ok}
    assert failed == set()
    for rfc, vector in VECTORS.items():
        supported = RESULTS[f"verify {rfc} ({vector['alg']})"][0] and RESULTS[f"signature base {rfc}"][0]
        assert supported == (rfc not in UNSUPPORTED)


def test_vector_files_agree():
    assert set(VECTORS) == {f"B.2.{i}" for i in range(1, 7)}
    for vector in VECTORS.values():
        (path,) = DIR.glob(f"signature-bases/b2{vector['rfc'][-1]}_*.txt")
        assert path.read_bytes() == vector["signature_base"].encode()
    raw = (DIR / "test-request.http").read_bytes()
    head, body = raw.split(b"\r\n\r\n", 1)
    request_line, *lines = head.decode().split("\r\n")
    method, target, _ = request_line.split(" ")
    request = _request()
    assert (method, "https://example.com" + target, body) == (request.method, request.url, request.body)
    assert tuple(tuple(line.split(": ", 1)) for line in lines) == request.headers


@vector_ids
def test_signature_base_matches(rfc):
    vector = VECTORS[rfc]
    base = signature_base(
        _message(vector),
        alg=vector["alg"],
        covered_components=vector["covered_components"],
        params=_params(vector),
        label=vector["label"],
    )
    assert base == vector["signature_base"].encode()


@vector_ids
def test_given_signature_verifies(rfc):
    vector = VECTORS[rfc]
    _, public = _keys(vector)
    covered = verify_message(_signed(vector), alg=vector["alg"], keyid=vector["keyid"], key=public)
    assert list(covered) == [*vector["covered_components"], '"@signature-params"']
    assert covered['"@signature-params"'] == vector["signature_input"].split("=", 1)[1]
    assert "\n".join(f"{k}: {v}" for k, v in covered.items()).encode() == vector["signature_base"].encode()
    signature = _signature_bytes(vector["signature"])
    _verify_independently(vector["alg"], public, signature, vector["signature_base"].encode())


@vector_ids
def test_signer(rfc):
    vector = VECTORS[rfc]
    private, public = _keys(vector)
    signed = sign_message(
        _message(vector),
        alg=vector["alg"],
        key=private,
        covered_components=vector["covered_components"],
        params=_params(vector),
        label=vector["label"],
    )
    assert signed.header("signature-input") == vector["signature_input"]
    if vector["deterministic"]:
        assert signed.header("signature") == vector["signature"]
    else:
        assert signed.header("signature") != vector["signature"]  # randomized: a fresh signature
    verify_message(signed, alg=vector["alg"], keyid=vector["keyid"], key=public)
    _verify_independently(
        vector["alg"], public, _signature_bytes(signed.header("signature")), vector["signature_base"].encode()
    )

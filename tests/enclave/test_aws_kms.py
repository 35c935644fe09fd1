"""The AWS KMS client of Nitro enclaves (`AwsKms`, botocore) against a KMS served on the
loopback interface: it speaks AWS's JSON protocol (`TrentService.*`, base64 blobs, `__type`
errors) and answers from the simulated KMS, so the requests botocore sends and the answers
it parses are the real wire format, and the sealed state round-trips through them."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from nitro_vectors import CONFIG, OTHER_CONFIG, clock_at

from accord.enclave.configuration import KmsKind, KmsSettings
from accord.enclave.platform.aws_kms import KEY_ENCRYPTION_ALGORITHM, AwsKms
from accord.enclave.platform.enclave import expected_pcrs
from accord.enclave.platform.errors import (
    IncorrectKeyError,
    InvalidKmsRequestError,
    KeyPolicyMismatchError,
    KmsAccessDeniedError,
    KmsError,
    KmsKeyNotFoundError,
    SealedDataTamperedError,
)
from accord.enclave.platform.kms import KeyPolicy, Kms

# Exceptions of the simulated KMS -> the AWS error codes a real KMS answers with.
_AWS_CODES = {"InvalidCiphertextError": "InvalidCiphertextException", "IncorrectKeyError": "IncorrectKeyException",
              "KmsKeyNotFoundError": "NotFoundException"}  # fmt: skip


class LocalKms:
    """AWS KMS's JSON API on 127.0.0.1, backed by the simulated KMS."""

    def __init__(self, kms: Kms) -> None:
        self.kms = kms
        self.requests: list[tuple[dict[str, str], dict]] = []
        self.tamper: str | None = None  # "plaintext": answer with a plaintext key, as a host would like
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append((dict(self.headers), body))
                status, answer = outer.answer(self.headers["X-Amz-Target"], body)
                raw = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, target: str, body: dict) -> tuple[int, dict]:
        b64 = base64.b64encode
        recipient = base64.b64decode(body["Recipient"]["AttestationDocument"])
        try:
            if target == "TrentService.GenerateDataKey":
                out = self.kms.generate_data_key(body["KeyId"], recipient=recipient, number_of_bytes=body["NumberOfBytes"],
                                                 encryption_context=body.get("EncryptionContext"))  # fmt: skip
                answer = {"KeyId": out.key_id, "CiphertextBlob": b64(out.ciphertext_blob).decode(),
                          "CiphertextForRecipient": b64(out.ciphertext_for_recipient).decode()}  # fmt: skip
            elif target == "TrentService.Decrypt":
                out = self.kms.decrypt(base64.b64decode(body["CiphertextBlob"]), recipient=recipient,
                                       key_id=body.get("KeyId"), encryption_context=body.get("EncryptionContext"))  # fmt: skip
                answer = {"KeyId": out.key_id, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
                          "CiphertextForRecipient": b64(out.ciphertext_for_recipient).decode()}  # fmt: skip
            else:
                return 400, {"__type": "UnknownOperationException", "message": target}
        except KmsError as exc:
            code = _AWS_CODES.get(type(exc).__name__, "AccessDeniedException")
            return 400, {"__type": code, "message": str(exc)}
        if self.tamper == "plaintext":
            answer["Plaintext"] = b64(b"\x00" * 32).decode()
        return 200, answer

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def aws_env(monkeypatch):
    # The host's credentials: they sign requests, they decide nothing.
    for name, value in {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
                        "AWS_EC2_METADATA_DISABLED": "true"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def local_kms(sim_root, aws_env):
    kms = Kms(sim_root, clock=clock_at())
    server = LocalKms(kms)
    yield server
    server.close()


def client(local_kms, key_id: str) -> AwsKms:
    return AwsKms(KmsSettings(KmsKind.AWS, region="eu-west-1", endpoint=local_kms.url, key_id=key_id))


@pytest.fixture
def sealing_key(local_kms) -> str:
    return local_kms.kms.create_key(KeyPolicy.for_pcrs(expected_pcrs(CONFIG)), description="sealing")


def test_sealed_state_round_trips_through_aws_kms(make_enclave, local_kms, sealing_key):
    enclave = make_enclave("g0-e0-keyshare")
    store = enclave.sealed_store(client(local_kms, sealing_key), sealing_key)
    store.seal("share", b"signing share bytes")
    assert store.unseal("share").reveal() == b"signing share bytes"
    (headers, generate), (_, decrypt) = local_kms.requests
    assert headers["X-Amz-Target"] == "TrentService.GenerateDataKey"
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/kms/aws4_request" in headers["Authorization"]
    for body in (generate, decrypt):
        assert body["KeyId"] == sealing_key
        assert body["Recipient"]["KeyEncryptionAlgorithm"] == KEY_ENCRYPTION_ALGORITHM
        assert body["EncryptionContext"] == {"accord:enclave-id": "g0-e0-keyshare", "accord:sealed-name": "share"}
    assert generate["NumberOfBytes"] == 32 and "CiphertextBlob" in decrypt


def test_other_code_is_denied_by_the_key_policy(make_enclave, local_kms, sealing_key):
    other = make_enclave("g0-e0-keyshare", config=OTHER_CONFIG)
    with pytest.raises(KmsAccessDeniedError, match="AccessDeniedException: recipient does not satisfy the key policy"):
        other.sealed_store(client(local_kms, sealing_key), sealing_key).seal("share", b"x")
    assert issubclass(KeyPolicyMismatchError, KmsAccessDeniedError)


def test_an_answer_with_a_plaintext_key_is_refused(make_enclave, local_kms, sealing_key):
    local_kms.tamper = "plaintext"
    store = make_enclave().sealed_store(client(local_kms, sealing_key), sealing_key)
    with pytest.raises(KmsError, match="returned a plaintext key despite the Recipient"):
        store.seal("share", b"x")


def test_a_host_chosen_key_is_refused_without_asking_aws(make_enclave, local_kms, sealing_key):
    kms = client(local_kms, sealing_key)
    with pytest.raises(IncorrectKeyError, match="not the measured key"):
        kms.decrypt(b"blob", recipient=make_enclave().recipient_document(), key_id="arn:aws:kms:eu-west-1:1:key/host")
    with pytest.raises(InvalidKmsRequestError, match="only with a Recipient"):
        kms.decrypt(b"blob", recipient=None)
    assert local_kms.requests == []


def test_aws_errors_become_specific_exceptions(make_enclave, local_kms, sealing_key):
    enclave = make_enclave()
    store = enclave.sealed_store(client(local_kms, sealing_key), sealing_key)
    path = store.seal("share", b"x")
    raw = bytearray(path.read_bytes())
    raw[raw.rfind(b"data_key") + 20] ^= 1  # inside the stored CiphertextBlob
    path.write_bytes(bytes(raw))
    with pytest.raises(SealedDataTamperedError, match="the KMS rejected the data key"):
        store.unseal("share")
    missing = client(local_kms, "no-such-key")
    with pytest.raises(KmsKeyNotFoundError, match="NotFoundException"):
        missing.generate_data_key("no-such-key", recipient=enclave.recipient_document())


def test_an_unreachable_endpoint_is_a_transient_failure(make_enclave, aws_env):
    unreachable = AwsKms(KmsSettings(KmsKind.AWS, region="eu-west-1", endpoint="http://127.0.0.1:9", key_id="k"))
    with pytest.raises(ConnectionError, match="unreachable"):
        unreachable.generate_data_key("k", recipient=make_enclave().recipient_document())

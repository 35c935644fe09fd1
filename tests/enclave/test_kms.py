"""CMS EnvelopedData (the real KMS CiphertextForRecipient vector) and the attestation-gated KMS."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

import pytest
from asn1crypto import cms, core
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from nitro_vectors import CONFIG, NITRO, NOW, OTHER_CONFIG, MutableClock, clock_at

from accord.enclave.platform.cms import build_enveloped_data, open_enveloped_data, subject_key_identifier
from accord.enclave.platform.enclave import Enclave, expected_pcrs
from accord.enclave.platform.errors import (
    AttestationSignatureError,
    DebugRecipientRefusedError,
    EnvelopeDecryptionError,
    IncorrectKeyError,
    InvalidCiphertextError,
    InvalidKmsRequestError,
    KeyPolicyError,
    KeyPolicyMismatchError,
    KmsKeyNotFoundError,
    MalformedEnvelopeError,
    MissingRecipientError,
    RecipientAttestationError,
    RecipientNotFoundError,
    StaleRecipientAttestationError,
    UnsupportedEnvelopeAlgorithmError,
    UnsupportedRecipientKeyError,
    UntrustedRootError,
)
from accord.enclave.platform.kms import IMAGE_SHA384, KeyPolicy, Kms, RecipientKey
from accord.enclave.platform.pki import SimulatedNitroPki

EDGEBIT = NITRO / "edgebit-kms"


@pytest.fixture(scope="module")
def edgebit():
    blob = base64.b64decode((EDGEBIT / "kms_ciphertext_for_recipient.b64").read_text())
    key = serialization.load_pem_private_key((EDGEBIT / "recipient_rsa2048_test_key.pem").read_bytes(), None)
    expected = bytes.fromhex((EDGEBIT / "expected_plaintext_data_key.hex").read_text().strip())
    return blob, key, expected


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


# --- CMS ------------------------------------------------------------------------------------


def test_real_kms_ciphertext_for_recipient_decodes(edgebit):
    blob, key, expected = edgebit
    assert len(blob) == 493
    assert RecipientKey(key).open(blob).reveal() == expected


def test_real_blob_structure_is_what_we_build(edgebit, rsa_key):
    blob, key, _ = edgebit
    for data, private in ((blob, key), (build_enveloped_data(b"k" * 32, rsa_key.public_key()), rsa_key)):
        enveloped = cms.ContentInfo.load(data)["content"]
        ktri = enveloped["recipient_infos"][0].chosen
        assert enveloped["version"].native == "v2" and ktri["version"].native == "v2"
        assert ktri["rid"].name == "subject_key_identifier"
        spki = private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        assert ktri["rid"].native == hashlib.sha256(spki).digest() == subject_key_identifier(private.public_key())
        assert ktri["key_encryption_algorithm"]["algorithm"].native == "rsaes_oaep"
        assert enveloped["encrypted_content_info"]["content_encryption_algorithm"]["algorithm"].native == "aes256_cbc"


def test_real_blob_for_another_key_is_refused(edgebit, rsa_key):
    with pytest.raises(RecipientNotFoundError, match="subjectKeyIdentifier"):
        open_enveloped_data(edgebit[0], rsa_key)


def test_round_trip(rsa_key):
    assert open_enveloped_data(build_enveloped_data(b"data key", rsa_key.public_key()), rsa_key).reveal() == b"data key"


def _envelope(key: rsa.RSAPrivateKey, *, key_algorithm=None, content_algorithm="aes256_cbc",
              flip_key_byte: int | None = None, flip_content_byte: int | None = None) -> bytes:  # fmt: skip
    """Re-assemble a real envelope for `key` with one field replaced (adversarial input)."""
    built = cms.ContentInfo.load(build_enveloped_data(b"k" * 32, key.public_key()))["content"]
    ktri = built["recipient_infos"][0].chosen
    encrypted_key = bytearray(ktri["encrypted_key"].native)
    content = built["encrypted_content_info"]
    encrypted_content = bytearray(content["encrypted_content"].native)
    if flip_key_byte is not None:
        encrypted_key[flip_key_byte] ^= 1
    if flip_content_byte is not None:
        encrypted_content[flip_content_byte] ^= 1
    recipient = cms.KeyTransRecipientInfo(
        {
            "version": "v2",
            "rid": cms.RecipientIdentifier(name="subject_key_identifier", value=ktri["rid"].native),
            "key_encryption_algorithm": key_algorithm or ktri["key_encryption_algorithm"].native,
            "encrypted_key": bytes(encrypted_key),
        }
    )
    enveloped = cms.EnvelopedData(
        {
            "version": "v2",
            "recipient_infos": [cms.RecipientInfo(name="ktri", value=recipient)],
            "encrypted_content_info": {
                "content_type": "data",
                "content_encryption_algorithm": {
                    "algorithm": content_algorithm,
                    "parameters": content["content_encryption_algorithm"]["parameters"].native,
                },
                "encrypted_content": bytes(encrypted_content),
            },
        }
    )
    return cms.ContentInfo({"content_type": "enveloped_data", "content": enveloped}).dump()


def test_envelope_helper_round_trips(rsa_key):
    assert open_enveloped_data(_envelope(rsa_key), rsa_key).reveal() == b"k" * 32


def test_altered_encrypted_key_is_refused(rsa_key):
    with pytest.raises(EnvelopeDecryptionError, match="RSAES-OAEP"):
        open_enveloped_data(_envelope(rsa_key, flip_key_byte=100), rsa_key)


def test_altered_content_is_refused(rsa_key):
    # The last block carries the padding; CMS has no MAC, so only padding can catch this.
    with pytest.raises(EnvelopeDecryptionError, match="padding"):
        open_enveloped_data(_envelope(rsa_key, flip_content_byte=-1), rsa_key)


@pytest.mark.parametrize(
    "options,message",
    [
        ({"key_algorithm": {"algorithm": "rsaes_pkcs1v15", "parameters": core.Null()}}, "rsaes_oaep"),
        ({"key_algorithm": {"algorithm": "rsaes_oaep", "parameters": {
            "hash_algorithm": {"algorithm": "sha1"},
            "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": "sha1"}},
        }}}, "SHA-256"),  # fmt: skip
        ({"content_algorithm": "aes128_cbc"}, "aes256_cbc"),
    ],
    ids=["pkcs1v15", "oaep-sha1", "aes128"],
)
def test_unsupported_algorithms_are_refused(rsa_key, options, message):
    with pytest.raises(UnsupportedEnvelopeAlgorithmError, match=message):
        open_enveloped_data(_envelope(rsa_key, **options), rsa_key)


@pytest.mark.parametrize("data", [b"", b"\x30\x03\x02\x01\x01", b"garbage" * 10, cms.ContentInfo({"content_type": "data", "content": b"x"}).dump()])
def test_malformed_envelopes(data, rsa_key):
    with pytest.raises(MalformedEnvelopeError):
        open_enveloped_data(data, rsa_key)


def test_truncated_real_blob(edgebit):
    blob, key, _ = edgebit
    for keep in (1, 50, 250, len(blob) - 1):
        with pytest.raises((MalformedEnvelopeError, EnvelopeDecryptionError)):
            open_enveloped_data(blob[:keep], key)


# --- KMS ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def enclaves(pki, tmp_path_factory):
    """Module-scoped enclaves (RSA key generation is the slow part)."""
    base = tmp_path_factory.mktemp("kms")

    def make(enclave_id, **options):
        options.setdefault("config", CONFIG)
        options.setdefault("clock", clock_at())
        return Enclave.simulated(enclave_id=enclave_id, state_dir=base / enclave_id, pki=pki, **options)

    return {
        "good": make("good"),
        "other-code": make("other-code", config=OTHER_CONFIG),
        "debug": make("debug", debug=True),
    }


@pytest.fixture
def kms(sim_root):
    return Kms(sim_root, clock=clock_at())


@pytest.fixture
def key_id(kms):
    return kms.create_key(KeyPolicy.for_pcrs(expected_pcrs(CONFIG)))


def test_generate_data_key_and_decrypt(kms, key_id, enclaves):
    enclave = enclaves["good"]
    response = kms.generate_data_key(key_id, recipient=enclave.recipient_document())
    data_key = enclave.open_ciphertext_for_recipient(response.ciphertext_for_recipient)
    assert len(data_key) == 32 and response.key_id == key_id
    again = kms.decrypt(response.ciphertext_blob, recipient=enclave.recipient_document())
    assert enclave.open_ciphertext_for_recipient(again.ciphertext_for_recipient) == data_key
    assert data_key.reveal() not in response.ciphertext_blob + response.ciphertext_for_recipient


def test_aws_condition_keys(kms, enclaves):
    pcrs = expected_pcrs(CONFIG)
    policy = KeyPolicy.from_conditions({IMAGE_SHA384: pcrs[0].hex().upper(), "kms:RecipientAttestation:PCR1": [pcrs[1].hex(), "00" * 48]})
    assert policy.pcrs == {0: frozenset([pcrs[0]]), 1: frozenset([pcrs[1], bytes(48)])}
    key_id = kms.create_key(policy)
    kms.generate_data_key(key_id, recipient=enclaves["good"].recipient_document())


@pytest.mark.parametrize("recipient", [None, b""])
def test_refuses_without_attestation(kms, key_id, recipient):
    with pytest.raises(MissingRecipientError):
        kms.generate_data_key(key_id, recipient=recipient)


def test_decrypt_refuses_without_attestation(kms, key_id, enclaves):
    blob = kms.generate_data_key(key_id, recipient=enclaves["good"].recipient_document()).ciphertext_blob
    with pytest.raises(MissingRecipientError):
        kms.decrypt(blob, recipient=None)


def test_refuses_invalid_attestation(kms, key_id, enclaves):
    document = bytearray(enclaves["good"].recipient_document())
    document[-1] ^= 0x40  # the signature
    with pytest.raises(RecipientAttestationError) as caught:
        kms.generate_data_key(key_id, recipient=bytes(document))
    assert isinstance(caught.value.__cause__, AttestationSignatureError)


def test_refuses_attestation_from_another_root(pki, key_id, kms, tmp_path):
    stranger_pki = SimulatedNitroPki.generate(now=NOW)
    stranger = Enclave.simulated(enclave_id="stranger", config=CONFIG, state_dir=tmp_path, pki=stranger_pki, clock=clock_at())
    with pytest.raises(RecipientAttestationError) as caught:
        kms.generate_data_key(key_id, recipient=stranger.recipient_document())
    assert isinstance(caught.value.__cause__, UntrustedRootError)


def test_refuses_stale_attestation(sim_root, enclaves):
    clock = MutableClock()
    kms = Kms(sim_root, clock=clock)
    key_id = kms.create_key(KeyPolicy.for_pcrs(expected_pcrs(CONFIG), max_attestation_age=timedelta(minutes=5)))
    document = enclaves["good"].recipient_document()  # stamped at NOW
    clock.moment = NOW + timedelta(minutes=6)
    with pytest.raises(StaleRecipientAttestationError, match="stale"):
        kms.generate_data_key(key_id, recipient=document)


def test_refuses_pcr_mismatch(kms, key_id, enclaves):
    with pytest.raises(KeyPolicyMismatchError, match="PCR0"):
        kms.generate_data_key(key_id, recipient=enclaves["other-code"].recipient_document())


def test_refuses_debug_enclave_for_production_policy(kms, key_id, enclaves):
    with pytest.raises(DebugRecipientRefusedError, match="production policy"):
        kms.generate_data_key(key_id, recipient=enclaves["debug"].recipient_document())


def test_debug_policy_admits_debug_enclave(kms, enclaves):
    zero = {index: bytes(48) for index in (0, 1, 2)}
    key_id = kms.create_key(KeyPolicy.for_pcrs(zero, allow_debug=True))
    kms.generate_data_key(key_id, recipient=enclaves["debug"].recipient_document())
    with pytest.raises(KeyPolicyMismatchError):
        kms.generate_data_key(key_id, recipient=enclaves["good"].recipient_document())


def test_policy_update_locks_out_old_code(kms, key_id, enclaves):
    kms.put_key_policy(key_id, KeyPolicy.for_pcrs(expected_pcrs(OTHER_CONFIG)))
    with pytest.raises(KeyPolicyMismatchError):
        kms.generate_data_key(key_id, recipient=enclaves["good"].recipient_document())
    kms.generate_data_key(key_id, recipient=enclaves["other-code"].recipient_document())


def test_refuses_recipient_without_rsa_2048_key(kms, key_id, enclaves):
    enclave = enclaves["good"]
    with pytest.raises(UnsupportedRecipientKeyError, match="no public_key"):
        kms.generate_data_key(key_id, recipient=enclave.attest())
    with pytest.raises(UnsupportedRecipientKeyError, match="RSA-2048"):
        kms.generate_data_key(key_id, recipient=enclave.identity_document())  # an Ed25519 key
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    spki = small.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(UnsupportedRecipientKeyError, match="RSA-2048"):
        kms.generate_data_key(key_id, recipient=enclave.attest(public_key=spki))


def test_decrypt_checks(kms, key_id, enclaves):
    enclave = enclaves["good"]
    context = {"accord:enclave-id": "good"}
    blob = kms.generate_data_key(key_id, recipient=enclave.recipient_document(), encryption_context=context).ciphertext_blob
    kms.decrypt(blob, recipient=enclave.recipient_document(), encryption_context=context, key_id=key_id)
    with pytest.raises(InvalidCiphertextError, match="encryption context"):
        kms.decrypt(blob, recipient=enclave.recipient_document(), encryption_context={"accord:enclave-id": "evil"})
    with pytest.raises(IncorrectKeyError):
        kms.decrypt(blob, recipient=enclave.recipient_document(), key_id="another-key")
    altered = bytearray(blob)
    altered[-1] ^= 1
    with pytest.raises(InvalidCiphertextError):
        kms.decrypt(bytes(altered), recipient=enclave.recipient_document(), encryption_context=context)
    with pytest.raises(InvalidCiphertextError):
        kms.decrypt(b"\x01\x02", recipient=enclave.recipient_document())


def test_unknown_key(kms, enclaves):
    with pytest.raises(KmsKeyNotFoundError):
        kms.generate_data_key("nope", recipient=enclaves["good"].recipient_document())


def test_data_key_size_is_checked(kms, key_id, enclaves):
    with pytest.raises(InvalidKmsRequestError):
        kms.generate_data_key(key_id, recipient=enclaves["good"].recipient_document(), number_of_bytes=0)


@pytest.mark.parametrize(
    "make",
    [
        lambda: KeyPolicy({}),
        lambda: KeyPolicy({32: bytes(48)}),
        lambda: KeyPolicy({0: b"short"}),
        lambda: KeyPolicy({0: frozenset()}),
        lambda: KeyPolicy.from_conditions({"kms:RecipientAttestation:PCR32": "00" * 48}),
        lambda: KeyPolicy.from_conditions({"kms:EncryptionContext:x": "00" * 48}),
        lambda: KeyPolicy.from_conditions({IMAGE_SHA384: "not hex"}),
    ],
)
def test_invalid_key_policies(make):
    with pytest.raises(KeyPolicyError):
        make()

"""CMS EnvelopedData (RFC 5652) as AWS KMS writes `CiphertextForRecipient`.

ContentInfo(envelopedData) with EnvelopedData v2 holding one KeyTransRecipientInfo v2:
rid = [0] subjectKeyIdentifier = SHA-256 of the recipient's SubjectPublicKeyInfo DER, key
transport RSAES-OAEP with SHA-256 and MGF1-SHA-256 (RFC 4055), content AES-256-CBC with a
16-byte IV and PKCS#7 padding. asn1crypto parses the BER (indefinite lengths) KMS emits.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from asn1crypto import algos, cms
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from accord.enclave.platform.errors import (
    EnvelopeDecryptionError,
    MalformedEnvelopeError,
    RecipientNotFoundError,
    UnsupportedEnvelopeAlgorithmError,
)
from accord.protocols.secret import SecretBytes

CONTENT_KEY_SIZE = 32
IV_SIZE = 16
_OAEP = asym_padding.OAEP(mgf=asym_padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def subject_key_identifier(public_key: rsa.RSAPublicKey) -> bytes:
    """SHA-256 of the SubjectPublicKeyInfo DER: the rid KMS uses."""
    spki = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).digest()


def _oaep_sha256() -> cms.KeyEncryptionAlgorithm:
    return cms.KeyEncryptionAlgorithm(
        {
            "algorithm": "rsaes_oaep",
            "parameters": algos.RSAESOAEPParams(
                {
                    "hash_algorithm": {"algorithm": "sha256"},
                    "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": "sha256"}},
                }
            ),
        }
    )


def build_enveloped_data(plaintext: bytes, recipient: rsa.RSAPublicKey) -> bytes:
    """Encrypt `plaintext` to `recipient` as DER ContentInfo(EnvelopedData)."""
    content_key, iv = os.urandom(CONTENT_KEY_SIZE), os.urandom(IV_SIZE)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(content_key), modes.CBC(iv)).encryptor()
    encrypted_content = encryptor.update(padded) + encryptor.finalize()
    recipient_info = cms.KeyTransRecipientInfo(
        {
            "version": "v2",
            "rid": cms.RecipientIdentifier(name="subject_key_identifier", value=subject_key_identifier(recipient)),
            "key_encryption_algorithm": _oaep_sha256(),
            "encrypted_key": recipient.encrypt(content_key, _OAEP),
        }
    )
    enveloped = cms.EnvelopedData(
        {
            "version": "v2",
            "recipient_infos": [cms.RecipientInfo(name="ktri", value=recipient_info)],
            "encrypted_content_info": {
                "content_type": "data",
                "content_encryption_algorithm": {"algorithm": "aes256_cbc", "parameters": iv},
                "encrypted_content": encrypted_content,
            },
        }
    )
    return cms.ContentInfo({"content_type": "enveloped_data", "content": enveloped}).dump()


def _check_oaep(algorithm: cms.KeyEncryptionAlgorithm) -> None:
    name = algorithm["algorithm"].native
    if name != "rsaes_oaep":
        raise UnsupportedEnvelopeAlgorithmError(f"key transport is {name}, expected rsaes_oaep")
    params = algorithm["parameters"]
    found = (
        params["hash_algorithm"]["algorithm"].native,
        params["mask_gen_algorithm"]["algorithm"].native,
        params["mask_gen_algorithm"]["parameters"]["algorithm"].native,
        params["p_source_algorithm"]["parameters"].native,
    )
    if found != ("sha256", "mgf1", "sha256", b""):
        raise UnsupportedEnvelopeAlgorithmError(
            f"RSAES-OAEP parameters {found[:3]} (label {found[3]!r}); expected SHA-256 with MGF1-SHA-256, no label"
        )


def _find_recipient(enveloped: cms.EnvelopedData, rid: bytes) -> cms.KeyTransRecipientInfo:
    for info in enveloped["recipient_infos"]:
        if info.name != "ktri":
            continue
        ktri = info.chosen
        if ktri["rid"].name == "subject_key_identifier" and hmac.compare_digest(ktri["rid"].native, rid):
            return ktri
    raise RecipientNotFoundError(f"no KeyTransRecipientInfo for subjectKeyIdentifier {rid.hex()}")


def _decrypt(enveloped: cms.EnvelopedData, private_key: rsa.RSAPrivateKey) -> bytes:
    recipient = _find_recipient(enveloped, subject_key_identifier(private_key.public_key()))
    _check_oaep(recipient["key_encryption_algorithm"])
    content = enveloped["encrypted_content_info"]
    algorithm = content["content_encryption_algorithm"]
    if algorithm["algorithm"].native != "aes256_cbc":
        raise UnsupportedEnvelopeAlgorithmError(f"content encryption is {algorithm['algorithm'].native}, expected aes256_cbc")
    iv, ciphertext = algorithm["parameters"].native, content["encrypted_content"].native
    if not isinstance(iv, bytes) or len(iv) != IV_SIZE or not ciphertext or len(ciphertext) % 16:
        raise MalformedEnvelopeError("AES-256-CBC needs a 16-byte IV and whole blocks of ciphertext")
    try:
        content_key = private_key.decrypt(recipient["encrypted_key"].native, _OAEP)
    except ValueError:
        raise EnvelopeDecryptionError("RSAES-OAEP decryption of the content key failed") from None
    if len(content_key) != CONTENT_KEY_SIZE:
        raise EnvelopeDecryptionError(f"content key is {len(content_key)} bytes, AES-256 needs 32")
    decryptor = Cipher(algorithms.AES(content_key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise EnvelopeDecryptionError("content padding is invalid: wrong key or altered ciphertext") from None


def open_enveloped_data(data: bytes, private_key: rsa.RSAPrivateKey) -> SecretBytes:
    """Decrypt a BER/DER ContentInfo(EnvelopedData) addressed to `private_key`."""
    try:
        info = cms.ContentInfo.load(data)
        if info["content_type"].native != "enveloped_data":
            raise MalformedEnvelopeError(f"ContentInfo holds {info['content_type'].native}, not enveloped_data")
        return SecretBytes(_decrypt(info["content"], private_key), "CMS content")
    except (ValueError, TypeError, KeyError) as exc:
        # asn1crypto parses lazily: a structural error surfaces on first access.
        raise MalformedEnvelopeError(f"not a CMS EnvelopedData: {exc}") from exc

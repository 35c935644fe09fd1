"""The real AWS KMS, as a Nitro enclave reaches it (botocore, through the parent's vsock proxy).

An enclave on Nitro seals with the KMS key its measured configuration names
(`KmsSettings`: region, endpoint, key id). Every call carries a `Recipient`: the enclave's
attestation document with its RSA-2048 key, `KeyEncryptionAlgorithm` RSAES_OAEP_SHA_256.
AWS then returns the data key only as `CiphertextForRecipient` (CMS EnvelopedData, decoded
inside the enclave by `cms`), never as `Plaintext`; an answer that carries a plaintext, or
lacks the enveloped key, is refused: the host relays these answers and must not see keys.

The host also supplies the credentials (SigV4); they decide nothing: the key policy's
`kms:RecipientAttestation:*` conditions do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from accord.enclave.platform.errors import (
    IncorrectKeyError,
    InvalidCiphertextError,
    InvalidKmsRequestError,
    KmsAccessDeniedError,
    KmsError,
    KmsKeyNotFoundError,
)
from accord.enclave.platform.kms import DecryptResponse, GenerateDataKeyResponse
from accord.enclave.platform.settings import KmsKind, KmsSettings

KEY_ENCRYPTION_ALGORITHM = "RSAES_OAEP_SHA_256"
_ERRORS: dict[str, type[KmsError]] = {
    "InvalidCiphertextException": InvalidCiphertextError,
    "IncorrectKeyException": IncorrectKeyError,
    "AccessDeniedException": KmsAccessDeniedError,
    "NotFoundException": KmsKeyNotFoundError,
    "ValidationException": InvalidKmsRequestError,
    "InvalidKeyUsageException": InvalidKmsRequestError,
}


class AwsKms:
    """`KmsClient` (see `sealing`) over AWS KMS's JSON API."""

    def __init__(self, settings: KmsSettings, *, client: Any | None = None) -> None:
        if settings.kind is not KmsKind.AWS:
            raise InvalidKmsRequestError("AwsKms needs AWS KMS settings")
        self.settings = settings
        self._client = client or _create_client(settings)

    def _call(self, operation: str, **request: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

        try:
            return getattr(self._client, operation)(**request)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, message = str(error.get("Code", "")), str(error.get("Message", ""))
            raise _ERRORS.get(code, KmsError)(f"AWS KMS {operation}: {code}: {message}") from None
        except EndpointConnectionError as exc:
            raise ConnectionError(f"AWS KMS endpoint {self.settings.endpoint} unreachable: {exc}") from None
        except BotoCoreError as exc:
            raise KmsError(f"AWS KMS {operation} failed: {type(exc).__name__}: {exc}") from None

    @staticmethod
    def _recipient(document: bytes | None) -> dict[str, Any]:
        if not document:
            raise InvalidKmsRequestError("an enclave calls AWS KMS only with a Recipient attestation")
        return {"KeyEncryptionAlgorithm": KEY_ENCRYPTION_ALGORITHM, "AttestationDocument": document}

    def _key_id(self, key_id: str | None) -> str:
        # The measured key, whatever the caller asks for: a host cannot swap in its own key.
        if key_id is not None and key_id != self.settings.key_id:
            raise IncorrectKeyError(f"KMS key {key_id!r} is not the measured key {self.settings.key_id!r}")
        return self.settings.key_id

    def generate_data_key(self, key_id: str, *, recipient: bytes | None, number_of_bytes: int = 32,
                          encryption_context: Mapping[str, str] | None = None) -> GenerateDataKeyResponse:  # fmt: skip
        answer = self._call("generate_data_key", KeyId=self._key_id(key_id), NumberOfBytes=number_of_bytes,
                            EncryptionContext=dict(encryption_context or {}), Recipient=self._recipient(recipient))  # fmt: skip
        _refuse_plaintext("GenerateDataKey", answer)
        blob = answer.get("CiphertextBlob")
        if not isinstance(blob, bytes) or not blob:
            raise KmsError("AWS KMS GenerateDataKey answered without a CiphertextBlob")
        return GenerateDataKeyResponse(str(answer.get("KeyId", "")), blob, _enveloped("GenerateDataKey", answer))

    def decrypt(self, ciphertext_blob: bytes, *, recipient: bytes | None, key_id: str | None = None,
                encryption_context: Mapping[str, str] | None = None) -> DecryptResponse:  # fmt: skip
        answer = self._call("decrypt", CiphertextBlob=ciphertext_blob, KeyId=self._key_id(key_id),
                            EncryptionContext=dict(encryption_context or {}), Recipient=self._recipient(recipient))  # fmt: skip
        _refuse_plaintext("Decrypt", answer)
        return DecryptResponse(str(answer.get("KeyId", "")), _enveloped("Decrypt", answer))

    def __repr__(self) -> str:
        return f"<AwsKms {self.settings.key_id} at {self.settings.endpoint}>"


def _refuse_plaintext(operation: str, answer: Mapping[str, Any]) -> None:
    if answer.get("Plaintext"):
        raise KmsError(f"AWS KMS {operation} returned a plaintext key despite the Recipient: refused")


def _enveloped(operation: str, answer: Mapping[str, Any]) -> bytes:
    value = answer.get("CiphertextForRecipient")
    if not isinstance(value, bytes) or not value:
        raise KmsError(f"AWS KMS {operation} answered without CiphertextForRecipient")
    return value


def _create_client(settings: KmsSettings) -> Any:
    import botocore.config
    import botocore.session

    config = botocore.config.Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 3, "mode": "standard"})
    return botocore.session.get_session().create_client("kms", region_name=settings.region,
                                                        endpoint_url=settings.endpoint, config=config)  # fmt: skip

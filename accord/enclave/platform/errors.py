"""Exceptions of the enclave layer: one class per way an input can be wrong.

Callers catch the family (`AttestationError`, `KmsAccessDeniedError`, `UnsealError`,
`ChannelError`) or the exact failure; messages say what was wrong and never carry key
material.
"""

from __future__ import annotations

from accord.errors import AccordError


class EnclaveError(AccordError):
    """Base class of every enclave-layer error."""


class EnclaveConfigError(EnclaveError):
    """The enclave configuration or enclave id is invalid."""


# --- NSM -----------------------------------------------------------------------------------


class NsmError(EnclaveError):
    """The NSM answered a request with an error code (attribute `code`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class NsmProtocolError(EnclaveError):
    """An NSM request or response does not have the shape of the nsm-api CBOR messages."""


class NsmUnavailableError(EnclaveError):
    """The NSM device cannot be opened or the ioctl failed."""


class SimulatedPkiError(EnclaveError):
    """The simulated Nitro certificate authority cannot issue or load its certificates."""


# --- attestation documents -----------------------------------------------------------------


class AttestationError(EnclaveError):
    """An attestation document failed verification."""


class MalformedAttestationError(AttestationError):
    """The bytes are not a well-formed COSE_Sign1 Nitro attestation document."""


class UnsupportedAttestationAlgorithmError(AttestationError):
    """The COSE protected header is not exactly {1: -35} (ES384)."""


class AttestationSignatureError(AttestationError):
    """The ES384 signature does not verify under the document's certificate."""


class RootPinMismatchError(AttestationError):
    """The root certificate offered as trust anchor is not the pinned one."""


class UntrustedRootError(AttestationError):
    """The certificate chain does not lead to the pinned root."""


class CertificateChainError(AttestationError):
    """A certificate of the chain is not acceptable (issuer, signature, constraints)."""


class CertificateExpiredError(CertificateChainError):
    """A certificate of the chain had expired at the verification time."""


class CertificateNotYetValidError(CertificateChainError):
    """A certificate of the chain was not yet valid at the verification time."""


class PcrMismatchError(AttestationError):
    """A PCR differs from the expected value, or is absent."""


class DebugModeError(AttestationError):
    """The document comes from a debug-mode enclave (PCR0 all zeros) and debug is not allowed."""


class NonceMismatchError(AttestationError):
    """The document's nonce is absent or differs from the one the verifier sent."""


class StaleAttestationError(AttestationError):
    """The document is older than the maximum age."""


class FutureAttestationError(AttestationError):
    """The document's timestamp lies after the verification time (beyond clock skew)."""


class IdentityBindingError(AttestationError):
    """The document does not carry a well-formed enclave identity (keys in public_key/user_data)."""


# --- CMS (CiphertextForRecipient) ----------------------------------------------------------


class CmsError(EnclaveError):
    """A CMS EnvelopedData cannot be built or opened."""


class MalformedEnvelopeError(CmsError):
    """The bytes are not a CMS ContentInfo holding EnvelopedData."""


class UnsupportedEnvelopeAlgorithmError(CmsError):
    """The envelope uses another algorithm than RSAES-OAEP-SHA-256 / AES-256-CBC."""


class RecipientNotFoundError(CmsError):
    """No KeyTransRecipientInfo is addressed to this key's SubjectKeyIdentifier."""


class EnvelopeDecryptionError(CmsError):
    """Key transport or content decryption failed (wrong key or altered ciphertext)."""


# --- KMS -----------------------------------------------------------------------------------


class KmsError(EnclaveError):
    """A KMS request failed."""


class InvalidKmsRequestError(KmsError):
    """A request parameter is out of range."""


class KmsKeyNotFoundError(KmsError):
    """No KMS key has this key id."""


class KeyPolicyError(KmsError):
    """A key policy is invalid (unknown condition key, malformed value, no condition)."""


class InvalidCiphertextError(KmsError):
    """A CiphertextBlob is malformed, altered, or was bound to another encryption context."""


class IncorrectKeyError(KmsError):
    """The CiphertextBlob was produced under another KMS key than the one requested."""


class UnsupportedRecipientKeyError(KmsError):
    """The recipient attestation's public_key is absent or not an RSA-2048 key."""


class KmsAccessDeniedError(KmsError):
    """The KMS refused to release key material to the recipient."""


class MissingRecipientError(KmsAccessDeniedError):
    """The request carries no Recipient attestation document."""


class RecipientAttestationError(KmsAccessDeniedError):
    """The Recipient attestation document does not verify (cause chained)."""


class StaleRecipientAttestationError(RecipientAttestationError):
    """The Recipient attestation document is older than the key policy allows."""


class DebugRecipientRefusedError(KmsAccessDeniedError):
    """The Recipient is a debug-mode enclave and the key policy is a production policy."""


class KeyPolicyMismatchError(KmsAccessDeniedError):
    """The Recipient's attested PCRs do not satisfy the key policy's conditions."""


# --- sealed storage ------------------------------------------------------------------------


class SealingError(EnclaveError):
    """A secret cannot be sealed or unsealed."""


class InvalidSealedNameError(SealingError):
    """A sealed object's name is not a plain file name."""


class UnsealError(SealingError):
    """A sealed file cannot be opened by this enclave; the file is left untouched."""


class SealedFileMissingError(UnsealError):
    """There is no sealed file of this name in the enclave's state directory."""


class SealedFileCorruptError(UnsealError):
    """The sealed file does not parse as a sealed object of a supported format version."""


class SealedForAnotherEnclaveError(UnsealError):
    """The sealed file names another enclave id."""


class SealedUnderAnotherMeasurementError(UnsealError):
    """The sealed file was written by code with other PCRs than this enclave's."""


class DebugEnclaveUnsealError(UnsealError):
    """A debug-mode enclave may not unseal what a production enclave sealed."""


class SealedDataTamperedError(UnsealError):
    """Authentication of the sealed file failed: some byte was changed."""


# --- channels ------------------------------------------------------------------------------


class ChannelError(EnclaveError):
    """A channel message was rejected."""


class MalformedMessageError(ChannelError):
    """The bytes are not a channel envelope of a supported version."""


class WrongSessionError(ChannelError):
    """The message belongs to another session."""


class MisaddressedMessageError(ChannelError):
    """The message is addressed to another enclave."""


class UnexpectedSenderError(ChannelError):
    """The message claims another sender than this channel's peer."""


class UnexpectedMessageTypeError(ChannelError):
    """The message has another type than the protocol step expects."""


class MessageSignatureError(ChannelError):
    """The sender's signature over context and body does not verify."""


class ReplayedMessageError(ChannelError):
    """The message's sequence number was already received."""


class OutOfOrderMessageError(ChannelError):
    """The message's sequence number skips ahead of the next expected one."""


class MessageDecryptionError(ChannelError):
    """HPKE decryption failed."""

"""A key management service that releases keys only to attested enclaves, like AWS KMS.

`Kms` simulates the AWS KMS side: symmetric KMS keys, each with a `KeyPolicy` whose
conditions are on the recipient's attested PCRs (AWS condition keys
`kms:RecipientAttestation:ImageSha384` and `kms:RecipientAttestation:PCR<n>`).
`GenerateDataKey` and `Decrypt` take a `Recipient` (an attestation document whose
`public_key` is an RSA-2048 SubjectPublicKeyInfo) and return the plaintext data key only as
`CiphertextForRecipient`: CMS EnvelopedData to that RSA key (see `cms`). Requests without a
valid, fresh attestation satisfying the key policy are refused.

`RecipientKey` is the enclave side: the RSA key pair generated inside the enclave and the
decoding of `CiphertextForRecipient`.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

import cbor2
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from accord.enclave.platform.attestation import MAX_PCR_INDEX, PCR_SIZES, AttestationDocument, verify_attestation
from accord.enclave.platform.cms import build_enveloped_data, open_enveloped_data
from accord.enclave.platform.errors import (
    AttestationError,
    DebugRecipientRefusedError,
    IncorrectKeyError,
    InvalidCiphertextError,
    InvalidKmsRequestError,
    KeyPolicyError,
    KeyPolicyMismatchError,
    KmsKeyNotFoundError,
    MissingRecipientError,
    RecipientAttestationError,
    StaleAttestationError,
    StaleRecipientAttestationError,
    UnsupportedRecipientKeyError,
)
from accord.enclave.platform.strict_cbor import loads_exact
from accord.enclave.platform.timeutil import Clock, utc_now
from accord.enclave.platform.trust import TrustedRoot
from accord.protocols import canonical_json
from accord.protocols.secret import SecretBytes, SecretLeakError

CONDITION_PREFIX = "kms:RecipientAttestation:"
IMAGE_SHA384 = CONDITION_PREFIX + "ImageSha384"
_PCR_CONDITION = re.compile(re.escape(CONDITION_PREFIX) + r"PCR([0-9]|[12][0-9]|3[01])")
RECIPIENT_KEY_BITS = 2048  # AWS accepts KeySpec RSA_2048 for Recipient
DEFAULT_MAX_ATTESTATION_AGE = timedelta(minutes=5)
BLOB_VERSION = 1
_BLOB_LABEL = "accord-kms-ciphertext-v1"
_STATE_LABEL = "accord-simulated-kms-keystore-v1"


@dataclass(frozen=True)
class KeyPolicy:
    """Who may receive a KMS key's data keys: each PCR listed in `pcrs` must equal one of
    its allowed values (the IAM condition `StringEqualsIgnoreCase` with a list of values).
    Production policies (`allow_debug=False`) refuse debug-mode enclaves."""

    pcrs: Mapping[int, frozenset[bytes]]
    allow_debug: bool = False
    max_attestation_age: timedelta = DEFAULT_MAX_ATTESTATION_AGE

    def __post_init__(self) -> None:
        if not self.pcrs:
            raise KeyPolicyError("a key policy needs at least one PCR condition (ImageSha384 at least)")
        normalized = {}
        for index, values in self.pcrs.items():
            if type(index) is not int or not 0 <= index <= MAX_PCR_INDEX:
                raise KeyPolicyError(f"PCR index {index!r} is not in 0..{MAX_PCR_INDEX}")
            values = frozenset([values] if isinstance(values, bytes) else values)
            if not values or any(not isinstance(v, bytes) or len(v) not in PCR_SIZES for v in values):
                raise KeyPolicyError(f"PCR{index} condition needs one or more 32/48/64-byte values")
            normalized[index] = values
        object.__setattr__(self, "pcrs", dict(sorted(normalized.items())))

    @classmethod
    def for_pcrs(cls, pcrs: Mapping[int, bytes], **options) -> KeyPolicy:
        """One allowed value per PCR (e.g. `measure(config).pcrs()`)."""
        return cls({index: frozenset([value]) for index, value in pcrs.items()}, **options)

    @classmethod
    def from_conditions(cls, conditions: Mapping[str, str | Sequence[str]], **options) -> KeyPolicy:
        """From AWS condition keys to hex values, e.g.
        {"kms:RecipientAttestation:ImageSha384": "<96 hex>", "kms:RecipientAttestation:PCR1": [...]}."""
        pcrs: dict[int, set[bytes]] = {}
        for key, raw in conditions.items():
            match = _PCR_CONDITION.fullmatch(key)
            if key == IMAGE_SHA384:
                index = 0
            elif match:
                index = int(match.group(1))
            else:
                raise KeyPolicyError(f"unknown condition key {key!r}")
            for text in [raw] if isinstance(raw, str) else raw:
                try:
                    pcrs.setdefault(index, set()).add(bytes.fromhex(text))
                except (TypeError, ValueError):
                    raise KeyPolicyError(f"condition {key!r} value {text!r} is not hex") from None
        return cls({index: frozenset(values) for index, values in pcrs.items()}, **options)

    def check(self, document: AttestationDocument) -> None:
        """Raise `KeyPolicyMismatchError` unless the attested PCRs satisfy every condition."""
        problems = []
        for index, allowed in self.pcrs.items():
            actual = document.pcrs.get(index)
            if actual is None:
                problems.append(f"PCR{index} is not attested")
            elif actual not in allowed:
                problems.append(f"PCR{index} {actual.hex()} is not an allowed value")
        if problems:
            raise KeyPolicyMismatchError("recipient does not satisfy the key policy: " + "; ".join(problems))


@dataclass(frozen=True)
class GenerateDataKeyResponse:
    """`GenerateDataKey` with a Recipient: no plaintext, only what the enclave can open."""

    key_id: str
    ciphertext_blob: bytes
    ciphertext_for_recipient: bytes


@dataclass(frozen=True)
class DecryptResponse:
    """`Decrypt` with a Recipient."""

    key_id: str
    ciphertext_for_recipient: bytes


@dataclass
class _KmsKey:
    material: SecretBytes
    policy: KeyPolicy
    description: str = ""


def _aad(key_id: str, encryption_context: Mapping[str, str] | None) -> bytes:
    return cbor2.dumps([_BLOB_LABEL, key_id, canonical_json.dumps(dict(encryption_context or {}))])


def recipient_public_key(document: AttestationDocument) -> rsa.RSAPublicKey:
    """The RSA-2048 key in a Recipient attestation's `public_key` (SubjectPublicKeyInfo DER)."""
    if document.public_key is None:
        raise UnsupportedRecipientKeyError("recipient attestation has no public_key")
    try:
        key = serialization.load_der_public_key(document.public_key)
    except ValueError as exc:
        raise UnsupportedRecipientKeyError(f"recipient public_key is not a DER SubjectPublicKeyInfo: {exc}") from exc
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size != RECIPIENT_KEY_BITS:
        raise UnsupportedRecipientKeyError("recipient public_key must be an RSA-2048 key")
    return key


class Kms:
    """The simulated AWS KMS. Key material never leaves it except enveloped to an enclave."""

    def __init__(self, root: TrustedRoot, *, clock: Clock = utc_now) -> None:
        self._root = root
        self._clock = clock
        self._keys: dict[str, _KmsKey] = {}

    def create_key(self, policy: KeyPolicy, *, description: str = "") -> str:
        """Create a symmetric KMS key governed by `policy`; returns its key id."""
        key_id = str(uuid.uuid4())
        self._keys[key_id] = _KmsKey(SecretBytes(AESGCM.generate_key(bit_length=256), "KMS key"), policy, description)
        return key_id

    def put_key_policy(self, key_id: str, policy: KeyPolicy) -> None:
        """Replace the key policy (e.g. to admit a new release's PCRs)."""
        self._key(key_id).policy = policy

    def key_policy(self, key_id: str) -> KeyPolicy:
        return self._key(key_id).policy

    def _key(self, key_id: str) -> _KmsKey:
        try:
            return self._keys[key_id]
        except KeyError:
            raise KmsKeyNotFoundError(f"no KMS key {key_id!r}") from None

    def _authorize(self, key: _KmsKey, recipient: bytes | None) -> rsa.RSAPublicKey:
        if not recipient:
            raise MissingRecipientError("this key releases data keys only to an attested Recipient")
        policy = key.policy
        try:
            document = verify_attestation(
                recipient, root=self._root, at=self._clock(), allow_debug=True, max_age=policy.max_attestation_age
            )
        except StaleAttestationError as exc:
            raise StaleRecipientAttestationError(f"recipient attestation is stale: {exc}") from exc
        except AttestationError as exc:
            raise RecipientAttestationError(f"recipient attestation rejected ({type(exc).__name__}): {exc}") from exc
        if document.debug and not policy.allow_debug:
            raise DebugRecipientRefusedError(
                f"recipient {document.module_id!r} is a debug-mode enclave; the key policy is a production policy"
            )
        policy.check(document)
        return recipient_public_key(document)

    def generate_data_key(
        self,
        key_id: str,
        *,
        recipient: bytes | None,
        number_of_bytes: int = 32,
        encryption_context: Mapping[str, str] | None = None,
    ) -> GenerateDataKeyResponse:
        """A fresh data key: encrypted under the KMS key (`ciphertext_blob`, to store) and
        enveloped to the attested recipient (`ciphertext_for_recipient`)."""
        if not 1 <= number_of_bytes <= 1024:
            raise InvalidKmsRequestError(f"number_of_bytes is {number_of_bytes}; allowed 1..1024")
        key = self._key(key_id)
        recipient_key = self._authorize(key, recipient)
        data_key = os.urandom(number_of_bytes)
        nonce = os.urandom(12)
        sealed = AESGCM(key.material.reveal()).encrypt(nonce, data_key, _aad(key_id, encryption_context))
        blob = cbor2.dumps([BLOB_VERSION, key_id, nonce, sealed])
        return GenerateDataKeyResponse(key_id, blob, build_enveloped_data(data_key, recipient_key))

    def decrypt(
        self,
        ciphertext_blob: bytes,
        *,
        recipient: bytes | None,
        key_id: str | None = None,
        encryption_context: Mapping[str, str] | None = None,
    ) -> DecryptResponse:
        """Decrypt a `ciphertext_blob` and envelope the plaintext to the attested recipient."""
        item = loads_exact(ciphertext_blob, InvalidCiphertextError, "ciphertext blob")
        if not (
            isinstance(item, list) and len(item) == 4 and item[0] == BLOB_VERSION and isinstance(item[1], str)
            and all(isinstance(part, bytes) for part in item[2:]) and len(item[2]) == 12
        ):  # fmt: skip
            raise InvalidCiphertextError("ciphertext blob is not [1, key id, 12-byte nonce, ciphertext]")
        _, blob_key_id, nonce, sealed = item
        if key_id is not None and key_id != blob_key_id:
            raise IncorrectKeyError(f"ciphertext was produced under key {blob_key_id!r}, not {key_id!r}")
        key = self._key(blob_key_id)
        recipient_key = self._authorize(key, recipient)
        try:
            data_key = AESGCM(key.material.reveal()).decrypt(nonce, sealed, _aad(blob_key_id, encryption_context))
        except InvalidTag:
            raise InvalidCiphertextError(
                "ciphertext blob does not authenticate (altered, or another encryption context)"
            ) from None
        return DecryptResponse(blob_key_id, build_enveloped_data(data_key, recipient_key))

    # --- persistence of the simulated KMS's own key store ---

    def state_bytes(self) -> SecretBytes:
        """The whole key store (key material included), for the simulated KMS's own storage:
        it stands in for AWS's HSMs, never for anything in an enclave."""
        keys = [
            [key_id, key.material.reveal(), {i: sorted(v) for i, v in key.policy.pcrs.items()},
             key.policy.allow_debug, int(key.policy.max_attestation_age.total_seconds()), key.description]
            for key_id, key in sorted(self._keys.items())
        ]  # fmt: skip
        return SecretBytes(cbor2.dumps([_STATE_LABEL, keys]), "KMS key store")

    @classmethod
    def from_state(cls, state: bytes, root: TrustedRoot, *, clock: Clock = utc_now) -> Kms:
        """A KMS whose keys and policies are those of `state_bytes()`."""
        item = loads_exact(state, InvalidKmsRequestError, "KMS key store")
        if not (isinstance(item, list) and len(item) == 2 and item[0] == _STATE_LABEL and isinstance(item[1], list)):
            raise InvalidKmsRequestError("not an Accord KMS key store")
        kms = cls(root, clock=clock)
        for key_id, material, pcrs, allow_debug, max_age, description in item[1]:
            policy = KeyPolicy({int(i): frozenset(v) for i, v in pcrs.items()}, allow_debug=allow_debug,
                               max_attestation_age=timedelta(seconds=max_age))  # fmt: skip
            kms._keys[key_id] = _KmsKey(SecretBytes(material, "KMS key"), policy, description)
        return kms

    def __repr__(self) -> str:
        return f"<Kms {len(self._keys)} keys, root sha256 {self._root.sha256}>"

    def __reduce__(self):
        raise SecretLeakError("the KMS holds key material and must not be pickled")


class RecipientKey:
    """The enclave's RSA-2048 key pair for KMS Recipient requests (generated inside)."""

    __slots__ = ("_key",)

    def __init__(self, private_key: rsa.RSAPrivateKey) -> None:
        if private_key.key_size != RECIPIENT_KEY_BITS:
            raise UnsupportedRecipientKeyError("a Recipient key must be RSA-2048")
        self._key = private_key

    @classmethod
    def generate(cls) -> RecipientKey:
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=RECIPIENT_KEY_BITS))

    def public_key_der(self) -> bytes:
        """SubjectPublicKeyInfo DER: what goes into the attestation's `public_key`."""
        return self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def open(self, ciphertext_for_recipient: bytes) -> SecretBytes:
        """Decode a `CiphertextForRecipient` to the plaintext it carries (the data key)."""
        return open_enveloped_data(ciphertext_for_recipient, self._key)

    def __repr__(self) -> str:
        return "<RecipientKey RSA-2048, private key redacted>"

    def __reduce__(self):
        raise SecretLeakError("an enclave's Recipient private key must not be pickled")

"""Sealed storage: enclave secrets on an untrusted disk, readable only by the same enclave.

A secret is encrypted with AES-256-GCM under a fresh data key from the KMS
(`GenerateDataKey` with the enclave's Recipient attestation, so only attested code with the
right PCRs ever sees it). The file keeps the KMS's `CiphertextBlob` of that key next to the
ciphertext; unsealing asks the KMS to `Decrypt` it, again against a fresh attestation.

The GCM associated data binds the format version, the enclave id, the KMS key id, the
object's name and PCR0/1/2, always taken from the *running* enclave, never from the file:
a file moved to another enclave, read by other code or by a debug enclave, or changed in any
byte does not authenticate. The header copies of these values in the file serve only to
name the failure precisely. Files are written atomically (temp file, fsync, rename), so a
crash leaves the old or the new sealed object, never half of one; unsealing only reads.
"""

from __future__ import annotations

import hmac
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cbor2
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from accord.atomic_file import write_atomic
from accord.enclave.platform.errors import (
    DebugEnclaveUnsealError,
    IncorrectKeyError,
    InvalidCiphertextError,
    InvalidSealedNameError,
    SealedDataTamperedError,
    SealedFileCorruptError,
    SealedFileMissingError,
    SealedForAnotherEnclaveError,
    SealedUnderAnotherMeasurementError,
)
from accord.enclave.platform.kms import DecryptResponse, GenerateDataKeyResponse
from accord.enclave.platform.strict_cbor import loads_exact
from accord.protocols.secret import SecretBytes

SEAL_FORMAT_VERSION = 1
SEALED_PCRS = (0, 1, 2)
SEALED_DIRECTORY = "sealed"
SUFFIX = ".sealed"
_LABEL = "accord-sealed"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_FIELDS = ("version", "enclave_id", "key_id", "name", "pcrs", "data_key", "nonce", "ciphertext")


class SealingEnclave(Protocol):
    """What sealing needs from the enclave it runs in."""

    enclave_id: str

    @property
    def is_debug(self) -> bool: ...

    def sealing_pcrs(self) -> dict[int, bytes]: ...

    def recipient_document(self) -> bytes: ...

    def open_ciphertext_for_recipient(self, ciphertext: bytes) -> SecretBytes: ...


class KmsClient(Protocol):
    """The two KMS calls sealing makes (a `Kms`, or an actor handle wrapped to look like one)."""

    def generate_data_key(self, key_id: str, *, recipient: bytes | None, number_of_bytes: int = 32,
                          encryption_context: Mapping[str, str] | None = None) -> GenerateDataKeyResponse: ...  # fmt: skip

    def decrypt(self, ciphertext_blob: bytes, *, recipient: bytes | None, key_id: str | None = None,
                encryption_context: Mapping[str, str] | None = None) -> DecryptResponse: ...  # fmt: skip


@dataclass(frozen=True)
class SealedObject:
    """The parsed content of a sealed file."""

    version: int
    enclave_id: str
    key_id: str
    name: str
    pcrs: dict[int, bytes]
    data_key: bytes  # the KMS CiphertextBlob of the data key
    nonce: bytes
    ciphertext: bytes

    def to_bytes(self) -> bytes:
        return cbor2.dumps({name: getattr(self, name) for name in _FIELDS})

    @classmethod
    def from_bytes(cls, data: bytes) -> SealedObject:
        item = loads_exact(data, SealedFileCorruptError, "sealed file")
        if not isinstance(item, dict) or set(item) != set(_FIELDS):
            raise SealedFileCorruptError(f"sealed file must be a map with fields {list(_FIELDS)}")
        if item["version"] != SEAL_FORMAT_VERSION:
            raise SealedFileCorruptError(f"sealed file format version {item['version']!r} is not {SEAL_FORMAT_VERSION}")
        texts, blobs = ("enclave_id", "key_id", "name"), ("data_key", "nonce", "ciphertext")
        pcrs = item["pcrs"]
        if (
            not all(isinstance(item[k], str) for k in texts)
            or not all(isinstance(item[k], bytes) for k in blobs)
            or not isinstance(pcrs, dict)
            or not all(type(index) is int for index in pcrs)
            or sorted(pcrs) != list(SEALED_PCRS)
            or not all(isinstance(v, bytes) for v in pcrs.values())
        ):
            raise SealedFileCorruptError("sealed file fields have the wrong types")
        return cls(**item)

    @property
    def sealed_in_debug(self) -> bool:
        return not any(self.pcrs[0])


def _aad(enclave_id: str, key_id: str, name: str, pcrs: Mapping[int, bytes]) -> bytes:
    return cbor2.dumps([_LABEL, SEAL_FORMAT_VERSION, enclave_id, key_id, name, dict(sorted(pcrs.items()))])


def _encryption_context(enclave_id: str, name: str) -> dict[str, str]:
    return {"accord:enclave-id": enclave_id, "accord:sealed-name": name}


class SealedStore:
    """Sealed objects of one enclave under `<state_dir>/sealed/`, keys from one KMS key."""

    def __init__(self, state_dir: Path, enclave: SealingEnclave, kms: KmsClient, key_id: str) -> None:
        self.directory = Path(state_dir) / SEALED_DIRECTORY
        self._enclave = enclave
        self._kms = kms
        self.key_id = key_id

    def path(self, name: str) -> Path:
        """The file of sealed object `name` (a plain name: letters, digits, '.', '_', '-')."""
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise InvalidSealedNameError(f"sealed object name {name!r} is not a plain file name")
        return self.directory / f"{name}{SUFFIX}"

    def exists(self, name: str) -> bool:
        return self.path(name).exists()

    def remove(self, name: str) -> None:
        """Delete a sealed object (a share that is void)."""
        self.path(name).unlink(missing_ok=True)

    def seal(self, name: str, secret: bytes | SecretBytes) -> Path:
        """Seal `secret` as `name`, replacing any previous object atomically."""
        path = self.path(name)
        enclave = self._enclave
        pcrs = enclave.sealing_pcrs()
        response = self._kms.generate_data_key(
            self.key_id,
            recipient=enclave.recipient_document(),
            encryption_context=_encryption_context(enclave.enclave_id, name),
        )
        data_key = enclave.open_ciphertext_for_recipient(response.ciphertext_for_recipient)
        plaintext = secret.reveal() if isinstance(secret, SecretBytes) else bytes(secret)
        nonce = os.urandom(12)
        try:
            ciphertext = AESGCM(data_key.reveal()).encrypt(nonce, plaintext, _aad(enclave.enclave_id, self.key_id, name, pcrs))
        finally:
            data_key.wipe()
        sealed = SealedObject(SEAL_FORMAT_VERSION, enclave.enclave_id, self.key_id, name, pcrs,
                              response.ciphertext_blob, nonce, ciphertext)  # fmt: skip
        write_atomic(path, sealed.to_bytes())
        return path

    def _check_header(self, sealed: SealedObject, name: str, pcrs: dict[int, bytes]) -> None:
        enclave = self._enclave
        if sealed.enclave_id != enclave.enclave_id:
            raise SealedForAnotherEnclaveError(
                f"{name!r} was sealed by enclave {sealed.enclave_id!r}; this is {enclave.enclave_id!r}"
            )
        if enclave.is_debug and not sealed.sealed_in_debug:
            raise DebugEnclaveUnsealError(f"{name!r} was sealed by a production enclave; a debug enclave cannot unseal it")
        changed = [i for i in SEALED_PCRS if not hmac.compare_digest(sealed.pcrs[i], pcrs[i])]
        if changed:
            raise SealedUnderAnotherMeasurementError(
                f"{name!r} was sealed by other code: PCR{', PCR'.join(map(str, changed))} differ from this enclave's"
            )
        if sealed.name != name or sealed.key_id != self.key_id:
            raise SealedFileCorruptError(
                f"file of {name!r} holds object {sealed.name!r} under KMS key {sealed.key_id!r} (expected {self.key_id!r})"
            )

    def unseal(self, name: str) -> SecretBytes:
        """Open sealed object `name`. Never modifies the file."""
        path = self.path(name)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise SealedFileMissingError(f"no sealed object {name!r} in {self.directory.name}/") from None
        sealed = SealedObject.from_bytes(raw)
        enclave = self._enclave
        pcrs = enclave.sealing_pcrs()
        self._check_header(sealed, name, pcrs)
        try:
            response = self._kms.decrypt(
                sealed.data_key,
                recipient=enclave.recipient_document(),
                key_id=self.key_id,
                encryption_context=_encryption_context(enclave.enclave_id, name),
            )
        except (InvalidCiphertextError, IncorrectKeyError) as exc:
            raise SealedDataTamperedError(f"the KMS rejected the data key of {name!r}: {exc}") from exc
        data_key = enclave.open_ciphertext_for_recipient(response.ciphertext_for_recipient)
        try:
            plaintext = AESGCM(data_key.reveal()).decrypt(
                sealed.nonce, sealed.ciphertext, _aad(enclave.enclave_id, self.key_id, name, pcrs)
            )
        except (InvalidTag, ValueError):
            raise SealedDataTamperedError(f"sealed object {name!r} does not authenticate: it was altered") from None
        finally:
            data_key.wipe()
        return SecretBytes(plaintext, f"sealed {name}")

"""What every enclave service does at start: open its enclave and reach the KMS its measured
configuration names (AWS KMS on Nitro, the simulated KMS actor otherwise). Shared by the
KeyShare and PolicyEvaluator services."""

from __future__ import annotations

import time
from typing import Any

from accord.actors.invoke import Invoker
from accord.config.deployment import DeploymentConfig
from accord.enclave.configuration import KmsKind
from accord.enclave.platform.aws_kms import AwsKms
from accord.enclave.platform.enclave import Enclave
from accord.enclave.platform.kms import DecryptResponse, GenerateDataKeyResponse
from accord.enclave.platform.sealing import SealedStore
from accord.errors import AccordError

HIGH_WATER_OBJECT = "bundle-high-water"


def open_enclave(config: DeploymentConfig, enclave_id: str) -> Enclave:
    """This process's enclave, as its measured configuration describes it (platform, root).
    An id the configuration does not have is refused before anything is opened (the cores
    check again, with the role)."""
    config.enclave.member(enclave_id)
    return Enclave.open(enclave_id=enclave_id, config=config.enclave, state_dir=config.enclave_dir(enclave_id),
                        simulated_pki=config.simulated_pki)  # fmt: skip


def sealed_store(enclave: Enclave, kms: Any, kms_key_id: str | None, invoker: Invoker) -> SealedStore:
    """The enclave's sealed storage, with data keys from the measured KMS: AWS KMS (the
    measured key; the host's `kms_key_id` is not asked) or the simulated KMS actor `kms`."""
    settings = enclave.config.kms
    if settings.kind is KmsKind.AWS:
        return enclave.sealed_store(AwsKms(settings), settings.key_id)
    return enclave.sealed_store(KmsClient(kms, invoker), kms_key_id)


class KmsClient:
    """The enclave's view of the simulated KMS service (an actor, or the object itself)."""

    def __init__(self, kms: Any, invoker: Invoker) -> None:
        self._kms, self._invoker = kms, invoker

    def generate_data_key(self, key_id: str, *, recipient: bytes | None, number_of_bytes: int = 32,
                          encryption_context: dict[str, str] | None = None) -> GenerateDataKeyResponse:  # fmt: skip
        return self._invoker.call(self._kms, "generate_data_key", key_id, recipient, number_of_bytes,
                                  encryption_context)  # fmt: skip

    def decrypt(self, ciphertext_blob: bytes, *, recipient: bytes | None, key_id: str | None = None,
                encryption_context: dict[str, str] | None = None) -> DecryptResponse:  # fmt: skip
        return self._invoker.call(self._kms, "decrypt", ciphertext_blob, recipient, key_id, encryption_context)


class SealedHighWaterMark:
    """The highest bundle version an evaluator accepted, sealed in its enclave, so that a
    restart cannot be used to roll the policy back. A host that deletes the file resets it
    (sealing protects integrity, not existence); the group state's mark, which a wiped
    evaluator learns from its peers, covers that (see `GroupFloorMark`)."""

    def __init__(self, store: SealedStore) -> None:
        self._store = store

    def read(self) -> tuple[int, str | None]:
        if not self._store.exists(HIGH_WATER_OBJECT):
            return 0, None
        secret = self._store.unseal(HIGH_WATER_OBJECT)
        try:
            record = secret.reveal()
        finally:
            secret.wipe()
        return int.from_bytes(record[:8], "big"), record[8:].hex()

    def write(self, version: int, digest: str) -> None:
        self._store.seal(HIGH_WATER_OBJECT, version.to_bytes(8, "big") + bytes.fromhex(digest))


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (TimeoutError, ConnectionError)


def transient_errors() -> tuple[type[BaseException], ...]:
    """Failures worth retrying at start (the KMS actor restarting, a slow cluster)."""
    try:
        from ray.exceptions import GetTimeoutError, RayActorError

        return TRANSIENT_ERRORS + (RayActorError, GetTimeoutError)
    except ImportError:  # pragma: no cover - ray is a dependency
        return TRANSIENT_ERRORS


def retry(action, *, attempts: int = 8, first_delay: float = 0.25, max_delay: float = 5.0):
    """Run `action()` until it succeeds or fails for a non-transient reason; between
    transient failures wait with exponential backoff. Returns (result, last_error)."""
    delay = first_delay
    error: BaseException | None = None
    for attempt in range(attempts):
        try:
            return action(), None
        except transient_errors() as exc:
            error = exc
        except AccordError:
            raise
        if attempt + 1 < attempts:
            time.sleep(delay)
            delay = min(delay * 2, max_delay)
    return None, error


def placement() -> dict[str, Any]:
    """Where the calling actor runs: its node, process and the resources Ray assigned to it
    (for status, for checking that enclave services sit on their enclave hosts, and for the
    fault-injection soak, which kills processes by id)."""
    import os

    import ray

    context = ray.get_runtime_context()
    return {"node_id": context.get_node_id(), "pid": os.getpid(), "resources": context.get_assigned_resources()}

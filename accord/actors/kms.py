"""The Kms service: the simulated AWS KMS as an actor, its key store persisted.

Named keys (aliases) are created once with a key policy on the enclaves' PCRs; the store
is written atomically under `<state_dir>/kms/` so that sealed shares stay openable across
restarts of the deployment. The key material in that file stands in for AWS's HSMs.
"""

from __future__ import annotations

import cbor2

from accord.atomic_file import write_atomic
from accord.config.deployment import DeploymentConfig
from accord.enclave.configuration import KmsKind
from accord.enclave.platform.enclave import expected_pcrs
from accord.enclave.platform.errors import InvalidKmsRequestError
from accord.enclave.platform.kms import DecryptResponse, GenerateDataKeyResponse, KeyPolicy, Kms

STORE_FILE = "keystore.cbor"
ALIASES_FILE = "aliases.cbor"
SEALING_KEY_ALIAS = "alias/accord-enclave-sealing"


class KmsService:
    def __init__(self, config: DeploymentConfig) -> None:
        if config.enclave.kms.kind is not KmsKind.SIMULATED:
            raise InvalidKmsRequestError("this deployment's measured KMS is AWS KMS; the simulated KMS does not serve it")
        self._dir = config.root / "kms"
        self._dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._config = config
        root = config.trusted_root()
        store = self._dir / STORE_FILE
        self._kms = Kms.from_state(store.read_bytes(), root) if store.exists() else Kms(root)
        aliases = self._dir / ALIASES_FILE
        self._aliases: dict[str, str] = cbor2.loads(aliases.read_bytes()) if aliases.exists() else {}

    def _save(self) -> None:
        state = self._kms.state_bytes()
        try:
            write_atomic(self._dir / STORE_FILE, state.reveal())
        finally:
            state.wipe()
        write_atomic(self._dir / ALIASES_FILE, cbor2.dumps(self._aliases))

    def sealing_key(self) -> str:
        """The key enclaves seal with; created on first use with a production policy on the
        PCRs of this release and enclave configuration."""
        key_id = self._aliases.get(SEALING_KEY_ALIAS)
        if key_id is None:
            policy = KeyPolicy.for_pcrs(expected_pcrs(self._config.enclave), allow_debug=self._config.enclave.allow_debug)
            key_id = self._kms.create_key(policy, description="Accord enclave sealing")
            self._aliases[SEALING_KEY_ALIAS] = key_id
            self._save()
        return key_id

    def generate_data_key(self, key_id: str, recipient: bytes | None, number_of_bytes: int = 32,
                          encryption_context: dict[str, str] | None = None) -> GenerateDataKeyResponse:  # fmt: skip
        return self._kms.generate_data_key(key_id, recipient=recipient, number_of_bytes=number_of_bytes,
                                           encryption_context=encryption_context)  # fmt: skip

    def decrypt(self, ciphertext_blob: bytes, recipient: bytes | None, key_id: str | None = None,
                encryption_context: dict[str, str] | None = None) -> DecryptResponse:  # fmt: skip
        return self._kms.decrypt(ciphertext_blob, recipient=recipient, key_id=key_id,
                                 encryption_context=encryption_context)  # fmt: skip

    def __repr__(self) -> str:
        return f"<KmsService {self._kms!r}>"



"""The deployment configuration every service receives (public, picklable, no secrets)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from accord.cluster.topology import EnclaveSlot, Topology
from accord.enclave.evaluator import EvaluatorConfig
from accord.enclave.measurement import EnclaveConfig

NAMESPACE = "accord"
PKI_FILE = "simulated-nitro-pki.cbor"  # the simulated AWS side: never an enclave secret


@dataclass(frozen=True)
class DeploymentConfig:
    """One Accord deployment.

    `state_dir` holds each enclave's sealed state (`enclaves/<id>/`), the simulated KMS's key
    store (`kms/`) and the simulated Nitro PKI; on a multi-node cluster without real Nitro
    hardware it must be on storage every enclave host can reach.
    """

    state_dir: str
    enclave: EnclaveConfig
    topology: Topology = field(default_factory=Topology)
    evaluator: EvaluatorConfig = field(default_factory=EvaluatorConfig)
    token_ttl: int = 300
    allow_debug: bool = False  # accept debug-mode enclaves (never in production)
    namespace: str = NAMESPACE

    @property
    def root(self) -> Path:
        return Path(self.state_dir)

    def keyshare_id(self, slot: EnclaveSlot) -> str:
        return f"{slot.enclave_id}-keyshare"

    def evaluator_id(self, slot: EnclaveSlot) -> str:
        return f"{slot.enclave_id}-evaluator"

    def enclave_dir(self, enclave_id: str) -> Path:
        return self.root / "enclaves" / enclave_id

    def actor_name(self, role: str, slot: EnclaveSlot | None = None) -> str:
        """Names of the detached actors, unique within the namespace."""
        return f"accord-{role}" if slot is None else f"accord-{slot.enclave_id}-{role}"

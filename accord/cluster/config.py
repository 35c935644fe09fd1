"""The deployment configuration every service receives (public, picklable, no secrets)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from accord.cluster.topology import EnclaveSlot, Topology
from accord.enclave.attestation import AttestationPolicy
from accord.enclave.enclave import expected_pcrs
from accord.enclave.evaluator import EvaluatorConfig
from accord.enclave.measurement import EnclaveConfig
from accord.enclave.pki import SimulatedNitroPki
from accord.enclave.trust import TrustedRoot, aws_nitro_root_g1

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

    def trusted_root(self) -> TrustedRoot:
        """The root attestation documents chain to: the simulated one when this deployment
        runs on simulated enclaves (its PKI is in the state directory), else AWS's."""
        path = self.root / PKI_FILE
        if path.exists():
            return SimulatedNitroPki.from_bytes(path.read_bytes()).trusted_root()
        return aws_nitro_root_g1()

    def attestation_policy(self) -> AttestationPolicy:
        """What a verifier of this deployment's enclaves accepts (root, PCRs, debug)."""
        return AttestationPolicy(self.trusted_root(), expected_pcrs(self.enclave), allow_debug=self.allow_debug)

    def actor_name(self, role: str, slot: EnclaveSlot | None = None) -> str:
        """Names of the detached actors, unique within the namespace."""
        return f"accord-{role}" if slot is None else f"accord-{slot.enclave_id}-{role}"

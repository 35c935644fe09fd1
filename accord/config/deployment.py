"""The deployment configuration every service receives (public, picklable, no secrets).

Everything in it that an enclave decides with is in `enclave` (the measured `EnclaveConfig`);
the rest (where the state directory is, how long the coordinator makes tokens last, the Ray
namespace) is the host's business, and the enclaves bound or check what they take from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding

from accord.config.topology import EnclaveSlot, Topology
from accord.enclave.configuration import EnclaveConfig, Platform, evaluator_id, keyshare_id
from accord.enclave.platform.errors import EnclaveConfigError
from accord.enclave.platform.pki import SimulatedNitroPki
from accord.enclave.platform.timeutil import utc_now
from accord.enclave.platform.trust import TrustedRoot, aws_nitro_root_g1

NAMESPACE = "accord"
PKI_FILE = "simulated-nitro-pki.cbor"  # the simulated AWS side: never an enclave secret


@dataclass(frozen=True)
class DeploymentConfig:
    """One Accord deployment.

    `state_dir` holds each enclave's sealed state (`enclaves/<id>/`) and, on simulated
    enclaves, the simulated KMS's key store (`kms/`) and the simulated Nitro PKI; on a
    multi-node cluster without real Nitro hardware it must be on storage every enclave host
    can reach. Which root and KMS the enclaves trust is in `enclave`, never in those files.
    """

    state_dir: str
    enclave: EnclaveConfig
    token_ttl: int = 300
    namespace: str = NAMESPACE

    @property
    def root(self) -> Path:
        return Path(self.state_dir)

    @property
    def topology(self) -> Topology:
        return Topology(groups=self.enclave.groups, size=self.enclave.group_size)

    def keyshare_id(self, slot: EnclaveSlot) -> str:
        return keyshare_id(slot.group, slot.index)

    def evaluator_id(self, slot: EnclaveSlot) -> str:
        return evaluator_id(slot.group, slot.index)

    def enclave_dir(self, enclave_id: str) -> Path:
        return self.root / "enclaves" / enclave_id

    def simulated_pki(self) -> SimulatedNitroPki:
        """The simulated AWS side of this deployment (shared by every host through the state
        directory). Enclaves accept it only if its root is the one their configuration pins."""
        return SimulatedNitroPki.load_or_create(self.root / PKI_FILE, now=utc_now())

    def trusted_root(self) -> TrustedRoot:
        """The root attestation documents chain to, as the measured configuration pins it:
        AWS's on Nitro; on simulated enclaves the simulated PKI's, refused when the file
        in the state directory holds another root."""
        if self.enclave.platform is Platform.NITRO:
            return aws_nitro_root_g1()
        if self.enclave.attestation_root is None:
            raise EnclaveConfigError("the measured configuration pins no attestation root")
        root = self.simulated_pki().trusted_root()
        return TrustedRoot.pinned(root.certificate.public_bytes(Encoding.DER), self.enclave.attestation_root)

    def actor_name(self, role: str, slot: EnclaveSlot | None = None) -> str:
        """Names of the detached actors, unique within the namespace."""
        return f"accord-{role}" if slot is None else f"accord-{slot.enclave_id}-{role}"

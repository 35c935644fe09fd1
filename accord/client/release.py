"""The operator's release: what a client or resource server verifies a deployment against.

A release names the measured enclave configuration (deployment id, platform, groups and
their members, parameters, pinned bundle keys) and the PCRs the enclaves of this release
report, with the attestation root. The operator publishes it beside the JWKS URL (`accord
up --release-out FILE` writes it); a client loads it from there or from its own copy,
never from the deployment's state directory, which the host can rewrite.

On simulated enclaves the release also carries the simulated root certificate (pinned by
the configuration's fingerprint) and the application and runtime digests, so that a
reader can check that PCR0 is the measurement of exactly this configuration. On Nitro the
PCRs are those of the enclave image build, and the root is AWS's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding

from accord.client.results import ClientError
from accord.enclave.configuration import EnclaveConfig, Platform
from accord.enclave.platform.attestation import AttestationPolicy
from accord.enclave.platform.errors import AttestationError, EnclaveConfigError
from accord.enclave.platform.measurement import PCR_SIZE, Measurement, measure
from accord.enclave.platform.trust import TrustedRoot, aws_nitro_root_g1, load_certificate

RELEASE_FORMAT = "accord-release-v1"
_PCRS = (0, 1, 2)


class ReleaseError(ClientError):
    """A release file is malformed or inconsistent."""


@dataclass(frozen=True)
class Release:
    config: EnclaveConfig
    pcrs: dict[int, bytes]
    root_certificate: bytes | None = None  # DER, simulated enclaves only
    measurement: Measurement | None = None  # simulated enclaves only

    @classmethod
    def simulated(cls, config: EnclaveConfig, root: TrustedRoot) -> Release:
        """The release of this code with `config`, on simulated enclaves under `root`."""
        measurement = measure(config)
        return cls(config, measurement.pcrs(), root.certificate.public_bytes(Encoding.DER), measurement)

    def __post_init__(self) -> None:
        if sorted(self.pcrs) != list(_PCRS) or any(len(v) != PCR_SIZE for v in self.pcrs.values()):
            raise ReleaseError("a release lists PCR0, PCR1 and PCR2 (48 bytes each)")
        if self.config.platform is Platform.SIMULATED:
            if self.root_certificate is None or self.measurement is None:
                raise ReleaseError("a simulated release carries its root certificate and measurement")
            if self.measurement.config != self.config.digest() or self.measurement.pcrs() != self.pcrs:
                raise ReleaseError("the release's PCRs are not the measurement of its configuration")
        elif self.root_certificate is not None:
            raise ReleaseError("a Nitro release trusts the AWS root only; it carries no root certificate")

    def trusted_root(self) -> TrustedRoot:
        if self.config.platform is Platform.NITRO:
            return aws_nitro_root_g1()
        try:
            return TrustedRoot.pinned(self.root_certificate, self.config.attestation_root or "")
        except AttestationError as exc:
            raise ReleaseError(f"the release's root certificate is not the pinned root: {exc}") from exc

    def attestation_policy(self) -> AttestationPolicy:
        """Root, the release's PCRs, debug only where the configuration allows it (a debug
        enclave reports zero PCRs, so a debug release pins no code)."""
        expected = {i: bytes(PCR_SIZE) for i in _PCRS} if self.config.allow_debug else self.pcrs
        return AttestationPolicy(self.trusted_root(), expected, allow_debug=self.config.allow_debug)

    # --- the file ---

    def to_dict(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "format": RELEASE_FORMAT,
            "config": self.config.to_dict(),
            "pcrs": {str(i): v.hex() for i, v in sorted(self.pcrs.items())},
        }
        if self.root_certificate is not None:
            item["root_certificate"] = self.root_certificate.hex()
        if self.measurement is not None:
            item["measurement"] = {"application": self.measurement.application.hex(),
                                   "runtime": self.measurement.runtime.hex()}  # fmt: skip
        return item

    @classmethod
    def from_dict(cls, item: Any) -> Release:
        if not isinstance(item, dict) or item.get("format") != RELEASE_FORMAT:
            raise ReleaseError(f"not an Accord release (format {RELEASE_FORMAT!r})")
        try:
            config = EnclaveConfig.from_dict(item["config"])
            pcrs = {int(i): bytes.fromhex(v) for i, v in item["pcrs"].items()}
            root = bytes.fromhex(item["root_certificate"]) if "root_certificate" in item else None
            measurement = None
            if "measurement" in item:
                parts = item["measurement"]
                measurement = Measurement(bytes.fromhex(parts["application"]), bytes.fromhex(parts["runtime"]),
                                          config.digest())  # fmt: skip
            if root is not None:
                load_certificate(root, "release root certificate")
        except (KeyError, TypeError, ValueError, AttributeError, EnclaveConfigError, AttestationError) as exc:
            raise ReleaseError(f"release does not parse: {type(exc).__name__}: {exc}") from exc
        return cls(config, pcrs, root, measurement)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> Release:
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (OSError, ValueError) as exc:
            raise ReleaseError(f"cannot read release {path}: {exc}") from exc

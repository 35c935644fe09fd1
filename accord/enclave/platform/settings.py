"""The platform fields of the measured configuration: where the enclaves run and which KMS
seals their state (see `accord.enclave.configuration` for the whole configuration)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from urllib.parse import urlsplit

from accord.enclave.platform.errors import EnclaveConfigError


class Platform(str, enum.Enum):
    """Where the enclaves run: Nitro (real /dev/nsm, AWS root, AWS KMS) or the simulation
    (local PKI whose root says SIMULATED, simulated KMS)."""

    SIMULATED = "simulated"
    NITRO = "nitro"


class KmsKind(str, enum.Enum):
    SIMULATED = "simulated"
    AWS = "aws"


@dataclass(frozen=True)
class KmsSettings:
    """Which KMS seals this deployment's state. `aws`: the region, the endpoint (reached
    through the parent's vsock proxy) and the key id or ARN, all measured so that a host
    cannot substitute a key whose policy it controls."""

    kind: KmsKind = KmsKind.SIMULATED
    region: str | None = None
    endpoint: str | None = None
    key_id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", KmsKind(self.kind))
        if self.kind is KmsKind.AWS:
            if not self.region or not self.key_id:
                raise EnclaveConfigError("an AWS KMS needs a region and a key id (or ARN) in the measured configuration")
            endpoint = self.endpoint or f"https://kms.{self.region}.amazonaws.com"
            if urlsplit(endpoint).scheme not in ("https", "http") or not urlsplit(endpoint).netloc:
                raise EnclaveConfigError(f"KMS endpoint {endpoint!r} is not an http(s) URL")
            object.__setattr__(self, "endpoint", endpoint)
        elif self.region or self.endpoint or self.key_id:
            raise EnclaveConfigError("the simulated KMS takes no region, endpoint or key id")

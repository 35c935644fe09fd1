"""The measured enclave configuration: everything an enclave decides with that is not code.

On Nitro this configuration is part of the enclave image, so PCR0 covers it; the simulated
NSM measures it the same way (see `measurement`). Whatever the host passes an enclave
beyond the request bytes is either in here, and so attested, or it is not trusted:

- the deployment's identity, the platform (simulated or Nitro), the attestation root and
  the KMS the enclave seals with: a host cannot point an enclave at its own PKI or KMS;
- the shape of every signing group (size, n-of-n threshold) and the enclave ids of its
  members: a host cannot run a DKG with fewer signers or other participants;
- the pinned bundle-signing keys and the evaluator's security parameters (clock skew,
  token lifetime, issuer, audience, origins, ...), each bounded by constants below.

The JSON of `to_json` is canonical (RFC 8785): equal configurations measure equally.
"""

from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from accord.enclave.platform.errors import EnclaveConfigError
from accord.enclave.platform.settings import KmsKind, KmsSettings, Platform
from accord.enclave.platform.trust import AWS_NITRO_ROOT_G1_SHA256
from accord.protocols import canonical_json

CONFIG_VERSION = 3  # 3: engines per member, bundle_threshold
_FINGERPRINT = re.compile(r"[0-9a-f]{64}")
_DEPLOYMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
ENGINES = ("regorus", "regorus-rvm", "opa")  # = accord.bundles.engine.ENGINES
# Engines that may only run beside another engine in their group (less sound: a wrong
# answer must show as a divergent evaluator, never as a token).
NEEDS_ANOTHER_ENGINE = frozenset({"regorus-rvm"})

# Bounds on the evaluator's parameters: no configuration, measured or not, goes past them.
MAX_CLOCK_SKEW = 300
MAX_SIGNATURE_SKEW = 300
MAX_TOKEN_LIFETIME = 86400
MAX_APPROVAL_AGE = 30 * 86400
MAX_GROUP_SIZE = 16
MAX_GROUPS = 64


class Role(str, enum.Enum):
    KEYSHARE = "keyshare"
    EVALUATOR = "evaluator"


@dataclass(frozen=True)
class EvaluatorConfig:
    """What an evaluator enforces beyond the bundle. Measured (a field of EnclaveConfig)."""

    issuer: str = "accord"
    audience: str = "accord-resource-servers"
    clock_skew: int = 30  # |iat - this enclave's clock| allowed, seconds
    signature_skew: int = 30  # RFC 9421 created/expires tolerance
    max_token_lifetime: int = 3600
    approval_max_age: int = 7 * 86400
    engine: str = "regorus"
    # Engine diversity: one engine per member index of every group (empty: `engine` for
    # all). With different engines in a group, an engine's bug shows as a divergent,
    # named enclave (no unanimity, no token), never as a wrong token.
    engines: tuple[str, ...] = ()
    # Origins ("https://accord.example.com") requests may be signed for; empty: any origin
    # (the path must still be /v1/authorize). Set it so that a request signed for another
    # deployment that knows the same principal keys is refused here.
    public_origins: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name, bound in (("clock_skew", MAX_CLOCK_SKEW), ("signature_skew", MAX_SIGNATURE_SKEW),
                            ("max_token_lifetime", MAX_TOKEN_LIFETIME), ("approval_max_age", MAX_APPROVAL_AGE)):  # fmt: skip
            value = getattr(self, name)
            if type(value) is not int or not 1 <= value <= bound:
                raise EnclaveConfigError(f"evaluator {name} is {value!r}; the enclave allows 1..{bound}")
        for name in ("issuer", "audience"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise EnclaveConfigError(f"evaluator {name} must be a non-empty string")
        object.__setattr__(self, "engines", tuple(self.engines))
        for engine in (self.engine, *self.engines):
            if engine not in ENGINES:
                raise EnclaveConfigError(f"evaluator engine {engine!r} is not one of {list(ENGINES)}")
        if set(self.engines or (self.engine,)) <= NEEDS_ANOTHER_ENGINE:
            raise EnclaveConfigError(f"evaluator engine {(self.engines or (self.engine,))[0]!r} may only run beside "
                                     "another engine in its group (e.g. --engines regorus-rvm,regorus-rvm,regorus)")
        origins = tuple(sorted(set(self.public_origins)))
        for origin in origins:
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not parts.netloc or f"{parts.scheme}://{parts.netloc}" != origin:
                raise EnclaveConfigError(f"public origin {origin!r} is not scheme://host[:port]")
        object.__setattr__(self, "public_origins", origins)

    def engine_of(self, index: int) -> str:
        """The Rego engine of the evaluator at member index `index` of its group."""
        return self.engines[index] if self.engines else self.engine

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "public_origins": list(self.public_origins), "engines": list(self.engines)}


@dataclass(frozen=True)
class Member:
    """Where an enclave id sits in the configuration."""

    role: Role
    group: int
    index: int


def keyshare_id(group: int, index: int) -> str:
    return f"g{group}-e{index}-keyshare"


def evaluator_id(group: int, index: int) -> str:
    return f"g{group}-e{index}-evaluator"


@dataclass(frozen=True)
class EnclaveConfig:
    """The enclave configuration that is part of the measured image (PCR0).

    `bundle_key_fingerprints`: SHA-256 (hex) of each bundle-signing public key the enclave
    accepts policy bundles from; kept sorted and unique so equal configs measure equally.
    `attestation_root`: SHA-256 of the root certificate's DER that peers' documents must
    chain to (AWS Root-G1 on Nitro; the simulated PKI's root otherwise). Every group has
    `group_size` members and signs `group_size`-of-`group_size`.
    """

    bundle_key_fingerprints: tuple[str, ...]
    deployment: str = "accord"
    platform: Platform = Platform.SIMULATED
    attestation_root: str | None = None
    allow_debug: bool = False
    kms: KmsSettings = field(default_factory=KmsSettings)
    groups: int = 1
    group_size: int = 3
    evaluator: EvaluatorConfig = field(default_factory=EvaluatorConfig)
    bundle_threshold: int = 1  # valid signatures by distinct pinned administrators a bundle needs

    def __post_init__(self) -> None:
        fingerprints = tuple(sorted({fp.lower() for fp in self.bundle_key_fingerprints}))
        if not fingerprints:
            raise EnclaveConfigError("an enclave must pin at least one bundle-signing key fingerprint")
        for fingerprint in fingerprints:
            if not _FINGERPRINT.fullmatch(fingerprint):
                raise EnclaveConfigError(f"bundle key fingerprint {fingerprint!r} is not 64 hex digits (SHA-256)")
        object.__setattr__(self, "bundle_key_fingerprints", fingerprints)
        if type(self.bundle_threshold) is not int or not 1 <= self.bundle_threshold <= len(fingerprints):
            raise EnclaveConfigError(f"a bundle threshold of {self.bundle_threshold!r} cannot be met by "
                                     f"{len(fingerprints)} pinned administrator key(s)")  # fmt: skip
        if not isinstance(self.deployment, str) or not _DEPLOYMENT.fullmatch(self.deployment):
            raise EnclaveConfigError(f"deployment id {self.deployment!r} must be 1-64 letters, digits, '.', '_' or '-'")
        platform = Platform(self.platform)
        object.__setattr__(self, "platform", platform)
        root = self.attestation_root.lower() if self.attestation_root else None
        if platform is Platform.NITRO:
            if root not in (None, AWS_NITRO_ROOT_G1_SHA256):
                raise EnclaveConfigError(f"a Nitro enclave trusts only the AWS Nitro root, not {root}")
            if self.kms.kind is not KmsKind.AWS:
                raise EnclaveConfigError("a Nitro enclave seals with AWS KMS; the simulated KMS is for simulated enclaves")
            if self.allow_debug:
                raise EnclaveConfigError("a Nitro deployment never accepts debug-mode enclaves")
            root = AWS_NITRO_ROOT_G1_SHA256
        else:
            if root == AWS_NITRO_ROOT_G1_SHA256:
                raise EnclaveConfigError("simulated enclaves cannot chain to the AWS Nitro root")
            if root is not None and not _FINGERPRINT.fullmatch(root):
                raise EnclaveConfigError(f"attestation root {root!r} is not a SHA-256 fingerprint")
            if self.kms.kind is not KmsKind.SIMULATED:
                raise EnclaveConfigError("AWS KMS accepts only Nitro attestations; simulated enclaves use the simulated KMS")
        object.__setattr__(self, "attestation_root", root)
        if type(self.groups) is not int or not 1 <= self.groups <= MAX_GROUPS:
            raise EnclaveConfigError(f"groups is {self.groups!r}; allowed 1..{MAX_GROUPS}")
        if type(self.group_size) is not int or not 2 <= self.group_size <= MAX_GROUP_SIZE:
            raise EnclaveConfigError(f"group size is {self.group_size!r}; allowed 2..{MAX_GROUP_SIZE}")
        if self.evaluator.engines and len(self.evaluator.engines) != self.group_size:
            raise EnclaveConfigError(f"{len(self.evaluator.engines)} evaluator engines for groups of "
                                     f"{self.group_size}: name one per member, or none")  # fmt: skip

    @property
    def threshold(self) -> int:
        """Signers a token needs: all of the group (n-of-n)."""
        return self.group_size

    # --- membership ---

    def keyshare_ids(self, group: int) -> tuple[str, ...]:
        self._check_group(group)
        return tuple(keyshare_id(group, i) for i in range(self.group_size))

    def evaluator_ids(self, group: int) -> tuple[str, ...]:
        self._check_group(group)
        return tuple(evaluator_id(group, i) for i in range(self.group_size))

    def member(self, enclave_id: str) -> Member:
        """The role, group and index of `enclave_id`; EnclaveConfigError when the
        configuration has no such enclave (a host cannot add members under other names)."""
        for group in range(self.groups):
            for index in range(self.group_size):
                if enclave_id == keyshare_id(group, index):
                    return Member(Role.KEYSHARE, group, index)
                if enclave_id == evaluator_id(group, index):
                    return Member(Role.EVALUATOR, group, index)
        raise EnclaveConfigError(
            f"enclave id {enclave_id!r} is not a member of deployment {self.deployment!r} "
            f"({self.groups} group(s) of {self.group_size})"
        )

    def _check_group(self, group: int) -> None:
        if type(group) is not int or not 0 <= group < self.groups:
            raise EnclaveConfigError(f"deployment {self.deployment!r} has no signing group {group!r}")

    # --- measurement ---

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": CONFIG_VERSION,
            "deployment": self.deployment,
            "platform": self.platform.value,
            "attestation_root": self.attestation_root,
            "allow_debug": self.allow_debug,
            "kms": {"kind": self.kms.kind.value, "region": self.kms.region, "endpoint": self.kms.endpoint,
                    "key_id": self.kms.key_id},  # fmt: skip
            "groups": self.groups,
            "group_size": self.group_size,
            "threshold": self.threshold,
            "evaluator": self.evaluator.to_dict(),
            "bundle_key_fingerprints": list(self.bundle_key_fingerprints),
            "bundle_threshold": self.bundle_threshold,
        }

    def to_json(self) -> bytes:
        """Canonical JSON (RFC 8785) of the configuration: the bytes that are measured."""
        return canonical_json.dumps(self.to_dict())

    def digest(self) -> bytes:
        """SHA-384 of `to_json()`."""
        return hashlib.sha384(self.to_json()).digest()

    @classmethod
    def from_dict(cls, item: Any) -> EnclaveConfig:
        """The inverse of `to_dict` (strict: unknown or missing fields are refused)."""
        expected = set(cls(("0" * 64,)).to_dict())
        if not isinstance(item, dict) or set(item) != expected:
            raise EnclaveConfigError(f"an enclave configuration has exactly the fields {sorted(expected)}")
        if item["version"] != CONFIG_VERSION:
            raise EnclaveConfigError(f"enclave configuration version {item['version']!r} is not {CONFIG_VERSION}")
        try:
            evaluator = dict(item["evaluator"])
            evaluator["public_origins"] = tuple(evaluator.get("public_origins", ()))
            evaluator["engines"] = tuple(evaluator.get("engines", ()))
            config = cls(
                bundle_key_fingerprints=tuple(item["bundle_key_fingerprints"]), deployment=item["deployment"],
                platform=Platform(item["platform"]), attestation_root=item["attestation_root"],
                allow_debug=item["allow_debug"], kms=KmsSettings(**item["kms"]), groups=item["groups"],
                group_size=item["group_size"], evaluator=EvaluatorConfig(**evaluator),
                bundle_threshold=item["bundle_threshold"],
            )  # fmt: skip
        except (TypeError, ValueError) as exc:
            raise EnclaveConfigError(f"enclave configuration does not parse: {exc}") from exc
        if item["threshold"] != config.threshold:
            raise EnclaveConfigError(f"threshold {item['threshold']!r}: Accord groups sign {config.threshold}-of-{config.group_size}")
        return config

    def differences(self, other: EnclaveConfig) -> list[str]:
        """The top-level fields in which `other` differs from this configuration."""
        ours, theirs = self.to_dict(), other.to_dict()
        return [name for name in ours if ours[name] != theirs[name]]

"""Trusting a JWKS only after the enclaves that sign with it attested.

The gateway serves the JWKS and each evaluator's attestation document, but it is untrusted:
it could serve its own key. Each document is a Nitro attestation (COSE_Sign1, ES384) whose
`user_data` is CBOR `["accord-evaluator-status-v1", enclave id, group kid, bundle digest]`
(see `accord.enclave.evaluator.EvaluatorCore.attestation`). `verify_key_set` verifies every
document against the caller's policy (pinned root, expected PCRs, debug refused, the fresh
nonce the caller sent) and accepts the JWKS only if its kids are exactly the attested group
kids, each kid attested by at least `min_enclaves` distinct enclaves (Accord signs n-of-n
with 3), and each key's kid is its RFC 7638 thumbprint.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from accord.client.results import ClientError
from accord.enclave.attestation import AttestationPolicy
from accord.enclave.strict_cbor import loads_exact
from accord.protocols.jwk import parse_jwks

STATUS_CLAIM = "accord-evaluator-status-v1"  # = accord.enclave.evaluator.STATUS_CLAIM
GROUP_SIZE = 3
NITRO_PCRS = (0, 1, 2, 3, 4, 8)  # the PCRs Nitro defines (image, kernel, application, IAM role, instance, signing cert)


class KeySetNotAttested(ClientError):
    """The JWKS does not match what the attested enclaves sign with."""


@dataclass(frozen=True)
class AttestedEnclave:
    """One evaluator whose attestation document verified."""

    enclave_id: str
    kid: str
    bundle: str
    module_id: str
    debug: bool
    pcrs: Mapping[int, str]  # index -> hex


@dataclass(frozen=True)
class VerifiedKeySet:
    """A JWKS whose every key is the group key of attested enclaves."""

    jwks: dict[str, Any]
    enclaves: tuple[AttestedEnclave, ...]


def _status(user_data: bytes | None) -> tuple[str, str, str]:
    if user_data is None:
        raise KeySetNotAttested("an attestation document carries no user_data (no evaluator status)")
    fields = loads_exact(user_data, KeySetNotAttested, "attestation user_data")
    if not isinstance(fields, list) or len(fields) != 4 or not all(isinstance(f, str) for f in fields):
        raise KeySetNotAttested("attestation user_data is not [claim, enclave, kid, bundle] strings")
    if fields[0] != STATUS_CLAIM:
        raise KeySetNotAttested(f"attestation user_data claim is {fields[0]!r}, not {STATUS_CLAIM!r}")
    return fields[1], fields[2], fields[3]


def verify_key_set(documents: Mapping[str, bytes], jwks: Mapping[str, Any], policy: AttestationPolicy, *,
                   nonce: bytes, at: datetime, min_enclaves: int = GROUP_SIZE,
                   expected_bundle: str | None = None) -> VerifiedKeySet:  # fmt: skip
    """Verify `documents` (as served, by enclave) and accept `jwks` only if it is exactly
    the set of attested group keys. Raises AttestationError or KeySetNotAttested."""
    enclaves: dict[str, AttestedEnclave] = {}
    identities: set[bytes] = set()
    for served_as, data in documents.items():
        document = policy.verify(data, at=at, nonce=nonce)
        enclave_id, kid, bundle = _status(document.user_data)
        if enclave_id in enclaves or (document.public_key or b"") in identities:
            raise KeySetNotAttested(f"enclave {enclave_id!r} (served as {served_as!r}) is attested twice")
        if not kid:
            raise KeySetNotAttested(f"enclave {enclave_id!r} has no group key yet")
        if expected_bundle is not None and bundle != expected_bundle:
            raise KeySetNotAttested(f"enclave {enclave_id!r} runs bundle {bundle}, expected {expected_bundle}")
        identities.add(document.public_key or b"")
        enclaves[enclave_id] = AttestedEnclave(enclave_id, kid, bundle, document.module_id, document.debug,
                                               {i: v.hex() for i, v in sorted(document.pcrs.items()) if i in NITRO_PCRS})  # fmt: skip
    keys = parse_jwks(jwks)
    for kid, key in keys.items():
        if key.thumbprint != kid:
            raise KeySetNotAttested(f"JWKS kid {kid!r} is not the RFC 7638 thumbprint of its key ({key.thumbprint})")
    attested: dict[str, int] = {}
    for enclave in enclaves.values():
        attested[enclave.kid] = attested.get(enclave.kid, 0) + 1
    if set(keys) != set(attested):
        raise KeySetNotAttested(f"JWKS kids {sorted(keys)} differ from the attested group kids {sorted(attested)}")
    short = {kid: n for kid, n in attested.items() if n < min_enclaves}
    if short:
        raise KeySetNotAttested(f"group keys attested by fewer than {min_enclaves} enclaves: {short}")
    return VerifiedKeySet(dict(jwks), tuple(sorted(enclaves.values(), key=lambda e: e.enclave_id)))


def simulated_deployment_policy(state_dir: str | Path) -> AttestationPolicy:
    """The attestation policy for a deployment on simulated enclaves, from its state
    directory: the simulated root (never the AWS root) and the PCRs this release measures
    with the deployment's pinned bundle keys. On real Nitro, build the policy from the AWS
    root (`accord.enclave.trust.aws_nitro_root_g1`) and the PCRs of the enclave image."""
    from accord.cluster.config import PKI_FILE
    from accord.cluster.deployment import CONFIG_FILE
    from accord.enclave.enclave import expected_pcrs
    from accord.enclave.measurement import EnclaveConfig
    from accord.enclave.pki import SimulatedNitroPki

    root = Path(state_dir)
    pins = json.loads((root / CONFIG_FILE).read_text())["bundle_key_fingerprints"]
    pki = SimulatedNitroPki.from_bytes((root / PKI_FILE).read_bytes())
    return AttestationPolicy(pki.trusted_root(), expected_pcrs(EnclaveConfig(tuple(pins))))

"""Trusting a JWKS only after the enclaves that sign with it attested.

The gateway serves the JWKS and each evaluator's attestation document, but it is untrusted:
it could serve its own key, or documents of extra enclave instances it started. Each
document is a Nitro attestation (COSE_Sign1, ES384) whose `user_data` is CBOR
`["accord-evaluator-status-v2", deployment, group, enclave id, group kid, binding digest,
bundle digest]` (see `accord.enclave.evaluator.EvaluatorCore.attestation`).

`verify_key_set` checks every document against the operator's `Release` (its root, its PCRs,
debug refused, the fresh nonce the caller sent), and accepts the JWKS only if:

- every document is from an evaluator the release configures, for the release's deployment;
- for every signing group of the release, every one of its evaluators attested, all with the
  same kid and the same group binding (the DKG among exactly the configured KeyShares);
- the JWKS's kids are exactly those groups' kids, each the RFC 7638 thumbprint of its key.

Documents of enclaves outside the release are refused, not ignored: they cannot add a key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from accord.client.release import Release
from accord.client.results import ClientError
from accord.enclave.configuration import Role
from accord.enclave.platform.errors import EnclaveConfigError
from accord.enclave.platform.strict_cbor import loads_exact
from accord.protocols.jwk import parse_jwks

STATUS_CLAIM = "accord-evaluator-status-v3"  # = accord.enclave.evaluator.STATUS_CLAIM
NITRO_PCRS = (0, 1, 2, 3, 4, 8)  # the PCRs Nitro defines (image, kernel, application, IAM role, instance, signing cert)


class KeySetNotAttested(ClientError):
    """The JWKS does not match what the attested enclaves sign with."""


@dataclass(frozen=True)
class AttestedEnclave:
    """One evaluator whose attestation document verified."""

    enclave_id: str
    group: int
    kid: str
    binding: str
    bundle: str
    module_id: str
    debug: bool
    pcrs: Mapping[int, str]  # index -> hex
    retired: tuple[tuple[str, int], ...] = ()  # (kid, until): rotated-out keys whose tokens may be valid


@dataclass(frozen=True)
class VerifiedKeySet:
    """A JWKS whose every key is the group key of attested enclaves."""

    jwks: dict[str, Any]
    enclaves: tuple[AttestedEnclave, ...]


def _status(user_data: bytes | None) -> tuple[str, int, str, str, str, str, tuple[tuple[str, int], ...]]:
    if user_data is None:
        raise KeySetNotAttested("an attestation document carries no user_data (no evaluator status)")
    fields = loads_exact(user_data, KeySetNotAttested, "attestation user_data")
    if not isinstance(fields, list) or len(fields) != 8 or fields[0] != STATUS_CLAIM:
        raise KeySetNotAttested(f"attestation user_data is not a {STATUS_CLAIM!r} claim")
    _, deployment, group, enclave_id, kid, binding, bundle, retired = fields
    if type(group) is not int or not all(isinstance(f, str) for f in (deployment, enclave_id, kid, binding, bundle)):
        raise KeySetNotAttested("attestation user_data is not [claim, deployment, group, enclave, kid, binding, bundle, "
                                "retired]")  # fmt: skip
    if not isinstance(retired, list) or not all(
            isinstance(r, list) and len(r) == 2 and isinstance(r[0], str) and type(r[1]) is int for r in retired):  # fmt: skip
        raise KeySetNotAttested("attestation user_data's retired keys are not [[kid, until], ...]")
    return deployment, group, enclave_id, kid, binding, bundle, tuple((r[0], r[1]) for r in retired)


def verify_key_set(documents: Mapping[str, bytes], jwks: Mapping[str, Any], release: Release, *, nonce: bytes,
                   at: datetime, expected_bundle: str | None = None) -> VerifiedKeySet:  # fmt: skip
    """Verify `documents` (as served, by enclave) against `release` and accept `jwks` only
    if it holds every attested group key and nothing else but keys the same evaluators
    attest as rotated out and still valid at `at`. Raises AttestationError or
    KeySetNotAttested."""
    config = release.config
    policy = release.attestation_policy()
    enclaves: dict[str, AttestedEnclave] = {}
    identities: set[bytes] = set()
    for served_as, data in documents.items():
        document = policy.verify(data, at=at, nonce=nonce)
        deployment, group, enclave_id, kid, binding, bundle, retired = _status(document.user_data)
        if deployment != config.deployment:
            raise KeySetNotAttested(f"enclave {enclave_id!r} attests deployment {deployment!r}; the release is "
                                    f"{config.deployment!r}")  # fmt: skip
        try:
            member = config.member(enclave_id)
        except EnclaveConfigError as exc:
            raise KeySetNotAttested(f"document served as {served_as!r}: {exc}") from None
        if member.role is not Role.EVALUATOR or member.group != group:
            raise KeySetNotAttested(f"enclave {enclave_id!r} is not an evaluator of group {group} in the release")
        if enclave_id in enclaves or (document.public_key or b"") in identities:
            raise KeySetNotAttested(f"enclave {enclave_id!r} (served as {served_as!r}) is attested twice")
        if not kid or not binding:
            raise KeySetNotAttested(f"enclave {enclave_id!r} has no attested group key yet")
        if expected_bundle is not None and bundle != expected_bundle:
            raise KeySetNotAttested(f"enclave {enclave_id!r} runs bundle {bundle}, expected {expected_bundle}")
        identities.add(document.public_key or b"")
        enclaves[enclave_id] = AttestedEnclave(enclave_id, group, kid, binding, bundle, document.module_id,
                                               document.debug, {i: v.hex() for i, v in sorted(document.pcrs.items())
                                                                if i in NITRO_PCRS}, retired)  # fmt: skip
    group_kids: dict[int, str] = {}
    retired_kids: set[str] = set()
    for group in range(config.groups):
        members = config.evaluator_ids(group)
        missing = [e for e in members if e not in enclaves]
        if missing:
            raise KeySetNotAttested(f"group {group}: evaluators {missing} did not attest; a key needs all {len(members)}")
        vouched = {(enclaves[e].kid, enclaves[e].binding, enclaves[e].retired) for e in members}
        if len(vouched) != 1:
            raise KeySetNotAttested(f"group {group}: its evaluators attest different keys, bindings or retired keys: "
                                    f"{ {e: enclaves[e].kid for e in members} }")  # fmt: skip
        kid, _, retired = vouched.pop()
        group_kids[group] = kid
        retired_kids.update(r for r, until in retired if until > at.timestamp())
    keys = parse_jwks(jwks)
    for kid, key in keys.items():
        if key.thumbprint != kid:
            raise KeySetNotAttested(f"JWKS kid {kid!r} is not the RFC 7638 thumbprint of its key ({key.thumbprint})")
    current = set(group_kids.values())
    if not current <= set(keys) or not set(keys) <= current | retired_kids:
        raise KeySetNotAttested(f"JWKS kids {sorted(keys)} differ from the attested group kids {sorted(current)} "
                                f"(and keys rotated out, still valid: {sorted(retired_kids)})")  # fmt: skip
    return VerifiedKeySet(dict(jwks), tuple(sorted(enclaves.values(), key=lambda e: e.enclave_id)))

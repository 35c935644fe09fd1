"""The group key as the enclaves vouch for it: the DKG's binding and the KeyShare's statement.

- `GroupBinding` ties a group public key to the deployment, the signing group, its
  KeyShares' enclave ids (FROST identifiers 1..n in that order) and the n-of-n threshold,
  all checked against the measured configuration. Each KeyShare derives it from the DKG
  it took part in, seals it with its share and refuses a sealed share whose binding does
  not match its configuration.
- `GroupKeyStatement` is how a KeyShare tells its evaluator which group key it holds: an
  identity attestation (nonce: the evaluator's fresh challenge) and, signed with the
  attested identity key, the binding, the KeyShare's epoch and the evaluator it pairs
  with. The evaluator puts a kid into its own attestations only after `accept_statement`
  verified all of it; the host that relays the statement cannot choose the kid.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import cbor2

from accord.enclave.configuration import EnclaveConfig
from accord.enclave.platform.enclave import Enclave
from accord.enclave.platform.errors import EnclaveError
from accord.enclave.platform.strict_cbor import loads_exact
from accord.errors import AccordError
from accord.protocols.frost.errors import FrostError
from accord.protocols.frost.identifier import Identifier
from accord.protocols.frost.keys import PublicKeyPackage
from accord.protocols.jwk import PublicJwk

BINDING_LABEL = "accord-group-binding-v1"
STATEMENT_LABEL = "accord-group-key-statement-v2"  # v2: with the retired keys


class GroupKeyError(EnclaveError):
    """A group key, its binding or a statement about it does not verify."""


class GroupShapeMismatch(GroupKeyError):
    """A DKG, a sealed share or a signing package has other parameters or participants
    than the measured configuration fixes."""


class GroupKeyNotAttested(GroupKeyError):
    """A KeyShare's statement about its group key does not verify."""


def group_key_id(public: PublicKeyPackage) -> str:
    """The group key's `kid`: the RFC 7638 thumbprint of its JWK."""
    return PublicJwk.from_dict(public.verifying_key.to_jwk()).thumbprint


@dataclass(frozen=True)
class GroupBinding:
    """A group key bound to deployment, group, members and threshold (public)."""

    deployment: str
    group: int
    keyshares: tuple[str, ...]
    threshold: int
    public_key_package: bytes

    @classmethod
    def for_config(cls, config: EnclaveConfig, group: int, public: PublicKeyPackage) -> GroupBinding:
        binding = cls(config.deployment, group, config.keyshare_ids(group), config.threshold, public.to_bytes())
        binding.check(config, group)
        return binding

    @property
    def public(self) -> PublicKeyPackage:
        try:
            return PublicKeyPackage.from_bytes(self.public_key_package)
        except FrostError as exc:
            raise GroupKeyError(f"group binding holds no valid public key package: {exc}") from exc

    @property
    def kid(self) -> str:
        return group_key_id(self.public)

    def to_bytes(self) -> bytes:
        return cbor2.dumps([BINDING_LABEL, self.deployment, self.group, list(self.keyshares), self.threshold,
                            self.public_key_package])  # fmt: skip

    @classmethod
    def from_bytes(cls, data: bytes) -> GroupBinding:
        item = loads_exact(data, GroupKeyError, "group binding")
        if not (
            isinstance(item, list) and len(item) == 6 and item[0] == BINDING_LABEL and isinstance(item[1], str)
            and type(item[2]) is int and isinstance(item[3], list) and all(isinstance(k, str) for k in item[3])
            and type(item[4]) is int and isinstance(item[5], bytes)
        ):  # fmt: skip
            raise GroupKeyError(f"not a group binding: [{BINDING_LABEL!r}, deployment, group, keyshares, threshold, package]")
        return cls(item[1], item[2], tuple(item[3]), item[4], item[5])

    def digest(self) -> str:
        """Hex SHA-256 of the binding: what evaluators attest beside the kid."""
        return hashlib.sha256(self.to_bytes()).hexdigest()

    def check(self, config: EnclaveConfig, group: int) -> None:
        """Raise GroupShapeMismatch, naming every difference, unless this binding is the one
        the configuration fixes for `group`."""
        problems = []
        if self.deployment != config.deployment:
            problems.append(f"deployment {self.deployment!r}, measured {config.deployment!r}")
        if self.group != group:
            problems.append(f"group {self.group}, expected {group}")
        expected = config.keyshare_ids(group)
        if self.keyshares != expected:
            problems.append(f"members {list(self.keyshares)}, measured {list(expected)}")
        if self.threshold != config.threshold:
            problems.append(f"threshold {self.threshold}, measured {config.threshold}")
        public = self.public
        if public.min_signers != config.threshold:
            problems.append(f"key package threshold {public.min_signers}, measured {config.threshold}")
        identifiers = [i.value for i in public.verifying_shares]
        if identifiers != list(range(1, len(expected) + 1)):
            problems.append(f"verifying shares of participants {identifiers}, expected 1..{len(expected)}")
        if problems:
            raise GroupShapeMismatch("group key binding differs from the measured configuration: " + "; ".join(problems))

    def identifier_of(self, keyshare: str) -> Identifier:
        return Identifier(self.keyshares.index(keyshare) + 1)


@dataclass(frozen=True)
class RetiredKey:
    """A group key that signs no more, whose tokens may still be valid until `until`
    (unix seconds): resource servers keep it in the JWKS until then."""

    kid: str
    jwk: str  # the public JWK, canonical JSON
    until: int

    def encode(self) -> list:
        return [self.kid, self.jwk, self.until]

    @classmethod
    def decode(cls, item) -> RetiredKey:
        if not (isinstance(item, list) and len(item) == 3 and isinstance(item[0], str) and isinstance(item[1], str)
                and type(item[2]) is int):  # fmt: skip
            raise GroupKeyNotAttested("a retired key is not [kid, JWK, until]")
        try:
            key = PublicJwk.from_dict(json.loads(item[1]))
        except (ValueError, AccordError) as exc:
            raise GroupKeyNotAttested(f"a retired key's JWK does not parse: {exc}") from None
        if key.thumbprint != item[0]:
            raise GroupKeyNotAttested(f"retired kid {item[0]!r} is not the thumbprint of its key")
        return cls(item[0], item[1], item[2])


def statement_digest(keyshare_id: str, evaluator_id: str, epoch: str, binding: bytes,
                     retired: tuple[RetiredKey, ...] = ()) -> bytes:  # fmt: skip
    """What a KeyShare signs when it tells its evaluator its group key (and the retired
    keys whose tokens may still be valid)."""
    return hashlib.sha256(cbor2.dumps([STATEMENT_LABEL, keyshare_id, evaluator_id, epoch, binding,
                                       [r.encode() for r in retired]])).digest()  # fmt: skip


@dataclass(frozen=True)
class GroupKeyStatement:
    """A KeyShare's attested statement of its group key, for the evaluator `evaluator_id`."""

    document: bytes  # the KeyShare's identity attestation, nonce = the evaluator's challenge
    evaluator_id: str
    epoch: str
    binding: bytes  # GroupBinding.to_bytes()
    signature: bytes  # by the attested identity key, over statement_digest(...)
    retired: tuple[RetiredKey, ...] = ()


@dataclass(frozen=True)
class AcceptedGroupKey:
    """What an evaluator learned from a verified statement."""

    binding: GroupBinding
    kid: str
    epoch: str
    keyshare_id: str
    retired: tuple[RetiredKey, ...] = ()


def accept_statement(enclave: Enclave, statement: GroupKeyStatement, *, nonce: bytes, keyshare_id: str,
                     group: int) -> AcceptedGroupKey:  # fmt: skip
    """Verify `statement` inside the evaluator's `enclave`: the KeyShare's document under
    the enclave's peer policy (root, same PCRs, the evaluator's `nonce`), the expected
    KeyShare id of this host, the signature, the addressee, and the binding against the
    measured configuration. Raises GroupKeyNotAttested or GroupShapeMismatch."""
    try:
        peer = enclave.verify_peer(statement.document, nonce=nonce)
    except EnclaveError as exc:
        raise GroupKeyNotAttested(f"the KeyShare's attestation does not verify: {type(exc).__name__}: {exc}") from exc
    if peer.enclave_id != keyshare_id:
        raise GroupKeyNotAttested(f"statement attested by {peer.enclave_id!r}, this host's KeyShare is {keyshare_id!r}")
    if statement.evaluator_id != enclave.enclave_id:
        raise GroupKeyNotAttested(f"statement is addressed to {statement.evaluator_id!r}, not {enclave.enclave_id!r}")
    retired = tuple(RetiredKey.decode(r.encode()) if isinstance(r, RetiredKey) else RetiredKey.decode(r)
                    for r in statement.retired)  # fmt: skip
    digest = statement_digest(keyshare_id, statement.evaluator_id, statement.epoch, statement.binding, retired)
    try:
        peer.verify(statement.signature, digest)
    except EnclaveError as exc:
        raise GroupKeyNotAttested(f"statement is not signed by {keyshare_id!r}: {exc}") from exc
    binding = GroupBinding.from_bytes(statement.binding)
    binding.check(enclave.config, group)
    if any(r.kid == binding.kid for r in retired):
        raise GroupKeyNotAttested("the group key in use is also listed as retired")
    return AcceptedGroupKey(binding, binding.kid, statement.epoch, keyshare_id, retired)

"""Binding factors, group commitment and challenge (RFC 9591, Sections 4.3 to 4.8), and the
per-signing-package cache that computes each of them once.

A signer and a coordinator sharing a process share one SigningContext: binding factors are
hashed once per signing package, the group commitment is computed once, and a signer's own
term D_i + rho_i * E_i is the fixed-base product (d_i + rho_i * e_i) * G instead of a
variable-base multiplication.
"""

from __future__ import annotations

from functools import lru_cache

from accord.protocols.frost import ciphersuite as cs
from accord.protocols.frost.ciphersuite import Element
from accord.protocols.frost.errors import InvalidPoint, MissingCommitment
from accord.protocols.frost.identifier import Identifier
from accord.protocols.frost.keys import VerifyingKey
from accord.protocols.frost.polynomial import derive_interpolating_value
from accord.protocols.frost.signing_package import SigningPackage


def encode_group_commitment_list(signing_package: SigningPackage) -> bytes:
    """encode_group_commitment_list (Section 4.3)."""
    return b"".join(
        identifier.to_bytes() + commitments.hiding.encoding + commitments.binding.encoding
        for identifier, commitments in signing_package.commitments.items()
    )


def binding_factor_inputs(verifying_key: VerifyingKey, signing_package: SigningPackage) -> dict[Identifier, bytes]:
    """rho_input for each participant (Section 4.6): PK || H4(msg) || H5(commitments) || id."""
    prefix = (
        verifying_key.to_bytes()
        + cs.H4(signing_package.message)
        + cs.H5(encode_group_commitment_list(signing_package))
    )
    return {identifier: prefix + identifier.to_bytes() for identifier in signing_package.commitments}


def compute_binding_factors(verifying_key: VerifyingKey, signing_package: SigningPackage) -> dict[Identifier, bytes]:
    """compute_binding_factors (Section 4.6): rho_i = H1(rho_input_i) for every participant."""
    return {i: cs.H1(rho_input) for i, rho_input in binding_factor_inputs(verifying_key, signing_package).items()}


def compute_group_commitment(
    signing_package: SigningPackage,
    binding_factors: dict[Identifier, bytes],
    own_term: tuple[Identifier, Element] | None = None,
) -> Element:
    """compute_group_commitment (Section 4.7): R = sum_i D_i + rho_i * E_i.

    `own_term=(i, K_i)` supplies participant i's term already computed as K_i = k_i * G.
    """
    terms = []
    for identifier, commitments in signing_package.commitments.items():
        if own_term is not None and identifier == own_term[0]:
            terms.append(own_term[1])
        else:
            terms += [commitments.hiding, _binding_term(identifier, binding_factors[identifier], commitments.binding)]
    return cs.sum_elements(terms, "group commitment")


def _binding_term(identifier: Identifier, binding_factor: bytes, binding: Element) -> Element:
    """rho_i * E_i; the multiplication is where E_i is validated (see round1), so a bad
    point is reported here with the participant it came from."""
    try:
        return cs.scalar_mult(binding_factor, binding)
    except InvalidPoint as exc:
        raise InvalidPoint(exc.defect, f"binding nonce commitment of participant {identifier.value}") from None


def compute_challenge(group_commitment: Element, verifying_key: VerifyingKey, message: bytes) -> bytes:
    """compute_challenge (Section 4.8): H2(R || PK || msg), the Ed25519 challenge."""
    return cs.H2(group_commitment.encoding + verifying_key.to_bytes() + message)


@lru_cache(maxsize=4096)
def interpolating_value(participants: tuple[Identifier, ...], identifier: Identifier) -> bytes:
    """derive_interpolating_value as a scalar, cached: it depends only on the signer set."""
    return cs.serialize_scalar(derive_interpolating_value(participants, identifier))


class SigningContext:
    """Everything derived from one signing package under one group key, computed once."""

    __slots__ = ("signing_package", "verifying_key", "binding_factors", "_group_commitment", "_challenge")

    def __init__(self, signing_package: SigningPackage, verifying_key: VerifyingKey) -> None:
        self.signing_package = signing_package
        self.verifying_key = verifying_key
        self.binding_factors = compute_binding_factors(verifying_key, signing_package)
        self._group_commitment: Element | None = None
        self._challenge: bytes | None = None

    def group_commitment(self) -> Element:
        """R, computed on first use."""
        if self._group_commitment is None:
            self._group_commitment = compute_group_commitment(self.signing_package, self.binding_factors)
        return self._group_commitment

    def group_commitment_for_signer(self, identifier: Identifier, own_nonce: bytes) -> Element:
        """R, with the signer's own term computed as own_nonce * G, own_nonce = d_i + rho_i * e_i
        (the caller has checked that its nonces are the ones the package lists)."""
        if self._group_commitment is None:
            own_term = (identifier, cs.scalar_base_mult(own_nonce))
            self._group_commitment = compute_group_commitment(self.signing_package, self.binding_factors, own_term)
        return self._group_commitment

    def challenge(self) -> bytes:
        """c = H2(R || PK || msg)."""
        if self._challenge is None:
            self._challenge = compute_challenge(self.group_commitment(), self.verifying_key, self.signing_package.message)
        return self._challenge

    def interpolating_value(self, identifier: Identifier) -> bytes:
        return interpolating_value(self.signing_package.participants, identifier)

    def commitment_share(self, identifier: Identifier) -> Element:
        """Participant i's term D_i + rho_i * E_i of the group commitment."""
        commitments = self.signing_package.commitments.get(identifier)
        if commitments is None:
            raise MissingCommitment(f"participant {identifier.value} has no commitments in the signing package")
        return cs.sum_elements(
            [commitments.hiding, _binding_term(identifier, self.binding_factors[identifier], commitments.binding)],
            "commitment share",
        )

"""Round two: signature shares (RFC 9591, Section 5.2).

SignatureShare byte format (public): the 32-byte scalar z_i; the sender's identifier
travels beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

from accord.protocols.frost import ciphersuite as cs
from accord.protocols.frost.binding import SigningContext
from accord.protocols.frost.errors import InvalidKeyPackage, MissingCommitment, NotEnoughSigners, UnknownParticipant
from accord.protocols.frost.keys import KeyPackage, PublicKeyPackage
from accord.protocols.frost.round1 import SigningNonces
from accord.protocols.frost.signing_package import SigningPackage

__all__ = ["SignatureShare", "SigningPackage", "sign", "sign_in_context"]


@dataclass(frozen=True, slots=True)
class SignatureShare:
    """A participant's signature share z_i (public)."""

    share: bytes

    def __post_init__(self) -> None:
        cs.deserialize_scalar(self.share, "signature share")

    def to_bytes(self) -> bytes:
        return self.share

    @classmethod
    def from_bytes(cls, buf: bytes) -> SignatureShare:
        return cls(bytes(buf))


def sign(signing_package: SigningPackage, nonces: SigningNonces, key_package: KeyPackage, *,
         group: PublicKeyPackage | None = None) -> SignatureShare:  # fmt: skip
    """sign (Section 5.2): this participant's share of the signature over the package's
    message. Uses (and wipes) `nonces`, which must be the ones whose commitments the
    package lists for this participant. With `group`, every participant of the package
    must be one of the group's (Section 5.2 assumes the coordinator chose them among the
    group; a signer that knows the group checks it)."""
    return sign_in_context(SigningContext(signing_package, key_package.verifying_key), nonces, key_package, group=group)


def sign_in_context(context: SigningContext, nonces: SigningNonces, key_package: KeyPackage, *,
                    group: PublicKeyPackage | None = None) -> SignatureShare:  # fmt: skip
    """sign() with a SigningContext the caller keeps, e.g. a coordinator that is also a
    signer and aggregates from the same context afterwards."""
    identifier = key_package.identifier
    package = context.signing_package
    if context.verifying_key != key_package.verifying_key:
        raise InvalidKeyPackage("the signing context is for another group key than this key package")
    if group is not None:
        if group.verifying_key != key_package.verifying_key:
            raise InvalidKeyPackage("the public key package is for another group key than this key package")
        foreign = sorted(i.value for i in package.commitments if i not in group.verifying_shares)
        if foreign:
            raise UnknownParticipant(f"the signing package lists participants {foreign} outside the group")
    listed = package.commitments.get(identifier)
    if listed is None:
        raise MissingCommitment(f"the signing package has no commitments for this signer ({identifier.value})")
    if listed != nonces.commitments:
        raise MissingCommitment(
            f"the signing package lists other commitments for signer {identifier.value} than these nonces'"
        )
    if len(package.commitments) < key_package.min_signers:
        raise NotEnoughSigners(
            f"the signing package has {len(package.commitments)} participants, the threshold is {key_package.min_signers}"
        )
    hiding, binding = nonces.take()
    own_nonce = cs.scalar_add(hiding, cs.scalar_mul(binding, context.binding_factors[identifier]))
    context.group_commitment_for_signer(identifier, own_nonce)
    lambda_c = cs.scalar_mul(context.interpolating_value(identifier), context.challenge())
    z = cs.scalar_add(own_nonce, cs.scalar_mul(lambda_c, key_package.signing_share.secret.reveal()))
    return SignatureShare(z)

"""Signature share verification and aggregation (RFC 9591, Sections 5.3 and 5.4).

The coordinator sums the shares and verifies the result as an ordinary Ed25519 signature
(one verification, about two single-key signs). Only when that fails does it
verify each share, which costs two variable-base multiplications per share, to name the
participants whose shares are wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from accord.protocols.frost import ciphersuite as cs
from accord.protocols.frost.binding import SigningContext
from accord.protocols.frost.errors import (
    InvalidKeyPackage,
    InvalidLength,
    InvalidPoint,
    InvalidSignature,
    InvalidSignatureShare,
    MissingSignatureShare,
    NotEnoughSigners,
    UnknownParticipant,
)
from accord.protocols.frost.identifier import Identifier, unique_sorted
from accord.protocols.frost.keys import PublicKeyPackage, VerifyingShare
from accord.protocols.frost.round2 import SignatureShare
from accord.protocols.frost.signing_package import SigningPackage


def verify_signature_share(
    context: SigningContext,
    identifier: Identifier,
    verifying_share: VerifyingShare,
    signature_share: SignatureShare,
) -> None:
    """verify_signature_share (Section 5.4): z_i * G == R_i + (c * lambda_i) * Y_i.
    Raises InvalidSignatureShare naming `identifier`."""
    lambda_c = cs.scalar_mul(context.challenge(), context.interpolating_value(identifier))
    expected = cs.sum_elements(
        [context.commitment_share(identifier), cs.scalar_mult(lambda_c, verifying_share.element)],
        "expected share commitment",
    )
    try:
        matches = cs.scalar_base_mult(signature_share.share) == expected
    except InvalidPoint:  # z_i = 0: z_i * G is the identity, which no valid share gives
        matches = False
    if not matches:
        raise InvalidSignatureShare(identifier, "signature share does not verify against its verifying share")


def aggregate(
    signing_package: SigningPackage,
    signature_shares: Mapping[Identifier, SignatureShare],
    public_key_package: PublicKeyPackage,
) -> bytes:
    """aggregate (Section 5.3): the 64-byte Ed25519 signature R || z, verified."""
    context = SigningContext(signing_package, public_key_package.verifying_key)
    return aggregate_in_context(context, signature_shares, public_key_package)


def aggregate_in_context(
    context: SigningContext,
    signature_shares: Mapping[Identifier, SignatureShare],
    public_key_package: PublicKeyPackage,
) -> bytes:
    """aggregate() from a SigningContext already computed (e.g. by the co-located signer)."""
    if context.verifying_key != public_key_package.verifying_key:
        raise InvalidKeyPackage("the signing context is for another group key than the public key package")
    participants = context.signing_package.participants
    _check_participants(participants, signature_shares, public_key_package)
    z = bytes(cs.SCALAR_SIZE)
    for identifier in participants:
        z = cs.scalar_add(z, signature_shares[identifier].share)
    signature = context.group_commitment().encoding + z
    try:
        public_key_package.verifying_key.verify(context.signing_package.message, signature)
    except InvalidSignature:
        _name_culprits(context, signature_shares, public_key_package)
        raise
    return signature


def _check_participants(
    participants: tuple[Identifier, ...],
    signature_shares: Mapping[Identifier, SignatureShare],
    public_key_package: PublicKeyPackage,
) -> None:
    for identifier in participants:
        if identifier not in public_key_package.verifying_shares:
            raise UnknownParticipant(f"participant {identifier.value} of the signing package is not part of the key")
        if identifier not in signature_shares:
            raise MissingSignatureShare(f"no signature share from participant {identifier.value}")
    for identifier in signature_shares:
        if identifier not in participants:
            raise UnknownParticipant(f"signature share from {identifier.value}, who is not in the signing package")
    if len(participants) < public_key_package.min_signers:
        raise NotEnoughSigners(
            f"{len(participants)} signers, the threshold is {public_key_package.min_signers}"
        )


def _name_culprits(
    context: SigningContext,
    signature_shares: Mapping[Identifier, SignatureShare],
    public_key_package: PublicKeyPackage,
) -> None:
    culprits = []
    for identifier in context.signing_package.participants:
        try:
            verify_signature_share(
                context, identifier, public_key_package.verifying_shares[identifier], signature_shares[identifier]
            )
        except InvalidSignatureShare:
            culprits.append(identifier)
    if culprits:
        raise InvalidSignatureShare(
            culprits[0], f"signature share does not verify (invalid shares from: {', '.join(str(c.value) for c in culprits)})",
            culprits=tuple(culprits),
        )


def aggregate_with_group_commitment(
    message: bytes,
    group_commitment: bytes,
    signature_shares: Mapping[Identifier, SignatureShare],
    public_key_package: PublicKeyPackage,
    signing_package: Callable[[], SigningPackage],
) -> bytes:
    """aggregate() for a coordinator that takes R from the signers instead of recomputing it.

    Every signer computes R itself while signing and reports it beside its share; when all
    report the same R, the coordinator only sums the shares and verifies the result as one
    Ed25519 signature over `message` (no point decoding, no variable-base multiplication).
    The verification is what makes the reported R safe to use: a wrong R, like a wrong
    share, yields a signature that does not verify. Only then is `signing_package()` built
    (validating every commitment) to recompute R and name the culprits.
    """
    participants = unique_sorted(signature_shares)
    _check_participants(participants, signature_shares, public_key_package)
    z = bytes(cs.SCALAR_SIZE)
    for identifier in participants:
        z = cs.scalar_add(z, signature_shares[identifier].share)
    signature = bytes(group_commitment) + z
    try:
        public_key_package.verifying_key.verify(message, signature)
    except (InvalidSignature, InvalidLength):
        context = SigningContext(signing_package(), public_key_package.verifying_key)
        _name_culprits(context, signature_shares, public_key_package)
        raise InvalidSignature("the reported group commitment is wrong, though every signature share verifies") from None
    return signature

"""Proactive share refresh: new shares of the same group key, with the DKG's message flow
(frost-core `keys::refresh`, its `refresh_dkg_*` functions).

Every participant deals a random polynomial with constant term zero and adds the sum of
the shares it receives to its old share. The group key does not change (the zero constant
terms add up to zero), every signing share does, and an old share combined with new ones
no longer interpolates to the group key: a share stolen before a refresh is useless after.
All n participants take part.

The broadcast commitment omits the (identity) commitment to the zero constant term, so
the group key cannot be moved by construction and no proof of knowledge is needed.
RefreshPackage byte format (public): (t-1):u16 || C_1 .. C_(t-1).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass

from accord.protocols.frost import ciphersuite as cs
from accord.protocols.frost.ciphersuite import Element
from accord.protocols.frost.dkg import (
    Round1SecretPackage,
    Round2Package,
    Round2SecretPackage,
    check_commitment_length,
    check_senders,
    deal_shares,
    receive_shares,
    sum_commitments,
)
from accord.protocols.frost.errors import IncorrectNumberOfPackages, InvalidKeyPackage, InvalidLength
from accord.protocols.frost.identifier import Identifier
from accord.protocols.frost.keys import (
    KeyPackage,
    PublicKeyPackage,
    SigningShare,
    VerifyingShare,
    validate_num_of_signers,
)
from accord.protocols.frost.polynomial import vss_commit, vss_evaluate


@dataclass(frozen=True, slots=True)
class RefreshPackage:
    """What a participant broadcasts: commitments to a_1 .. a_(t-1) of its zero polynomial."""

    commitment: tuple[Element, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "commitment", tuple(self.commitment))

    def to_bytes(self) -> bytes:
        return struct.pack(">H", len(self.commitment)) + b"".join(c.encoding for c in self.commitment)

    @classmethod
    def from_bytes(cls, buf: bytes) -> RefreshPackage:
        if len(buf) < 2:
            raise InvalidLength("refresh package too short")
        (count,) = struct.unpack(">H", buf[:2])
        if len(buf) != 2 + count * cs.ELEMENT_SIZE:
            raise InvalidLength(f"refresh package with {count} commitments must be {2 + count * 32} bytes, got {len(buf)}")
        return cls(tuple(cs.deserialize_element(buf[k : k + 32], "refresh commitment") for k in range(2, len(buf), 32)))


def part1(identifier: Identifier, max_signers: int, min_signers: int) -> tuple[Round1SecretPackage, RefreshPackage]:
    """Refresh part 1: a random polynomial with zero constant term, and its commitment."""
    validate_num_of_signers(min_signers, max_signers)
    coefficients = [cs.random_scalar() for _ in range(min_signers - 1)]
    commitment = vss_commit(coefficients)
    secret = Round1SecretPackage(identifier, [bytes(cs.SCALAR_SIZE), *coefficients], commitment, min_signers, max_signers)
    return secret, RefreshPackage(commitment)


def part2(
    secret_package: Round1SecretPackage, refresh_packages: Mapping[Identifier, RefreshPackage]
) -> tuple[Round2SecretPackage, dict[Identifier, Round2Package]]:
    """Refresh part 2: check the others' commitments, compute each one's share."""
    check_senders(secret_package.identifier, secret_package.max_signers, refresh_packages, "refresh")
    for sender, package in refresh_packages.items():
        check_commitment_length(sender, package.commitment, secret_package.min_signers - 1)
    return deal_shares(secret_package, secret_package.commitment, refresh_packages)


def part3(
    round2_secret_package: Round2SecretPackage,
    refresh_packages: Mapping[Identifier, RefreshPackage],
    round2_packages: Mapping[Identifier, Round2Package],
    old_key_package: KeyPackage,
    old_public_key_package: PublicKeyPackage,
) -> tuple[KeyPackage, PublicKeyPackage]:
    """Refresh part 3: verify the received shares and add them to the old share."""
    state = round2_secret_package
    if old_key_package.identifier != state.identifier or old_key_package.min_signers != state.min_signers:
        raise InvalidKeyPackage("the old key package belongs to another participant or threshold")
    if old_key_package.verifying_key != old_public_key_package.verifying_key:
        raise InvalidKeyPackage("the old key package and public key package are for different group keys")
    commitments = {sender: package.commitment for sender, package in refresh_packages.items()}
    delta = receive_shares(state, commitments, round2_packages, first_power=1)
    commitments[state.identifier] = state.commitment
    if set(commitments) != set(old_public_key_package.verifying_shares):
        raise IncorrectNumberOfPackages("a refresh needs exactly the participants of the old key")
    summed = sum_commitments(commitments.values())
    public = PublicKeyPackage(
        verifying_shares={
            i: VerifyingShare(cs.sum_elements([old.element, vss_evaluate(summed, i, first_power=1)]))
            for i, old in old_public_key_package.verifying_shares.items()
        },
        verifying_key=old_public_key_package.verifying_key,
        min_signers=state.min_signers,
    )
    key_package = KeyPackage(
        identifier=state.identifier,
        signing_share=SigningShare.from_scalar(
            cs.scalar_add(old_key_package.signing_share.secret.reveal(), delta)
        ),
        verifying_share=public.verifying_shares[state.identifier],
        verifying_key=public.verifying_key,
        min_signers=state.min_signers,
    )
    state.wipe()
    return key_package, public

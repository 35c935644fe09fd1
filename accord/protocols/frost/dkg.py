"""Distributed key generation: Pedersen's DKG with proofs of knowledge, as in the FROST paper
(Figure 1) and compatible with ZcashFoundation frost (`frost_core::keys::dkg`).

Every participant i runs:
- part1: pick a random polynomial f_i of degree t-1, broadcast its commitment
  C_i = [a_i0 * G, ..., a_i(t-1) * G] and a Schnorr proof of knowledge of a_i0;
- part2: check everyone's proof, then send f_i(j) to each other participant j (secretly);
- part3: check every received f_j(i) against C_j, and derive its signing share
  s_i = sum_j f_j(i), every verifying share and the group key sum_j C_j0.
Every check names the participant that failed it (`culprit`). The round-1 broadcast must
be consistent (everyone sees the same packages); providing that is the transport's job.

Byte formats (stable, versionless):
- Round1Package (public): t:u16 || C_0 .. C_(t-1) || R || mu.
- Round2Package (SECRET; `to_bytes()` only to encrypt it to its recipient): f_i(j), 32 bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from accord.protocols.frost import ciphersuite as cs
from accord.protocols.frost.ciphersuite import Element
from accord.protocols.frost.errors import (
    IncorrectNumberOfCommitments,
    IncorrectNumberOfPackages,
    InvalidLength,
    InvalidProofOfKnowledge,
    InvalidSecretShare,
    MalformedEncoding,
)
from accord.protocols.frost.identifier import Identifier
from accord.protocols.frost.keys import (
    KeyPackage,
    PublicKeyPackage,
    SigningShare,
    validate_num_of_signers,
)
from accord.protocols.frost.polynomial import polynomial_evaluate, vss_commit, vss_verify
from accord.protocols.frost.secret_holder import SecretHolder
from accord.protocols.secret import SecretBytes

_S = cs.SCALAR_SIZE


@dataclass(frozen=True, slots=True)
class Round1Package:
    """What participant i broadcasts: its VSS commitment and proof of knowledge (R, mu)."""

    commitment: tuple[Element, ...]
    proof_r: Element
    proof_mu: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "commitment", tuple(self.commitment))
        if not self.commitment:
            raise MalformedEncoding("a DKG round-1 package needs at least one commitment")
        cs.deserialize_scalar(self.proof_mu, "proof of knowledge response")

    def to_bytes(self) -> bytes:
        return b"".join(
            [struct.pack(">H", len(self.commitment)), *(c.encoding for c in self.commitment),
             self.proof_r.encoding, self.proof_mu]
        )

    @classmethod
    def from_bytes(cls, buf: bytes) -> Round1Package:
        if len(buf) < 2:
            raise InvalidLength("DKG round-1 package too short")
        (count,) = struct.unpack(">H", buf[:2])
        if len(buf) != 2 + (count + 2) * _S:
            raise InvalidLength(
                f"DKG round-1 package with {count} commitments must be {2 + (count + 2) * _S} bytes, got {len(buf)}"
            )
        points = [buf[k : k + _S] for k in range(2, 2 + (count + 1) * _S, _S)]
        return cls(
            commitment=tuple(cs.deserialize_element(p, "VSS commitment") for p in points[:-1]),
            proof_r=cs.deserialize_element(points[-1], "proof of knowledge commitment"),
            proof_mu=buf[-_S:],
        )


@dataclass(frozen=True, slots=True)
class Round2Package(SecretHolder):
    """The secret share f_i(j) participant i sends to participant j."""

    signing_share: SecretBytes

    def to_bytes(self) -> SecretBytes:
        """SECRET: only to encrypt the share to its recipient."""
        return SecretBytes(self.signing_share.reveal(), "DKG round-2 share")

    @classmethod
    def from_bytes(cls, buf: bytes | SecretBytes) -> Round2Package:
        raw = buf.reveal() if isinstance(buf, SecretBytes) else bytes(buf)
        return cls(SecretBytes(cs.deserialize_scalar(raw, "DKG secret share"), "DKG round-2 share"))


class Round1SecretPackage(SecretHolder):
    """Participant i's state between part1 and part2: its secret polynomial's coefficients."""

    __slots__ = ("identifier", "coefficients", "commitment", "min_signers", "max_signers")

    def __init__(
        self, identifier: Identifier, coefficients: Sequence[bytes], commitment: tuple[Element, ...],
        min_signers: int, max_signers: int,
    ) -> None:
        self.identifier = identifier
        self.coefficients = [SecretBytes(c, "DKG polynomial coefficient") for c in coefficients]
        self.commitment = commitment
        self.min_signers = min_signers
        self.max_signers = max_signers

    def wipe(self) -> None:
        for coefficient in self.coefficients:
            coefficient.wipe()

    def __repr__(self) -> str:
        return f"<Round1SecretPackage of {self.identifier.value}, {self.min_signers}-of-{self.max_signers}, redacted>"


class Round2SecretPackage(SecretHolder):
    """Participant i's state between part2 and part3: its own share f_i(i)."""

    __slots__ = ("identifier", "commitment", "secret_share", "min_signers", "max_signers")

    def __init__(
        self, identifier: Identifier, commitment: tuple[Element, ...], secret_share: bytes,
        min_signers: int, max_signers: int,
    ) -> None:
        self.identifier = identifier
        self.commitment = commitment
        self.secret_share = SecretBytes(secret_share, "DKG own share")
        self.min_signers = min_signers
        self.max_signers = max_signers

    def wipe(self) -> None:
        self.secret_share.wipe()

    def __repr__(self) -> str:
        return f"<Round2SecretPackage of {self.identifier.value}, {self.min_signers}-of-{self.max_signers}, redacted>"


def part1(identifier: Identifier, max_signers: int, min_signers: int) -> tuple[Round1SecretPackage, Round1Package]:
    """DKG part 1: a random secret polynomial, its commitment and proof of knowledge."""
    validate_num_of_signers(min_signers, max_signers)
    coefficients = [cs.random_scalar() for _ in range(min_signers)]
    return round1_from_polynomial(identifier, coefficients, max_signers, cs.random_scalar())


def round1_from_polynomial(
    identifier: Identifier, coefficients: Sequence[bytes], max_signers: int, proof_nonce: bytes
) -> tuple[Round1SecretPackage, Round1Package]:
    """part1 with the polynomial and the proof's nonce given (deterministic, for test
    vectors; part1 is the one to use)."""
    validate_num_of_signers(len(coefficients), max_signers)
    commitment = vss_commit(coefficients)
    proof_r, proof_mu = compute_proof_of_knowledge(identifier, coefficients[0], commitment[0], proof_nonce)
    secret = Round1SecretPackage(identifier, coefficients, commitment, len(coefficients), max_signers)
    return secret, Round1Package(commitment, proof_r, proof_mu)


def _challenge(identifier: Identifier, verifying_key: Element, r: Element) -> bytes:
    return cs.HDKG(identifier.to_bytes() + verifying_key.encoding + r.encoding)


def compute_proof_of_knowledge(
    identifier: Identifier, secret: bytes, verifying_key: Element, nonce: bytes
) -> tuple[Element, bytes]:
    """Schnorr proof of knowledge of a_i0: R = k * G, mu = k + a_i0 * H(i || C_i0 || R)."""
    r = cs.scalar_base_mult(nonce)
    return r, cs.scalar_add(nonce, cs.scalar_mul(secret, _challenge(identifier, verifying_key, r)))


def verify_proof_of_knowledge(identifier: Identifier, package: Round1Package) -> None:
    """Check mu * G == R + c * C_i0; raises InvalidProofOfKnowledge naming `identifier`."""
    c = _challenge(identifier, package.commitment[0], package.proof_r)
    expected = cs.sum_elements([package.proof_r, cs.scalar_mult(c, package.commitment[0])], "proof check")
    if cs.scalar_base_mult(package.proof_mu) != expected:
        raise InvalidProofOfKnowledge(identifier, "proof of knowledge of the secret does not verify")


def part2(
    secret_package: Round1SecretPackage, round1_packages: Mapping[Identifier, Round1Package]
) -> tuple[Round2SecretPackage, dict[Identifier, Round2Package]]:
    """DKG part 2: verify every other participant's round-1 package, then compute the secret
    share for each of them. Wipes the polynomial once the shares exist."""
    check_senders(secret_package.identifier, secret_package.max_signers, round1_packages, "round-1")
    for sender, package in round1_packages.items():
        check_commitment_length(sender, package.commitment, secret_package.min_signers)
        verify_proof_of_knowledge(sender, package)
    return deal_shares(secret_package, secret_package.commitment, round1_packages)


def deal_shares(
    secret_package: Round1SecretPackage, commitment: tuple[Element, ...], recipients: Mapping[Identifier, object]
) -> tuple[Round2SecretPackage, dict[Identifier, Round2Package]]:
    """f_i(j) for every recipient j, and f_i(i) kept; wipes the polynomial."""
    coefficients = [c.reveal() for c in secret_package.coefficients]
    shares = {
        j: Round2Package(SecretBytes(polynomial_evaluate(j, coefficients), "DKG round-2 share")) for j in recipients
    }
    own = polynomial_evaluate(secret_package.identifier, coefficients)
    secret_package.wipe()
    state = Round2SecretPackage(
        secret_package.identifier, commitment, own, secret_package.min_signers, secret_package.max_signers
    )
    return state, shares


def part3(
    round2_secret_package: Round2SecretPackage,
    round1_packages: Mapping[Identifier, Round1Package],
    round2_packages: Mapping[Identifier, Round2Package],
) -> tuple[KeyPackage, PublicKeyPackage]:
    """DKG part 3: verify every received share against its sender's commitment, then derive
    this participant's KeyPackage and everyone's PublicKeyPackage."""
    state = round2_secret_package
    commitments = {sender: package.commitment for sender, package in round1_packages.items()}
    signing_share = receive_shares(state, commitments, round2_packages, first_power=0)
    commitments[state.identifier] = state.commitment
    public = PublicKeyPackage.from_commitment(sum_commitments(commitments.values()), commitments, state.min_signers)
    key_package = KeyPackage(
        identifier=state.identifier,
        signing_share=SigningShare.from_scalar(signing_share),
        verifying_share=public.verifying_shares[state.identifier],
        verifying_key=public.verifying_key,
        min_signers=state.min_signers,
    )
    state.wipe()
    return key_package, public


def receive_shares(
    state: Round2SecretPackage,
    commitments: Mapping[Identifier, tuple[Element, ...]],
    round2_packages: Mapping[Identifier, Round2Package],
    first_power: int,
) -> bytes:
    """Verify each received f_j(i) against C_j and return sum_j f_j(i) (own share included).
    `first_power=1` when the commitments omit a zero constant term (refresh)."""
    check_senders(state.identifier, state.max_signers, commitments, "round-1")
    check_senders(state.identifier, state.max_signers, round2_packages, "round-2")
    if set(commitments) != set(round2_packages):
        raise IncorrectNumberOfPackages("round-1 and round-2 packages come from different participants")
    total = state.secret_share.reveal()
    for sender, package in round2_packages.items():
        check_commitment_length(sender, commitments[sender], state.min_signers - first_power)
        share = package.signing_share.reveal()
        if not vss_verify(share, state.identifier, commitments[sender], first_power):
            raise InvalidSecretShare(sender, "secret share is inconsistent with the sender's commitment")
        total = cs.scalar_add(total, share)
    return total


def sum_commitments(commitments: Iterable[Sequence[Element]]) -> tuple[Element, ...]:
    """The coefficient-wise sum of VSS commitments: the commitment to the sum polynomial."""
    columns = zip(*commitments, strict=True)
    return tuple(cs.sum_elements(column, "summed commitment") for column in columns)


def check_senders(own: Identifier, max_signers: int, packages: Mapping[Identifier, object], what: str) -> None:
    if own in packages:
        raise IncorrectNumberOfPackages(f"{what} packages include one from this participant ({own.value}) itself")
    if len(packages) != max_signers - 1:
        raise IncorrectNumberOfPackages(
            f"expected {what} packages from {max_signers - 1} other participants, got {len(packages)}"
        )


def check_commitment_length(sender: Identifier, commitment: Sequence[Element], expected: int) -> None:
    if len(commitment) != expected:
        raise IncorrectNumberOfCommitments(
            sender, f"commits to {len(commitment)} coefficients, the threshold needs {expected}"
        )


"""A participant's Schnorr signature with its own signing share, for what it tells its peers
outside FROST signing (Accord: the nonce commitments it publishes).

Every participant knows every other's verifying share Y_j = s_j * G from the group's public
key package, so a message signed here comes, provably, from the holder of share j: no other
key, certificate or attestation is needed, and the check survives restarts (the share is
sealed). It is the Schnorr proof of the DKG (`dkg.compute_proof_of_knowledge`) over a
message:

    sign:    k = H3(random || s_j), R = k * G, c = H(id_j || Y_j || R || message), z = k + c * s_j
    verify:  z * G == R + c * Y_j

with H = `ciphersuite.HPARTICIPANT` (SHA-512 of contextString || "accord-participant" || ...,
mod L), a label that no hash of RFC 9591 or of the DKG uses: no such signature is a FROST
signature share or a proof of knowledge, nor the other way round. The bytes: R (32) || z (32).
"""

from __future__ import annotations

from accord.protocols.frost import ciphersuite as cs
from accord.protocols.frost.errors import CulpritError, FrostError
from accord.protocols.frost.identifier import Identifier
from accord.protocols.frost.keys import KeyPackage, VerifyingShare
from accord.protocols.frost.round1 import nonce_generate

SIGNATURE_SIZE = cs.ELEMENT_SIZE + cs.SCALAR_SIZE


class InvalidParticipantSignature(CulpritError):
    """A message is not signed by the participant it names (`culprit`)."""


def _challenge(identifier: Identifier, verifying_share: VerifyingShare, r: cs.Element, message: bytes) -> bytes:
    return cs.HPARTICIPANT(identifier.to_bytes() + verifying_share.element.encoding + r.encoding + message)


def sign(key: KeyPackage, message: bytes) -> bytes:
    """R || z: `message` signed with `key`'s signing share (hedged random nonce)."""
    nonce = nonce_generate(key.signing_share)
    r = cs.scalar_base_mult(nonce)
    c = _challenge(key.identifier, key.verifying_share, r, message)
    z = cs.scalar_add(nonce, cs.scalar_mul(c, key.signing_share.secret.reveal()))
    return r.encoding + z


def verify(identifier: Identifier, verifying_share: VerifyingShare, message: bytes, signature: bytes) -> None:
    """Check that participant `identifier`, whose verifying share is `verifying_share`,
    signed `message`; raises InvalidParticipantSignature naming it otherwise."""
    if not isinstance(signature, bytes) or len(signature) != SIGNATURE_SIZE:
        raise InvalidParticipantSignature(identifier, f"a participant signature is {SIGNATURE_SIZE} bytes")
    try:
        r = cs.deserialize_element(signature[: cs.ELEMENT_SIZE], "signature R")
        z = cs.deserialize_scalar(signature[cs.ELEMENT_SIZE :], "signature z")
    except FrostError as exc:
        raise InvalidParticipantSignature(identifier, f"signature does not decode: {exc}") from None
    c = _challenge(identifier, verifying_share, r, message)
    expected = cs.sum_elements([r, cs.scalar_mult(c, verifying_share.element)], "signature check")
    if cs.scalar_base_mult(z) != expected:
        raise InvalidParticipantSignature(identifier, "signature does not verify with its verifying share")

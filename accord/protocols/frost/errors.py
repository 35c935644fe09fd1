"""Exceptions of the FROST implementation.

Every failure has its own class so that callers catch exactly what they handle; the ones
caused by a particular participant (a bad signature share, a bad DKG package) carry that
participant's identifier as `culprit`, so a coordinator can name the divergent node.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from accord.errors import AccordError

if TYPE_CHECKING:
    from accord.protocols.frost.identifier import Identifier


class FrostError(AccordError):
    """Base class of every FROST error."""


class InvalidLength(FrostError, ValueError):
    """An encoded value has the wrong number of bytes."""


class MalformedEncoding(FrostError, ValueError):
    """An encoded value is not in the canonical form (e.g. a scalar >= the group order)."""


class PointDefect(enum.Enum):
    """Why a received group element was rejected (RFC 9591, Section 6.1 DeserializeElement)."""

    NON_CANONICAL = "is not a canonical encoding"
    NOT_ON_CURVE = "is not a point on edwards25519"
    IDENTITY = "is the identity element"
    SMALL_ORDER = "has small order (it is a torsion point)"
    NOT_IN_SUBGROUP = "is not in the prime-order subgroup (it has a torsion component)"


class InvalidPoint(FrostError, ValueError):
    """A received group element failed validation; `defect` says which check failed."""

    def __init__(self, defect: PointDefect, what: str = "point") -> None:
        self.defect = defect
        super().__init__(f"{what} {defect.value}")


class InvalidIdentifier(FrostError, ValueError):
    """An identifier is zero, not a canonical scalar, or out of range."""


class DuplicateIdentifier(FrostError, ValueError):
    """The same identifier appears twice where identifiers must be unique."""


class InvalidParameters(FrostError, ValueError):
    """Threshold parameters are impossible (e.g. min_signers < 2 or > max_signers)."""


class NonceReuse(FrostError):
    """Signing nonces were used a second time (reuse would reveal the signing share)."""


class MissingCommitment(FrostError):
    """A signing package lacks a participant's commitments, or the signer's own nonces do
    not match the commitments the package lists for it."""


class NotEnoughSigners(FrostError):
    """A signing package has fewer participants than the threshold."""


class UnknownParticipant(FrostError):
    """An identifier that is not part of the key or the signing package."""


class MissingSignatureShare(FrostError):
    """The coordinator lacks a signature share from a participant of the signing package."""


class InvalidSignature(FrostError):
    """A signature does not verify under the group public key."""


class InvalidKeyPackage(FrostError):
    """Key material is inconsistent (e.g. a verifying share that does not match the share)."""


class IncorrectNumberOfPackages(FrostError):
    """A DKG or refresh step received the wrong number of packages or the wrong senders."""


class CulpritError(FrostError):
    """An error caused by one identified participant, available as `culprit`."""

    def __init__(self, culprit: Identifier, message: str) -> None:
        self.culprit = culprit
        super().__init__(f"participant {int(culprit)}: {message}")


class InvalidSignatureShare(CulpritError):
    """A signature share does not verify against the signer's verifying share. `culprits`
    lists every participant whose share failed (the first is `culprit`)."""

    def __init__(self, culprit: Identifier, message: str, culprits: tuple[Identifier, ...] = ()) -> None:
        self.culprits = culprits or (culprit,)
        super().__init__(culprit, message)


class InvalidProofOfKnowledge(CulpritError):
    """A DKG round-1 package's proof of knowledge of its secret does not verify."""


class InvalidSecretShare(CulpritError):
    """A DKG round-2 secret share is inconsistent with its sender's commitments."""


class IncorrectNumberOfCommitments(CulpritError):
    """A DKG package commits to a polynomial of the wrong degree."""

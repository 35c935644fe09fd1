"""The link between an enclave host's evaluator and its KeyShare.

A KeyShare signs only token claims that its own evaluator built. Both run on the same
enclave host but in separate processes, so the host relays their messages: the evaluator
signs every batch of signing packages with its attested identity key, and the KeyShare,
which verified that evaluator's attestation when they paired, checks the signature before
it spends a nonce. A relayed, reordered or forged batch from the host (or from another
enclave's evaluator) is refused.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

LABEL = b"accord-sign-request-v1"
BATCH_LABEL = b"accord-commitment-batch-v1"
SHARE_SIZE = 64  # R (32) || z_i (32)


def request_digest(evaluator_id: str, keyshare_epoch: str, packages: tuple[bytes, ...]) -> bytes:
    """What the evaluator signs: the label, both ends and every signing package, each
    length-prefixed so that no two different batches have the same encoding."""
    digest = hashlib.sha256(LABEL)
    for part in (evaluator_id.encode(), keyshare_epoch.encode(), *packages):
        digest.update(len(part).to_bytes(4, "big") + part)
    return digest.digest()


@dataclass(frozen=True)
class SignRequest:
    """A batch of FROST signing packages (`SigningPackage.to_bytes()`), each over token claims
    the evaluator built, for the KeyShare instance `keyshare_epoch` (a restarted KeyShare has
    a new epoch and no longer holds the nonces the packages name)."""

    evaluator_id: str
    keyshare_epoch: str
    packages: tuple[bytes, ...]
    signature: bytes

    def digest(self) -> bytes:
        return request_digest(self.evaluator_id, self.keyshare_epoch, self.packages)


@dataclass(frozen=True)
class ShareResult:
    """One package's outcome: `share` = group commitment R || signature share z_i, or the
    reason the KeyShare refused to sign it."""

    share: bytes | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.share is not None


@dataclass(frozen=True)
class CommitmentBatch:
    """Fresh nonce commitments of one KeyShare instance (public): `commitments` is
    `SigningCommitments.batch_to_bytes` of `count` entries, and `signature` the KeyShare's
    `participant_signature` over `digest()` with its signing share, so that its peers take
    the points without decoding each again (the coordinator relays the batch to them)."""

    identifier: int
    epoch: str
    commitments: bytes
    signature: bytes

    def digest(self) -> bytes:
        return commitment_batch_digest(self.identifier, self.epoch, self.commitments)


def commitment_batch_digest(identifier: int, epoch: str, commitments: bytes) -> bytes:
    """What a KeyShare signs of its commitment batch (length-prefixed, like `request_digest`)."""
    digest = hashlib.sha256(BATCH_LABEL)
    for part in (str(identifier).encode(), epoch.encode(), commitments):
        digest.update(len(part).to_bytes(4, "big") + part)
    return digest.digest()

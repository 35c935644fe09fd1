"""The KeyShare service: one FROST participant on an enclave host (thin over KeyShareCore).

At start it unseals its share if one is sealed in its state directory, retrying the KMS
while it is unreachable; it never dies in `__init__` for such a transient failure (it comes
up without a share, reports why, and retries on the next call). A share that fails to
unseal for a real reason (tampered file, other code) is reported, never replaced.

With `precompute` > 0 a background thread keeps that many nonces generated ahead of demand
(memory only), so that the coordinator's refills cost no curve arithmetic on the request path.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from accord.actors.enclave_host import open_enclave, placement, retry, sealed_store
from accord.actors.invoke import Invoker
from accord.actors.stats import StageClock
from accord.config.deployment import DeploymentConfig
from accord.config.topology import EnclaveSlot
from accord.enclave.group_key import GroupKeyStatement
from accord.enclave.keyshare import KeyShareCore, KeyShareNotReady
from accord.enclave.signing_link import CommitmentBatch, ShareResult, SignRequest
from accord.errors import AccordError

PRECOMPUTE_STEP = 32


class KeyShare:
    def __init__(self, config: DeploymentConfig, slot: EnclaveSlot, kms: Any, kms_key_id: str | None,
                 invoker: Invoker, precompute: int = 0) -> None:  # fmt: skip
        self.slot = slot
        enclave = open_enclave(config, config.keyshare_id(slot))
        self.core = KeyShareCore(enclave, sealed_store(enclave, kms, kms_key_id, invoker))
        self.unseal_error: str | None = None
        self._stages = StageClock()
        self._try_unseal()
        if precompute > 0:
            threading.Thread(target=self._precompute, args=(precompute,), name="nonce-precompute", daemon=True).start()

    def _precompute(self, target: int) -> None:
        while True:
            if self.core.ready and self.core.precomputed < target:
                with self._stages.measure("precompute", PRECOMPUTE_STEP):
                    self.core.precompute(PRECOMPUTE_STEP)
            else:
                time.sleep(0.05)

    def _try_unseal(self) -> None:
        if self.core.ready or not self.core.has_sealed_share():
            return
        try:
            _, error = retry(self.core.unseal)
        except AccordError as exc:  # permanent: tampered, other code, other enclave...
            error = exc
        self.unseal_error = None if error is None else f"{type(error).__name__}: {error}"

    def _ready(self) -> None:
        if not self.core.ready:
            self._try_unseal()
        if not self.core.ready:
            raise KeyShareNotReady(
                f"{self.core.enclave.enclave_id} holds no share"
                + (f": unsealing failed ({self.unseal_error})" if self.unseal_error else " (no DKG has run)")
            )

    def status(self) -> dict[str, Any]:
        core = self.core
        return {
            "enclave_id": core.enclave.enclave_id,
            "ready": core.ready,
            "sealed_share": core.has_sealed_share(),
            "epoch": core.epoch,
            "kid": core.kid,
            "public_key_package": core.public.to_bytes() if core.public else None,
            "refreshed_share_waiting": core.refreshed_share_waiting,
            "retired": [{"kid": r.kid, "jwk": r.jwk, "until": r.until} for r in core.live_retired()],
            "key_since": core.since,
            "unseal_error": self.unseal_error,
        }

    def placement(self) -> dict[str, Any]:
        """Node and assigned resources (as a Ray actor only)."""
        return placement()

    # bootstrap
    def challenge(self, purpose: str) -> bytes:
        return self.core.challenge(purpose)

    def identity_document(self, purpose: str, challenges: list[bytes]) -> bytes:
        return self.core.identity_document(purpose, challenges)

    def dkg_round1(self, documents: dict[str, bytes], min_signers: int | None = None) -> dict[str, bytes]:
        return self.core.dkg_round1(documents, min_signers)

    def dkg_round2(self, incoming: dict[str, bytes]) -> dict[str, bytes]:
        return self.core.dkg_round2(incoming)

    def dkg_finish(self, incoming: dict[str, bytes]) -> bytes:
        return self.core.dkg_finish(incoming).to_bytes()

    # proactive refresh (see KeyShareCore)
    def refresh_round1(self, documents: dict[str, bytes], min_signers: int | None = None) -> dict[str, bytes]:
        self._ready()
        return self.core.refresh_round1(documents, min_signers)

    def refresh_round2(self, incoming: dict[str, bytes]) -> dict[str, bytes]:
        return self.core.refresh_round2(incoming)

    def refresh_finish(self, incoming: dict[str, bytes]) -> bytes:
        return self.core.refresh_finish(incoming).to_bytes()

    def rotate_round1(self, documents: dict[str, bytes], min_signers: int | None = None) -> dict[str, bytes]:
        self._ready()
        return self.core.rotate_round1(documents, min_signers)

    def rotate_round2(self, incoming: dict[str, bytes]) -> dict[str, bytes]:
        return self.core.rotate_round2(incoming)

    def rotate_finish(self, incoming: dict[str, bytes]) -> bytes:
        return self.core.rotate_finish(incoming).to_bytes()

    def switch_share(self, retire_until: int | None = None) -> str:
        self._ready()
        return self.core.switch_share(retire_until)

    def pair(self, document: bytes, evaluator_challenge: bytes) -> GroupKeyStatement:
        """Pair with this host's evaluator; returns the attested statement of the group key."""
        self._ready()
        return self.core.pair(document, evaluator_challenge)

    # signing
    def commitments(self, count: int) -> CommitmentBatch:
        self._ready()
        with self._stages.measure("commit", count):
            return self.core.commitments(count)

    def peer_commitments(self, batches: list[CommitmentBatch]) -> int:
        """Peers' signed commitment batches, relayed by the coordinator (see KeyShareCore)."""
        self._ready()
        with self._stages.measure("peer_commitments", len(batches)):
            return self.core.peer_commitments(batches)

    def sign(self, request: SignRequest) -> list[ShareResult]:
        self._ready()
        with self._stages.measure("sign", len(request.packages)):
            return self.core.sign(request)

    def stats(self) -> dict[str, dict[str, float]]:
        return self._stages.snapshot()

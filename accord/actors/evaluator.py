"""The PolicyEvaluator service: one evaluator on an enclave host (thin over EvaluatorCore).

It pairs with the KeyShare of its host (attestation, see `enclave.signing_link`) and sends
it one signed batch of signing packages per evaluated batch. After the KeyShare restarts it
pairs again; requests whose commitments the old KeyShare instance held fail (503) and the
coordinator refills its commitments.

The bytes of the active bundle are kept in its state directory (untrusted disk: they are
verified again, against the sealed high-water mark, when read). A restarted evaluator
(`__init__` runs again, maybe on a replacement host) reloads them, retrying while the KMS is
unreachable, so it comes back with the policy it had.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from accord.actors.enclave_host import SealedHighWaterMark, open_enclave, placement, retry, sealed_store
from accord.actors.invoke import Invoker
from accord.actors.stats import StageClock
from accord.atomic_file import write_atomic
from accord.bundles.store import ActiveBundleStore
from accord.bundles.verify import TrustPolicy
from accord.config.deployment import DeploymentConfig
from accord.config.topology import EnclaveSlot
from accord.enclave.decision_log import DecisionLog
from accord.enclave.evaluator import EvaluatorCore
from accord.enclave.group_state import GroupState
from accord.enclave.keyshare import ForeignSignRequest, NotPaired
from accord.enclave.state_log import open_state_log
from accord.errors import AccordError
from accord.protocols.minting import EnclaveVerdict, MintTask

SAVED_BUNDLE = "active-bundle"
STATE_DIR = "group-state"
DECISION_LOGS = "logs"  # <state-dir>/logs/<enclave-id>/: plaintext for operators, chained and signed
SAVED_FILES = ("bundle.tar.gz", "bundle.sig.json", "admin.pub.jwk")


class PolicyEvaluator:
    def __init__(self, config: DeploymentConfig, slot: EnclaveSlot, keyshare: Any, kms: Any, kms_key_id: str | None,
                 invoker: Invoker) -> None:  # fmt: skip
        self.slot = slot
        self._keyshare, self._invoker = keyshare, invoker
        enclave = open_enclave(config, config.evaluator_id(slot))
        store = sealed_store(enclave, kms, kms_key_id, invoker)
        log, notes = _retrying(lambda: open_state_log(store, config.enclave_dir(enclave.enclave_id) / STATE_DIR,
                                                      enclave.enclave_id))  # fmt: skip
        mark = GroupFloorMark(SealedHighWaterMark(store), lambda: self.core.state)
        bundles = ActiveBundleStore(TrustPolicy(frozenset(enclave.config.bundle_key_fingerprints),
                                                threshold=enclave.config.bundle_threshold), high_water=mark)
        decisions = DecisionLog(config.root / DECISION_LOGS / enclave.enclave_id, enclave.enclave_id,
                                sign=enclave.identity_sign, attest=enclave.identity_document)  # fmt: skip
        self.core = EvaluatorCore(enclave, bundles, state_log=log, decision_log=decisions)
        self.core.state_notes[:0] = notes
        self._paired = False
        self._stages = StageClock()
        self._saved = config.enclave_dir(enclave.enclave_id) / SAVED_BUNDLE
        self.restore_error: str | None = None
        self._staged: tuple[str, tuple[bytes, bytes | None, bytes]] | None = None  # digest, files
        self._restore()

    def _restore(self) -> None:
        """Reactivate the bundle this evaluator had before a restart, if any."""
        files = [self._saved / name for name in SAVED_FILES]
        if not files[0].exists():
            return
        bundle, signature, public_key = (f.read_bytes() if f.exists() else None for f in files)
        try:
            _, error = retry(lambda: self.core.activate(bundle, signature=signature, public_key=public_key))
        except AccordError as exc:
            error = exc
        self.restore_error = None if error is None else f"{type(error).__name__}: {error}"

    def status(self) -> dict[str, Any]:
        enclave = self.core.enclave
        bundle = self.core.bundle_status()
        return {
            "enclave_id": enclave.enclave_id,
            "module_id": enclave.module_id(),
            "debug": enclave.is_debug,
            "pcrs": {str(i): v.hex() for i, v in enclave.sealing_pcrs().items()},
            "bundle": None if bundle is None else {"version": bundle.version, "digest": bundle.digest,
                                                   "expires": bundle.expires},  # fmt: skip
            "engine": self.core.engine,
            "paired": self._paired,
            "state": self.core.state_position(),
            "restore_error": self.restore_error,
        }

    def placement(self) -> dict[str, Any]:
        """Node and assigned resources (as a Ray actor only)."""
        return placement()

    def attestation(self, nonce: bytes | None = None) -> bytes:
        """A fresh attestation binding this enclave's group key id and active bundle (for
        clients that verify what they talk to; see EvaluatorCore.attestation)."""
        return self.core.attestation(nonce)

    def activate(self, bundle: bytes, signature: bytes | None, public_key: bytes) -> dict[str, Any]:
        """Verify and activate now (bootstrap, or an evaluator that missed a switch)."""
        status = self.core.activate(bundle, signature=signature, public_key=public_key)
        self._save((bundle, signature, public_key))
        return {"version": status.version, "digest": status.digest, "expires": status.expires}

    def stage(self, bundle: bytes, signature: bytes | None, public_key: bytes) -> dict[str, Any]:
        """Verify and load, to activate at the group's next `switch_bundle`."""
        status = self.core.stage(bundle, signature=signature, public_key=public_key)
        self._staged = (status.digest, (bundle, signature, public_key))
        return {"version": status.version, "digest": status.digest, "expires": status.expires}

    def switch_bundle(self, seq: int, digest: str) -> dict[str, Any]:
        """Batch `seq` of the group: switch to the staged bundle (see EvaluatorCore)."""
        status = self.core.switch_bundle(seq, digest)
        if self._staged is not None and self._staged[0] == status.digest:
            self._save(self._staged[1])
            self._staged = None
        return {"version": status.version, "digest": status.digest, "expires": status.expires}

    def switch_shares(self, seq: int, retire_until: int | None = None) -> str:
        """Batch `seq` of the group: this host's KeyShare moves to its refreshed (or rotated)
        share; then pair again (the group binding changed). The kid."""
        self.core.switch_shares(seq)
        self._invoker.call(self._keyshare, "switch_share", retire_until)
        return self.pair()

    def _save(self, files: tuple[bytes, bytes | None, bytes]) -> None:
        """Keep the active bundle's bytes for a restart (untrusted disk: verified again)."""
        for name, content in zip(SAVED_FILES, files):
            if content is None:
                (self._saved / name).unlink(missing_ok=True)
            else:
                write_atomic(self._saved / name, content)
        self.restore_error = None

    def pair(self) -> str:
        """Pair with this host's KeyShare: it verifies our attestation, we verify its attested
        statement of the group key (see `EvaluatorCore.accept_group_key`). Returns the kid."""
        challenge = self._invoker.call(self._keyshare, "challenge", "pair")
        document = self.core.enclave.identity_document(challenge)
        statement = self._invoker.call(self._keyshare, "pair", document, self.core.pairing_challenge())
        kid = self.core.accept_group_key(statement)
        self._paired = True
        return kid

    def stats(self) -> dict[str, dict[str, float]]:
        return self._stages.snapshot()

    # the group's state, relayed between evaluators (see EvaluatorCore)
    def state_position(self) -> dict[str, Any]:
        return self.core.state_position()

    def state_challenge(self) -> bytes:
        return self.core.state_challenge()

    def state_request(self, peer_challenge: bytes) -> tuple[bytes, bytes]:
        return self.core.state_request(peer_challenge)

    def export_state(self, document: bytes, peer_challenge: bytes, challenge: bytes) -> tuple[bytes, bytes]:
        return self.core.export_state(document, peer_challenge, challenge)

    def import_state(self, document: bytes, envelope: bytes, challenge: bytes) -> dict[str, Any]:
        return self.core.import_state(document, envelope, challenge)

    def evaluate(self, tasks: list[MintTask], seq: int) -> list[EnclaveVerdict]:
        if not self._paired:
            self._try_pair()
        with self._stages.measure("evaluate", len(tasks)):
            evaluation = self.core.evaluate(tasks, seq)
        if evaluation.sign_request is None:
            return list(evaluation.verdicts)
        try:
            results = self._invoker.call(self._keyshare, "sign", evaluation.sign_request)
        except (NotPaired, ForeignSignRequest) as exc:
            # The KeyShare restarted: its nonces are gone. Pair again for the next batch.
            self._paired = False
            self._try_pair()
            return self.core.complete(evaluation, None, f"KeyShare restarted, its commitments are void ({exc})")
        except Exception as exc:  # noqa: BLE001 - the KeyShare actor may be dead or restarting
            self._paired = False
            return self.core.complete(evaluation, None, f"KeyShare unavailable: {type(exc).__name__}: {exc}")
        return self.core.complete(evaluation, results)

    def _try_pair(self) -> None:
        try:
            self.pair()
        except Exception:  # noqa: BLE001 - not ready yet: this batch's permits fail, the next retries
            self._paired = False


class GroupFloorMark:
    """The bundle high-water mark an evaluator enforces: the higher of its own sealed mark
    and the mark of its group state (which a wiped or rolled-back evaluator learns from its
    peers). Writes go to the sealed mark; the group state notes activations itself."""

    def __init__(self, sealed: SealedHighWaterMark, state: Callable[[], GroupState]) -> None:
        self._sealed, self._state = sealed, state

    def read(self) -> tuple[int, str | None]:
        own = self._sealed.read()
        state = self._state()
        group = (state.bundle_version, state.bundle_digest or None)
        return max(own, group, key=lambda mark: (mark[0], mark[1] is not None))

    def write(self, version: int, digest: str) -> None:
        self._sealed.write(version, digest)


def _retrying(action):
    result, error = retry(action)
    if error is not None:
        raise error
    return result

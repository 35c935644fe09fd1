"""Durable group state: one evaluator's sealed, append-only log with periodic snapshots.

Every applied batch is one record, appended and fsynced before the evaluator asks its
KeyShare for a share, so a permit whose spending is not on disk never becomes a token
(one fsync per batch, not per request). Every `snapshot_every` records the whole state is
written as a snapshot and a new log begins.

Records and snapshots are AES-256-GCM under the evaluator's state key (32 random bytes,
sealed with the KMS like every enclave secret). The associated data binds the enclave id
and the snapshot's random generation id, and each record's position in its log: records
cannot be moved to another enclave, another log or another place. A record also carries the
chain digest its batch produced, which `GroupState.apply` checks, so a log cannot be spliced
onto another snapshot either.

What sealing cannot give is freshness: the host can delete these files or put back older
ones. Loading therefore returns what verifies, and the evaluator takes the most advanced
state its peers hold before it decides again (see `EvaluatorCore.import_state`).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import cbor2
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from accord.atomic_file import write_atomic
from accord.enclave.group_state import BatchEffects, GroupState, GroupStateError
from accord.enclave.platform.errors import UnsealError
from accord.enclave.platform.sealing import SealedStore
from accord.enclave.platform.strict_cbor import loads_exact
from accord.protocols.secret import SecretBytes, SecretLeakError

SNAPSHOT_FILE = "snapshot.sealed"
LOG_FILE = "log.sealed"
_LABEL = "accord-group-state-log-v1"
_HEADER = struct.Struct(">I")
_GENERATION = 16
SNAPSHOT_EVERY = 512


class StateLog:
    """The sealed state files of one evaluator under `directory`."""

    def __init__(self, directory: Path, key: SecretBytes, enclave_id: str, *,
                 snapshot_every: int = SNAPSHOT_EVERY) -> None:  # fmt: skip
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._aead = AESGCM(key.reveal())
        self._enclave_id = enclave_id
        self._snapshot_every = snapshot_every
        self._generation = b""
        self._records = 0
        self._log = None

    def _aad(self, *parts) -> bytes:
        return cbor2.dumps([_LABEL, self._enclave_id, *parts])

    def _seal(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, plaintext, aad)

    def _open(self, blob: bytes, aad: bytes) -> bytes:
        try:
            return self._aead.decrypt(blob[:12], blob[12:], aad)
        except (InvalidTag, ValueError):
            raise GroupStateError("sealed state does not authenticate") from None

    # --- reading ---

    def load(self, *, signature_skew: int) -> tuple[GroupState, list[str]]:
        """The state the files hold (snapshot, then the log's records in order), and a note
        for everything skipped: a missing or damaged snapshot, a log of another generation,
        a record that does not verify (it and what follows are dropped), a torn last record
        (a crash while appending: its batch never released a share)."""
        notes: list[str] = []
        state, generation = GroupState(signature_skew=signature_skew), None
        snapshot = self.directory / SNAPSHOT_FILE
        if snapshot.exists():
            try:
                item = loads_exact(self._open(snapshot.read_bytes(), self._aad("snapshot")), GroupStateError, "snapshot")
                generation, body = item
                state = GroupState.from_snapshot(body, signature_skew=signature_skew)
            except (GroupStateError, TypeError, ValueError) as exc:
                notes.append(f"snapshot refused ({exc}); starting from an empty state")
                state, generation = GroupState(signature_skew=signature_skew), None
        log = self.directory / LOG_FILE
        if generation is not None and log.exists():
            state = self._replay(log.read_bytes(), generation, state, notes)
        # Whatever was read, continue in a fresh generation: the next append starts clean.
        self.write_snapshot(state)
        return state, notes

    def _replay(self, data: bytes, generation: bytes, state: GroupState, notes: list[str]) -> GroupState:
        if data[:_GENERATION] != generation:
            notes.append("log belongs to another snapshot; ignored")
            return state
        offset, index = _GENERATION, 0
        while offset < len(data):
            if offset + _HEADER.size > len(data):
                notes.append("torn record at the end of the log dropped")
                break
            (size,) = _HEADER.unpack_from(data, offset)
            blob = data[offset + _HEADER.size : offset + _HEADER.size + size]
            if len(blob) != size:
                notes.append("torn record at the end of the log dropped")
                break
            try:
                kind, *fields = loads_exact(self._open(blob, self._aad(generation, index)), GroupStateError, "record")
                if kind == "batch":
                    state.apply(BatchEffects.decode(fields[0]), fields[1])
                elif kind == "bundle":
                    state.note_bundle(fields[0], fields[1])
                else:
                    raise GroupStateError(f"unknown record kind {kind!r}")
            except (GroupStateError, TypeError, ValueError) as exc:
                notes.append(f"log record {index} refused ({exc}); it and what follows dropped")
                break
            offset += _HEADER.size + size
            index += 1
        return state

    # --- writing ---

    def write_snapshot(self, state: GroupState) -> None:
        """Write the whole state, then start an empty log of a new generation."""
        generation = os.urandom(_GENERATION)
        sealed = self._seal(cbor2.dumps([generation, state.snapshot()]), self._aad("snapshot"))
        if self._log is not None:
            self._log.close()
            self._log = None
        write_atomic(self.directory / SNAPSHOT_FILE, sealed)
        write_atomic(self.directory / LOG_FILE, generation)
        self._generation, self._records = generation, 0
        self._log = open(self.directory / LOG_FILE, "ab")  # noqa: SIM115 - kept open for appends

    def _append(self, record: list, state: GroupState) -> None:
        blob = self._seal(cbor2.dumps(record), self._aad(self._generation, self._records))
        self._log.write(_HEADER.pack(len(blob)) + blob)
        self._log.flush()
        os.fsync(self._log.fileno())
        self._records += 1
        if self._records >= self._snapshot_every:
            self.write_snapshot(state)

    def append_batch(self, effects: BatchEffects, state: GroupState) -> None:
        """Make one applied batch durable (fsync) before any share for it is asked for."""
        self._append(["batch", effects.encode(), state.digest], state)

    def append_bundle(self, version: int, digest: str, state: GroupState) -> None:
        self._append(["bundle", version, digest], state)

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def __repr__(self) -> str:
        return f"<StateLog {self.directory} generation {self._generation.hex()[:8]} records {self._records}, key redacted>"

    def __reduce__(self):
        raise SecretLeakError("a state log holds its sealing key and must not be pickled")


STATE_KEY_OBJECT = "group-state-key"


def open_state_log(store: SealedStore, directory: Path, enclave_id: str) -> tuple[StateLog, list[str]]:
    """The evaluator's state log with its sealed key (created on first use). A key that no
    longer unseals (tampered, deleted) is replaced by a new one: the old records are then
    unreadable and the state comes from the peers. KMS failures propagate (retry them)."""
    notes: list[str] = []
    if store.exists(STATE_KEY_OBJECT):
        try:
            return StateLog(directory, store.unseal(STATE_KEY_OBJECT), enclave_id), notes
        except UnsealError as exc:
            notes.append(f"state key does not unseal ({type(exc).__name__}: {exc}); a new one is made")
    key = SecretBytes(os.urandom(32), "group state key")
    store.seal(STATE_KEY_OBJECT, key)
    return StateLog(directory, key, enclave_id), notes

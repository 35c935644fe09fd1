"""Verifiable decision logs: what each evaluator decided, one entry per request, in a chain
the enclave signs with its attested identity key.

Each evaluator appends to `<state-dir>/logs/<enclave-id>/decisions-<k>.jsonl` (rotated by
size; the chain runs on across files). A line is one entry, canonical JSON (RFC 8785):

    {"n": 7, "prev": "<hash of entry 6>", "kind": "decision", "seq": 3, "time": 1767607200,
     "principal": "bob", "action": "signTransaction", "resource": "ops-wallet",
     "request_hash": "...", "payload_hash": "<SHA-256 of the canonical payload>",
     "decision": "permit", "code": "", "reasons": [...], "bundle": "<digest>",
     "jti": "...", "kid": "...", "hash": "<SHA-256 of this entry without 'hash'>"}

- `open` (first entry after every start): the enclave's identity attestation document,
  its nonce bound to the chain position, and the group-state batch the enclave is at;
- `decision`: one per request of a batch (the request payload only as a hash);
- `seal`: after each batch, the enclave's Ed25519 signature over the hash before it, so
  every entry up to there is signed; entries are written and fsynced with their seal, once
  per batch, after the batch's group state is durable.

`verify_log` checks everything a reader can: every line parses and hashes, numbers and
links follow on, each `open` carries a valid attestation (root, PCRs of the release) binding
the key the following seals verify under, nothing after the last seal, and no batch missing
that the group state says happened (`open.seq`). `compare_group` checks that the evaluators
of one group logged the same decisions. The host can delete or truncate a log (it owns the
disk); it cannot change, insert, reorder or remove an entry without a check failing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from accord.enclave.platform.attestation import AttestationPolicy, decode_attestation
from accord.enclave.platform.errors import EnclaveError
from accord.enclave.platform.identity import PeerIdentity
from accord.errors import AccordError
from accord.protocols import canonical_json
from accord.protocols.authz_request import AuthorizationRequest
from accord.protocols.minting import EnclaveVerdict, MintTask

MAX_FILE_BYTES = 64 * 1024 * 1024
_FILE = re.compile(r"decisions-(\d{6})\.jsonl")
_NONCE_LABEL = b"accord-decision-log-open-v1"


class DecisionLogError(EnclaveError):
    """The log cannot be written (the evaluator then decides nothing more)."""


class LogVerificationError(AccordError):
    """A decision log that does not verify: names the file and the entry."""


def _hash(entry: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json.dumps({k: v for k, v in entry.items() if k != "hash"})).hexdigest()


def open_nonce(prev: str) -> bytes:
    """The nonce of an `open` entry's attestation: binds the document to its chain position."""
    return hashlib.sha256(_NONCE_LABEL + prev.encode()).digest()


def log_files(directory: Path) -> list[Path]:
    """The log's files, oldest first."""
    return sorted((p for p in Path(directory).glob("decisions-*.jsonl") if _FILE.fullmatch(p.name)),
                  key=lambda p: p.name)  # fmt: skip


class DecisionLog:
    """One evaluator's log, as the enclave writes it."""

    def __init__(self, directory: Path, enclave_id: str, *, sign: Callable[[bytes], bytes],
                 attest: Callable[[bytes], bytes], max_file_bytes: int = MAX_FILE_BYTES) -> None:  # fmt: skip
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._enclave, self._sign, self._attest, self._max = enclave_id, sign, attest, max_file_bytes
        self._n, self._prev = 0, ""
        self._file = self._last_file()  # continues the chain after the last complete line
        self._opened = False

    def _last_file(self) -> Path:
        files = log_files(self.directory)
        if not files:
            return self.directory / "decisions-000001.jsonl"
        last = files[-1]
        with open(last, "rb") as fh:
            content = fh.read()
        complete = content[: content.rfind(b"\n") + 1]  # a line cut by a crash was never sealed
        if len(complete) != len(content):
            with open(last, "r+b") as fh:
                fh.truncate(len(complete))
        for line in reversed(complete.splitlines()):
            try:
                entry = json.loads(line)
                self._n, self._prev = int(entry["n"]) + 1, str(entry["hash"])
                break
            except (ValueError, KeyError, TypeError):
                continue  # verify_log will name it; the chain goes on from the last good line
        return last

    def append_batch(self, seq: int, tasks: Sequence[MintTask], verdicts: Sequence[EnclaveVerdict],
                     kid: str | None, requests: Sequence[LoggedRequest | None] = ()) -> None:  # fmt: skip
        """Log batch `seq` (its tasks and this enclave's verdicts; none for a bundle switch)
        and seal it; durable on return. `requests[i]`, where given, is what the evaluator
        already parsed of task i's body (else the body is read here)."""
        requests = requests or (None,) * len(tasks)
        self._write(seq - 1, [("decision", decision_fields(seq, task, verdict, kid, request))
                              for task, verdict, request in zip(tasks, verdicts, requests)], seq)  # fmt: skip

    def note_sync(self, before: int, after: int) -> None:
        """The enclave adopted its peers' group state: batches `before`+1..`after` were
        decided without it (it logs none of them); sealed like a batch."""
        self._write(before, [("sync", {"seq": after})], after)

    def _write(self, at: int, body: list[tuple[str, dict[str, Any]]], seq: int) -> None:
        if not self._opened:
            # The first write after a start: the attested identity key, and the group batch
            # the enclave's sealed state is at (`at`), so batches lost from the log show.
            document = self._attest(open_nonce(self._prev))
            body = [("open", {"enclave": self._enclave, "seq": at,
                              "document": base64.b64encode(document).decode("ascii")}), *body]  # fmt: skip
        entries = [self._entry(kind, fields) for kind, fields in body]
        signature = self._sign(bytes.fromhex(self._prev))
        entries.append(self._entry("seal", {"seq": seq, "sig": base64.b64encode(signature).decode("ascii")}))
        data = b"".join(canonical_json.dumps(e) + b"\n" for e in entries)
        try:
            if self._file.exists() and self._file.stat().st_size + len(data) > self._max:
                index = int(_FILE.fullmatch(self._file.name).group(1)) + 1
                self._file = self.directory / f"decisions-{index:06d}.jsonl"
            with open(self._file, "ab") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            self._n, self._prev = entries[0]["n"], entries[0]["prev"]  # nothing of it counts
            raise DecisionLogError(f"decision log {self._file} not durable: {exc}") from exc
        self._opened = True

    def _entry(self, kind: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        entry = {"n": self._n, "prev": self._prev, "kind": kind, **fields}
        entry["hash"] = _hash(entry)
        self._n, self._prev = self._n + 1, entry["hash"]
        return entry


@dataclass(frozen=True)
class LoggedRequest:
    """What a `decision` entry names of the request: its action, resource and the SHA-256
    (hex) of its payload's canonical JSON."""

    action: str
    resource: str
    payload_hash: str

    @classmethod
    def of_request(cls, request: AuthorizationRequest) -> LoggedRequest:
        """The same, of a request the evaluator parsed."""
        return cls(request.action, request.resource, hashlib.sha256(request.payload_json).hexdigest())

    @classmethod
    def of_body(cls, body: bytes) -> LoggedRequest:
        """The same, read from a request body however malformed (a request refused before
        the evaluator parsed it is logged too)."""
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = {}
        parsed = parsed if isinstance(parsed, dict) else {}
        payload = parsed.get("payload")
        try:
            payload_hash = hashlib.sha256(canonical_json.dumps(payload)).hexdigest() if payload is not None else ""
        except Exception:  # noqa: BLE001 - a payload canonical JSON refuses: hash its bytes as sent
            payload_hash = hashlib.sha256(body).hexdigest()
        return cls(str(parsed.get("action", "")), str(parsed.get("resource", "")), payload_hash)


def decision_fields(seq: int, task: MintTask, verdict: EnclaveVerdict, kid: str | None,
                    request: LoggedRequest | None = None) -> dict[str, Any]:  # fmt: skip
    """What a `decision` entry says of one request (the payload only as a hash)."""
    request = request or LoggedRequest.of_body(task.request.body)
    permit = verdict.status.value == "permit"
    return {"seq": seq, "time": task.iat, "jti": task.jti, "principal": verdict.principal or "",
            "action": request.action, "resource": request.resource,
            "request_hash": verdict.request_hash or "", "payload_hash": request.payload_hash,
            "decision": verdict.status.value, "code": verdict.code, "reasons": list(verdict.reasons),
            "bundle": verdict.bundle, "kid": kid if permit else ""}  # fmt: skip


# --- reading and verifying -----------------------------------------------------------------


@dataclass
class LogReport:
    """What `verify_log` found in one enclave's log."""

    enclave: str
    entries: int = 0
    decisions: list[dict[str, Any]] = field(default_factory=list)
    batches: set[int] = field(default_factory=set)  # the group batches this enclave decided and logged
    problems: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems


def read_entries(directory: Path) -> Iterable[tuple[str, int, dict[str, Any] | None, bytes]]:
    """(file name, line number, entry or None when the line is not JSON, raw line)."""
    for path in log_files(directory):
        with open(path, "rb") as fh:
            for number, line in enumerate(fh, 1):
                try:
                    entry = json.loads(line)
                except ValueError:
                    entry = None
                yield path.name, number, entry if isinstance(entry, dict) else None, line


def verify_log(directory: Path, enclave: str, policy: AttestationPolicy) -> LogReport:
    """Verify one enclave's log (see the module docstring); the first problem stops it."""
    report = LogReport(enclave)
    n, prev, key = 0, "", None
    seq: int | None = None  # the group batch the log is at (after its last seal)
    pending: list[dict[str, Any]] = []  # entries since the last seal

    def fail(where: str, message: str) -> LogReport:
        report.problems.append(f"{where}: {message}")
        return report

    for name, number, entry, raw in read_entries(directory):
        where = f"{name} line {number}"
        if entry is None:
            return fail(where, "not a JSON object")
        try:
            canonical, digest = canonical_json.dumps(entry), _hash(entry)
        except Exception:  # noqa: BLE001 - what canonical JSON refuses (floats, ...) was not written here
            return fail(where, "not canonical JSON")
        if raw.rstrip(b"\n") != canonical or entry.get("hash") != digest:
            return fail(where, f"entry {entry.get('n')} was changed (its hash does not match its content)")
        if entry.get("n") != n or entry.get("prev") != prev:
            return fail(where, f"entry {entry.get('n')} does not follow entry {n - 1}: an entry was removed, "
                        "inserted or reordered")  # fmt: skip
        kind = entry.get("kind")
        if kind == "open":
            if pending:
                return fail(where, f"{len(pending)} entries before it were never sealed")
            try:
                document = base64.b64decode(entry["document"], validate=True)
                _, unverified = decode_attestation(document)
                identity = PeerIdentity.from_document(policy.verify(document, at=unverified.time,
                                                                    nonce=open_nonce(prev)))  # fmt: skip
            except (AccordError, KeyError, ValueError, TypeError) as exc:
                return fail(where, f"the open entry's attestation does not verify: {type(exc).__name__}: {exc}")
            if identity.enclave_id != enclave or entry.get("enclave") != enclave:
                return fail(where, f"the open entry is attested by {identity.enclave_id!r}, not {enclave!r}")
            at = entry.get("seq")
            if type(at) is not int:
                return fail(where, "the open entry names no batch")
            if seq is not None and at > seq:
                return fail(where, f"batches {seq + 1}..{at} are missing from this log")
            if seq is not None and at < seq:
                return fail(where, f"the enclave restarted at batch {at}, the log is at batch {seq}")
            key, seq = identity, at
        elif kind in ("decision", "sync"):
            if key is None:
                return fail(where, f"a {kind} entry before any attested open entry")
            pending.append(entry)
        elif kind == "seal":
            if key is None:
                return fail(where, "a seal before any attested open entry")
            try:
                key.verify(base64.b64decode(entry["sig"], validate=True), bytes.fromhex(prev))
            except (AccordError, KeyError, ValueError, TypeError) as exc:
                return fail(where, f"the seal's signature does not verify: {type(exc).__name__}: {exc}")
            synced = [e.get("seq") for e in pending if e["kind"] == "sync"]
            expected = synced[-1] if synced else seq + 1
            if entry.get("seq") != expected or any(e.get("seq") != expected for e in pending if e["kind"] == "decision"):
                return fail(where, f"batch {entry.get('seq')} does not follow batch {seq}")
            report.decisions += [e for e in pending if e["kind"] == "decision"]
            if not synced:
                report.batches.add(expected)
            seq, pending = expected, []
        else:
            return fail(where, f"unknown entry kind {kind!r}")
        n, prev = n + 1, entry["hash"]
        report.entries += 1
    if pending:
        fail("end of log", f"the last {len(pending)} entries are not sealed")
    return report


_COMPARED = ("decision", "request_hash", "principal", "action", "resource", "bundle", "seq", "time")


def compare_group(reports: Sequence[LogReport]) -> list[str]:
    """Where the evaluators of one group logged different decisions for the same request
    (by jti), or one logged a request of a batch another also logged without it."""
    problems: list[str] = []
    by_jti: dict[str, dict[str, dict[str, Any]]] = {}
    batches = {r.enclave: r.batches for r in reports}
    for report in reports:
        for entry in report.decisions:
            by_jti.setdefault(str(entry.get("jti")), {})[report.enclave] = entry
    for jti, seen in sorted(by_jti.items()):
        first_enclave, first = next(iter(sorted(seen.items())))
        for enclave, entry in sorted(seen.items()):
            differing = [k for k in _COMPARED if entry.get(k) != first.get(k)]
            if differing:
                problems.append(f"request {jti}: {enclave} logged {entry.get('decision')} and {first_enclave} "
                                f"{first.get('decision')} (they differ in {', '.join(differing)})")  # fmt: skip
        seq = first.get("seq")
        for enclave, logged in sorted(batches.items()):
            if enclave not in seen and seq in logged:
                problems.append(f"request {jti} of batch {seq}: logged by {sorted(seen)}, missing from {enclave}")
    return problems


def entry_time(entry: Mapping[str, Any]) -> str:
    """An entry's decision time (its `iat`), RFC 3339 UTC."""
    return datetime.fromtimestamp(int(entry.get("time", 0)), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

"""Shipping decision-log entries to an HTTP endpoint (`accord log ship`), in the shape of
OPA's decision-log upload: a gzip-compressed JSON array of events POSTed to the service.

The shipper reads the log files the evaluators write (see `enclave.decision_log`), so it
can never block or slow a decision: it runs beside the deployment, tails each enclave's
files from the offset it reached, and keeps at most `max_buffer` events in memory (the
oldest are dropped first, and counted). A failed upload is retried with exponential
backoff; offsets advance only past what was delivered, and are kept in
`<state-dir>/logs/.shipped.json` so a restarted shipper goes on where it stopped. The host
runs it: what it ships is a copy for operators; `accord log verify` checks the logs
themselves.
"""

from __future__ import annotations

import gzip
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from accord.enclave.decision_log import log_files

OFFSETS_FILE = ".shipped.json"
MAX_BUFFER = 10_000
MAX_BATCH = 500
MAX_BACKOFF = 60.0


def event_of(enclave: str, entry: dict[str, Any]) -> dict[str, Any]:
    """An OPA-style decision-log event for one `decision` entry."""
    return {
        "decision_id": f"{entry.get('jti', '')}/{enclave}",
        "labels": {"id": enclave, "app": "accord"},
        "path": "accord/decision",
        "input": {k: entry.get(k) for k in ("principal", "action", "resource", "request_hash", "payload_hash")},
        "result": {k: entry.get(k) for k in ("decision", "code", "reasons", "jti", "kid")},
        "bundles": {"accord": {"revision": entry.get("bundle", "")}},
        "timestamp": entry.get("time"),
        "seq": entry.get("seq"),
        "entry_hash": entry.get("hash"),
    }


@dataclass
class ShipperState:
    """What `accord log ship` reports."""

    shipped: int = 0
    dropped: int = 0
    failures: int = 0
    last_error: str | None = None
    backoff: float = 0.0
    offsets: dict[str, int] = field(default_factory=dict)  # "<enclave>/<file>" -> bytes read


class LogShipper:
    def __init__(self, logs: Path, url: str, *, client: httpx.Client | None = None, max_buffer: int = MAX_BUFFER,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.logs, self.url = Path(logs), url
        self._client = client or httpx.Client(timeout=30)
        self._buffer: deque[tuple[str, int, dict[str, Any]]] = deque()  # (file key, end offset, event)
        self._max, self._clock = max_buffer, clock
        self.state = ShipperState(offsets=self._load_offsets())
        self._read: dict[str, int] = dict(self.state.offsets)  # read so far (buffered or shipped)
        self._retry_at = 0.0

    def _load_offsets(self) -> dict[str, int]:
        try:
            saved = json.loads((self.logs / OFFSETS_FILE).read_text())
        except (OSError, ValueError):
            return {}
        return {k: v for k, v in saved.items() if isinstance(k, str) and type(v) is int and v >= 0}

    def collect(self) -> int:
        """Read complete new lines of every log into the buffer; returns how many events."""
        added = 0
        for directory in sorted(p for p in self.logs.iterdir() if p.is_dir()) if self.logs.is_dir() else ():
            for path in log_files(directory):
                key = f"{directory.name}/{path.name}"
                offset = self._read.get(key, 0)
                with open(path, "rb") as fh:
                    fh.seek(offset)
                    chunk = fh.read()
                end = chunk.rfind(b"\n") + 1  # a line still being written waits for the next pass
                position = offset
                for line in chunk[:end].splitlines(keepends=True):
                    position += len(line)
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(entry, dict) and entry.get("kind") == "decision":
                        self._push((key, position, event_of(directory.name, entry)))
                        added += 1
                self._read[key] = offset + end
        return added

    def _push(self, item: tuple[str, int, dict[str, Any]]) -> None:
        if len(self._buffer) >= self._max:
            self._buffer.popleft()  # bounded: the oldest go first, counted
            self.state.dropped += 1
        self._buffer.append(item)

    def ship(self) -> int:
        """Upload buffered events (at most MAX_BATCH per request) unless backing off;
        returns how many were delivered."""
        delivered = 0
        while self._buffer and self._clock() >= self._retry_at:
            batch = [self._buffer[i] for i in range(min(MAX_BATCH, len(self._buffer)))]
            body = gzip.compress(json.dumps([event for _, _, event in batch]).encode())
            try:
                response = self._client.post(self.url, content=body, headers={
                    "Content-Type": "application/json", "Content-Encoding": "gzip"})  # fmt: skip
                if response.status_code // 100 != 2:
                    raise httpx.HTTPStatusError(f"HTTP {response.status_code}", request=response.request,
                                                response=response)  # fmt: skip
            except httpx.HTTPError as exc:
                self.state.failures += 1
                self.state.last_error = f"{type(exc).__name__}: {exc}"
                self.state.backoff = min(MAX_BACKOFF, max(1.0, self.state.backoff * 2))
                self._retry_at = self._clock() + self.state.backoff
                break
            for _ in batch:
                key, end, _ = self._buffer.popleft()
                self.state.offsets[key] = max(self.state.offsets.get(key, 0), end)
            delivered += len(batch)
            self.state.shipped += len(batch)
            self.state.backoff, self.state.last_error = 0.0, None
        if delivered:
            self._save_offsets()
        return delivered

    def _save_offsets(self) -> None:
        path = self.logs / OFFSETS_FILE
        path.write_text(json.dumps(self.state.offsets, sort_keys=True))

    def run_once(self) -> int:
        self.collect()
        return self.ship()

"""Crash-safe file writes: a temporary file in the same directory, fsync, then rename.

A reader sees either the old complete file or the new complete file, never a torn one, and
after `write_atomic` returns the new content and the directory entry are on disk.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, *, mode: int = 0o600, exclusive: bool = False) -> bool:
    """Write `data` to `path` atomically (file mode `mode`).

    With `exclusive`, an existing `path` is left alone and False is returned (first writer
    wins, safe between processes); otherwise the file is replaced. Returns True if written.
    """
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            try:
                os.link(temporary, path)  # fails if `path` exists: no clobbering
            except FileExistsError:
                return False
        else:
            os.replace(temporary, path)
        _fsync_directory(directory)
        return True
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)

"""Reading and writing OPA bundle containers: a directory or a gzipped tar.

A bundle is an ordered list of (path, bytes). Paths are bundle-relative, `/`-separated,
without a leading slash (OPA writes `/data.json`; the slash is dropped, as OPA does when it
names files in a signature). Order is kept because OPA checks files in archive order, and the
first failure it reports depends on it.

Everything here is hostile input: members that escape the bundle (`..`, absolute paths after
the leading slash, backslashes), links, devices, duplicate names and decompression bombs are
refused before any content is used. Nothing is ever written to disk.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from accord.bundles.errors import BundleLayoutError

GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Limits:
    """Caps on what a bundle may contain (OPA's own cap is 1 GiB per file)."""

    max_files: int = 10_000
    max_file_bytes: int = 64 * 1024 * 1024
    max_total_bytes: int = 256 * 1024 * 1024
    max_path_length: int = 1024


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class BundleFile:
    path: str
    content: bytes


@dataclass(frozen=True)
class RawBundle:
    """The files of a bundle, in container order, paths validated and unique."""

    files: tuple[BundleFile, ...]

    def get(self, path: str) -> bytes | None:
        for f in self.files:
            if f.path == path:
                return f.content
        return None

    def paths(self) -> list[str]:
        return [f.path for f in self.files]


def normalize_path(name: str, limits: Limits = DEFAULT_LIMITS) -> str:
    """Return the bundle-relative form of a member name, or raise if it is unsafe.

    Leading `/` (OPA's tar convention) and a leading `./` (`tar -C dir .`) are dropped; every
    other component must be a plain name."""
    path = name.lstrip("/")
    if path.startswith("./"):
        path = path[2:]
    if not path or len(path) > limits.max_path_length:
        raise BundleLayoutError(f"bundle member name {name!r} is empty or too long")
    if "\\" in path or "\x00" in path:
        raise BundleLayoutError(f"bundle member name {name!r} contains a backslash or NUL")
    for part in path.split("/"):
        if part in ("", ".", ".."):
            raise BundleLayoutError(
                f"bundle member name {name!r} escapes the bundle or is not normalized"
            )
    return path


def bundle_from_files(
    files: Iterable[tuple[str, bytes]], limits: Limits = DEFAULT_LIMITS
) -> RawBundle:
    """Validate (path, content) pairs, in order, into a RawBundle."""
    seen: set[str] = set()
    out: list[BundleFile] = []
    total = 0
    for name, content in files:
        path = normalize_path(name, limits)
        if path in seen:
            raise BundleLayoutError(f"bundle contains {path!r} twice")
        seen.add(path)
        _check_size(path, len(content), limits)
        total += len(content)
        if total > limits.max_total_bytes:
            raise BundleLayoutError(f"bundle exceeds {limits.max_total_bytes} bytes in total")
        if len(out) >= limits.max_files:
            raise BundleLayoutError(f"bundle has more than {limits.max_files} files")
        out.append(BundleFile(path, bytes(content)))
    return RawBundle(tuple(out))


def _check_size(path: str, size: int, limits: Limits) -> None:
    if size > limits.max_file_bytes:
        raise BundleLayoutError(
            f"bundle file {path!r} is {size} bytes, over the {limits.max_file_bytes}-byte limit"
        )


# --- directory -----------------------------------------------------------------------------


def read_directory(root: str | os.PathLike[str], limits: Limits = DEFAULT_LIMITS) -> RawBundle:
    """Read every regular file under `root`, sorted by path. Links and special files are
    refused, not followed: a bundle is exactly what is in the directory."""
    root = Path(root)
    if root.is_symlink() or not root.is_dir():
        raise BundleLayoutError(f"{root} is not a directory")
    return bundle_from_files(_walk(root, "", limits), limits)


def _walk(base: Path, prefix: str, limits: Limits) -> Iterable[tuple[str, bytes]]:
    entries = sorted(os.scandir(base), key=lambda e: e.name)
    for entry in entries:
        rel = f"{prefix}{entry.name}"
        if entry.is_symlink():
            raise BundleLayoutError(f"bundle directory contains a symbolic link: {rel}")
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(Path(entry.path), rel + "/", limits)
        elif entry.is_file(follow_symlinks=False):
            yield rel, _read_regular_file(entry.path, rel, limits)
        else:
            raise BundleLayoutError(f"bundle directory contains a special file: {rel}")


def _read_regular_file(path: str, rel: str, limits: Limits) -> bytes:
    # O_NOFOLLOW: the file cannot be swapped for a link between the scan and the read.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise BundleLayoutError(f"bundle file {rel!r} is not a regular file")
        content = fh.read(limits.max_file_bytes + 1)
    _check_size(rel, len(content), limits)
    return content


# --- tar.gz --------------------------------------------------------------------------------


class _CappedReader(io.RawIOBase):
    """Decompressed stream that fails once more than `limit` bytes come out (gzip bombs,
    giant PAX headers), before tarfile buffers them."""

    def __init__(self, inner: gzip.GzipFile, limit: int) -> None:
        self._inner = inner
        self._left = limit

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self._inner.read(self._left + 1 if size < 0 else min(size, self._left + 1))
        self._left -= len(chunk)
        if self._left < 0:
            raise BundleLayoutError("bundle archive decompresses to more than the size limit")
        return chunk


def read_tarball(data: bytes, limits: Limits = DEFAULT_LIMITS) -> RawBundle:
    """Read a gzipped tar bundle from memory. Only regular files and directories are allowed;
    directories are implied by file paths and otherwise ignored."""
    if not data.startswith(GZIP_MAGIC):
        raise BundleLayoutError("bundle archive is not gzip-compressed (.tar.gz expected)")
    # Headers and padding count too: a 512-byte header and up to 511 bytes of padding each.
    cap = limits.max_total_bytes + 1024 * (limits.max_files + 2)
    stream = _CappedReader(gzip.GzipFile(fileobj=io.BytesIO(data)), cap)
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            return bundle_from_files(_members(tar, limits), limits)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise BundleLayoutError(f"bundle archive is not a valid .tar.gz: {exc}") from exc


def _members(tar: tarfile.TarFile, limits: Limits) -> Iterable[tuple[str, bytes]]:
    for member in tar:
        if member.isdir():
            if member.name.strip("/") not in (".", ""):  # the root, as `tar -C dir .` writes
                normalize_path(member.name, limits)
            continue
        path = normalize_path(member.name, limits)
        if member.type not in (tarfile.REGTYPE, tarfile.AREGTYPE):
            raise BundleLayoutError(
                f"bundle member {path!r} is not a regular file (tar type {member.type!r})"
            )
        _check_size(path, member.size, limits)
        fh = tar.extractfile(member)
        assert fh is not None  # regular files always have content
        yield path, fh.read()


def write_tarball(files: Mapping[str, bytes]) -> bytes:
    """Write a deterministic .tar.gz: members sorted by path, fixed mtime/owner/mode, no
    gzip timestamp or file name. Same files in, same bytes out."""
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path in sorted(files):
                content = files[path]
                info = tarfile.TarInfo(normalize_path(path))
                info.size = len(content)
                info.mode = 0o644
                info.mtime = 0
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def read_bundle(path: str | os.PathLike[str], limits: Limits = DEFAULT_LIMITS) -> RawBundle:
    """Read a bundle from a directory or a .tar.gz file on disk."""
    p = Path(path)
    if p.is_dir() and not p.is_symlink():
        return read_directory(p, limits)
    try:
        with open(p, "rb") as fh:
            data = fh.read(limits.max_total_bytes + 1)
    except OSError as exc:
        raise BundleLayoutError(f"cannot read bundle {p}: {exc.strerror}") from exc
    if len(data) > limits.max_total_bytes:
        raise BundleLayoutError(f"bundle archive {p} is larger than {limits.max_total_bytes} bytes")
    return read_tarball(data, limits)

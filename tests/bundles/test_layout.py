"""Reading bundle containers safely: traversal, links, bombs, duplicates, determinism."""

from __future__ import annotations

import gzip
import io
import os
import tarfile

import pytest

from accord.bundles.errors import BundleLayoutError
from accord.bundles.layout import (
    Limits,
    bundle_from_files,
    read_bundle,
    read_directory,
    read_tarball,
    write_tarball,
)


def make_tar(*members: tarfile.TarInfo | tuple[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for m in members:
            if isinstance(m, tarfile.TarInfo):
                tar.addfile(m)
            else:
                info = tarfile.TarInfo(m[0])
                info.size = len(m[1])
                tar.addfile(info, io.BytesIO(m[1]))
    return buf.getvalue()


def special(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


@pytest.mark.parametrize(
    "name",
    ["../evil.rego", "a/../../evil.rego", "/../evil.rego", "a/./b.rego", "a//b.rego",
     "a\\..\\b.rego", "a/\x00.rego", ""],
)
def test_path_traversal_in_tar_is_refused(name):
    with pytest.raises(BundleLayoutError, match="member name"):
        read_tarball(make_tar((name, b"package x")))


def test_leading_slash_and_dot_slash_are_dropped():
    raw = read_tarball(make_tar(("/a/data.json", b"{}"), ("./b/data.json", b"{}")))
    assert raw.paths() == ["a/data.json", "b/data.json"]


@pytest.mark.parametrize(
    "member",
    [
        special("link.rego", tarfile.SYMTYPE, "/etc/passwd"),
        special("hard.rego", tarfile.LNKTYPE, "other.rego"),
        special("dev", tarfile.CHRTYPE),
        special("fifo", tarfile.FIFOTYPE),
    ],
    ids=["symlink", "hardlink", "device", "fifo"],
)
def test_links_and_special_members_are_refused(member):
    with pytest.raises(BundleLayoutError, match="not a regular file"):
        read_tarball(make_tar(member))


def test_duplicate_members_are_refused():
    with pytest.raises(BundleLayoutError, match="twice"):
        read_tarball(make_tar(("/a.rego", b"1"), ("a.rego", b"2")))


def test_member_over_the_size_cap_is_refused():
    with pytest.raises(BundleLayoutError, match="over the 10-byte limit"):
        read_tarball(make_tar(("a.rego", b"x" * 11)), Limits(max_file_bytes=10))


def test_decompression_bomb_is_stopped_while_decompressing():
    # A 16 MiB PAX header (tarfile would buffer it whole) compresses to a few KiB.
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("a.rego")
        info.pax_headers = {"comment": "x" * (16 * 1024 * 1024)}
        tar.addfile(info, io.BytesIO(b""))
    assert len(buf.getvalue()) < 100_000
    with pytest.raises(BundleLayoutError, match="decompresses to more than the size limit"):
        read_tarball(buf.getvalue(), Limits(max_total_bytes=1024 * 1024, max_files=10))


def test_too_many_files():
    with pytest.raises(BundleLayoutError, match="more than 2 files"):
        read_tarball(make_tar(("a", b""), ("b", b""), ("c", b"")), Limits(max_files=2))


def test_total_size_cap():
    with pytest.raises(BundleLayoutError, match="in total"):
        bundle_from_files([("a", b"x" * 6), ("b", b"x" * 6)], Limits(max_total_bytes=10))


@pytest.mark.parametrize("data", [b"not a tarball", gzip.compress(b"not a tar")[:-6]])
def test_not_a_tar_gz(data):
    with pytest.raises(BundleLayoutError):
        read_tarball(data)


def test_write_tarball_is_deterministic_and_round_trips():
    files = {"b/data.json": b"{}", ".manifest": b"{}", "a/p.rego": b"package a"}
    first = write_tarball(files)
    assert first == write_tarball(dict(reversed(list(files.items()))))
    raw = read_tarball(first)
    assert raw.paths() == sorted(files)
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        assert {(m.mtime, m.uid, m.gid, m.uname, m.mode) for m in tar} == {(0, 0, 0, "", 0o644)}


def test_directory_is_read_sorted(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "data.json").write_bytes(b"{}")
    (tmp_path / "a.rego").write_bytes(b"package a")
    assert read_directory(tmp_path).paths() == ["a.rego", "b/data.json"]
    assert read_bundle(tmp_path) == read_directory(tmp_path)


def test_symlinks_in_directory_are_refused(tmp_path):
    (tmp_path / "real.rego").write_bytes(b"package a")
    (tmp_path / "link.rego").symlink_to(tmp_path / "real.rego")
    with pytest.raises(BundleLayoutError, match="symbolic link: link.rego"):
        read_directory(tmp_path)


def test_symlinked_directory_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "data.json").write_bytes(b"{}")
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "sub").symlink_to(outside)
    with pytest.raises(BundleLayoutError, match="symbolic link: sub"):
        read_directory(bundle)


def test_special_file_in_directory_is_refused(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(BundleLayoutError, match="special file"):
        read_directory(tmp_path)


def test_read_bundle_from_archive_file(tmp_path):
    path = tmp_path / "b.tar.gz"
    path.write_bytes(write_tarball({"a.rego": b"package a"}))
    assert read_bundle(path).paths() == ["a.rego"]
    with pytest.raises(BundleLayoutError, match="cannot read bundle"):
        read_bundle(tmp_path / "missing.tar.gz")

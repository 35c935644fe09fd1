"""Sealed storage: round trip, atomic writes, and every way unsealing must fail (file untouched)."""

from __future__ import annotations

import os
import shutil

import cbor2
import pytest
from nitro_vectors import CONFIG, OTHER_CONFIG, clock_at

from accord import atomic_file
from accord.enclave.platform.enclave import Enclave, expected_pcrs
from accord.enclave.platform.errors import (
    DebugEnclaveUnsealError,
    InvalidSealedNameError,
    KeyPolicyMismatchError,
    SealedDataTamperedError,
    SealedFileCorruptError,
    SealedFileMissingError,
    SealedForAnotherEnclaveError,
    SealedUnderAnotherMeasurementError,
    UnsealError,
)
from accord.enclave.platform.kms import KeyPolicy, Kms
from accord.enclave.platform.sealing import SealedStore
from accord.protocols.secret import SecretBytes

SECRET = b"FROST signing share: 32 secret bytes!"


@pytest.fixture(scope="module")
def enclaves(pki, tmp_path_factory):
    base = tmp_path_factory.mktemp("sealing")

    def make(enclave_id, **options):
        options.setdefault("config", CONFIG)
        return Enclave.simulated(enclave_id=enclave_id, state_dir=base / enclave_id, pki=pki, clock=clock_at(), **options)

    return {
        "e0": make("e0"),
        "e1": make("e1"),
        "e0-other-code": make("e0", config=OTHER_CONFIG),
        "e0-debug": make("e0", debug=True),
    }


@pytest.fixture(scope="module")
def kms(sim_root):
    return Kms(sim_root, clock=clock_at())


@pytest.fixture(scope="module")
def key_id(kms):
    return kms.create_key(KeyPolicy.for_pcrs(expected_pcrs(CONFIG)))


def store(directory, enclave, kms, key_id) -> SealedStore:
    return SealedStore(directory, enclave, kms, key_id)


@pytest.fixture(scope="module")
def sealed_bytes(tmp_path_factory, enclaves, kms, key_id) -> bytes:
    s = store(tmp_path_factory.mktemp("sealed"), enclaves["e0"], kms, key_id)
    return s.seal("keyshare", SecretBytes(SECRET)).read_bytes()


@pytest.fixture
def sealed(tmp_path, enclaves, kms, key_id, sealed_bytes):
    """A share sealed by e0, in a fresh state dir; returns (store, path, original bytes)."""
    s = store(tmp_path / "e0", enclaves["e0"], kms, key_id)
    s.directory.mkdir(parents=True)
    s.path("keyshare").write_bytes(sealed_bytes)
    return s, s.path("keyshare"), sealed_bytes


def test_round_trip(tmp_path, enclaves, kms, key_id):
    s = store(tmp_path, enclaves["e0"], kms, key_id)
    path = s.seal("keyshare", SecretBytes(SECRET))
    raw = path.read_bytes()
    assert path == tmp_path / "sealed" / "keyshare.sealed"
    assert s.unseal("keyshare").reveal() == SECRET
    assert SECRET not in raw
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["keyshare.sealed"]  # no temp files left


def test_reseal_replaces(sealed):
    s, path, _ = sealed
    s.seal("keyshare", b"new share")
    assert s.unseal("keyshare").reveal() == b"new share"


def _assert_refused(s, name, path, raw, error, message=None):
    with pytest.raises(error, match=message):
        s.unseal(name)
    assert path.read_bytes() == raw, "unsealing must never modify the file"


def test_another_enclave_cannot_unseal(sealed, tmp_path, enclaves, kms, key_id):
    _, path, raw = sealed
    thief = store(tmp_path / "e1", enclaves["e1"], kms, key_id)
    thief.directory.mkdir(parents=True)
    shutil.copy(path, thief.path("keyshare"))
    _assert_refused(thief, "keyshare", thief.path("keyshare"), raw, SealedForAnotherEnclaveError, "sealed by enclave 'e0'")


def test_other_code_cannot_unseal(sealed, enclaves, kms, key_id):
    s, path, raw = sealed
    other = store(s.directory.parent, enclaves["e0-other-code"], kms, key_id)
    _assert_refused(other, "keyshare", path, raw, SealedUnderAnotherMeasurementError, "PCR0")


def test_debug_enclave_cannot_unseal(sealed, enclaves, kms, key_id):
    s, path, raw = sealed
    debug = store(s.directory.parent, enclaves["e0-debug"], kms, key_id)
    _assert_refused(debug, "keyshare", path, raw, DebugEnclaveUnsealError, "debug enclave")


def test_forged_header_does_not_help_other_code(sealed, enclaves, kms, key_id):
    """Rewriting the header PCRs to the reader's: the KMS refuses, and even a KMS that admits
    both releases cannot make the AAD (bound to the real PCRs) authenticate."""
    s, path, _ = sealed
    other = enclaves["e0-other-code"]
    fields = cbor2.loads(path.read_bytes())
    fields["pcrs"] = other.sealing_pcrs()
    path.write_bytes(cbor2.dumps(fields))
    forged = path.read_bytes()
    reader = store(s.directory.parent, other, kms, key_id)
    _assert_refused(reader, "keyshare", path, forged, KeyPolicyMismatchError)
    both = {i: frozenset([expected_pcrs(CONFIG)[i], expected_pcrs(OTHER_CONFIG)[i]]) for i in (0, 1, 2)}
    kms.put_key_policy(key_id, KeyPolicy(both))
    try:
        _assert_refused(reader, "keyshare", path, forged, SealedDataTamperedError, "altered")
    finally:
        kms.put_key_policy(key_id, KeyPolicy.for_pcrs(expected_pcrs(CONFIG)))


def test_renamed_file_is_refused(sealed):
    s, path, raw = sealed
    shutil.copy(path, s.path("other"))
    _assert_refused(s, "other", s.path("other"), raw, SealedFileCorruptError, "holds object 'keyshare'")


@pytest.mark.parametrize("k", range(48))
def test_any_changed_byte_is_refused(sealed, k):
    s, path, raw = sealed
    position = (k * (len(raw) - 1)) // 47
    altered = bytearray(raw)
    altered[position] ^= 1 << (k % 8)
    path.write_bytes(bytes(altered))
    _assert_refused(s, "keyshare", path, bytes(altered), UnsealError)


def test_tampered_ciphertext_is_named(sealed):
    s, path, _ = sealed
    fields = cbor2.loads(path.read_bytes())
    fields["ciphertext"] = bytes([fields["ciphertext"][0] ^ 1]) + fields["ciphertext"][1:]
    path.write_bytes(cbor2.dumps(fields))
    _assert_refused(s, "keyshare", path, path.read_bytes(), SealedDataTamperedError, "does not authenticate")


def test_tampered_data_key_blob_is_named(sealed):
    s, path, _ = sealed
    fields = cbor2.loads(path.read_bytes())
    fields["data_key"] = fields["data_key"][:-1] + bytes([fields["data_key"][-1] ^ 1])
    path.write_bytes(cbor2.dumps(fields))
    _assert_refused(s, "keyshare", path, path.read_bytes(), SealedDataTamperedError, "KMS rejected")


@pytest.mark.parametrize("content,message", [(b"", "truncated"), (b"\xa0", "fields"), (cbor2.dumps({"version": 9}), "fields")])
def test_corrupt_files(sealed, content, message):
    s, path, _ = sealed
    path.write_bytes(content)
    _assert_refused(s, "keyshare", path, content, SealedFileCorruptError, message)


def test_unknown_version(sealed):
    s, path, _ = sealed
    fields = cbor2.loads(path.read_bytes())
    fields["version"] = 2
    path.write_bytes(cbor2.dumps(fields))
    _assert_refused(s, "keyshare", path, path.read_bytes(), SealedFileCorruptError, "version 2")


def test_missing(sealed):
    with pytest.raises(SealedFileMissingError):
        sealed[0].unseal("absent")


@pytest.mark.parametrize("name", ["", "../escape", "a/b", ".hidden", "x" * 200, "nul\0"])
def test_invalid_names(sealed, name):
    with pytest.raises(InvalidSealedNameError):
        sealed[0].seal(name, b"x")


@pytest.mark.parametrize("step", ["replace", "fsync"])
def test_crash_mid_write_keeps_the_old_object(sealed, monkeypatch, step):
    s, path, raw = sealed

    def crash(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_file.os, step, crash)
    with pytest.raises(OSError):
        s.seal("keyshare", b"half-written share")
    monkeypatch.undo()
    assert path.read_bytes() == raw
    assert sorted(p.name for p in path.parent.iterdir()) == ["keyshare.sealed"]
    assert s.unseal("keyshare").reveal() == SECRET


def test_exclusive_write_does_not_clobber(tmp_path):
    target = tmp_path / "file"
    assert atomic_file.write_atomic(target, b"first", exclusive=True)
    assert not atomic_file.write_atomic(target, b"second", exclusive=True)
    assert target.read_bytes() == b"first" and sorted(p.name for p in tmp_path.iterdir()) == ["file"]

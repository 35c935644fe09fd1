"""Code measurement and enclave configuration; the simulated PKI's lifecycle."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from nitro_vectors import CONFIG, NOW, OTHER_CONFIG, MutableClock

from accord.enclave.configuration import EnclaveConfig
from accord.enclave.platform.attestation import decode_attestation, verify_attestation
from accord.enclave.platform.errors import EnclaveConfigError, SimulatedPkiError
from accord.enclave.platform.measurement import extend, measure, measure_tree
from accord.enclave.platform.pki import SimulatedNitroPki
from accord.enclave.platform.simulated_nsm import SimulatedNsm


def test_config_is_normalized_and_canonical():
    config = EnclaveConfig(("B2" * 32, "a1" * 32, "a1" * 32))
    assert config.bundle_key_fingerprints == ("a1" * 32, "b2" * 32)
    assert config.to_json().startswith(b'{"allow_debug":false,"attestation_root":null,"bundle_key_fingerprints":["'
                                       + b"a1" * 32 + b'","' + b"b2" * 32 + b'"],"bundle_threshold":1,"deployment":"accord",')
    assert config.to_json().endswith(b'"threshold":3,"version":3}')
    assert config.digest() == hashlib.sha384(config.to_json()).digest()


@pytest.mark.parametrize("fingerprints", [(), ("abc",), ("g" * 64,)])
def test_invalid_config(fingerprints):
    with pytest.raises(EnclaveConfigError):
        EnclaveConfig(fingerprints)


def test_pcrs_follow_extend_semantics():
    measurement = measure(CONFIG)
    pcrs = measurement.pcrs()
    assert pcrs[2] == hashlib.sha384(bytes(48) + measurement.application).digest()
    assert pcrs[0] == extend(bytes(48), hashlib.sha384(measurement.application + measurement.runtime + measurement.config).digest())


def test_config_changes_pcr0_only():
    ours, theirs = measure(CONFIG).pcrs(), measure(OTHER_CONFIG).pcrs()
    assert ours[0] != theirs[0] and ours[1] == theirs[1] and ours[2] == theirs[2]


def test_tree_measurement_covers_every_file(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("x = 1\n")
    (tmp_path / "b.rego").write_text("package p\n")
    first = measure_tree(tmp_path)
    (tmp_path / "pkg" / "__pycache__").mkdir()
    (tmp_path / "pkg" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\x00")
    assert measure_tree(tmp_path) == first  # caches are not code
    (tmp_path / "pkg" / "a.py").write_text("x = 2\n")
    changed = measure_tree(tmp_path)
    assert changed != first
    (tmp_path / "pkg" / "a.py").rename(tmp_path / "pkg" / "c.py")
    assert measure_tree(tmp_path) not in (first, changed)  # names are measured too


def test_pki_renews_intermediates_over_time():
    clock = MutableClock()
    nsm = SimulatedNsm(pki=SimulatedNitroPki.generate(now=NOW), measurement=measure(CONFIG), instance_id="i-t", clock=clock)
    root = nsm._pki.trusted_root()
    for days in (0, 0.2, 1.5, 7, 30, 400):
        clock.moment = NOW + timedelta(days=days)
        data = nsm.attestation()
        verify_attestation(data, root=root, at=clock.moment, max_age=timedelta(minutes=5))
        assert decode_attestation(data)[1].cabundle[0] == root.certificate.public_bytes(Encoding.DER)


def test_pki_refuses_after_root_expiry():
    pki = SimulatedNitroPki.generate(now=NOW)
    with pytest.raises(SimulatedPkiError, match="root"):
        pki.issue_leaf("i", "m", NOW + timedelta(days=31 * 365))


def test_pki_persists_and_is_shared(tmp_path):
    path = tmp_path / "pki" / "simulated-nitro-pki.cbor"
    first = SimulatedNitroPki.load_or_create(path, now=NOW)
    second = SimulatedNitroPki.load_or_create(path, now=NOW)
    assert first.trusted_root().sha256 == second.trusted_root().sha256
    leaf, bundle = second.issue_leaf("i-x", "SIMULATED-i-x-enc00", NOW)
    assert bundle[0] == first.root.der


@pytest.mark.parametrize("content", [b"", b"\xa0", b"\xa1gversion\x02"])
def test_corrupt_pki_file(tmp_path, content):
    path = tmp_path / "pki.cbor"
    path.write_bytes(content)
    with pytest.raises(SimulatedPkiError):
        SimulatedNitroPki.load_or_create(path, now=NOW)


def test_pki_file_with_mismatched_key(tmp_path):
    a, b = SimulatedNitroPki.generate(now=NOW), SimulatedNitroPki.generate(now=NOW)
    mixed = SimulatedNitroPki(a.root, a.regional, a.zonal)
    mixed.root = type(a.root)(a.root.certificate, b.root._key)
    with pytest.raises(SimulatedPkiError, match="does not match"):
        SimulatedNitroPki.from_bytes(mixed.to_bytes())

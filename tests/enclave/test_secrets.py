"""Objects holding private keys refuse pickling and never print key material."""

from __future__ import annotations

import copy
import pickle

import pytest
from nitro_vectors import CONFIG, clock_at

from accord.enclave.platform.attestation import AttestationPolicy
from accord.enclave.platform.enclave import Enclave, expected_pcrs
from accord.enclave.platform.errors import SealedDataTamperedError
from accord.enclave.platform.kms import KeyPolicy, Kms
from accord.protocols.secret import SecretBytes, SecretLeakError


@pytest.fixture(scope="module")
def holders(sim_root, pki, tmp_path_factory):
    base = tmp_path_factory.mktemp("secrets")
    enclave, peer = (
        Enclave.simulated(enclave_id=name, config=CONFIG, state_dir=base / name, pki=pki, clock=clock_at())
        for name in ("a", "b")
    )
    identity = enclave.verify_peer(peer.identity_document(b"n"), AttestationPolicy(root=sim_root), nonce=b"n")
    kms = Kms(sim_root, clock=clock_at())
    kms.create_key(KeyPolicy.for_pcrs(expected_pcrs(CONFIG)))
    return {
        "enclave": enclave,
        "identity keys": enclave._identity,
        "recipient key": enclave._recipient_key(),
        "channel": enclave.channel(identity, b"s"),
        "nsm": enclave.nsm,
        "pki": pki,
        "certificate authority": pki.root,
        "kms": kms,
    }


@pytest.mark.parametrize(
    "name", ["enclave", "identity keys", "recipient key", "channel", "nsm", "pki", "certificate authority", "kms"]
)
def test_refuses_pickling(holders, name):
    with pytest.raises(SecretLeakError):
        pickle.dumps(holders[name])
    with pytest.raises(SecretLeakError):
        copy.deepcopy(holders[name])


@pytest.mark.parametrize("name", ["enclave", "identity keys", "recipient key", "pki", "certificate authority", "kms"])
def test_repr_is_redacted(holders, name):
    text = repr(holders[name])
    assert "redacted" in text or "keys" in text
    assert "PRIVATE KEY" not in text


def test_unsealed_and_received_secrets_are_secret_bytes(holders, sim_root):
    enclave = holders["enclave"]
    kms = Kms(sim_root, clock=clock_at())
    key_id = kms.create_key(KeyPolicy.for_pcrs(expected_pcrs(CONFIG)))
    store = enclave.sealed_store(kms, key_id)
    store.seal("share", b"\x42" * 32)
    secret = store.unseal("share")
    assert isinstance(secret, SecretBytes) and "42424242" not in repr(secret)
    with pytest.raises(SecretLeakError):
        pickle.dumps(secret)


def test_errors_carry_no_key_material(holders, sim_root):
    enclave = holders["enclave"]
    kms = Kms(sim_root, clock=clock_at())
    key_id = kms.create_key(KeyPolicy.for_pcrs(expected_pcrs(CONFIG)))
    store = enclave.sealed_store(kms, key_id)
    path = store.seal("share", b"\x42" * 32)
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(SealedDataTamperedError) as caught:
        store.unseal("share")
    assert "4242" not in str(caught.value) and caught.value.__cause__ is None

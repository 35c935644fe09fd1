"""Secrets never leak: no pickling, no copying, redacted reprs, wiped after use."""

from __future__ import annotations

import copy
import pickle

import pytest

from accord.protocols.frost import dkg
from accord.protocols.frost.identifier import Identifier
from accord.protocols.frost.round1 import NoncePool, commit
from accord.protocols.secret import SecretLeakError


@pytest.fixture(scope="module")
def secrets(keys_3of3):
    keys, _ = keys_3of3
    key = keys[Identifier(1)]
    ids = [Identifier(i) for i in (1, 2, 3)]
    r1 = {i: dkg.part1(i, 3, 2) for i in ids}
    r2_secret, r2_packages = dkg.part2(r1[ids[0]][0], {j: r1[j][1] for j in ids[1:]})
    pool = NoncePool(key.signing_share)
    pool.refill(2)
    return {
        "nonces": commit(key.signing_share),
        "pool": pool,
        "signing share": key.signing_share,
        "key package": key,
        "round-1 secret package": r1[ids[1]][0],
        "round-2 secret package": r2_secret,
        "round-2 package": r2_packages[ids[1]],
    }


def secret_hex(obj) -> list[str]:
    """The hex of every secret scalar held by a test object (to look for in reprs)."""
    if hasattr(obj, "signing_share") and hasattr(obj.signing_share, "secret"):
        return [obj.signing_share.secret.reveal().hex()]
    if hasattr(obj, "secret"):
        return [obj.secret.reveal().hex()]
    if hasattr(obj, "_signing_share"):
        return [obj._signing_share.secret.reveal().hex()]
    if hasattr(obj, "_slot"):
        return [secret.reveal().hex() for secret in obj._slot[0]]
    if hasattr(obj, "coefficients"):
        return [c.reveal().hex() for c in obj.coefficients]
    if hasattr(obj, "secret_share"):
        return [obj.secret_share.reveal().hex()]
    if hasattr(obj, "signing_share"):
        return [obj.signing_share.reveal().hex()]
    return []


NAMES = ["nonces", "pool", "signing share", "key package", "round-1 secret package",
         "round-2 secret package", "round-2 package"]


@pytest.mark.parametrize("name", NAMES)
def test_refuses_pickle(secrets, name):
    with pytest.raises(SecretLeakError, match="must not be pickled"):
        pickle.dumps(secrets[name])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("copier", [copy.copy, copy.deepcopy])
def test_refuses_copy(secrets, name, copier):
    with pytest.raises(SecretLeakError, match="must not be copied"):
        copier(secrets[name])


@pytest.mark.parametrize("name", NAMES)
def test_repr_is_redacted(secrets, name):
    obj = secrets[name]
    text = repr(obj) + str(obj)
    assert "redacted" in text
    for value in secret_hex(obj):
        assert value not in text


def test_nonces_are_wiped_when_taken(keys_3of3):
    keys, _ = keys_3of3
    nonces = commit(keys[Identifier(1)].signing_share)
    held = nonces._slot[0]
    hiding, binding = nonces.take()
    assert len(hiding) == len(binding) == 32
    assert nonces.used and all(secret.wiped for secret in held)
    assert "used" in repr(nonces)


def test_dkg_state_is_wiped_after_use():
    ids = [Identifier(i) for i in (1, 2)]
    r1 = {i: dkg.part1(i, 2, 2) for i in ids}
    state1, out1 = dkg.part2(r1[ids[0]][0], {ids[1]: r1[ids[1]][1]})
    state2, out2 = dkg.part2(r1[ids[1]][0], {ids[0]: r1[ids[0]][1]})
    assert all(c.wiped for c in r1[ids[0]][0].coefficients)
    dkg.part3(state1, {ids[1]: r1[ids[1]][1]}, {ids[1]: out2[ids[0]]})
    assert state1.secret_share.wiped and not state2.secret_share.wiped

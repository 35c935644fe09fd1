"""Proactive refresh: same group key, new shares, old shares useless with new ones."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from accord.protocols.frost import ciphersuite as cs
from accord.protocols.frost import refresh
from accord.protocols.frost.dkg import Round2Package
from accord.protocols.frost.errors import (
    IncorrectNumberOfCommitments,
    IncorrectNumberOfPackages,
    InvalidKeyPackage,
    InvalidSecretShare,
    InvalidSignatureShare,
)
from accord.protocols.frost.local import run_dkg, sign_locally
from accord.protocols.secret import SecretBytes
from frost_helpers import others


def run_refresh(keys, public, tamper=None):
    ids = sorted(keys)
    n, t = len(ids), public.min_signers
    r1 = {i: refresh.part1(i, n, t) for i in ids}
    packages = {i: p for i, (_, p) in r1.items()}
    r2 = {i: refresh.part2(r1[i][0], others(packages, i)) for i in ids}
    results = {}
    for i in ids:
        received = {j: r2[j][1][i] for j in ids if j != i}
        if tamper:
            received = tamper(i, received)
        results[i] = refresh.part3(r2[i][0], others(packages, i), received, keys[i], public)
    new_public = results[ids[0]][1]
    assert all(p == new_public for _, p in results.values())
    return {i: k for i, (k, _) in results.items()}, new_public


def verify(public, message, signature):
    Ed25519PublicKey.from_public_bytes(public.verifying_key.to_bytes()).verify(signature, message)


@pytest.mark.parametrize("n,t", [(3, 3), (3, 2)])
def test_sign_before_and_after_refresh(n, t):
    keys, public = run_dkg(n, t)
    verify(public, b"before", sign_locally(keys, public, b"before", sorted(keys)[:t]))
    new_keys, new_public = run_refresh(keys, public)
    assert new_public.verifying_key == public.verifying_key
    for i in keys:
        assert new_keys[i].signing_share.secret.reveal() != keys[i].signing_share.secret.reveal()
        assert new_public.verifying_shares[i] != public.verifying_shares[i]
        assert new_keys[i].verifying_share == new_public.verifying_shares[i]
    verify(public, b"after", sign_locally(new_keys, new_public, b"after", sorted(keys)[-t:]))


def test_old_share_mixed_with_new_shares_does_not_sign():
    keys, public = run_dkg(3, 3)
    new_keys, new_public = run_refresh(keys, public)
    a, b, c = sorted(keys)
    mixed = {a: keys[a], b: new_keys[b], c: new_keys[c]}
    with pytest.raises(InvalidSignatureShare) as caught:
        sign_locally(mixed, new_public, b"m")
    assert caught.value.culprits == (a,)
    with pytest.raises(InvalidSignatureShare) as caught:  # judged by the old public package
        sign_locally(mixed, public, b"m")
    assert caught.value.culprits == (b, c)


def test_bad_refresh_share_is_named():
    keys, public = run_dkg(3, 2)
    a, b, c = sorted(keys)

    def tamper(me, received):
        if me == a:
            bad = cs.scalar_add(received[c].signing_share.reveal(), cs.serialize_scalar(1))
            received = received | {c: Round2Package(SecretBytes(bad))}
        return received

    with pytest.raises(InvalidSecretShare) as caught:
        run_refresh(keys, public, tamper)
    assert caught.value.culprit == c


def test_wrong_degree_is_named():
    keys, _ = run_dkg(3, 2)
    a, b, c = sorted(keys)
    r1 = {i: refresh.part1(i, 3, 2) for i in (a, b)}
    _, longer = refresh.part1(c, 3, 3)
    with pytest.raises(IncorrectNumberOfCommitments) as caught:
        refresh.part2(r1[a][0], {b: r1[b][1], c: longer})
    assert caught.value.culprit == c


def test_everyone_must_take_part():
    keys, _ = run_dkg(3, 2)
    a, b, _ = sorted(keys)
    r1 = {i: refresh.part1(i, 3, 2) for i in (a, b)}
    with pytest.raises(IncorrectNumberOfPackages):
        refresh.part2(r1[a][0], {b: r1[b][1]})


def test_old_key_package_must_match():
    keys, public = run_dkg(3, 2)
    _, other_public = run_dkg(3, 2)
    with pytest.raises(InvalidKeyPackage, match="different group keys"):
        run_refresh(keys, other_public)
    a, b, _ = sorted(keys)
    with pytest.raises(InvalidKeyPackage, match="another participant"):
        run_refresh(keys | {a: keys[b], b: keys[a]}, public)

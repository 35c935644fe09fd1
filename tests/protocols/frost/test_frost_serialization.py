"""Byte and JSON formats of everything that crosses a process, and their validation."""

from __future__ import annotations

import base64
import json

import pytest
from joserfc.jwk import OKPKey
from nacl import bindings as sodium

from accord.protocols.frost import ciphersuite as cs
from accord.protocols.frost import dkg, refresh
from accord.protocols.frost.errors import (
    DuplicateIdentifier,
    InvalidKeyPackage,
    InvalidLength,
    InvalidPoint,
    MalformedEncoding,
)
from accord.protocols.frost.identifier import Identifier
from accord.protocols.frost.keys import KeyPackage, PublicKeyPackage, VerifyingKey
from accord.protocols.frost.round1 import SigningCommitments, commit
from accord.protocols.frost.round2 import SignatureShare, sign
from accord.protocols.frost.signing_package import SigningPackage
from accord.protocols.secret import SecretBytes

ORDER_8 = bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")


def point() -> bytes:
    return cs.scalar_base_mult(cs.random_scalar()).encoding


def torsioned() -> bytes:
    return sodium.crypto_core_ed25519_add(point(), ORDER_8)


class TestCommitments:
    def test_round_trip(self, keys_3of3):
        keys, _ = keys_3of3
        commitments = commit(keys[Identifier(1)].signing_share).commitments
        assert len(commitments.to_bytes()) == 64
        assert SigningCommitments.from_bytes(commitments.to_bytes()) == commitments

    def test_each_point_is_validated_and_named(self):
        with pytest.raises(InvalidPoint, match="hiding nonce commitment is not in the prime-order subgroup"):
            SigningCommitments.from_bytes(torsioned() + point())
        with pytest.raises(InvalidLength, match="64 bytes"):
            SigningCommitments.from_bytes(point())

    @pytest.mark.parametrize("bad", ["identity", "torsioned", "non_canonical", "off_curve"])
    def test_binding_commitment_is_validated_where_it_is_multiplied(self, keys_3of3, bad):
        # E_i is only used as rho_i * E_i: libsodium validates it there, and no share is made.
        keys, _ = keys_3of3
        bad_point = {
            "identity": b"\x01" + bytes(31),
            "torsioned": torsioned(),
            "non_canonical": (2**255 - 1).to_bytes(32, "little"),
            "off_curve": next(b for b in (bytes([i]) + bytes(31) for i in range(2, 50))
                              if not sodium.crypto_core_ed25519_is_valid_point(b)),
        }[bad]
        nonces = {i: commit(k.signing_share) for i, k in keys.items()}
        peer = Identifier(2)
        commitments = {i: n.commitments for i, n in nonces.items()}
        commitments[peer] = SigningCommitments.from_bytes(commitments[peer].hiding.encoding + bad_point)
        package = SigningPackage(commitments, b"message")
        with pytest.raises(InvalidPoint, match="binding nonce commitment of participant 2"):
            sign(package, nonces[Identifier(1)], keys[Identifier(1)])

    def test_batch(self):
        batch = [SigningCommitments.from_bytes(point() + point()) for _ in range(3)]
        assert SigningCommitments.batch_from_bytes(SigningCommitments.batch_to_bytes(batch)) == batch
        with pytest.raises(InvalidLength, match="multiple of 64"):
            SigningCommitments.batch_from_bytes(bytes(65))

    def test_vouched_batch_checks_lengths_only(self):
        batch = [SigningCommitments.from_bytes(point() + point()) for _ in range(3)]
        assert SigningCommitments.vouched_batch(SigningCommitments.batch_to_bytes(batch)) == batch
        with pytest.raises(InvalidLength, match="multiple of 64"):
            SigningCommitments.vouched_batch(bytes(65))
        # Its caller checked the maker's signature: a point is not decoded here (the identity
        # would fail `from_bytes`), which is why only signed batches may come this way.
        assert SigningCommitments.vouched_batch(bytes([1]) + bytes(63))[0].hiding.encoding == bytes([1]) + bytes(31)


def test_signature_share():
    share = SignatureShare(cs.random_scalar())
    assert SignatureShare.from_bytes(share.to_bytes()) == share
    with pytest.raises(MalformedEncoding, match="signature share is not canonical"):
        SignatureShare.from_bytes(cs.ORDER.to_bytes(32, "little"))
    with pytest.raises(InvalidLength):
        SignatureShare.from_bytes(bytes(33))


class TestKeyPackage:
    def test_secret_round_trip(self, keys_3of3):
        keys, _ = keys_3of3
        key = keys[Identifier(2)]
        sealed = key.to_bytes()
        assert isinstance(sealed, SecretBytes) and len(sealed) == 130
        restored = KeyPackage.from_bytes(sealed)
        assert restored == key
        assert KeyPackage.from_bytes(sealed.reveal()) == key

    def test_inconsistent_share_rejected(self, keys_3of3):
        keys, _ = keys_3of3
        raw = bytearray(keys[Identifier(2)].to_bytes().reveal())
        raw[64:96] = point()  # someone else's verifying share
        with pytest.raises(InvalidKeyPackage, match="does not match the signing share"):
            KeyPackage.from_bytes(bytes(raw))
        with pytest.raises(InvalidLength):
            KeyPackage.from_bytes(bytes(raw[:-1]))


class TestPublicKeyPackage:
    def test_bytes_round_trip(self, keys_3of3):
        _, public = keys_3of3
        assert PublicKeyPackage.from_bytes(public.to_bytes()) == public
        with pytest.raises(InvalidLength):
            PublicKeyPackage.from_bytes(public.to_bytes()[:-1])

    def test_duplicate_identifier_rejected(self, keys_3of3):
        _, public = keys_3of3
        raw = public.to_bytes()
        first = raw[36:100]
        forged = raw[:32] + b"\x00\x02\x00\x02" + first + first
        with pytest.raises(DuplicateIdentifier):
            PublicKeyPackage.from_bytes(forged)

    def test_json_is_frost_core_shape(self, keys_3of3):
        _, public = keys_3of3
        obj = json.loads(public.to_json())
        assert obj["header"] == {"version": 0, "ciphersuite": "FROST-ED25519-SHA512-v1"}
        assert obj["verifying_key"] == public.verifying_key.to_bytes().hex()
        assert obj["min_signers"] == 3
        assert obj["verifying_shares"][Identifier(1).to_bytes().hex()] == public.verifying_shares[Identifier(1)].to_bytes().hex()
        assert PublicKeyPackage.from_json(public.to_json()) == public

    def test_json_rejects(self, keys_3of3):
        _, public = keys_3of3
        obj = json.loads(public.to_json())
        with pytest.raises(MalformedEncoding, match="header"):
            PublicKeyPackage.from_json(json.dumps(obj | {"header": {"version": 1, "ciphersuite": "x"}}))
        with pytest.raises(MalformedEncoding, match="exactly"):
            PublicKeyPackage.from_json(json.dumps(obj | {"extra": 1}))
        with pytest.raises(InvalidPoint):
            PublicKeyPackage.from_json(json.dumps(obj | {"verifying_key": torsioned().hex()}))
        with pytest.raises(MalformedEncoding, match="hex"):
            PublicKeyPackage.from_json(json.dumps(obj | {"verifying_key": "zz"}))


def test_group_key_as_jwk(keys_3of3):
    _, public = keys_3of3
    jwk = public.verifying_key.to_jwk()
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and "d" not in jwk
    x = base64.urlsafe_b64decode(jwk["x"] + "=")
    assert x == public.verifying_key.to_bytes()
    assert OKPKey.import_key(jwk).as_dict() == jwk
    assert VerifyingKey.from_bytes(x) == public.verifying_key


class TestDkgPackages:
    def test_round1_round_trip(self):
        _, package = dkg.part1(Identifier(1), 3, 2)
        assert dkg.Round1Package.from_bytes(package.to_bytes()) == package
        assert len(package.to_bytes()) == 2 + 4 * 32
        with pytest.raises(InvalidLength):
            dkg.Round1Package.from_bytes(package.to_bytes() + b"\x00")
        forged = package.to_bytes()[:2] + torsioned() + package.to_bytes()[34:]
        with pytest.raises(InvalidPoint, match="VSS commitment"):
            dkg.Round1Package.from_bytes(forged)
        with pytest.raises(MalformedEncoding, match="at least one commitment"):
            dkg.Round1Package.from_bytes(b"\x00\x00" + package.to_bytes()[-64:])

    def test_round2_is_secret(self):
        ids = [Identifier(1), Identifier(2)]
        r1 = {i: dkg.part1(i, 2, 2) for i in ids}
        _, out = dkg.part2(r1[ids[0]][0], {ids[1]: r1[ids[1]][1]})
        sealed = out[ids[1]].to_bytes()
        assert isinstance(sealed, SecretBytes)
        assert dkg.Round2Package.from_bytes(sealed).signing_share == out[ids[1]].signing_share
        with pytest.raises(MalformedEncoding):
            dkg.Round2Package.from_bytes(cs.ORDER.to_bytes(32, "little"))

    def test_refresh_package_round_trip(self):
        _, package = refresh.part1(Identifier(1), 3, 3)
        assert refresh.RefreshPackage.from_bytes(package.to_bytes()) == package
        assert len(package.commitment) == 2
        with pytest.raises(InvalidLength):
            refresh.RefreshPackage.from_bytes(package.to_bytes()[:-1])

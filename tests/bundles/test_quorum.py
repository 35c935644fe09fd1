"""A quorum of administrators: bundles signed by k of the n pinned keys (`TrustPolicy.threshold`,
measured as `EnclaveConfig.bundle_threshold`); fewer valid distinct signatures is refused,
naming who signed and why the other signatures fail."""

from __future__ import annotations

import json
import time

import pytest
from bundle_fixtures import NOW

from accord.bundles import errors
from accord.bundles.build import sign_bundle
from accord.bundles.keys import fingerprint, generate_signing_key, load_public_keys
from accord.bundles.layout import read_tarball
from accord.bundles.verify import TrustPolicy, verify_bundle
from accord.protocols.jwk import build_jwks

ALICE, BOB, CAROL = (generate_signing_key("Ed25519"), generate_signing_key("ES256"), generate_signing_key("Ed25519"))
MALLORY = generate_signing_key("Ed25519")
ADMINS = (ALICE, BOB, CAROL)
TWO_OF_THREE = TrustPolicy(frozenset(fingerprint(k) for k in ADMINS), threshold=2)


def signed_by(archive: bytes, *keys) -> bytes:
    signatures = None
    for key in keys:
        signatures = sign_bundle(read_tarball(archive), key, iat=int(time.time()), add_to=signatures)
    return signatures


def verify(archive: bytes, signatures: bytes, trust=TWO_OF_THREE, keys=ADMINS):
    return verify_bundle(read_tarball(archive), public_key=[k.public for k in keys], trust=trust,
                         signature=signatures, now=NOW)  # fmt: skip


@pytest.fixture
def archive(make_bundle):
    return make_bundle().archive


def test_two_of_three_administrators_sign(archive):
    verified = verify(archive, signed_by(archive, ALICE, BOB))
    assert verified.signers == tuple(sorted((fingerprint(ALICE), fingerprint(BOB))))
    assert verify(archive, signed_by(archive, CAROL, BOB, ALICE)).signers == tuple(sorted(fingerprint(k) for k in ADMINS))


def test_one_signature_is_refused_naming_the_signer(archive):
    with pytest.raises(errors.InsufficientSignaturesError) as refused:
        verify(archive, signed_by(archive, ALICE))
    assert f"needs valid signatures by 2 distinct pinned administrators; signed by 1: {fingerprint(ALICE)}" in str(
        refused.value)  # fmt: skip


def test_a_foreign_key_and_a_repeated_signer_do_not_count(archive):
    signatures = signed_by(archive, ALICE, MALLORY)
    with pytest.raises(errors.InsufficientSignaturesError, match=f"signed by 1: {fingerprint(ALICE)}") as refused:
        verify(archive, signatures, keys=(*ADMINS, MALLORY))
    assert f"signature 2: verification key corresponding to ID {fingerprint(MALLORY)} not found" in str(refused.value)
    twice = signed_by(archive, ALICE, ALICE)  # the second replaces the first
    assert len(json.loads(twice)["signatures"]) == 1
    with pytest.raises(errors.InsufficientSignaturesError):
        verify(archive, twice)


def test_a_signature_of_another_bundle_is_refused(archive, make_bundle):
    other = make_bundle(version=2).archive
    mixed = json.dumps({"signatures": [json.loads(signed_by(archive, ALICE))["signatures"][0],
                                       json.loads(signed_by(other, BOB))["signatures"][0]]}).encode()  # fmt: skip
    with pytest.raises(errors.SignatureFormatError, match="different file lists"):
        verify(archive, mixed)
    with pytest.raises(errors.SignatureFormatError, match="sign other files"):
        sign_bundle(read_tarball(archive), BOB, iat=0, add_to=signed_by(other, ALICE))


def test_a_tampered_second_signature_does_not_count(archive):
    signatures = json.loads(signed_by(archive, ALICE, BOB))
    head, payload, sig = signatures["signatures"][1].split(".")
    signatures["signatures"][1] = ".".join((head, payload, ("A" if sig[0] != "A" else "B") + sig[1:]))
    with pytest.raises(errors.InsufficientSignaturesError, match="signature 2: failed to verify JWT signature"):
        verify(archive, json.dumps(signatures).encode())


def test_the_threshold_must_be_reachable():
    with pytest.raises(errors.KeyConfigError, match="cannot be met by 3 pinned"):
        TrustPolicy(TWO_OF_THREE.pinned_fingerprints, threshold=4)


def test_the_administrators_keys_come_as_a_jwks():
    keys = load_public_keys(json.dumps(build_jwks([k.public for k in ADMINS])).encode())
    assert [fingerprint(k) for k in keys] == [fingerprint(k) for k in ADMINS]
    assert load_public_keys(json.dumps(ALICE.public.to_dict()).encode()) == (ALICE.public,)
    with pytest.raises(errors.KeyFileError, match="at least one key"):
        load_public_keys(b'{"keys": []}')

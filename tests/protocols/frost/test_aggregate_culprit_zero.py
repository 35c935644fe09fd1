"""A zero signature share (z_i = 0) is an invalid share of that participant, not a crash."""

import pytest

from accord.protocols.frost.aggregate import aggregate
from accord.protocols.frost.errors import InvalidSignatureShare
from accord.protocols.frost.local import run_dkg
from accord.protocols.frost.round1 import commit
from accord.protocols.frost.round2 import SignatureShare, sign
from accord.protocols.frost.signing_package import SigningPackage


def test_zero_share_names_its_signer():
    keys, public = run_dkg(3, 3)
    nonces = {i: commit(k.signing_share) for i, k in keys.items()}
    package = SigningPackage({i: n.commitments for i, n in nonces.items()}, b"message")
    shares = {i: sign(package, nonces[i], keys[i]) for i in keys}
    culprit = sorted(keys)[1]
    shares[culprit] = SignatureShare(bytes(32))
    with pytest.raises(InvalidSignatureShare) as caught:
        aggregate(package, shares, public)
    assert caught.value.culprits == (culprit,)

"""Every participant in one process: the DKG and a signing session run end to end.

For the demo, tests and benchmarks only. In production each participant runs in its own
enclave; here one process sees every share, which is exactly what threshold signing exists
to prevent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from accord.protocols.frost import dkg
from accord.protocols.frost.aggregate import aggregate
from accord.protocols.frost.errors import InvalidKeyPackage
from accord.protocols.frost.identifier import Identifier
from accord.protocols.frost.keys import KeyPackage, PublicKeyPackage
from accord.protocols.frost.round1 import commit
from accord.protocols.frost.round2 import sign
from accord.protocols.frost.signing_package import SigningPackage


def run_dkg(
    max_signers: int, min_signers: int, identifiers: Iterable[Identifier] | None = None
) -> tuple[dict[Identifier, KeyPackage], PublicKeyPackage]:
    """Run DKG parts 1-3 for every participant; check they all derived the same public key
    package, and return each one's KeyPackage and that PublicKeyPackage."""
    ids = list(identifiers or (Identifier(i) for i in range(1, max_signers + 1)))
    round1 = {i: dkg.part1(i, max_signers, min_signers) for i in ids}
    round2 = {i: dkg.part2(round1[i][0], {j: round1[j][1] for j in ids if j != i}) for i in ids}
    results = {
        i: dkg.part3(round2[i][0], {j: round1[j][1] for j in ids if j != i}, {j: round2[j][1][i] for j in ids if j != i})
        for i in ids
    }
    public = results[ids[0]][1]
    if any(p != public for _, p in results.values()):
        raise InvalidKeyPackage("DKG participants derived different public key packages")
    return {i: key for i, (key, _) in results.items()}, public


def sign_locally(
    key_packages: Mapping[Identifier, KeyPackage],
    public_key_package: PublicKeyPackage,
    message: bytes,
    signers: Iterable[Identifier] | None = None,
) -> bytes:
    """One FROST signing session among `signers` (default: all), aggregated and verified."""
    chosen = list(signers or key_packages)
    nonces = {i: commit(key_packages[i].signing_share) for i in chosen}
    package = SigningPackage({i: n.commitments for i, n in nonces.items()}, message)
    shares = {i: sign(package, nonces[i], key_packages[i]) for i in chosen}
    return aggregate(package, shares, public_key_package)

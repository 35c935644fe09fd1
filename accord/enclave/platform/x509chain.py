"""Certificate chain validation for attestation documents: pinned root -> cabundle -> leaf.

Each link is checked explicitly, so that every failure gets its own exception and message:
ECDSA P-384 / SHA-384 keys and signatures, validity at the given time, issuer name equal to
the issuer's subject, the issuer's signature, basicConstraints (CA, pathLen) and keyUsage.
Then `cryptography`'s RFC 5280 path validation runs over the same chain at the same time as
a second, independent judge (for anything the explicit checks do not cover, such as unknown
critical extensions).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import SignatureAlgorithmOID
from cryptography.x509.verification import ExtensionPolicy, PolicyBuilder, Store, VerificationError

from accord.enclave.platform.errors import (
    CertificateChainError,
    CertificateExpiredError,
    CertificateNotYetValidError,
    UntrustedRootError,
)
from accord.enclave.platform.trust import TrustedRoot, public_key_of


def _name(certificate: x509.Certificate) -> str:
    return certificate.subject.rfc4514_string()


def _extension(certificate: x509.Certificate, kind: type) -> x509.ExtensionType | None:
    try:
        return certificate.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
    except ValueError as exc:  # extensions are parsed lazily: malformed ones surface here
        raise CertificateChainError(f"certificate {_name(certificate)!r} has malformed extensions: {exc}") from exc


def _check_algorithms(certificate: x509.Certificate) -> None:
    key = public_key_of(certificate, CertificateChainError, f"certificate {_name(certificate)!r}")
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP384R1):
        raise CertificateChainError(f"certificate {_name(certificate)!r} does not hold a P-384 key")
    if certificate.signature_algorithm_oid != SignatureAlgorithmOID.ECDSA_WITH_SHA384:
        raise CertificateChainError(f"certificate {_name(certificate)!r} is not signed with ecdsa-with-SHA384")


def _check_validity(certificate: x509.Certificate, at: datetime) -> None:
    if at < certificate.not_valid_before_utc:
        raise CertificateNotYetValidError(
            f"certificate {_name(certificate)!r} is valid from {certificate.not_valid_before_utc.isoformat()}, "
            f"not yet at {at.isoformat()}"
        )
    if at > certificate.not_valid_after_utc:
        raise CertificateExpiredError(
            f"certificate {_name(certificate)!r} expired at {certificate.not_valid_after_utc.isoformat()}, "
            f"before {at.isoformat()}"
        )


def _check_authority(certificate: x509.Certificate, cas_below: int) -> None:
    """`certificate` issues the next certificate; `cas_below` CA certificates follow it."""
    constraints = _extension(certificate, x509.BasicConstraints)
    if constraints is None or not constraints.ca:
        raise CertificateChainError(f"certificate {_name(certificate)!r} issues certificates but is not a CA")
    if constraints.path_length is not None and constraints.path_length < cas_below:
        raise CertificateChainError(
            f"certificate {_name(certificate)!r} has pathLen {constraints.path_length} "
            f"but {cas_below} CA certificates follow it"
        )
    usage = _extension(certificate, x509.KeyUsage)
    if usage is not None and not usage.key_cert_sign:
        raise CertificateChainError(f"certificate {_name(certificate)!r} has keyUsage without keyCertSign")


def _check_leaf(leaf: x509.Certificate) -> None:
    constraints = _extension(leaf, x509.BasicConstraints)
    if constraints is not None and constraints.ca:
        raise CertificateChainError(f"signing certificate {_name(leaf)!r} is a CA certificate")
    usage = _extension(leaf, x509.KeyUsage)
    if usage is not None and not usage.digital_signature:
        raise CertificateChainError(f"signing certificate {_name(leaf)!r} has keyUsage without digitalSignature")


def _check_issued_by(certificate: x509.Certificate, issuer: x509.Certificate, root: TrustedRoot | None) -> None:
    """`root` is given for the first link, whose failure means another root signed the chain."""
    if certificate.issuer != issuer.subject:
        problem = f"certificate {_name(certificate)!r} names issuer {certificate.issuer.rfc4514_string()!r}"
        if root is not None:
            raise UntrustedRootError(f"{problem}, not the pinned root {root.subject!r} (sha256 {root.sha256})")
        raise CertificateChainError(f"{problem}, but the previous certificate is {_name(issuer)!r}")
    try:
        certificate.verify_directly_issued_by(issuer)
    except InvalidSignature:
        if root is not None:
            raise UntrustedRootError(
                f"certificate {_name(certificate)!r} is not signed by the pinned root {root.subject!r} "
                f"(sha256 {root.sha256})"
            ) from None
        raise CertificateChainError(
            f"certificate {_name(certificate)!r} is not signed by its issuer {_name(issuer)!r}"
        ) from None
    except (ValueError, TypeError) as exc:
        raise CertificateChainError(f"certificate {_name(certificate)!r} cannot be checked: {exc}") from exc


def _path_validation(root: TrustedRoot, intermediates: Sequence[x509.Certificate], leaf: x509.Certificate, at: datetime) -> None:
    # The leaf is a signing certificate, not a TLS client: no EKU or SAN requirements for it.
    verifier = (
        PolicyBuilder()
        .store(Store([root.certificate]))
        .time(at)
        .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=ExtensionPolicy.permit_all())
        .build_client_verifier()
    )
    try:
        verifier.verify(leaf, list(intermediates))
    except VerificationError as exc:
        raise CertificateChainError(f"X.509 path validation rejected the chain: {exc}") from exc


def validate_chain(
    root: TrustedRoot, intermediates: Sequence[x509.Certificate], leaf: x509.Certificate, at: datetime
) -> None:
    """Check that root -> intermediates -> leaf is a valid chain at time `at` (aware datetime).

    `intermediates` are ordered from the root's child down to the leaf's issuer (the
    document's `cabundle[1:]`).
    """
    chain = [root.certificate, *intermediates, leaf]
    for certificate in chain:
        _check_algorithms(certificate)
    # Whether the chain hangs from the pinned root at all comes first, then time.
    for position, (issuer, certificate) in enumerate(zip(chain, chain[1:])):
        _check_issued_by(certificate, issuer, root if position == 0 else None)
        _check_authority(issuer, cas_below=len(intermediates) - position)
    _check_leaf(leaf)
    for certificate in chain:
        _check_validity(certificate, at)
    _path_validation(root, intermediates, leaf, at)

"""Trust anchors for attestation: a root certificate pinned by the SHA-256 of its DER.

The root inside a document's `cabundle` is never trusted; verification starts from a
`TrustedRoot` the verifier holds. The AWS Nitro Enclaves Root-G1 certificate is embedded
below and checked against its published fingerprint when loaded.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding

from accord.enclave.platform.errors import MalformedAttestationError, RootPinMismatchError

# AWS Nitro Enclaves Root-G1 (CN=aws.nitro-enclaves, OU=AWS, O=Amazon, C=US), P-384,
# valid 2019-10-28 to 2049-10-28, as AWS distributes it.
AWS_NITRO_ROOT_G1_PEM = b"""-----BEGIN CERTIFICATE-----
MIICETCCAZagAwIBAgIRAPkxdWgbkK/hHUbMtOTn+FYwCgYIKoZIzj0EAwMwSTEL
MAkGA1UEBhMCVVMxDzANBgNVBAoMBkFtYXpvbjEMMAoGA1UECwwDQVdTMRswGQYD
VQQDDBJhd3Mubml0cm8tZW5jbGF2ZXMwHhcNMTkxMDI4MTMyODA1WhcNNDkxMDI4
MTQyODA1WjBJMQswCQYDVQQGEwJVUzEPMA0GA1UECgwGQW1hem9uMQwwCgYDVQQL
DANBV1MxGzAZBgNVBAMMEmF3cy5uaXRyby1lbmNsYXZlczB2MBAGByqGSM49AgEG
BSuBBAAiA2IABPwCVOumCMHzaHDimtqQvkY4MpJzbolL//Zy2YlES1BR5TSksfbb
48C8WBoyt7F2Bw7eEtaaP+ohG2bnUs990d0JX28TcPQXCEPZ3BABIeTPYwEoCWZE
h8l5YoQwTcU/9KNCMEAwDwYDVR0TAQH/BAUwAwEB/zAdBgNVHQ4EFgQUkCW1DdkF
R+eWw5b6cp3PmanfS5YwDgYDVR0PAQH/BAQDAgGGMAoGCCqGSM49BAMDA2kAMGYC
MQCjfy+Rocm9Xue4YnwWmNJVA44fA0P5W2OpYow9OYCVRaEevL8uO1XYru5xtMPW
rfMCMQCi85sWBbJwKKXdS6BptQFuZbT73o/gBh1qUxl/nNr12UO8Yfwr6wPLb+6N
IwLz3/Y=
-----END CERTIFICATE-----
"""

# SHA-256 of the DER of Root-G1 (the value Turnkey and others publish and pin).
AWS_NITRO_ROOT_G1_SHA256 = "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b"


def load_certificate(data: bytes, what: str = "certificate") -> x509.Certificate:
    """Load a PEM or DER X.509 certificate."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except (ValueError, x509.InvalidVersion) as exc:  # InvalidVersion is not a ValueError
        raise MalformedAttestationError(f"{what} is not a valid X.509 certificate: {exc}") from exc


def public_key_of(certificate: x509.Certificate, error: type[Exception], what: str):
    """The certificate's public key, or `error` when it is malformed or of an unknown type."""
    try:
        return certificate.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise error(f"{what} has an unusable public key: {exc}") from exc


def der_sha256(certificate: x509.Certificate) -> str:
    """Hex SHA-256 of the certificate's DER encoding (its fingerprint)."""
    return hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest()


@dataclass(frozen=True)
class TrustedRoot:
    """A root certificate the verifier trusts, with its DER SHA-256 fingerprint."""

    certificate: x509.Certificate
    sha256: str

    @classmethod
    def pinned(cls, data: bytes, sha256: str) -> TrustedRoot:
        """Load `data` (PEM or DER) and require its DER SHA-256 to equal `sha256` (hex)."""
        certificate = load_certificate(data, "root certificate")
        actual = der_sha256(certificate)
        if not hmac.compare_digest(actual, sha256.lower()):
            raise RootPinMismatchError(f"root certificate has DER SHA-256 {actual}, pinned value is {sha256.lower()}")
        return cls(certificate, actual)

    @classmethod
    def from_certificate(cls, certificate: x509.Certificate) -> TrustedRoot:
        """Trust exactly this certificate (its fingerprint becomes the pin)."""
        return cls(certificate, der_sha256(certificate))

    @classmethod
    def load(cls, data: bytes) -> TrustedRoot:
        """Trust the PEM or DER certificate in `data` (an operator's explicit choice)."""
        return cls.from_certificate(load_certificate(data, "root certificate"))

    @property
    def subject(self) -> str:
        return self.certificate.subject.rfc4514_string()

    def __reduce__(self):
        # Public data: travels (e.g. to Ray actors) as DER and is re-pinned on arrival.
        return TrustedRoot.pinned, (self.certificate.public_bytes(Encoding.DER), self.sha256)


def aws_nitro_root_g1() -> TrustedRoot:
    """The AWS Nitro Enclaves Root-G1, checked against its pinned fingerprint."""
    return TrustedRoot.pinned(AWS_NITRO_ROOT_G1_PEM, AWS_NITRO_ROOT_G1_SHA256)

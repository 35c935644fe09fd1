"""A local certificate authority with the shape of the AWS Nitro PKI, for the simulated NSM.

Same hierarchy, algorithms and extensions as the real documents carry: root (30 years) ->
regional (20 days, pathLen 2) -> zonal (6 days, pathLen 1) -> instance (1 day, pathLen 0) ->
leaf (3 hours, not a CA), all P-384 with ecdsa-with-SHA384. Every name says SIMULATED and the
root is "Accord SIMULATED Nitro root (not AWS)", so a simulated document can never pass for
one signed by AWS: it verifies only where this root's fingerprint is pinned explicitly.

The simulated root's private key stands in for AWS's infrastructure, not for an enclave
secret; `save`/`load_or_create` share one simulated PKI between the processes of a cluster.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import cbor2
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from accord.atomic_file import write_atomic
from accord.enclave.platform.attestation import AttestationDocument, build_attestation
from accord.enclave.platform.errors import SimulatedPkiError
from accord.enclave.platform.strict_cbor import loads_exact
from accord.enclave.platform.trust import TrustedRoot
from accord.protocols.secret import SecretLeakError

ROOT_COMMON_NAME = "Accord SIMULATED Nitro root (not AWS)"
ORGANIZATION = "Accord"
ORGANIZATIONAL_UNIT = "SIMULATED (not AWS)"
DOMAIN = "accord-simulated-nitro"

ROOT_LIFETIME = timedelta(days=30 * 365)
REGIONAL_LIFETIME = timedelta(days=20, hours=1)
ZONAL_LIFETIME = timedelta(days=6)
INSTANCE_LIFETIME = timedelta(days=1)
LEAF_LIFETIME = timedelta(hours=3, seconds=3)
# A certificate is replaced when it would expire within this margin, so that a document
# stays verifiable for a while after it was produced.
REFRESH_MARGIN = timedelta(minutes=15)

PKI_FILE_VERSION = 1

_CA_USAGE = x509.KeyUsage(
    digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
    key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
)  # fmt: skip
_INSTANCE_USAGE = x509.KeyUsage(
    digital_signature=False, content_commitment=False, key_encipherment=False, data_encipherment=False,
    key_agreement=False, key_cert_sign=True, crl_sign=False, encipher_only=False, decipher_only=False,
)  # fmt: skip
_LEAF_USAGE = x509.KeyUsage(
    digital_signature=True, content_commitment=True, key_encipherment=False, data_encipherment=False,
    key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
)  # fmt: skip


def _name(common_name: str) -> x509.Name:
    common_name = common_name[:64]  # the X.520 upper bound; the name is descriptive only
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ORGANIZATIONAL_UNIT),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def is_current(certificate: x509.Certificate, now: datetime) -> bool:
    """Valid at `now` and for at least REFRESH_MARGIN more."""
    return certificate.not_valid_before_utc <= now and now + REFRESH_MARGIN <= certificate.not_valid_after_utc


@dataclass(frozen=True)
class _Profile:
    lifetime: timedelta
    path_length: int | None
    ca: bool
    usage: x509.KeyUsage


_REGIONAL = _Profile(REGIONAL_LIFETIME, 2, True, _CA_USAGE)
_ZONAL = _Profile(ZONAL_LIFETIME, 1, True, _CA_USAGE)
_INSTANCE = _Profile(INSTANCE_LIFETIME, 0, True, _INSTANCE_USAGE)
_LEAF = _Profile(LEAF_LIFETIME, None, False, _LEAF_USAGE)


class CertificateAuthority:
    """A certificate with its P-384 private key. Never pickled, never printed."""

    __slots__ = ("certificate", "_key")

    def __init__(self, certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        self.certificate = certificate
        self._key = key

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    def issue(self, common_name: str, profile: _Profile, now: datetime) -> CertificateAuthority:
        """Issue a child certificate (fresh key) valid from `now` for the profile's lifetime."""
        key = ec.generate_private_key(ec.SECP384R1())
        start = now.replace(microsecond=0)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + profile.lifetime)
            .add_extension(x509.BasicConstraints(ca=profile.ca, path_length=profile.path_length), critical=True)
            .add_extension(profile.usage, critical=profile.ca)
        )
        if profile.ca:
            builder = builder.add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            ).add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False
            )
        return CertificateAuthority(builder.sign(self._key, hashes.SHA384()), key)

    def sign_document(self, document: AttestationDocument) -> bytes:
        """Sign an attestation document whose `certificate` is this one."""
        if document.certificate != self.der:
            raise SimulatedPkiError("the document names another certificate than the signing one")
        return build_attestation(document, self._key)

    def _to_wire(self) -> list[bytes]:
        key = self._key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return [self.der, key]

    @classmethod
    def _from_wire(cls, item: object) -> CertificateAuthority:
        if not (isinstance(item, list) and len(item) == 2 and all(isinstance(v, bytes) for v in item)):
            raise SimulatedPkiError("PKI file entry must be [certificate DER, PKCS#8 key DER]")
        try:
            certificate = x509.load_der_x509_certificate(item[0])
            key = serialization.load_der_private_key(item[1], password=None)
            matches = isinstance(key, ec.EllipticCurvePrivateKey) and key.public_key() == certificate.public_key()
        except (ValueError, TypeError, UnsupportedAlgorithm, x509.InvalidVersion) as exc:  # cryptography on bad DER
            raise SimulatedPkiError(f"PKI file entry does not load: {exc}") from exc
        if not matches:
            raise SimulatedPkiError("PKI file entry's key does not match its certificate")
        return cls(certificate, key)

    def __repr__(self) -> str:
        return f"<CertificateAuthority {self.certificate.subject.rfc4514_string()!r}, key redacted>"

    def __reduce__(self):
        raise SecretLeakError("a certificate authority's private key must not be pickled")


class SimulatedNitroPki:
    """The simulated AWS side: root, regional and zonal CAs; issues instance and leaf certs."""

    def __init__(self, root: CertificateAuthority, regional: CertificateAuthority, zonal: CertificateAuthority,
                 region: str = "sim-region-1") -> None:  # fmt: skip
        self.root = root
        self.regional = regional
        self.zonal = zonal
        self.region = region
        self._instances: dict[str, CertificateAuthority] = {}

    @classmethod
    def generate(cls, *, now: datetime, region: str = "sim-region-1") -> SimulatedNitroPki:
        """A fresh hierarchy whose root is valid from a day before `now`."""
        key = ec.generate_private_key(ec.SECP384R1())
        name = _name(ROOT_COMMON_NAME)
        start = (now - timedelta(days=1)).replace(microsecond=0)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + ROOT_LIFETIME)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(_CA_USAGE, critical=True)
            .sign(key, hashes.SHA384())
        )
        root = CertificateAuthority(certificate, key)
        regional = root.issue(f"{secrets.token_hex(8)}.{region}.{DOMAIN}", _REGIONAL, start)
        zonal = regional.issue(f"{secrets.token_hex(8)}.zonal.{region}.{DOMAIN}", _ZONAL, now)
        return cls(root, regional, zonal, region)

    def trusted_root(self) -> TrustedRoot:
        """The root to pin when verifying simulated documents."""
        return TrustedRoot.from_certificate(self.root.certificate)

    def _refresh(self, now: datetime) -> None:
        if not is_current(self.regional.certificate, now):
            self.regional = self.root.issue(f"{secrets.token_hex(8)}.{self.region}.{DOMAIN}", _REGIONAL, now)
            self.zonal = self.regional.issue(f"{secrets.token_hex(8)}.zonal.{self.region}.{DOMAIN}", _ZONAL, now)
            self._instances.clear()
        elif not is_current(self.zonal.certificate, now):
            self.zonal = self.regional.issue(f"{secrets.token_hex(8)}.zonal.{self.region}.{DOMAIN}", _ZONAL, now)
            self._instances.clear()
        if not is_current(self.root.certificate, now):
            raise SimulatedPkiError(f"the simulated root is not valid at {now.isoformat()}")

    def issue_leaf(self, instance_id: str, module_id: str, now: datetime) -> tuple[CertificateAuthority, tuple[bytes, ...]]:
        """A fresh 3-hour signing certificate for `module_id` on `instance_id`, with its
        cabundle (root, regional, zonal, instance), renewing intermediates as needed."""
        self._refresh(now)
        instance = self._instances.get(instance_id)
        if instance is None or not is_current(instance.certificate, now):
            instance = self.zonal.issue(f"{instance_id}.{self.region}.{DOMAIN}", _INSTANCE, now)
            self._instances[instance_id] = instance
        leaf = instance.issue(f"{module_id}.{self.region}.sim", _LEAF, now)
        return leaf, (self.root.der, self.regional.der, self.zonal.der, instance.der)

    def to_bytes(self) -> bytes:
        """Serialize root, regional and zonal (certificates and keys) for `load`."""
        return cbor2.dumps(
            {
                "version": PKI_FILE_VERSION,
                "region": self.region,
                "root": self.root._to_wire(),
                "regional": self.regional._to_wire(),
                "zonal": self.zonal._to_wire(),
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> SimulatedNitroPki:
        """Inverse of `to_bytes`."""
        item = loads_exact(data, SimulatedPkiError, "simulated PKI file")
        if not isinstance(item, dict) or item.get("version") != PKI_FILE_VERSION:
            raise SimulatedPkiError(f"simulated PKI file is not version {PKI_FILE_VERSION}")
        region = item.get("region")
        if not isinstance(region, str):
            raise SimulatedPkiError("simulated PKI file has no region")
        return cls(*(CertificateAuthority._from_wire(item.get(k)) for k in ("root", "regional", "zonal")), region)

    @classmethod
    def load_or_create(cls, path: Path, *, now: datetime) -> SimulatedNitroPki:
        """Load the PKI at `path`, creating it first if absent (safe between processes)."""
        if not path.exists():
            write_atomic(path, cls.generate(now=now).to_bytes(), exclusive=True)
        return cls.from_bytes(path.read_bytes())

    def __repr__(self) -> str:
        return f"<SimulatedNitroPki root {ROOT_COMMON_NAME!r}, keys redacted>"

    def __reduce__(self):
        raise SecretLeakError("the simulated PKI holds private keys and must not be pickled")

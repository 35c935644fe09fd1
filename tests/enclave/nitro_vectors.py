"""Shared data of the enclave tests: the real Nitro vectors with their README facts, fixed times."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509

from accord.enclave.configuration import EnclaveConfig

NITRO = Path(__file__).parent.parent / "vectors" / "nitro"
# Deterministic "now" for everything simulated; the real documents use their own timestamps.
NOW = datetime(2031, 3, 14, 15, 9, 26, tzinfo=UTC)
CONFIG = EnclaveConfig(("a1" * 32,))
OTHER_CONFIG = EnclaveConfig(("b2" * 32,))


@dataclass(frozen=True)
class RealDocument:
    """One AWS-signed document and the facts the vectors' README states about it."""

    name: str
    path: str
    encoding: str  # "raw", "base64" or "pem-san" (hex in the longest DNS SAN's first label)
    timestamp: int
    debug: bool
    module_id: str
    file_sha256: str

    def load(self) -> bytes:
        data = (NITRO / self.path).read_bytes()
        if self.encoding == "base64":
            return base64.b64decode(b"".join(data.split()))
        if self.encoding == "pem-san":
            san = x509.load_pem_x509_certificate(data).extensions.get_extension_for_class(x509.SubjectAlternativeName)
            return bytes.fromhex(max(san.value.get_values_for_type(x509.DNSName), key=len).split(".")[0])
        return data


REAL_DOCUMENTS = [
    RealDocument("evervault-valid-b64", "evervault/valid-attestation-doc-base64", "base64", 1695049410860, True,
                 "i-0918f6c55e3b61d89-enc018aa8b8e2285d13",
                 "11530bdf00175736288bd47530c9b51a247d80b4f67ffd41353cb06d33342d58"),
    RealDocument("evervault-valid", "evervault/valid-attestation-doc-bytes", "raw", 1665651482136, False,
                 "i-020b6af9246d90e92-enc0183d09086c24190",
                 "a72552688ab6de06b9039ebda2bd5ae9285860ec886f841da94351681dfb3eb6"),
    RealDocument("evervault-debug", "evervault/debug-mode-attestation-doc-bytes", "raw", 1665582606081, True,
                 "i-03ad7cdb817437eeb-enc0183cc7569b3f6e1",
                 "46591b92f9abefaace22a6d7ea4ca9c7007dfdbe788fbe8634b230ec2043a789"),
    RealDocument("evervault-cert-prod", "evervault/non-debug-cert-containing-attestation-document-18-1-23.pem",
                 "pem-san", 1674047239280, False, "i-0ec0e572c8263d8ff-enc0185c4fd382eeb25",
                 "633df521ca09e05836e3cd262c0b194eac8f5e5d86b40582aa319dcf1c5b299e"),
    RealDocument("evervault-cert-debug", "evervault/debug-mode-cert-containing-attestation-doc-18-1-23.pem",
                 "pem-san", 1674054632312, True, "i-06e1ffc9a8410edb1-enc0185c56e099c2d54",
                 "5872f370fd423e0c05c36fd4019d2a63b9f16d67b2ad83feda87b2e909994341"),
    RealDocument("tkhq-qos", "tkhq-qos/mock_attestation_doc", "raw", 1657117102484, False,
                 "i-07e25f3bada361dec-enc0181d3dff86da785",
                 "e20c1c02f1ba596d7dba0728b300751d077be5a645fe11e3f580772965e53ab7"),
    RealDocument("marlin-aws", "marlin/aws.bin", "raw", 1734075478960, False,
                 "i-0f1cd77d37fd8bcc9-enc018e7aa61e2040ff",
                 "f7db70c9196856abd6c8c8bf7f1fc6cd3ab5dd6575bb5d3aa14bc21b2d6404fa"),
    RealDocument("marlin-pcr16", "marlin/aws_pcr16.bin", "raw", 1745922759691, False,
                 "i-07859a25773d39fcc-enc01968119042c6454",
                 "7b0ca130a8e2332b6544d60d0724b1e9e8bceba66ee5019385d1b6b16cabf2af"),
    RealDocument("marlin-attestation", "marlin/attestation.bin", "raw", 1723012689640, False,
                 "i-084e1dd2f1b2c529b-enc0190fecc5b166251",
                 "883f54f947d1f8074e980163cb5daa2a4f5449beaddbcea59ac16a80689e9cd1"),
]  # fmt: skip


def clock_at(moment: datetime = NOW):
    return lambda: moment


class MutableClock:
    """A clock tests can move."""

    def __init__(self, moment: datetime = NOW) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment

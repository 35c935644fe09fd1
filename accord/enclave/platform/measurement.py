"""What a simulated enclave attests to: the code it runs and the configuration it pins.

On Nitro, PCR0 measures the enclave image, PCR1 the kernel and boot ramdisk, PCR2 the
application. The simulation measures the real equivalents of the running process:

- PCR2 (application): SHA-384 over every file of the `accord` package (sorted relative
  path, length-prefixed, with each file's SHA-384), so changing any line changes it;
- PCR1 (runtime): SHA-384 over the Python implementation and the versions of the
  cryptographic libraries the enclave code relies on;
- PCR0 (image): SHA-384 over the application and runtime digests and the `EnclaveConfig`
  (its canonical JSON: deployment, platform, root, KMS, group shape, evaluator parameters
  and the pinned bundle-signing key fingerprints; see `configuration`).

Each PCR value is an NSM extend from zero: PCR = SHA-384(48 zero bytes || digest), which is
also how Nitro's PCR4 relates to the instance id.
"""

from __future__ import annotations

import functools
import hashlib
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import accord
from accord.protocols import canonical_json

if TYPE_CHECKING:
    from accord.enclave.configuration import EnclaveConfig

PCR_SIZE = 48
ZERO_PCR = bytes(PCR_SIZE)
_RUNTIME_PACKAGES = ("cryptography", "cbor2", "asn1crypto", "PyNaCl")


def extend(pcr: bytes, data: bytes) -> bytes:
    """The NSM's PCR extend: SHA-384(pcr || data)."""
    return hashlib.sha384(pcr + data).digest()


def _package_files(root: Path) -> list[Path]:
    return sorted(
        (p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"),
        key=lambda p: p.relative_to(root).as_posix(),
    )


def measure_tree(root: Path) -> bytes:
    """SHA-384 over the files below `root` (relative path and content of each, sorted)."""
    total = hashlib.sha384(b"accord-measurement-v1\0")
    for path in _package_files(root):
        name = path.relative_to(root).as_posix().encode()
        total.update(len(name).to_bytes(4, "big") + name)
        total.update(hashlib.sha384(path.read_bytes()).digest())
    return total.digest()


@functools.cache
def application_digest() -> bytes:
    """SHA-384 of the installed `accord` package, measured once per process (at 'boot')."""
    return measure_tree(Path(accord.__file__).parent)


@functools.cache
def runtime_digest() -> bytes:
    """SHA-384 of the interpreter and the versions of the crypto libraries."""
    parts = [sys.implementation.name, sys.version]
    for package in _RUNTIME_PACKAGES:
        try:
            parts.append(f"{package}=={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{package} absent")
    return hashlib.sha384(canonical_json.dumps(parts)).digest()


@dataclass(frozen=True)
class Measurement:
    """The digests a simulated enclave's PCR0/1/2 are extended with."""

    application: bytes
    runtime: bytes
    config: bytes

    @property
    def image(self) -> bytes:
        return hashlib.sha384(self.application + self.runtime + self.config).digest()

    def pcrs(self) -> dict[int, bytes]:
        """PCR0, PCR1, PCR2 as a production (non-debug) enclave reports them."""
        return {0: extend(ZERO_PCR, self.image), 1: extend(ZERO_PCR, self.runtime), 2: extend(ZERO_PCR, self.application)}


def measure(config: EnclaveConfig) -> Measurement:
    """Measure the running code with `config`. A verifier running the same release computes
    the same values, which is what its PCR policy expects."""
    return Measurement(application=application_digest(), runtime=runtime_digest(), config=config.digest())

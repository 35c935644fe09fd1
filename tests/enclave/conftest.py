"""Fixtures of the enclave tests: trust roots, a simulated PKI, an enclave factory."""

from __future__ import annotations

from pathlib import Path

import pytest
from nitro_vectors import CONFIG, NITRO, NOW, clock_at

from accord.enclave.configuration import EnclaveConfig
from accord.enclave.platform.enclave import Enclave
from accord.enclave.platform.pki import SimulatedNitroPki
from accord.enclave.platform.trust import TrustedRoot, aws_nitro_root_g1


@pytest.fixture(scope="session")
def aws_root() -> TrustedRoot:
    return aws_nitro_root_g1()


@pytest.fixture(scope="session")
def marlin_root() -> TrustedRoot:
    return TrustedRoot.load((NITRO / "marlin-mock" / "root.crt").read_bytes())


@pytest.fixture(scope="session")
def pki() -> SimulatedNitroPki:
    return SimulatedNitroPki.generate(now=NOW)


@pytest.fixture(scope="session")
def sim_root(pki) -> TrustedRoot:
    return pki.trusted_root()


@pytest.fixture
def make_enclave(pki, tmp_path):
    """Factory of simulated enclaves sharing the session PKI, each with its own state dir."""

    def make(enclave_id: str = "enclave-0", *, config: EnclaveConfig = CONFIG, debug: bool = False,
             clock=None, state_dir: Path | None = None) -> Enclave:  # fmt: skip
        return Enclave.simulated(
            enclave_id=enclave_id, config=config, state_dir=state_dir or tmp_path / enclave_id,
            pki=pki, debug=debug, clock=clock or clock_at(),
        )  # fmt: skip

    return make

"""An enclave as the rest of Accord sees it: an NSM, keys generated inside, and the calls
that attest, verify peers, talk to the KMS, seal state and open channels.

`Enclave.open` picks the NSM, the attestation root and so the peers it will trust from the
measured configuration, never from what it finds on the host: a Nitro configuration needs
/dev/nsm and trusts only the AWS root; a simulated one trusts the simulated PKI only if its
root is the one the configuration pins. Nothing here is picklable: the object holds private
keys and lives in one process (the actor that owns it).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from accord.enclave.platform.attestation import AttestationPolicy
from accord.enclave.platform.channel import SecureChannel
from accord.enclave.platform.errors import EnclaveConfigError, NsmUnavailableError, RootPinMismatchError
from accord.enclave.platform.identity import IdentityKeys, PeerIdentity
from accord.enclave.platform.kms import RecipientKey
from accord.enclave.platform.measurement import measure
from accord.enclave.platform.nitro_nsm import NitroNsm
from accord.enclave.platform.nsm import Nsm
from accord.enclave.platform.pki import SimulatedNitroPki
from accord.enclave.platform.sealing import SEALED_PCRS, KmsClient, SealedStore
from accord.enclave.platform.settings import Platform
from accord.enclave.platform.simulated_nsm import SimulatedNsm
from accord.enclave.platform.timeutil import Clock, utc_now
from accord.enclave.platform.trust import TrustedRoot, aws_nitro_root_g1
from accord.protocols.secret import SecretBytes, SecretLeakError

if TYPE_CHECKING:
    from accord.enclave.configuration import EnclaveConfig

_ENCLAVE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def expected_pcrs(config: EnclaveConfig) -> dict[int, bytes]:
    """PCR0/1/2 a production enclave of this release with `config` reports (for policies)."""
    return measure(config).pcrs()


class Enclave:
    """One enclave: its NSM, identity keys, Recipient key and state directory."""

    def __init__(self, *, enclave_id: str, config: EnclaveConfig, state_dir: Path, nsm: Nsm, root: TrustedRoot,
                 clock: Clock = utc_now) -> None:  # fmt: skip
        if not isinstance(enclave_id, str) or not _ENCLAVE_ID.fullmatch(enclave_id):
            raise EnclaveConfigError(f"enclave id {enclave_id!r} must be 1-64 letters, digits, '.', '_' or '-'")
        if config.attestation_root is not None and root.sha256 != config.attestation_root:
            raise RootPinMismatchError(
                f"the attestation root offered to enclave {enclave_id!r} has SHA-256 {root.sha256}; "
                f"the measured configuration pins {config.attestation_root}"
            )
        self.enclave_id = enclave_id
        self.trusted_root = root
        self.config = config
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.nsm = nsm
        self._clock = clock
        self._identity = IdentityKeys.generate()
        self._recipient: RecipientKey | None = None  # RSA-2048, generated on first KMS use

    @classmethod
    def simulated(cls, *, enclave_id: str, config: EnclaveConfig, state_dir: Path, pki: SimulatedNitroPki,
                  debug: bool = False, clock: Clock = utc_now) -> Enclave:  # fmt: skip
        """An enclave on the simulated NSM, measured from the running code and `config`."""
        if config.platform is not Platform.SIMULATED:
            raise EnclaveConfigError(f"the measured platform is {config.platform.value}; this enclave would be simulated")
        nsm = SimulatedNsm(pki=pki, measurement=measure(config), instance_id=enclave_id, debug=debug, clock=clock)
        return cls(enclave_id=enclave_id, config=config, state_dir=state_dir, nsm=nsm, root=pki.trusted_root(),
                   clock=clock)  # fmt: skip

    @classmethod
    def open(cls, *, enclave_id: str, config: EnclaveConfig, state_dir: Path,
             simulated_pki: Callable[[], SimulatedNitroPki] | None = None, clock: Clock = utc_now) -> Enclave:  # fmt: skip
        """The enclave the measured configuration describes: on Nitro the real NSM (refused
        when /dev/nsm is absent) under the AWS root; simulated, the simulated NSM under the
        PKI `simulated_pki()` returns, whose root must be the pinned one. Debug mode only
        where the configuration allows it."""
        if config.platform is Platform.NITRO:
            if not NitroNsm.available():
                raise NsmUnavailableError("the measured platform is nitro but this host has no /dev/nsm")
            return cls(enclave_id=enclave_id, config=config, state_dir=state_dir, nsm=NitroNsm(),
                       root=aws_nitro_root_g1(), clock=clock)  # fmt: skip
        if config.attestation_root is None:
            raise EnclaveConfigError("the measured configuration pins no attestation root")
        if simulated_pki is None:
            raise EnclaveConfigError("a simulated enclave needs the simulated PKI")
        return cls.simulated(enclave_id=enclave_id, config=config, state_dir=state_dir, pki=simulated_pki(),
                             debug=config.allow_debug, clock=clock)  # fmt: skip

    # --- attestation ---

    @property
    def is_debug(self) -> bool:
        """True when the NSM reports PCR0 as zeros (a debug-mode enclave)."""
        return not any(self.nsm.describe_pcr(0).data)

    def sealing_pcrs(self) -> dict[int, bytes]:
        """The PCRs sealed objects are bound to (PCR0/1/2: the code measurement)."""
        return self.nsm.pcrs(SEALED_PCRS)

    def attest(self, *, nonce: bytes | None = None, user_data: bytes | None = None,
               public_key: bytes | None = None) -> bytes:  # fmt: skip
        """A raw attestation document from the NSM."""
        return self.nsm.attestation(nonce=nonce, user_data=user_data, public_key=public_key)

    def identity_document(self, nonce: bytes | None = None) -> bytes:
        """An attestation document binding this enclave's identity keys (see `identity`);
        `nonce` is the verifier's challenge."""
        return self.attest(nonce=nonce, **self._identity.attestation_fields(self.enclave_id))

    def identity_public_key(self) -> bytes:
        """The identity signing key (Ed25519 SubjectPublicKeyInfo DER), as attested."""
        return self._identity.attestation_fields(self.enclave_id)["public_key"]

    def identity_sign(self, data: bytes) -> bytes:
        """Sign `data` with the attested identity key (peers verify with `PeerIdentity.verify`)."""
        return self._identity.sign(data)

    def peer_policy(self) -> AttestationPolicy:
        """What this enclave accepts from a peer: a document chaining to the pinned root,
        with this enclave's own PCR0/1/2 (the same code and measured configuration), debug
        only when the configuration allows it."""
        if self.config.attestation_root is None:
            raise EnclaveConfigError("the measured configuration pins no attestation root")
        return AttestationPolicy(self.trusted_root, self.sealing_pcrs(), allow_debug=self.config.allow_debug)

    def verify_peer(self, document: bytes, policy: AttestationPolicy | None = None, *,
                    nonce: bytes | None) -> PeerIdentity:  # fmt: skip
        """Verify a peer's identity document now, under `policy` (default: `peer_policy()`),
        against our `nonce`."""
        policy = policy or self.peer_policy()
        return PeerIdentity.from_document(policy.verify(document, at=self._clock(), nonce=nonce))

    def channel(self, peer: PeerIdentity, session_id: bytes) -> SecureChannel:
        """This enclave's end of a channel to a verified peer."""
        return SecureChannel(local_id=self.enclave_id, keys=self._identity, peer=peer, session_id=session_id)

    # --- KMS and sealing ---

    def _recipient_key(self) -> RecipientKey:
        if self._recipient is None:
            self._recipient = RecipientKey.generate()
        return self._recipient

    def recipient_document(self) -> bytes:
        """An attestation document whose `public_key` is the enclave's RSA-2048 Recipient key."""
        return self.attest(public_key=self._recipient_key().public_key_der())

    def open_ciphertext_for_recipient(self, ciphertext: bytes) -> SecretBytes:
        """Decode a KMS `CiphertextForRecipient` addressed to this enclave."""
        return self._recipient_key().open(ciphertext)

    def sealed_store(self, kms: KmsClient, key_id: str) -> SealedStore:
        """Sealed storage under this enclave's state directory, with data keys of `key_id`."""
        return SealedStore(self.state_dir, self, kms, key_id)

    def module_id(self) -> str:
        """The NSM's module id (starts with 'SIMULATED-' on the simulator)."""
        return self.nsm.describe_nsm().module_id

    def __repr__(self) -> str:
        return f"<Enclave {self.enclave_id} on {self.nsm!r}, keys redacted>"

    def __reduce__(self):
        raise SecretLeakError("an enclave holds private keys and must not be pickled")

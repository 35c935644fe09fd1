"""The FROST DKG (`accord.protocols.frost.dkg`) run between enclaves over secure channels.

The host only relays bytes. Each participant is an enclave that has verified every other
one's attestation and holds a `SecureChannel` to each, all in the DKG's session:

- round 1: its Round1Package, *signed* to every peer (public, but authenticated);
- round 2: to each peer j, *sealed* (HPKE to j's attested key, signed): our view of round 1
  (the SHA-256 of every participant's package, by identifier) and the secret share f_i(j).
  A participant who sent different round-1 packages to different peers (breaking the
  broadcast the DKG assumes) is thereby noticed, and named, by everyone;
- finish: check the shares (dkg.part3) and return the KeyPackage (seal it next) and the
  PublicKeyPackage.

Failures name an enclave: `DkgCheaterError` when its packages fail the DKG's checks,
`DkgMessageRejectedError` when a message on the link from it fails the channel's checks
(tampered, replayed, reordered, misaddressed: the host or the peer), and
`DkgBroadcastMismatchError` when its view of round 1 differs from ours.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import cbor2

from accord.enclave.platform.channel import SecureChannel
from accord.enclave.platform.errors import ChannelError, EnclaveError
from accord.protocols.frost import dkg, refresh
from accord.protocols.frost.errors import CulpritError, FrostError
from accord.protocols.frost.identifier import Identifier
from accord.protocols.frost.keys import KeyPackage, PublicKeyPackage
from accord.protocols.secret import SecretBytes, SecretLeakError

ROUND1 = "accord-dkg/round1"
ROUND2 = "accord-dkg/round2"
_SESSION_LABEL = "accord-dkg-session-v1"
_DIGEST = 32


class DkgTransportError(EnclaveError):
    """The DKG between enclaves failed because of `participant` (an enclave id)."""

    def __init__(self, participant: str, message: str) -> None:
        super().__init__(f"enclave {participant!r}: {message}")
        self.participant = participant


class DkgCheaterError(DkgTransportError):
    """A participant's round-1 or round-2 package failed the DKG's verification."""


class DkgMessageRejectedError(DkgTransportError):
    """A message on the link from this participant failed the channel's checks."""


class DkgBroadcastMismatchError(DkgTransportError):
    """This participant saw other round-1 packages than we did (equivocation)."""


class DkgProtocolError(DkgTransportError):
    """Messages are missing, come from outside the session, or rounds are out of order."""


@dataclass(frozen=True)
class DkgSession:
    """Who takes part (enclave id -> FROST identifier), the threshold, and the session id
    every channel of this DKG is opened with."""

    participants: Mapping[str, Identifier]
    min_signers: int
    session_id: bytes

    @classmethod
    def create(cls, enclave_ids: Sequence[str], min_signers: int, nonce: bytes) -> DkgSession:
        """Identifiers 1..n by sorted enclave id; the session id binds all parameters and
        `nonce` (fresh per DKG, agreed by the coordinator)."""
        ordered = sorted(set(enclave_ids))
        if len(ordered) != len(enclave_ids):
            duplicate = next(e for e in ordered if list(enclave_ids).count(e) > 1)
            raise DkgProtocolError(duplicate, "appears twice among the participants")
        participants = {enclave_id: Identifier(n) for n, enclave_id in enumerate(ordered, start=1)}
        session_id = hashlib.sha256(cbor2.dumps([_SESSION_LABEL, ordered, min_signers, nonce])).digest()
        return cls(participants, min_signers, session_id)

    @property
    def max_signers(self) -> int:
        return len(self.participants)


class DkgParticipant:
    """One enclave's side of the DKG. Holds secret DKG state: never pickled."""

    def __init__(self, enclave_id: str, session: DkgSession, channels: Mapping[str, SecureChannel]) -> None:
        peers = set(session.participants) - {enclave_id}
        if enclave_id not in session.participants or set(channels) != peers:
            raise DkgProtocolError(enclave_id, f"needs channels to exactly {sorted(peers)}")
        for peer, channel in channels.items():
            if channel.peer.enclave_id != peer or channel.local_id != enclave_id:
                raise DkgProtocolError(peer, "channel endpoints do not match the session")
            if channel.session_id != session.session_id:
                raise DkgProtocolError(peer, "channel belongs to another session")
        self.enclave_id = enclave_id
        self.session = session
        self.identifier = session.participants[enclave_id]
        self._channels = dict(channels)
        self._secret1: dkg.Round1SecretPackage | None = None
        self._secret2: dkg.Round2SecretPackage | None = None
        self._round1: dict[Identifier, dkg.Round1Package] = {}
        self._view: list[bytes] = []  # SHA-256 of each participant's round-1 package, by identifier

    def _enclave(self, identifier: Identifier) -> str:
        return next(e for e, i in self.session.participants.items() if i == identifier)

    def _receive(self, incoming: Mapping[str, bytes], opener: Callable[[SecureChannel, bytes], object]) -> dict:
        if set(incoming) != set(self._channels):
            missing, extra = set(self._channels) - set(incoming), set(incoming) - set(self._channels)
            culprit = sorted(missing or extra)[0]
            raise DkgProtocolError(culprit, f"round messages missing from {sorted(missing)}, unexpected from {sorted(extra)}")
        received = {}
        for peer, envelope in sorted(incoming.items()):
            try:
                received[peer] = opener(self._channels[peer], envelope)
            except ChannelError as exc:
                raise DkgMessageRejectedError(peer, f"message rejected ({type(exc).__name__}): {exc}") from exc
        return received

    def _blame(self, exc: FrostError) -> DkgTransportError:
        if isinstance(exc, CulpritError):
            return DkgCheaterError(self._enclave(exc.culprit), f"{type(exc).__name__}: {exc}")
        return DkgProtocolError(self.enclave_id, f"{type(exc).__name__}: {exc}")

    # Overridable by tests that play a cheating participant.
    def _make_round1(self) -> tuple[dkg.Round1SecretPackage, dkg.Round1Package]:
        return dkg.part1(self.identifier, self.session.max_signers, self.session.min_signers)

    def _make_round2(self, received: dict[Identifier, dkg.Round1Package]):
        return dkg.part2(self._secret1, received)

    def _parse_round1(self, payload: bytes):
        return dkg.Round1Package.from_bytes(payload)

    def _finish(self, state: dkg.Round2SecretPackage, others: dict, shares: dict) -> tuple[KeyPackage, PublicKeyPackage]:
        return dkg.part3(state, others, shares)

    def round1(self) -> dict[str, bytes]:
        """Round 1: our package, signed to every peer (peer id -> envelope)."""
        if self._secret1 is not None:
            raise DkgProtocolError(self.enclave_id, "round 1 was already run")
        self._secret1, package = self._make_round1()
        self._round1[self.identifier] = package
        payload = package.to_bytes()
        return {peer: channel.sign(ROUND1, payload) for peer, channel in self._channels.items()}

    def round2(self, incoming: Mapping[str, bytes]) -> dict[str, bytes]:
        """Round 2: check the peers' signed round-1 packages, then seal to each peer its
        secret share and our round-1 transcript hash (peer id -> envelope)."""
        if self._secret1 is None or self._secret2 is not None:
            raise DkgProtocolError(self.enclave_id, "round 2 needs round 1 first, and runs once")
        payloads = self._receive(incoming, lambda channel, envelope: channel.open_signed(envelope, ROUND1))
        received = {}
        for peer, payload in payloads.items():
            try:
                received[self.session.participants[peer]] = self._parse_round1(payload)
            except FrostError as exc:
                raise DkgCheaterError(peer, f"round-1 package does not parse: {exc}") from exc
        try:
            self._secret2, shares = self._make_round2(received)
        except FrostError as exc:
            raise self._blame(exc) from exc
        self._round1.update(received)
        self._view = [hashlib.sha256(self._round1[i].to_bytes()).digest() for i in sorted(self._round1)]
        outgoing = {}
        for peer, channel in self._channels.items():
            share = shares[self.session.participants[peer]].to_bytes()
            outgoing[peer] = channel.seal(ROUND2, SecretBytes(b"".join(self._view) + share.reveal()))
            share.wipe()
        return outgoing

    def _check_view(self, reporter: str, view: bytes) -> None:
        """Compare `reporter`'s round-1 view with ours; name whose package differs."""
        ordered = sorted(self._round1)
        for position, ours in enumerate(self._view):
            if not hmac.compare_digest(view[position * _DIGEST : (position + 1) * _DIGEST], ours):
                differing = self._enclave(ordered[position])
                raise DkgBroadcastMismatchError(
                    differing, f"its round-1 package as seen by {reporter!r} differs from the one this enclave got"
                )

    def finish(self, incoming: Mapping[str, bytes]) -> tuple[KeyPackage, PublicKeyPackage]:
        """Check the sealed round-2 messages and derive our key package."""
        if self._secret2 is None:
            raise DkgProtocolError(self.enclave_id, "finish needs round 2 first, and runs once")
        opened = self._receive(incoming, lambda channel, envelope: channel.open_sealed(envelope, ROUND2))
        shares = {}
        view_size = _DIGEST * self.session.max_signers
        for peer, secret in opened.items():
            plaintext = secret.reveal()
            secret.wipe()
            self._check_view(peer, plaintext[:view_size])
            try:
                shares[self.session.participants[peer]] = dkg.Round2Package.from_bytes(plaintext[view_size:])
            except FrostError as exc:
                raise DkgCheaterError(peer, f"round-2 package does not parse: {exc}") from exc
        others = {i: p for i, p in self._round1.items() if i != self.identifier}
        state, self._secret2 = self._secret2, None
        try:
            return self._finish(state, others, shares)
        except FrostError as exc:
            raise self._blame(exc) from exc

    def __repr__(self) -> str:
        return f"<DkgParticipant {self.enclave_id} ({self.identifier.value}) in session {self.session.session_id.hex()[:16]}>"

    def __reduce__(self):
        raise SecretLeakError("a DKG participant holds secret DKG state and must not be pickled")


class RefreshParticipant(DkgParticipant):
    """One enclave's side of a proactive share refresh (`frost.refresh`): the DKG's message
    flow and checks, with zero-constant polynomials, ending in new shares of the same group
    key. Every participant of the old key takes part."""

    def __init__(self, enclave_id: str, session: DkgSession, channels: Mapping[str, SecureChannel],
                 old_key: KeyPackage, old_public: PublicKeyPackage) -> None:  # fmt: skip
        super().__init__(enclave_id, session, channels)
        if old_key.identifier != self.identifier:
            raise DkgProtocolError(enclave_id, "the share to refresh belongs to another participant")
        self._old_key, self._old_public = old_key, old_public

    def _make_round1(self):
        return refresh.part1(self.identifier, self.session.max_signers, self.session.min_signers)

    def _make_round2(self, received):
        return refresh.part2(self._secret1, received)

    def _parse_round1(self, payload: bytes):
        return refresh.RefreshPackage.from_bytes(payload)

    def _finish(self, state, others, shares):
        return refresh.part3(state, others, shares, self._old_key, self._old_public)


Relay = Callable[[str, str, str, bytes], bytes]


def run_locally(
    participants: Mapping[str, DkgParticipant], relay: Relay | None = None
) -> dict[str, tuple[KeyPackage, PublicKeyPackage]]:
    """Drive every participant's rounds in one process, passing each message through
    `relay(sender, recipient, round, envelope)` (the untrusted host; identity by default).
    The message flow is the one an actor layer implements across processes."""
    relay = relay or (lambda sender, recipient, step, envelope: envelope)

    def deliver(outgoing: dict[str, dict[str, bytes]], step: str) -> dict[str, dict[str, bytes]]:
        inboxes: dict[str, dict[str, bytes]] = {enclave_id: {} for enclave_id in participants}
        for sender, messages in outgoing.items():
            for recipient, envelope in messages.items():
                inboxes[recipient][sender] = relay(sender, recipient, step, envelope)
        return inboxes

    inboxes = deliver({e: p.round1() for e, p in participants.items()}, ROUND1)
    inboxes = deliver({e: p.round2(inboxes[e]) for e, p in participants.items()}, ROUND2)
    return {e: p.finish(inboxes[e]) for e, p in participants.items()}

"""Authenticated, ordered messages between two attested enclaves.

A message travels in an envelope
  [version, kind, session_id, sender, recipient, message_type, sequence, body, signature]
where `kind` is "sealed" (body = HPKE ciphertext to the recipient's attested X25519 key,
RFC 9180 base mode, with the encoded context as `info`, which RFC 9180 section 8.1 names as
the place for associated data in single-shot use) or "signed" (body = plaintext, for
broadcasts such as DKG round 1). The signature is the sender's attested Ed25519 key over the
context and the body (encrypt-then-sign). The context (session, both enclave ids, message
type, sequence number, kind) is therefore bound twice: into the ciphertext and the signature.

Each direction of a `SecureChannel` counts messages from 0; `open_*` accepts exactly the next
number, so the relaying host cannot replay, reorder, drop silently, redirect or alter them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import cbor2

from accord.enclave.platform.errors import (
    MalformedMessageError,
    MisaddressedMessageError,
    OutOfOrderMessageError,
    ReplayedMessageError,
    UnexpectedMessageTypeError,
    UnexpectedSenderError,
    WrongSessionError,
)
from accord.enclave.platform.identity import IdentityKeys, PeerIdentity
from accord.enclave.platform.strict_cbor import loads_exact
from accord.protocols.secret import SecretBytes, SecretLeakError

ENVELOPE_VERSION = 1
CONTEXT_LABEL = "accord-channel-v1"


class Kind(StrEnum):
    SEALED = "sealed"
    SIGNED = "signed"


@dataclass(frozen=True)
class MessageContext:
    """Everything a message is bound to besides its body."""

    kind: Kind
    session_id: bytes
    sender: str
    recipient: str
    message_type: str
    sequence: int

    def encode(self) -> bytes:
        """Deterministic CBOR of the context (the HPKE info and the signature prefix)."""
        return cbor2.dumps(
            [CONTEXT_LABEL, self.kind.value, self.session_id, self.sender, self.recipient, self.message_type, self.sequence]
        )

    def signed_bytes(self, body: bytes) -> bytes:
        return cbor2.dumps([self.encode(), body])


@dataclass(frozen=True)
class Envelope:
    """A message on the wire."""

    context: MessageContext
    body: bytes
    signature: bytes

    def to_bytes(self) -> bytes:
        c = self.context
        return cbor2.dumps(
            [ENVELOPE_VERSION, c.kind.value, c.session_id, c.sender, c.recipient, c.message_type, c.sequence,
             self.body, self.signature]
        )  # fmt: skip

    @classmethod
    def from_bytes(cls, data: bytes) -> Envelope:
        item = loads_exact(data, MalformedMessageError, "channel envelope")
        if not isinstance(item, list) or len(item) != 9:
            raise MalformedMessageError("channel envelope must be an array of 9 items")
        version, kind, session_id, sender, recipient, message_type, sequence, body, signature = item
        if version != ENVELOPE_VERSION:
            raise MalformedMessageError(f"channel envelope version {version!r} is not {ENVELOPE_VERSION}")
        if not isinstance(kind, str) or kind not in {k.value for k in Kind}:
            raise MalformedMessageError(f"unknown message kind {kind!r}")
        if not (
            isinstance(session_id, bytes) and isinstance(sender, str) and isinstance(recipient, str)
            and isinstance(message_type, str) and type(sequence) is int and sequence >= 0
            and isinstance(body, bytes) and isinstance(signature, bytes)
        ):  # fmt: skip
            raise MalformedMessageError("channel envelope fields have the wrong types")
        return cls(MessageContext(Kind(kind), session_id, sender, recipient, message_type, sequence), body, signature)


class SecureChannel:
    """One enclave's end of a channel to one attested peer, within one session."""

    def __init__(self, *, local_id: str, keys: IdentityKeys, peer: PeerIdentity, session_id: bytes) -> None:
        if peer.enclave_id == local_id:
            raise MisaddressedMessageError(f"a channel from {local_id!r} to itself is not allowed")
        self.local_id = local_id
        self.peer = peer
        self.session_id = bytes(session_id)
        self._keys = keys
        self._sent = 0
        self._received = 0

    def _context(self, kind: Kind, message_type: str) -> MessageContext:
        context = MessageContext(kind, self.session_id, self.local_id, self.peer.enclave_id, message_type, self._sent)
        self._sent += 1
        return context

    def _envelope(self, context: MessageContext, body: bytes) -> bytes:
        return Envelope(context, body, self._keys.sign(context.signed_bytes(body))).to_bytes()

    def seal(self, message_type: str, payload: bytes | SecretBytes) -> bytes:
        """Encrypt `payload` to the peer and sign: for secrets (e.g. DKG round-2 shares)."""
        plaintext = payload.reveal() if isinstance(payload, SecretBytes) else payload
        context = self._context(Kind.SEALED, message_type)
        return self._envelope(context, self.peer.hpke_seal(plaintext, context.encode()))

    def sign(self, message_type: str, payload: bytes) -> bytes:
        """Sign `payload` (sent in clear) for the peer: for public protocol messages."""
        return self._envelope(self._context(Kind.SIGNED, message_type), payload)

    def _accept(self, data: bytes, kind: Kind, expected_type: str) -> Envelope:
        envelope = Envelope.from_bytes(data)
        context = envelope.context
        if context.session_id != self.session_id:
            raise WrongSessionError(f"message is for session {context.session_id.hex()}, not {self.session_id.hex()}")
        if context.recipient != self.local_id:
            raise MisaddressedMessageError(f"message is addressed to {context.recipient!r}, not {self.local_id!r}")
        if context.sender != self.peer.enclave_id:
            raise UnexpectedSenderError(f"message claims sender {context.sender!r}; this channel's peer is {self.peer.enclave_id!r}")
        if context.message_type != expected_type or context.kind != kind:
            raise UnexpectedMessageTypeError(
                f"expected a {kind.value} {expected_type!r} message, got a {context.kind.value} {context.message_type!r}"
            )
        self.peer.verify(envelope.signature, context.signed_bytes(envelope.body))
        if context.sequence < self._received:
            raise ReplayedMessageError(f"message {context.sequence} from {context.sender!r} was already received")
        if context.sequence > self._received:
            raise OutOfOrderMessageError(
                f"message {context.sequence} from {context.sender!r} arrived before message {self._received}"
            )
        return envelope

    def open_sealed(self, data: bytes, expected_type: str) -> SecretBytes:
        """Verify, check order and decrypt a sealed message; the plaintext stays secret."""
        envelope = self._accept(data, Kind.SEALED, expected_type)
        plaintext = self._keys.hpke_open(envelope.body, envelope.context.encode())
        self._received += 1
        return SecretBytes(plaintext, f"{expected_type} from {self.peer.enclave_id}")

    def open_signed(self, data: bytes, expected_type: str) -> bytes:
        """Verify and check order of a signed message; returns its payload."""
        envelope = self._accept(data, Kind.SIGNED, expected_type)
        self._received += 1
        return envelope.body

    def __repr__(self) -> str:
        return f"<SecureChannel {self.local_id} -> {self.peer.enclave_id} session {self.session_id.hex()[:16]}>"

    def __reduce__(self):
        raise SecretLeakError("a channel holds the enclave's identity keys and must not be pickled")

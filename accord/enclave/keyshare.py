"""One FROST participant inside an enclave: the DKG, the sealed share, the nonce pool and the
signing rule.

The signing share exists in plaintext only in this object's memory. It is created by the
DKG over attested channels, sealed to the enclave's state directory (KMS data key, bound to
the enclave id and PCRs) and unsealed on the next start. Nonces live only in memory: after a
restart the pool is empty and every commitment handed out before is void (a new `epoch`
tells the coordinator so). The KeyShare signs only batches its own evaluator signed (see
`signing_link`), and only JWS signing inputs of access tokens under its own group key.

What the host cannot choose: the DKG's participants and threshold (the measured group of
`EnclaveConfig`), the peers (attested, same PCRs), the group a sealed share belongs to (its
`GroupBinding` is checked on unsealing), the participants of a signing package (exactly
the group), the peers' commitments it takes without decoding them (only from batches their
makers signed with their shares, `peer_commitments`; any other point is validated), and
what the KeyShare tells its evaluator (an attested `GroupKeyStatement`).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import cbor2

from accord.enclave.configuration import Role, evaluator_id
from accord.enclave.dkg_transport import DkgParticipant, DkgSession, RefreshParticipant
from accord.enclave.group_key import GroupBinding, GroupKeyStatement, GroupShapeMismatch, RetiredKey, statement_digest
from accord.enclave.platform.enclave import Enclave
from accord.enclave.platform.errors import EnclaveConfigError, EnclaveError
from accord.enclave.platform.identity import PeerIdentity
from accord.enclave.platform.sealing import SealedStore
from accord.enclave.signing_link import CommitmentBatch, ShareResult, SignRequest, commitment_batch_digest
from accord.protocols.frost import participant_signature
from accord.protocols.frost.binding import SigningContext
from accord.protocols.frost.errors import FrostError
from accord.protocols.frost.identifier import Identifier
from accord.protocols.frost.keys import KeyPackage, PublicKeyPackage
from accord.protocols.frost.round1 import NoncePool, SigningCommitments, SigningNonces, commit_batch
from accord.protocols.frost.round2 import sign_in_context
from accord.protocols.frost.signing_package import SigningPackage, ValidatedCommitments
from accord.protocols import canonical_json
from accord.protocols.jwk import b64url_encode
from accord.protocols.secret import SecretBytes, SecretLeakError
from accord.protocols.tokens import token_header

SHARE_OBJECT = "frost-keyshare"
NEXT_SHARE_OBJECT = "frost-keyshare-refreshed"  # a refreshed share, sealed until the group switches to it
_SEALED_FORMAT = "accord-keyshare-v3"  # v3: with the retired group keys
MAX_BATCH = 4096
MAX_POOL = 65536  # unused nonces held at most
MAX_PEER_COMMITMENTS = 16384  # vouched commitments kept per peer (older ones are validated again if used)
MAX_RETIREMENT = 30 * 86400  # a rotated-out key stays public at most this long


class KeyShareError(EnclaveError):
    """A KeyShare refused a request."""


class KeyShareNotReady(KeyShareError):
    """The KeyShare holds no share yet (no DKG run, or unsealing has not succeeded)."""


class KeyShareAlreadyProvisioned(KeyShareError):
    """A DKG was asked of a KeyShare that already holds a share."""


class NotPaired(KeyShareError):
    """No evaluator has paired with this KeyShare (or it restarted since)."""


class ForeignSignRequest(KeyShareError):
    """A sign request not signed by this KeyShare's own paired evaluator, or for another
    KeyShare instance."""


class UnvouchedCommitments(KeyShareError):
    """A relayed commitment batch that no peer of this group signed (forged, altered, or
    under a share the group no longer uses): its points are not taken."""


def joint_nonce(challenges: Sequence[bytes]) -> bytes:
    """The attestation nonce every participant of a bootstrap step uses: a hash over all
    participants' fresh challenges, so each verifier knows the documents are fresh for it."""
    digest = hashlib.sha256(b"accord-joint-nonce-v1")
    for challenge in sorted(challenges):
        digest.update(len(challenge).to_bytes(2, "big") + challenge)
    return digest.digest()


class KeyShareCore:
    """The enclave side of a KeyShare actor (pure: the actor only relays its calls)."""

    def __init__(self, enclave: Enclave, store: SealedStore) -> None:
        member = enclave.config.member(enclave.enclave_id)
        if member.role is not Role.KEYSHARE:
            raise EnclaveConfigError(f"{enclave.enclave_id!r} is configured as an {member.role.value}, not a KeyShare")
        self.enclave = enclave
        self.group = member.group
        self._store = store
        self._evaluator_id = evaluator_id(member.group, member.index)
        self.epoch = os.urandom(8).hex()
        self._key: KeyPackage | None = None
        self.binding: GroupBinding | None = None
        self.public: PublicKeyPackage | None = None
        self.kid: str | None = None
        self._pool: NoncePool | None = None
        self._ready: list[SigningNonces] = []  # precomputed SigningNonces, not yet handed out
        self._lock = threading.Lock()  # pool and precomputed nonces: the background refill thread
        self._token_header = b""
        self._evaluator: PeerIdentity | None = None
        self._challenges: dict[str, bytes] = {}
        self._dkg: DkgParticipant | None = None
        self._refresh: RefreshParticipant | None = None
        self._next: tuple[KeyPackage, GroupBinding] | None = None  # refreshed or rotated, not yet signing
        self.retired: tuple[RetiredKey, ...] = ()  # earlier group keys whose tokens may still be valid
        self.since = 0  # when the key in use became this group's (unix seconds; for its age)
        self._clock = time.time

    # --- the share: sealed state ---

    @property
    def ready(self) -> bool:
        return self._key is not None

    def has_sealed_share(self) -> bool:
        return self._store.exists(SHARE_OBJECT)

    def unseal(self) -> PublicKeyPackage:
        """Load the sealed share (KMS + attestation), and a refreshed one still waiting for
        the group's switch; raises UnsealError or a KMS error."""
        key, binding, self.retired, self.since = self._open(SHARE_OBJECT)
        self._install(key, binding)
        if self._store.exists(NEXT_SHARE_OBJECT):
            key, binding, _, _ = self._open(NEXT_SHARE_OBJECT)
            self._next = (key, binding)
        return self.public

    def _open(self, name: str) -> tuple[KeyPackage, GroupBinding, tuple[RetiredKey, ...], int]:
        secret = self._store.unseal(name)
        try:
            fmt, key_bytes, binding_bytes, retired, since = cbor2.loads(secret.reveal())
        except (ValueError, TypeError) as exc:
            raise KeyShareError(f"sealed share does not decode: {exc}") from None
        finally:
            secret.wipe()
        if fmt != _SEALED_FORMAT:
            raise KeyShareError(f"sealed share has format {fmt!r}, expected {_SEALED_FORMAT!r}")
        binding = GroupBinding.from_bytes(binding_bytes)
        binding.check(self.enclave.config, self.group)
        key = KeyPackage.from_bytes(SecretBytes(key_bytes))
        self._check(key, binding)
        if not isinstance(retired, list) or type(since) is not int:
            raise KeyShareError("sealed share's retired keys or key time do not decode")
        return key, binding, tuple(RetiredKey.decode(r) for r in retired), since

    def _check(self, key: KeyPackage, binding: GroupBinding) -> None:
        if key.identifier != binding.identifier_of(self.enclave.enclave_id):
            raise GroupShapeMismatch(f"share of participant {key.identifier.value}, but {self.enclave.enclave_id!r} is "
                                     f"participant {binding.identifier_of(self.enclave.enclave_id).value} of its group")  # fmt: skip
        if binding.public.verifying_shares.get(key.identifier) != key.verifying_share:
            raise KeyShareError("key package and public key package disagree on this participant's verifying share")

    def _install(self, key: KeyPackage, binding: GroupBinding) -> None:
        self._check(key, binding)
        public = binding.public
        self._key, self.binding, self.public, self.kid = key, binding, public, binding.kid
        self._token_header = b64url_encode(token_header(self.kid)).encode("ascii")
        self._pool = NoncePool(key.signing_share)
        # Commitments no signing package needs to decode again: our own, and peers' that
        # came in batches they signed (`peer_commitments`).
        self._known = ValidatedCommitments()

    def _seal(self, name: str = SHARE_OBJECT, key: KeyPackage | None = None, binding: GroupBinding | None = None) -> None:
        key, binding = key or self._key, binding or self.binding
        retired, since = ([r.encode() for r in self.retired], self.since) if name == SHARE_OBJECT else ([], 0)
        key_bytes = key.to_bytes()
        try:
            blob = SecretBytes(cbor2.dumps([_SEALED_FORMAT, key_bytes.reveal(), binding.to_bytes(), retired, since]))
        finally:
            key_bytes.wipe()
        try:
            self._store.seal(name, blob)
        finally:
            blob.wipe()

    # --- attestation challenges (pairing and DKG) ---

    def challenge(self, purpose: str) -> bytes:
        """A fresh challenge for the next attestation step named `purpose`."""
        self._challenges[purpose] = os.urandom(32)
        return self._challenges[purpose]

    def _joint(self, purpose: str, challenges: Sequence[bytes]) -> bytes:
        ours = self._challenges.pop(purpose, None)
        if ours is None or ours not in challenges:
            raise KeyShareError(f"the {purpose} challenges do not include this KeyShare's own fresh challenge")
        return joint_nonce(challenges)

    def identity_document(self, purpose: str, challenges: Sequence[bytes]) -> bytes:
        """An identity attestation with the joint nonce of `challenges` (which must include
        ours, so that we verify peers against the same value)."""
        nonce = self._joint(purpose, challenges)
        self._challenges[purpose] = nonce  # kept: peers' documents must carry the same nonce
        return self.enclave.identity_document(nonce)

    def _verify_peer(self, purpose: str, document: bytes) -> PeerIdentity:
        nonce = self._challenges.get(purpose)
        if nonce is None:
            raise KeyShareError(f"no {purpose} step is under way")
        return self.enclave.verify_peer(document, nonce=nonce)

    # --- the DKG, over attested channels ---

    def dkg_round1(self, documents: Mapping[str, bytes], min_signers: int | None = None) -> dict[str, bytes]:
        """Verify every peer's identity document (PCR policy, joint nonce), open channels and
        run DKG round 1. `documents`: enclave id -> identity document, ours included; they
        must be exactly the measured group, and `min_signers` (if the host says one) its
        threshold."""
        if self._key is not None:
            raise KeyShareAlreadyProvisioned("this KeyShare already holds a share; refresh it instead of a new DKG")
        session, channels = self._session("dkg", documents, min_signers)
        self._dkg = DkgParticipant(self.enclave.enclave_id, session, channels)
        return self._dkg.round1()

    def _session(self, purpose: str, documents: Mapping[str, bytes],
                 min_signers: int | None) -> tuple[DkgSession, dict[str, Any]]:  # fmt: skip
        """The measured group's attested channels for a DKG or a refresh (`purpose`)."""
        config = self.enclave.config
        expected = config.keyshare_ids(self.group)
        if set(documents) != set(expected):
            missing, extra = sorted(set(expected) - set(documents)), sorted(set(documents) - set(expected))
            raise GroupShapeMismatch(f"{purpose} participants differ from the measured group {list(expected)}: "
                                     f"missing {missing}, extra {extra}")  # fmt: skip
        if min_signers is not None and min_signers != config.threshold:
            raise GroupShapeMismatch(f"{purpose} threshold {min_signers} differs from the measured "
                                     f"{config.threshold}-of-{len(expected)}")  # fmt: skip
        nonce = self._challenges.get(purpose)
        if nonce is None:
            raise KeyShareError(f"{purpose}_round1 needs identity_document({purpose!r}, ...) first")
        peers = {}
        for enclave_id, document in sorted(documents.items()):
            if enclave_id == self.enclave.enclave_id:
                continue
            peer = self._verify_peer(purpose, document)
            if peer.enclave_id != enclave_id:
                raise KeyShareError(f"document offered for {enclave_id!r} attests enclave {peer.enclave_id!r}")
            peers[enclave_id] = peer
        # The purpose is part of the session: no DKG message opens in a refresh, or back.
        session = DkgSession.create(sorted(documents), config.threshold,
                                    nonce if purpose == "dkg" else hashlib.sha256(purpose.encode() + nonce).digest())  # fmt: skip
        return session, {e: self.enclave.channel(p, session.session_id) for e, p in peers.items()}

    def dkg_round2(self, incoming: Mapping[str, bytes]) -> dict[str, bytes]:
        return self._require_dkg().round2(incoming)

    def dkg_finish(self, incoming: Mapping[str, bytes]) -> PublicKeyPackage:
        """Finish the DKG, seal the share, and return the group's public key package."""
        participant = self._require_dkg()
        key, public = participant.finish(incoming)
        self._dkg = None
        self._challenges.pop("dkg", None)
        self._install(key, GroupBinding.for_config(self.enclave.config, self.group, public))
        self.since = int(self._clock())
        self._seal()
        return public

    def _require_dkg(self) -> DkgParticipant:
        if self._dkg is None:
            raise KeyShareError("no DKG is under way in this KeyShare")
        return self._dkg

    # --- proactive refresh: new shares of the same group key ---

    def refresh_round1(self, documents: Mapping[str, bytes], min_signers: int | None = None) -> dict[str, bytes]:
        """Start a refresh of this share with the whole measured group (attested as for the
        DKG, purpose 'refresh'). The share in use does not change until `switch_share`."""
        if self._key is None:
            raise KeyShareNotReady("this KeyShare holds no share to refresh")
        session, channels = self._session("refresh", documents, min_signers)
        self._refresh = RefreshParticipant(self.enclave.enclave_id, session, channels, self._key, self.public)
        return self._refresh.round1()

    def refresh_round2(self, incoming: Mapping[str, bytes]) -> dict[str, bytes]:
        return self._require_refresh().round2(incoming)

    # --- rotation: a new group key from a new DKG, while the current one still signs ---

    def rotate_round1(self, documents: Mapping[str, bytes], min_signers: int | None = None) -> dict[str, bytes]:
        """Start a DKG for the group's next key (attested as for the first DKG, purpose
        'rotate'). The key in use keeps signing until `switch_share`."""
        if self._key is None:
            raise KeyShareNotReady("this KeyShare holds no key to rotate")
        session, channels = self._session("rotate", documents, min_signers)
        self._dkg = DkgParticipant(self.enclave.enclave_id, session, channels)
        return self._dkg.round1()

    def rotate_round2(self, incoming: Mapping[str, bytes]) -> dict[str, bytes]:
        return self._require_dkg().round2(incoming)

    def rotate_finish(self, incoming: Mapping[str, bytes]) -> PublicKeyPackage:
        """Finish the DKG of the next key; seal its share beside the one in use."""
        participant = self._require_dkg()
        self._dkg = None
        key, public = participant.finish(incoming)
        self._challenges.pop("rotate", None)
        if public.verifying_key == self.public.verifying_key:
            raise KeyShareError("the rotation produced the same group key")
        return self._stage_next(key, public)

    def refresh_finish(self, incoming: Mapping[str, bytes]) -> PublicKeyPackage:
        """Check the refresh, seal the new share beside the one in use, and return the new
        public key package (same group key, new verifying shares)."""
        participant = self._require_refresh()
        self._refresh = None
        key, public = participant.finish(incoming)
        self._challenges.pop("refresh", None)
        if public.verifying_key != self.public.verifying_key:
            raise KeyShareError("the refresh would change the group key")
        return self._stage_next(key, public)

    def _stage_next(self, key: KeyPackage, public: PublicKeyPackage) -> PublicKeyPackage:
        """Seal a share the group will switch to, beside the one in use."""
        binding = GroupBinding.for_config(self.enclave.config, self.group, public)
        self._check(key, binding)
        self._seal(NEXT_SHARE_OBJECT, key, binding)
        self._next = (key, binding)
        return public

    def switch_share(self, retire_until: int | None = None) -> str:
        """Sign with the refreshed (or, after a rotation, the new key's) share from now on;
        the old share's sealed file is overwritten. This host's evaluator calls it at the
        group's switch batch, so the three KeyShares change shares between the same two
        batches; nonces held stay usable (a nonce does not depend on the share). After a
        crash it can be called again. Returns the kid.

        After a rotation the old key stays public, as retired, until `retire_until` (unix
        seconds, the same for the whole group so that its evaluators attest the same list):
        at least every token it may have signed must have expired by then (now + the measured
        token lifetime + clock skew), at most MAX_RETIREMENT from now."""
        if self._next is None:
            raise KeyShareError("no refreshed share is waiting here (run the refresh first)")
        key, binding = self._next
        if binding.kid != self.kid:  # a rotation: the old key's tokens stay valid a while
            evaluator, now = self.enclave.config.evaluator, int(self._clock())
            earliest = now + evaluator.max_token_lifetime + evaluator.clock_skew
            until = earliest if retire_until is None else retire_until
            if not earliest <= until <= now + MAX_RETIREMENT:
                raise KeyShareError(f"the old key must stay public until {earliest}..{now + MAX_RETIREMENT}, "
                                    f"not {until}: tokens it signed would fail, or it would outstay its use")  # fmt: skip
            old = RetiredKey(self.kid, canonical_json.dumps(self.public.verifying_key.to_jwk()).decode(), until)
            self.retired = (*self.live_retired(), old)
            self.since = now
        with self._lock:  # the background precompute reads the share too
            self._key, self.binding, self.public, self.kid = key, binding, binding.public, binding.kid
            self._token_header = b64url_encode(token_header(self.kid)).encode("ascii")
            self._pool.rekey(key.signing_share)
        self._seal()
        self._store.remove(NEXT_SHARE_OBJECT)
        self._next = None
        return self.kid

    def live_retired(self) -> tuple[RetiredKey, ...]:
        """The retired keys whose tokens may still be valid now."""
        now = int(self._clock())
        return tuple(r for r in self.retired if r.until > now)

    @property
    def refreshed_share_waiting(self) -> bool:
        return self._next is not None

    def _require_refresh(self) -> RefreshParticipant:
        if self._refresh is None:
            raise KeyShareError("no refresh is under way in this KeyShare")
        return self._refresh

    # --- pairing with the evaluator of the same enclave host ---

    def pair(self, document: bytes, evaluator_challenge: bytes) -> GroupKeyStatement:
        """Accept the evaluator whose identity document (with our 'pair' challenge as nonce)
        verifies under the PCR policy and names this host's evaluator, and answer with our
        attested statement of the group key (nonce: the evaluator's own challenge)."""
        if self._key is None:
            raise KeyShareNotReady("this KeyShare holds no share yet")
        nonce = self._challenges.pop("pair", None)
        if nonce is None:
            raise KeyShareError("pairing needs challenge('pair') first")
        if not isinstance(evaluator_challenge, bytes) or not 16 <= len(evaluator_challenge) <= 64:
            raise KeyShareError("the evaluator's pairing challenge must be 16..64 bytes")
        peer = self.enclave.verify_peer(document, nonce=nonce)
        if peer.enclave_id != self._evaluator_id:
            raise ForeignSignRequest(
                f"enclave {peer.enclave_id!r} is not this host's evaluator ({self._evaluator_id!r})"
            )
        self._evaluator = peer
        binding, retired = self.binding.to_bytes(), self.live_retired()
        digest = statement_digest(self.enclave.enclave_id, peer.enclave_id, self.epoch, binding, retired)
        return GroupKeyStatement(self.enclave.identity_document(evaluator_challenge), peer.enclave_id, self.epoch,
                                 binding, self.enclave.identity_sign(digest), retired)  # fmt: skip

    # --- signing ---

    def precompute(self, count: int) -> int:
        """Generate `count` nonces ahead of demand (a background thread calls this while the
        KeyShare is idle), so that handing out commitments costs no curve arithmetic. Like
        every nonce they live only in memory and die with the process. Returns how many are
        ready."""
        if self._key is None:
            return 0
        fresh = commit_batch(self._key.signing_share, count)  # outside the lock: the slow part
        with self._lock:
            self._ready.extend(fresh)
            return len(self._ready)

    @property
    def precomputed(self) -> int:
        return len(self._ready)

    def commitments(self, count: int) -> CommitmentBatch:
        """`count` fresh nonces; their commitments are public and go to the coordinator."""
        if self._pool is None:
            raise KeyShareNotReady("this KeyShare holds no share yet")
        if not 1 <= count <= MAX_BATCH:
            raise KeyShareError(f"commitment batch size must be in [1, {MAX_BATCH}], got {count}")
        with self._lock:
            if len(self._pool) + count > MAX_POOL:
                # Commitments the coordinator dropped are never used: start over rather than grow.
                self._pool.wipe()
                self._known.drop(self._key.identifier)
            ready, self._ready = self._ready[:count], self._ready[count:]
            missing = count - len(ready)
            batch = self._pool.add(ready + (commit_batch(self._key.signing_share, missing) if missing else []))
            # Our own points need no validation when they come back in a signing package.
            self._known.add(self._key.identifier, batch)
            key = self._key
        encoded = SigningCommitments.batch_to_bytes(batch)
        digest = commitment_batch_digest(key.identifier.value, self.epoch, encoded)
        return CommitmentBatch(key.identifier.value, self.epoch, encoded, participant_signature.sign(key, digest))

    def peer_commitments(self, batches: Sequence[CommitmentBatch]) -> int:
        """Take peers' commitment batches (relayed by the coordinator) whose signature
        verifies with that peer's verifying share in this group's public key package: their
        points then need no decoding when a signing package names them. Returns how many
        commitments were taken; raises UnvouchedCommitments, after taking the good batches,
        naming every batch that is not a peer's or does not verify."""
        if self._key is None:
            raise KeyShareNotReady("this KeyShare holds no share yet")
        public, own, taken, refused = self.public, self._key.identifier, 0, []
        for position, batch in enumerate(batches):
            try:
                identifier = Identifier(batch.identifier)
                share = public.verifying_shares.get(identifier) if identifier != own else None
                if share is None:
                    raise UnvouchedCommitments(f"participant {batch.identifier!r} is not a peer in this group")
                participant_signature.verify(identifier, share, batch.digest(), batch.signature)
                commitments = SigningCommitments.vouched_batch(batch.commitments)
            except (FrostError, UnvouchedCommitments, AttributeError, TypeError) as exc:
                refused.append(f"batch {position}: {exc}")
                continue
            with self._lock:
                self._known.add(identifier, commitments, limit=MAX_PEER_COMMITMENTS)
            taken += len(commitments)
        if refused:
            raise UnvouchedCommitments(f"{len(refused)} of {len(batches)} commitment batches refused: {'; '.join(refused)}")
        return taken

    def known_commitments(self, identifier: int) -> int:
        """How many unused commitments of participant `identifier` this KeyShare holds
        decoded: its own, and its peers' from batches they signed."""
        with self._lock:
            return self._known.count(Identifier(identifier))

    def sign(self, request: SignRequest) -> list[ShareResult]:
        """Sign every package of a batch its evaluator built; each result is R || z_i or why not."""
        if self._key is None:
            raise KeyShareNotReady("this KeyShare holds no share yet")
        if self._evaluator is None:
            raise NotPaired("no evaluator has paired with this KeyShare since it started")
        if request.evaluator_id != self._evaluator.enclave_id or request.keyshare_epoch != self.epoch:
            raise ForeignSignRequest(
                f"sign request for {request.evaluator_id!r}/epoch {request.keyshare_epoch}, this KeyShare serves "
                f"{self._evaluator.enclave_id!r}/epoch {self.epoch}"
            )
        if len(request.packages) > MAX_BATCH:
            raise KeyShareError(f"a sign request holds at most {MAX_BATCH} packages, got {len(request.packages)}")
        try:
            self._evaluator.verify(request.signature, request.digest())
        except EnclaveError as exc:
            raise ForeignSignRequest(f"sign request is not signed by the paired evaluator: {exc}") from exc
        return [self._sign_one(package) for package in request.packages]

    def _sign_one(self, raw: bytes) -> ShareResult:
        try:
            with self._lock:
                package = SigningPackage.from_bytes(raw, validated=self._known)
            self._check_token_input(package.message)
            listed = package.commitments.get(self._key.identifier)
            if listed is None:
                return ShareResult(error="the signing package has no commitments for this signer")
            signers, group = set(package.commitments), set(self.public.verifying_shares)
            if signers != group:
                raise GroupShapeMismatch(f"signing package participants {sorted(i.value for i in signers)} are not "
                                         f"the group's {sorted(i.value for i in group)}")  # fmt: skip
            with self._lock:
                nonces = self._pool.take(listed)
            context = SigningContext(package, self._key.verifying_key)
            share = sign_in_context(context, nonces, self._key, group=self.public)
            return ShareResult(share=context.group_commitment().encoding + share.to_bytes())
        except (FrostError, KeyShareError, GroupShapeMismatch) as exc:
            return ShareResult(error=f"{type(exc).__name__}: {exc}")

    def _check_token_input(self, message: bytes) -> None:
        """Sign only `b64url(header).b64url(claims)` whose header is exactly this group's
        access-token header: a KeyShare is not a general-purpose signing oracle."""
        head, dot, body = message.partition(b".")
        if head != self._token_header or not dot or not body or b"." in body:
            raise KeyShareError("message is not an access-token signing input under this group's key")

    def __repr__(self) -> str:
        state = f"participant {self._key.identifier.value}, kid {self.kid}" if self._key else "no share"
        return f"<KeyShareCore {self.enclave.enclave_id}: {state}, epoch {self.epoch}, redacted>"

    def __reduce__(self):
        raise SecretLeakError("a KeyShare holds a signing share and must not be pickled")

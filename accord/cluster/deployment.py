"""An Accord deployment, from a driver, a notebook, the CLI or the gateway.

    deployment = Deployment.start(state_dir="state", bundle=BundleSources(...))  # embedded Ray
    deployment = Deployment.connect()                                          # attach by name
    result = deployment.authorize(client.signed_request(...))

`start` brings everything up (or back: with the same state directory the KeyShares unseal
their shares and the group key stays the same); `connect` attaches to the named, detached
actors of a running deployment. `Deployment.in_process` runs the same services without Ray,
for fast tests and for exploring the protocol in one process.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accord.actors.bundle_verifier import BundleVerifier, VerifiedBytes
from accord.actors.evaluator import PolicyEvaluator
from accord.actors.invoke import DirectInvoker, Invoker, RayInvoker
from accord.actors.keyshare import KeyShare
from accord.actors.kms import KmsService
from accord.actors.minter import GroupSpec, TokenMinter
from accord.actors.poller import BundlePoller, PolledGroup
from accord.bundles.keys import fingerprint, load_public_keys
from accord.bundles.sources import BundleSources, Fetcher
from accord.client.release import Release
from accord.actors.activation import Activation, ActivationRefused, activate_at_batch_boundary
from accord.cluster.bootstrap import BootstrapError, activate_bundle, pair_group, provision_group, run_dkg
from accord.cluster.ray_auth import require_token_auth
from accord.config.deployment import NAMESPACE, DeploymentConfig
from accord.config.topology import Topology
from accord.enclave.configuration import EnclaveConfig, EvaluatorConfig, KmsKind, KmsSettings, Platform
from accord.enclave.keyshare import MAX_RETIREMENT
from accord.enclave.platform.errors import EnclaveConfigError
from accord.errors import AccordError
from accord.protocols.http_signatures import HttpRequest
from accord.protocols.minting import AuthorizationResult

CONFIG_FILE = "deployment.json"
PRECOMPUTED_NONCES = 1024  # per KeyShare, generated in the background (four coordinator refills)
MINTER = "minter"
POLLER = "bundle-poller"


@dataclass
class GroupHandles:
    evaluators: list[Any]
    keyshares: list[Any]
    evaluator_ids: list[str]


@dataclass
class Handles:
    kms: Any
    verifier: Any
    minter: Any
    groups: list[GroupHandles] = field(default_factory=list)
    poller: Any = None  # the BundlePoller, when the deployment polls its bundle sources


class DeploymentNotRunning(BootstrapError):
    """`connect` found no deployment's actors on the cluster."""


def _quiet(_step: str) -> None:
    pass


def measured_config(state_dir: Path, public_key: bytes, *, pins: Sequence[str] | None = None,
                    groups: int | None = None, evaluator: EvaluatorConfig | None = None,
                    allow_debug: bool | None = None, platform: Platform = Platform.SIMULATED,
                    kms: KmsSettings | None = None, bundle_threshold: int | None = None) -> EnclaveConfig:  # fmt: skip
    """The operator's enclave configuration (what the enclaves measure, see `EnclaveConfig`):
    pinned admin key fingerprints (given, or derived from the operator's public key), group
    shape, evaluator parameters, platform and KMS, a deployment id and, on simulated
    enclaves, the simulated root's fingerprint. Recorded in the state directory at the
    first start; a later start reuses what it does not set and is refused where it asks for
    something else: the configuration is part of the enclave measurement, and the sealed
    state opens only under the same one."""
    saved = state_dir / CONFIG_FILE
    previous = _saved_config(saved)
    fingerprints = tuple(pins) if pins else tuple(fingerprint(k) for k in load_public_keys(public_key))
    if previous is not None and pins is None and set(fingerprints) <= set(previous.bundle_key_fingerprints):
        fingerprints = previous.bundle_key_fingerprints
    if platform is Platform.NITRO:
        root = None  # the AWS root, fixed by EnclaveConfig
    elif previous is not None:
        root = previous.attestation_root  # a replaced PKI file then fails the enclaves' pin
    else:
        root = DeploymentConfig(str(state_dir), EnclaveConfig(fingerprints)).simulated_pki().trusted_root().sha256
    defaults = previous or EnclaveConfig(fingerprints)
    try:
        config = EnclaveConfig(
            bundle_key_fingerprints=fingerprints,
            deployment=previous.deployment if previous else f"accord-{os.urandom(6).hex()}",
            platform=platform, attestation_root=root,
            allow_debug=defaults.allow_debug if allow_debug is None else allow_debug,
            kms=kms or (defaults.kms if previous else KmsSettings()),
            groups=groups or defaults.groups, group_size=defaults.group_size,
            evaluator=evaluator or defaults.evaluator,
            bundle_threshold=bundle_threshold or defaults.bundle_threshold,
        )  # fmt: skip
    except EnclaveConfigError as exc:
        raise BootstrapError(f"invalid enclave configuration: {exc}") from exc
    if previous is not None and config != previous:
        changed = previous.differences(config)
        raise BootstrapError(
            f"{saved} records a measured enclave configuration that this start changes ({', '.join(changed)}). "
            "The configuration is part of the enclave measurement: use a new state directory to change it"
        )
    saved.write_text(json.dumps(config.to_dict(), indent=2, sort_keys=True))
    return config


def recorded_release(state_dir: str | Path) -> Release:
    """The release a simulated deployment's recorded configuration makes (offline, e.g.
    for `accord log verify`). It trusts the state directory's records: pass the published
    release instead where that matters; a Nitro deployment always needs it."""
    root = Path(state_dir)
    config = _saved_config(root / CONFIG_FILE)
    if config is None:
        raise BootstrapError(f"{root} holds no recorded deployment ({CONFIG_FILE})")
    if config.platform is Platform.NITRO:
        raise BootstrapError("a Nitro deployment's release comes from its image build: pass the published release")
    return Release.simulated(config, DeploymentConfig(str(root), config).trusted_root())


def _saved_config(path: Path) -> EnclaveConfig | None:
    if not path.exists():
        return None
    try:
        return EnclaveConfig.from_dict(json.loads(path.read_text()))
    except (ValueError, EnclaveConfigError) as exc:
        raise BootstrapError(f"{path} is not an Accord {EnclaveConfig.__name__} record: {exc}") from exc


class Deployment:
    """A running deployment and the operations a client of it needs."""

    def __init__(self, config: DeploymentConfig, handles: Handles, invoker: Invoker) -> None:
        self.config = config
        self.handles = handles
        self._invoker = invoker

    # --- bring up ---

    @classmethod
    def start(
        cls,
        *,
        state_dir: str | Path,
        bundle: BundleSources,
        address: str | None = None,
        groups: int | None = None,
        pins: Sequence[str] | None = None,
        evaluator: EvaluatorConfig | None = None,
        token_ttl: int = 300,
        allow_debug: bool | None = None,
        platform: Platform = Platform.SIMULATED,
        kms: KmsSettings | None = None,
        namespace: str = NAMESPACE,
        ray_options: dict[str, Any] | None = None,
        progress: Callable[[str], None] | None = None,
        poll_interval: float | None = None,
        bundle_threshold: int | None = None,
    ) -> Deployment:
        """Start (or restart) a deployment on Ray: an embedded local cluster offering every
        `enclave-*` resource when `address` is None and Ray is not already initialised, else
        the cluster at `address` (its nodes offer the resources). `progress` is told each
        step as it starts. With `poll_interval` (seconds), a BundlePoller re-checks the
        bundle sources that often and activates newer revisions (see `actors.poller`).
        `bundle_threshold` (measured): how many of the pinned administrators must sign a
        bundle (`bundle.public_key` is then a JWKS of their keys)."""
        import ray

        from accord.actors.options import remote

        config = cls._config(state_dir, bundle, token_ttl, namespace, pins=pins, groups=groups, evaluator=evaluator,
                             allow_debug=allow_debug, platform=platform, kms=kms,
                             bundle_threshold=bundle_threshold)  # fmt: skip
        if not ray.is_initialized():
            init_ray(address, namespace, config.topology, ray_options)
        say = progress or _quiet
        say(f"starting the enclave actors: {config.topology.groups} signing group(s) of "
            f"{len(config.topology.group(0))} hosts")  # fmt: skip
        invoker = RayInvoker()

        def make(service: type, role: str, *args: Any, slot=None) -> Any:
            name = config.actor_name(role, slot)
            return remote(service, role, name, namespace, slot).remote(*args)

        kms, key_id = None, None
        if config.enclave.kms.kind is KmsKind.SIMULATED:
            kms = make(KmsService, "kms", config)
            key_id = invoker.call(kms, "sealing_key")
        members = []
        for g in range(config.topology.groups):
            slots = config.topology.group(g)
            keyshares = [make(KeyShare, "keyshare", config, s, kms, key_id, invoker, PRECOMPUTED_NONCES, slot=s)
                         for s in slots]  # fmt: skip
            evaluators = [make(PolicyEvaluator, "evaluator", config, s, ks, kms, key_id, invoker, slot=s)
                          for s, ks in zip(slots, keyshares)]  # fmt: skip
            members.append(GroupHandles(evaluators, keyshares, [config.evaluator_id(s) for s in slots]))
        minter = make(TokenMinter, MINTER, config, invoker, _specs(members))
        handles = Handles(kms, make(BundleVerifier, "bundle-verifier", config), minter, members)
        deployment = cls(config, handles, invoker)
        deployment._bootstrap(bundle, say)
        if poll_interval is not None:
            say(f"polling the bundle sources every {poll_interval:g} s")
            polled = [PolledGroup(g.evaluators, g.evaluator_ids) for g in members]
            handles.poller = make(BundlePoller, POLLER, bundle, poll_interval, handles.verifier, minter, polled, invoker)
            invoker.call(handles.poller, "status")  # constructed (a bad interval fails here)
        return deployment

    @classmethod
    def in_process(cls, *, state_dir: str | Path, bundle: BundleSources, groups: int | None = None,
                   pins: Sequence[str] | None = None, evaluator: EvaluatorConfig | None = None,
                   token_ttl: int = 300, allow_debug: bool | None = None,
                   bundle_threshold: int | None = None) -> Deployment:  # fmt: skip
        """The same services in this process, without Ray (tests, exploration)."""
        config = cls._config(state_dir, bundle, token_ttl, NAMESPACE, pins=pins, groups=groups, evaluator=evaluator,
                             allow_debug=allow_debug, bundle_threshold=bundle_threshold)  # fmt: skip
        invoker = DirectInvoker()
        kms = KmsService(config)
        key_id = kms.sealing_key()
        members = []
        for g in range(config.topology.groups):
            slots = config.topology.group(g)
            keyshares = [KeyShare(config, s, kms, key_id, invoker) for s in slots]
            evaluators = [PolicyEvaluator(config, s, ks, kms, key_id, invoker) for s, ks in zip(slots, keyshares)]
            members.append(GroupHandles(evaluators, keyshares, [config.evaluator_id(s) for s in slots]))
        handles = Handles(kms, BundleVerifier(config), TokenMinter(config, invoker, _specs(members)), members)
        deployment = cls(config, handles, invoker)
        deployment._bootstrap(bundle)
        return deployment

    @staticmethod
    def _config(state_dir, bundle: BundleSources, token_ttl: int, namespace: str, **measured) -> DeploymentConfig:
        root = Path(state_dir).resolve()
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        public_key = Fetcher().fetch(bundle.public_key, 64 * 1024)
        enclave = measured_config(root, public_key, **measured)
        if not 0 < token_ttl <= enclave.evaluator.max_token_lifetime:
            raise BootstrapError(f"token_ttl {token_ttl} s is outside the enclaves' 1..{enclave.evaluator.max_token_lifetime}")
        return DeploymentConfig(state_dir=str(root), enclave=enclave, token_ttl=token_ttl, namespace=namespace)

    def _bootstrap(self, bundle: BundleSources, say: Callable[[str], None] | None = None) -> None:
        invoker, handles, say = self._invoker, self.handles, say or _quiet
        say("the bundle verifier fetches the bundle, its signature and key")
        verified: VerifiedBytes = invoker.call(handles.verifier, "fetch", bundle)
        for index, group in enumerate(handles.groups):
            say(f"group {index}: the KeyShares unseal their shares, or run the DKG")
            provision_group(invoker, group.keyshares)
            say(f"group {index}: each evaluator pairs with its KeyShare")
            pair_group(invoker, group.evaluators)
            say(f"group {index}: the evaluators verify and activate the bundle")
            activate_bundle(invoker, group.evaluators, group.evaluator_ids, verified.bundle, verified.signature,
                            verified.public_key, verified.digest)  # fmt: skip
        groups = invoker.call(handles.minter, "groups")
        if len(groups) != len(handles.groups):
            raise BootstrapError(f"only {len(groups)} of {len(handles.groups)} signing groups are ready")

    @classmethod
    def connect(cls, address: str | None = None, *, namespace: str = NAMESPACE) -> Deployment:
        """Attach to a running deployment by its actors' names."""
        import ray

        if not ray.is_initialized():
            _connect_ray(address or "auto", namespace, None)
        invoker = RayInvoker()
        try:
            minter = ray.get_actor(f"accord-{MINTER}", namespace=namespace)
        except ValueError:
            raise DeploymentNotRunning(f"no Accord deployment runs on the Ray cluster at {address or 'auto'} "
                                       f"(namespace {namespace!r}): start one with `accord up`") from None  # fmt: skip
        config: DeploymentConfig = invoker.call(minter, "config")
        kms = ray.get_actor("accord-kms", namespace=namespace) if config.enclave.kms.kind is KmsKind.SIMULATED else None
        handles = Handles(kms=kms,
                          verifier=ray.get_actor("accord-bundle-verifier", namespace=namespace), minter=minter)  # fmt: skip
        for g in range(config.topology.groups):
            slots = config.topology.group(g)
            handles.groups.append(GroupHandles(
                [ray.get_actor(config.actor_name("evaluator", s), namespace=namespace) for s in slots],
                [ray.get_actor(config.actor_name("keyshare", s), namespace=namespace) for s in slots],
                [config.evaluator_id(s) for s in slots],
            ))  # fmt: skip
        try:
            handles.poller = ray.get_actor(config.actor_name(POLLER), namespace=namespace)
        except ValueError:
            pass  # this deployment does not poll
        return cls(config, handles, invoker)

    # --- use ---

    def authorize(self, request: HttpRequest) -> AuthorizationResult:
        """Decide one signed request (see `authorize_many` for throughput)."""
        return self.authorize_many([request])[0]

    def authorize_many(self, requests: Sequence[HttpRequest]) -> list[AuthorizationResult]:
        """Decide a batch of signed requests in one round trip to the coordinator."""
        return self._invoker.call(self.handles.minter, "authorize", list(requests))

    def request_status(self, request_id: str) -> dict[str, Any]:
        """A pending request (confirm): what is missing and the approvals filed so far."""
        return self._invoker.call(self.handles.minter, "request_status", request_id)

    def add_approval(self, request_id: str, approval: str) -> dict[str, Any]:
        """File an approver's signed approval for a pending request."""
        return self._invoker.call(self.handles.minter, "add_approval", request_id, approval)

    def jwks(self) -> dict[str, Any]:
        """The group keys, as a JWKS: all a resource server needs to verify tokens."""
        return self._invoker.call(self.handles.minter, "jwks")

    def groups(self) -> list[dict[str, Any]]:
        """The signing groups that can sign now: index, kid, commitments the coordinator holds."""
        return self._invoker.call(self.handles.minter, "groups")

    def attestations(self, nonce: bytes | None = None) -> dict[str, bytes]:
        """Each evaluator's fresh attestation document (identity keys bound), by enclave."""
        evaluators = [ev for group in self.handles.groups for ev in group.evaluators]
        ids = [e for group in self.handles.groups for e in group.evaluator_ids]
        return dict(zip(ids, self._invoker.gather([(ev, "attestation", (nonce,)) for ev in evaluators])))

    def release(self) -> Release:
        """The release clients verify this deployment against (see `accord.client.release`),
        computed here from the operator's configuration and this release's code. Publish it
        beside the JWKS URL; clients never read it from the state directory."""
        if self.config.enclave.platform is Platform.NITRO:
            raise BootstrapError("a Nitro release's PCRs are those of the enclave image build: "
                                 "make it with Release(config, pcrs) from the build's measurements")  # fmt: skip
        return Release.simulated(self.config.enclave, self.config.trusted_root())

    def load_bundle(self, bundle: BundleSources) -> Activation:
        """Fetch, verify and activate a new bundle revision on every evaluator of every
        group, at one batch boundary of each group's sequence (see `actors.activation`):
        no request is decided under a mix. On a refusal (rollback, signature, unpinned key,
        contract) ActivationRefused says which, and the running revision stays."""
        try:
            verified: VerifiedBytes = self._invoker.call(self.handles.verifier, "fetch", bundle)
        except AccordError as exc:
            raise ActivationRefused(f"bundle refused: {exc}") from exc
        return activate_at_batch_boundary(self._invoker, self.handles.minter, self.handles.groups, verified)

    def refresh_shares(self) -> list[dict[str, Any]]:
        """Proactive refresh: every group's KeyShares run the refresh over attested channels
        (new shares of the same group key, sealed beside the old), then each group moves to
        them at one batch of its sequence, so no signing mixes old and new shares. A share
        stolen before is useless after. One report per group: kid (unchanged), the evaluators
        switched in the batch, and those repaired directly (with why)."""
        return self._renew("refresh")

    def rotate_keys(self, retire_after: int | None = None) -> list[dict[str, Any]]:
        """Key rotation: every group's KeyShares run a new DKG (attested, purpose 'rotate')
        while the current key signs; then each group moves to the new key at one batch of
        its sequence: tokens from then on carry the new kid. The old key stays in the JWKS
        (attested by the evaluators as retired) until every token it signed has expired.
        `retire_after` (seconds) keeps it longer; never shorter than the measured token
        lifetime plus clock skew. One report per group as `refresh_shares`, with `previous`
        (the old kid) and `retired_until`."""
        evaluator = self.config.enclave.evaluator
        earliest = evaluator.max_token_lifetime + evaluator.clock_skew
        if retire_after is not None and not earliest <= retire_after <= MAX_RETIREMENT:
            raise BootstrapError(f"--retire-after must be {earliest}..{MAX_RETIREMENT} s (the token lifetime plus "
                                 f"clock skew, at most 30 days), not {retire_after}")  # fmt: skip
        # One time for the whole group (its evaluators attest the same list); a few seconds
        # of margin for the switch itself.
        return self._renew("rotate", int(time.time()) + (retire_after or earliest) + 10)

    def _renew(self, purpose: str, retire_until: int | None = None) -> list[dict[str, Any]]:
        previous = []
        for group in self.handles.groups:
            statuses = self._invoker.gather([(ks, "status", ()) for ks in group.keyshares])
            previous.append(statuses[0]["kid"])
            run_dkg(self._invoker, group.keyshares, [s["enclave_id"] for s in statuses], purpose=purpose)
        switched = self._invoker.call(self.handles.minter, "switch_shares", retire_until)
        reports = []
        for index, group in enumerate(self.handles.groups):
            errors = switched.get(index)
            repaired = {}
            for ev, ks, eid in zip(group.evaluators, group.keyshares, group.evaluator_ids):
                if errors is not None and errors.get(eid) is None:
                    continue
                if self._invoker.call(ks, "status")["refreshed_share_waiting"]:
                    self._invoker.call(ks, "switch_share", retire_until)
                self._invoker.call(ev, "pair")
                repaired[eid] = "its group runs no batches yet" if errors is None else errors[eid]
            kids = {s["kid"] for s in self._invoker.gather([(ks, "status", ()) for ks in group.keyshares])}
            reports.append({"group": index, "kid": kids.pop() if len(kids) == 1 else sorted(kids),
                            "previous": previous[index], "retired_until": retire_until,
                            "switched": sorted(e for e in group.evaluator_ids if e not in repaired),
                            "repaired": repaired})  # fmt: skip
        return reports

    def status(self) -> dict[str, Any]:
        """Enclaves (PCRs, bundle), signing groups (key id) and KeyShares."""
        groups = []
        for index, group in enumerate(self.handles.groups):
            calls = [(ev, "status", ()) for ev in group.evaluators] + [(ks, "status", ()) for ks in group.keyshares]
            answers = self._invoker.settle(self._invoker.submit(calls))
            evaluators, keyshares = answers[: len(group.evaluators)], answers[len(group.evaluators) :]
            groups.append({
                "index": index,
                "evaluators": [_status_or_error(s) for s in evaluators],
                "keyshares": [_status_or_error({k: v for k, v in s.items() if k != "public_key_package"})
                              if isinstance(s, dict) else _status_or_error(s) for s in keyshares],
            })  # fmt: skip
        polling = None if self.handles.poller is None else _status_or_error(
            self._invoker.settle(self._invoker.submit([(self.handles.poller, "status", ())]))[0])  # fmt: skip
        return {"state_dir": self.config.state_dir, "groups": groups, "polling": polling,
                "minter": self._invoker.call(self.handles.minter, "groups"), "time": int(time.time())}  # fmt: skip

    def stats(self) -> dict[str, dict[str, dict[str, float]]]:
        """Per service, CPU seconds and items per stage so far (see `actors.stats`)."""
        named = [("minter", self.handles.minter)]
        for group in self.handles.groups:
            named += list(zip(group.evaluator_ids, group.evaluators))
            named += [(e.replace("-evaluator", "-keyshare"), ks) for e, ks in zip(group.evaluator_ids, group.keyshares)]
        answers = self._invoker.settle(self._invoker.submit([(handle, "stats", ()) for _, handle in named]))
        return {name: answer for (name, _), answer in zip(named, answers) if not isinstance(answer, BaseException)}

    def shutdown(self) -> None:
        """Stop every actor of the deployment (sealed state stays on disk)."""
        if isinstance(self._invoker, RayInvoker):
            import ray

            for handle in self._all_handles():
                ray.kill(handle, no_restart=True)

    def _all_handles(self) -> list[Any]:
        handles = [h for h in (self.handles.poller, self.handles.minter, self.handles.verifier, self.handles.kms)
                   if h is not None]  # fmt: skip
        for group in self.handles.groups:
            handles += group.evaluators + group.keyshares
        return handles


def _specs(groups: Sequence[GroupHandles]) -> list[GroupSpec]:
    return [GroupSpec(i, tuple(g.evaluator_ids), tuple(g.evaluators), tuple(g.keyshares)) for i, g in enumerate(groups)]


def init_ray(address: str | None, namespace: str, topology: Topology, options: dict[str, Any] | None = None) -> None:
    """Start an embedded Ray cluster whose one node hosts every enclave slot of `topology`
    (`address` None), or join the cluster at `address`."""
    import ray

    if address is None:
        ray.init(address="local", resources=topology.resources(), include_dashboard=False,
                 namespace=namespace, log_to_driver=False, **(options or {}))  # fmt: skip
    else:
        _connect_ray(address, namespace, options)


def _connect_ray(address: str, namespace: str, options: dict[str, Any] | None) -> None:
    """Join an existing cluster with Ray's token authentication on (the token comes from
    ~/.ray/auth_token or RAY_AUTH_TOKEN, as for `ray start`): a driver joining by address
    would otherwise send none and be refused."""
    import ray

    require_token_auth()
    ray.init(address=address, namespace=namespace, log_to_driver=False, **(options or {}))


def _status_or_error(value: Any) -> dict[str, Any]:
    if isinstance(value, BaseException):
        return {"error": f"{type(value).__name__}: {value}"}
    return value

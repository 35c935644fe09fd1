"""The single-key baseline `accord bench` compares Accord with: one evaluator (the same code,
policy and data, verifying the same signed requests) and a plain Ed25519 JWT signer. No
enclave peers, no MPC, no unanimity: what the same decisions cost when one machine is
trusted with everything.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.actors.stats import StageClock
from accord.bundles.store import ActiveBundleStore
from accord.bundles.verify import TrustPolicy
from accord.config.deployment import DeploymentConfig
from accord.enclave.configuration import evaluator_id
from accord.enclave.evaluator import EvaluatorCore
from accord.enclave.platform.enclave import Enclave
from accord.protocols.http_signatures import HttpRequest
from accord.protocols.jwk import PublicJwk, b64url_encode
from accord.protocols.minting import AuthorizationResult, MintTask, Status
from accord.protocols.tokens import assemble


class SingleKeyEvaluator(EvaluatorCore):
    """The evaluator logic with a key of its own instead of a KeyShare's attested one."""

    def use_own_key(self, kid: str) -> None:
        self._set_kid(kid)


class SingleKeyAuthority:
    def __init__(self, config: DeploymentConfig, bundle: bytes, signature: bytes | None, public_key: bytes) -> None:
        # Same code and measured configuration as evaluator 0, in a state directory of its own.
        enclave = Enclave.open(enclave_id=evaluator_id(0, 0), config=config.enclave, state_dir=config.root / "baseline",
                               simulated_pki=config.simulated_pki)  # fmt: skip
        store = ActiveBundleStore(TrustPolicy(frozenset(config.enclave.bundle_key_fingerprints),
                                                threshold=config.enclave.bundle_threshold))
        self.core = SingleKeyEvaluator(enclave, store)
        self.core.activate(bundle, signature=signature, public_key=public_key)
        self._key = Ed25519PrivateKey.generate()
        raw = self._key.public_key().public_bytes_raw()
        self.jwk = PublicJwk.from_dict({"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw)})
        self.core.use_own_key(self.jwk.thumbprint)
        self._ttl = config.token_ttl
        self._stages = StageClock()

    def stats(self) -> dict[str, dict[str, float]]:
        return self._stages.snapshot()

    def authorize(self, requests: Sequence[HttpRequest]) -> list[AuthorizationResult]:
        with self._stages.measure("authorize", len(requests)):
            now = int(time.time())
            tasks = [MintTask(r, now, now + self._ttl, b64url_encode(os.urandom(16)), b"") for r in requests]
            evaluation = self.core.evaluate(tasks, self.core.state.seq + 1)
            results = []
            for task, verdict in zip(tasks, evaluation.verdicts):
                token = None
                if verdict.status is Status.PERMIT:
                    token = assemble(verdict.signing_input, self._key.sign(verdict.signing_input))
                results.append(AuthorizationResult(verdict.status, task.jti, token=token, request_id=verdict.request_hash,
                                                   principal=verdict.principal, reasons=verdict.reasons,
                                                   code=verdict.code, message=verdict.message))  # fmt: skip
            return results

"""The units Accord's speed targets are quoted in: one libsodium Ed25519 signature and one
verification, measured in the same run on the same machine (so a target such as "server CPU
per token <= 100 signs" holds on any machine)."""

from __future__ import annotations

import time

from nacl import bindings


def ed25519_costs(seconds: float = 0.3) -> dict[str, float]:
    """Microseconds of this thread's CPU per libsodium Ed25519 sign and verify (a 200-byte
    message, about a signature base): the median of a few rounds of `seconds` / 6 each."""
    public, secret = bindings.crypto_sign_seed_keypair(bytes(range(32)))
    message = bytes(200)
    signed = bindings.crypto_sign(message, secret)

    def per_call(operation) -> float:
        rounds = []
        for _ in range(3):
            count, start = 0, time.thread_time()
            while (spent := time.thread_time() - start) < seconds / 6:
                operation()
                count += 1
            rounds.append(spent / count * 1e6)
        return round(sorted(rounds)[1], 1)

    return {"ed25519_sign_us": per_call(lambda: bindings.crypto_sign(message, secret)),
            "ed25519_verify_us": per_call(lambda: bindings.crypto_sign_open(signed, public))}  # fmt: skip

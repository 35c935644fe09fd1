"""Shared constants and helpers for the bundle tests (imported by conftest and tests)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

OPA_VECTORS = Path(__file__).parent.parent / "vectors" / "opa-bundles"
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)

POLICY = b"""package accord

import rego.v1

default allow := false

allow if input.user in data.accord.roles.admins
"""
DATA = b'{"admins": ["alice", "bob"], "limits": {"daily": 1000, "ratio": 0.5}}'
SOURCE_FILES = {
    ".manifest": b'{"roots": ["accord"]}',
    "accord/policy.rego": POLICY,
    "accord/roles/data.json": DATA,
}


@dataclass(frozen=True)
class SignedBundle:
    archive: bytes  # .tar.gz
    signature: bytes  # detached .signatures.json


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token_parts(signature_json: bytes) -> tuple[dict, dict]:
    """Header and payload of the single token in a .signatures.json."""
    token = json.loads(signature_json)["signatures"][0]
    head, body, _ = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(head))),
        json.loads(base64.urlsafe_b64decode(pad(body))),
    )


def signatures_json(token: str) -> bytes:
    return json.dumps({"signatures": [token]}).encode()


def forge_unsigned(header: dict, payload: dict) -> str:
    """A token with alg none: empty signature."""
    return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}."


def forge_hmac(header: dict, payload: dict, secret: bytes) -> str:
    """An HS256 token keyed with `secret` (algorithm confusion: the public key as secret)."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"

"""One in-process deployment per test module, the gateway in front of it (FastAPI's
TestClient: the real ASGI app, no network), and principals registered in its bundle."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

# Starlette 1.x prefers `httpx2` for its TestClient; the pinned `httpx` still works.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
from fastapi.testclient import TestClient  # noqa: E402

from accord.bundles.publish import library_bundle, library_data, publish, with_principal
from accord.bundles.sources import BundleSources
from accord.client import Client
from accord.cluster.batching import BatchConfig
from accord.cluster.deployment import Deployment
from accord.cluster.gateway import create_app
from accord.protocols.jwk import KeyKind, SigningKey
from http_helpers import BASE_URL

REGISTERED = {"bob": KeyKind.ED25519, "carol": KeyKind.P256, "dave": KeyKind.ED25519, "erin": KeyKind.P256,
              "frank": KeyKind.ED25519}  # fmt: skip


@dataclass
class World:
    state_dir: Path
    sources: BundleSources
    data: dict[str, Any]
    deployment: Deployment
    http: TestClient
    keys: dict[str, SigningKey] = field(default_factory=dict)

    def client(self, name: str) -> Client:
        """A principal's client over the gateway (`mallory` is registered nowhere)."""
        return Client(self.keys[name], base_url=BASE_URL, http=self.http)

    def exchange(self) -> str:
        return next(k.split(":")[2] for k, v in self.data["address_book"].items()
                    if v.get("classification") == "exchange")  # fmt: skip

    def internal(self) -> str:
        return self.data["accounts"]["treasury-hot"]["address"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("accord")
    keys = {name: SigningKey.generate(kind) for name, kind in REGISTERED.items()}
    keys["mallory"] = SigningKey.generate()
    data = library_data()
    for name in REGISTERED:
        data = with_principal(data, name, keys[name].public)
    sources = publish(library_bundle(data), SigningKey.generate(), root / "published", version=1)
    deployment = Deployment.in_process(state_dir=root / "state", bundle=sources)
    app = create_app(deployment, batch=BatchConfig(max_batch=16, max_delay_ms=1))
    with TestClient(app, base_url=BASE_URL) as http:
        yield World(root / "state", sources, data, deployment, http, keys)

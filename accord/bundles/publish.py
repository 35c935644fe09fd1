"""Publishing a bundle the way an administrator does: build it from the policy library (or
any directory), sign it, and host bundle, signature and verifying key in three places.

Used by `accord demo`, the notebooks and the tests; the CLI (`accord bundle build|sign`) does
the same in separate steps.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from accord.bundles.build import build_bundle, sign_bundle
from accord.bundles.keys import public_key_bytes
from accord.bundles.layout import RawBundle, bundle_from_files, read_tarball
from accord.bundles.manifest import Revision
from accord.bundles.sources import BundleSources
from accord.protocols.jwk import PublicJwk, SigningKey

LIBRARY = Path(__file__).resolve().parent.parent / "policies"
LIBRARY_DATA = "data.json"


def library_data() -> dict[str, Any]:
    """The example data document shipped with the policy library (principals, accounts,
    address book, tokens, limits)."""
    return json.loads((LIBRARY / LIBRARY_DATA).read_text())


def with_principal(data: Mapping[str, Any], principal: str, key: PublicJwk, *, roles: Sequence[str] | None = None,
                   groups: Sequence[str] | None = None) -> dict[str, Any]:  # fmt: skip
    """A copy of `data` in which `principal` holds exactly `key` (and the given roles and
    groups; by default the ones it already has)."""
    out = copy.deepcopy(dict(data))
    entry = out.setdefault("principals", {}).setdefault(principal, {"roles": [], "groups": []})
    if roles is not None:
        entry["roles"] = list(roles)
    if groups is not None:
        entry["groups"] = list(groups)
    entry["keys"] = {key.thumbprint: key.to_dict()}
    return out


def library_bundle(data: Mapping[str, Any] | None = None) -> RawBundle:
    """The shipped Rego library (without its tests) and `data` (default: the example data)."""
    files = [(p.name, p.read_bytes()) for p in sorted(LIBRARY.glob("*.rego")) if not p.name.endswith("_test.rego")]
    files.append((LIBRARY_DATA, json.dumps(library_data() if data is None else data).encode()))
    return bundle_from_files(files)


def publish(source: RawBundle, admin: SigningKey, directory: str | Path, *, version: int,
            expires: datetime | None = None, now: datetime | None = None, contract: bool = True) -> BundleSources:  # fmt: skip
    """Build `source` as revision `version`, sign it with `admin`, and write bundle,
    detached signature and public key to three separate places under `directory`.
    `contract=False` skips the decision-contract check (tests of what enclaves refuse)."""
    now = now or datetime.now(timezone.utc)
    archive = build_bundle(source, Revision(version, expires or now + timedelta(days=30)), contract=contract)
    signature = sign_bundle(read_tarball(archive), admin, iat=int(now.timestamp()))
    root = Path(directory).resolve()
    places = {"bundles/bundle.tar.gz": archive, "signatures/bundle.sig.json": signature,
              "keys/admin.pub.jwk": public_key_bytes(admin.public)}  # fmt: skip
    for name, content in places.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return BundleSources(bundle=(root / "bundles/bundle.tar.gz").as_uri(),
                         signature=(root / "signatures/bundle.sig.json").as_uri(),
                         public_key=(root / "keys/admin.pub.jwk").as_uri())  # fmt: skip

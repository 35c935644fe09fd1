"""Where bundle, detached signature and verifying key come from.

Three independently configured locations, so that one compromised host cannot swap all three.
Each is a `file://` URL or an `https://` URL; plain `http://` is refused, TLS certificates are
always verified (system store, or a CA bundle you name), redirects are not followed, and
every download is capped in size before it is buffered. What is fetched is untrusted: it
only becomes a policy after `verify_bundle` accepts it against the pinned key.
"""

from __future__ import annotations

import hashlib
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from accord.bundles.errors import SourceError


@dataclass(frozen=True)
class SizeCaps:
    """Largest acceptable download per source, in bytes."""

    bundle: int = 256 * 1024 * 1024
    signature: int = 16 * 1024 * 1024
    public_key: int = 64 * 1024


@dataclass(frozen=True)
class BundleSources:
    """The three locations. `signature` None means: use the bundle's embedded signature."""

    bundle: str
    public_key: str
    signature: str | None = None

    def __post_init__(self) -> None:
        urls = [u for u in (self.bundle, self.signature, self.public_key) if u is not None]
        for url in urls:
            check_url(url)
        if len(set(urls)) != len(urls):
            raise SourceError("bundle, signature and public key must come from different URLs")


@dataclass(frozen=True)
class Fetched:
    """The raw bytes from the three sources (still untrusted)."""

    bundle: bytes
    public_key: bytes
    signature: bytes | None


def check_url(url: str) -> None:
    """Accept `file://` (local, absolute) and `https://` URLs only."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "file" and parts.netloc in ("", "localhost") and parts.path.startswith("/"):
        return
    raise SourceError(f"{url!r}: sources must be file:///absolute/path or https:// URLs")


def as_url(location: str | os.PathLike[str]) -> str:
    """A URL for a command-line argument: URLs pass through, local paths become file://."""
    text = os.fspath(location)
    if "://" in text:
        check_url(text)
        return text
    return Path(text).resolve().as_uri()


class Fetcher:
    """Reads file:// and https:// sources with size caps.

    `ca_bundle` adds a private CA (a PEM file) instead of the system store; verification
    cannot be turned off. `transport` replaces the network (tests use httpx.MockTransport)."""

    def __init__(
        self,
        *,
        ca_bundle: str | os.PathLike[str] | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        cafile = None if ca_bundle is None else os.fspath(ca_bundle)
        context = ssl.create_default_context(cafile=cafile)
        self._client = httpx.Client(
            verify=context, timeout=timeout, follow_redirects=False, transport=transport
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fetch(self, url: str, max_bytes: int) -> bytes:
        """The content at `url`, or SourceError naming the URL and the failure."""
        check_url(url)
        parts = urlsplit(url)
        if parts.scheme == "file":
            return _read_file(Path(unquote(parts.path)), url, max_bytes)
        return self._get(url, max_bytes)

    def _get(self, url: str, max_bytes: int) -> bytes:
        try:
            with self._client.stream("GET", url) as response:
                if response.status_code != 200:
                    status = f"{response.status_code} {response.reason_phrase}"
                    raise SourceError(f"{url}: HTTP {status}")
                declared = response.headers.get("content-length")
                if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                    raise SourceError(f"{url}: {declared} bytes is over the {max_bytes}-byte cap")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > max_bytes:
                        raise SourceError(f"{url}: response exceeds the {max_bytes}-byte cap")
                return bytes(body)
        except httpx.HTTPError as exc:
            raise SourceError(f"{url}: {type(exc).__name__}: {exc}") from exc

    def validator(self, url: str, previous: str | None = None, max_bytes: int = SizeCaps().bundle) -> str | None:
        """What tells whether the source at `url` changed since `previous` (a value this
        returned before): a file's SHA-256; an https source's ETag or
        Last-Modified, asked with If-None-Match / If-Modified-Since (a 304 keeps
        `previous`). None when the server gives neither (then every poll fetches)."""
        check_url(url)
        parts = urlsplit(url)
        if parts.scheme == "file":  # the content itself: modification times can be coarse
            digest = hashlib.sha256(_read_file(Path(unquote(parts.path)), url, max_bytes)).hexdigest()
            return f"sha256:{digest}"
        headers = {}
        if previous is not None and previous.startswith("etag:"):
            headers["If-None-Match"] = previous[5:]
        elif previous is not None and previous.startswith("modified:"):
            headers["If-Modified-Since"] = previous[9:]
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                if response.status_code == 304 and previous is not None:
                    return previous
                if response.status_code != 200:
                    raise SourceError(f"{url}: HTTP {response.status_code} {response.reason_phrase}")
                etag, modified = response.headers.get("etag"), response.headers.get("last-modified")
        except httpx.HTTPError as exc:
            raise SourceError(f"{url}: {type(exc).__name__}: {exc}") from exc
        return f"etag:{etag}" if etag else f"modified:{modified}" if modified else None

    def fetch_all(self, sources: BundleSources, caps: SizeCaps = SizeCaps()) -> Fetched:
        """Fetch the three sources (the signature only if configured)."""
        return Fetched(
            bundle=self.fetch(sources.bundle, caps.bundle),
            public_key=self.fetch(sources.public_key, caps.public_key),
            signature=None
            if sources.signature is None
            else self.fetch(sources.signature, caps.signature),
        )


def _read_file(path: Path, url: str, max_bytes: int) -> bytes:
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise SourceError(f"{url}: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:
        raise SourceError(f"{url}: file exceeds the {max_bytes}-byte cap")
    return data

"""Bundle sources: file:// and https:// only, size caps, TLS always verified."""

from __future__ import annotations

import datetime
import http.server
import ssl
import threading

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from accord.bundles.errors import SourceError
from accord.bundles.sources import BundleSources, Fetcher, SizeCaps, as_url, check_url


def mock_fetcher(handler) -> Fetcher:
    return Fetcher(transport=httpx.MockTransport(handler))


def test_https_fetch():
    seen = []

    def handler(request):
        seen.append(str(request.url))
        return httpx.Response(200, content=b"bundle-bytes")

    with mock_fetcher(handler) as f:
        assert f.fetch("https://policy.example/b.tar.gz", 100) == b"bundle-bytes"
    assert seen == ["https://policy.example/b.tar.gz"]


@pytest.mark.parametrize(
    "response, message",
    [
        (httpx.Response(404), "HTTP 404"),
        (httpx.Response(302, headers={"location": "http://evil/"}), "HTTP 302"),
        (httpx.Response(200, content=b"x" * 101), "over the 100-byte cap"),
        (httpx.Response(200, content=iter([b"x" * 60, b"x" * 60])), "exceeds the 100-byte cap"),
    ],
    ids=["not-found", "redirect-not-followed", "declared-too-large", "streamed-too-large"],
)
def test_https_failures(response, message):
    with mock_fetcher(lambda request: response) as f:
        with pytest.raises(SourceError, match=message):
            f.fetch("https://policy.example/b.tar.gz", 100)


def test_connection_error_names_the_url():
    def handler(request):
        raise httpx.ConnectError("refused", request=request)

    with mock_fetcher(handler) as f:
        with pytest.raises(SourceError, match="https://policy.example/k.jwk: ConnectError"):
            f.fetch("https://policy.example/k.jwk", 100)


@pytest.mark.parametrize(
    "url",
    ["http://policy.example/b.tar.gz", "ftp://x/y", "file://host/etc/x", "file:relative",
     "https:///nohost", "/plain/path"],
)
def test_only_file_and_https_urls(url):
    with pytest.raises(SourceError, match="sources must be"):
        check_url(url)


def test_file_source_and_cap(tmp_path):
    path = tmp_path / "sig.json"
    path.write_bytes(b"y" * 10)
    with Fetcher() as f:
        assert f.fetch(path.as_uri(), 10) == b"y" * 10
        with pytest.raises(SourceError, match="exceeds the 9-byte cap"):
            f.fetch(path.as_uri(), 9)
        with pytest.raises(SourceError, match="No such file"):
            f.fetch((tmp_path / "missing").as_uri(), 10)


def test_the_three_sources_must_differ(tmp_path):
    url = (tmp_path / "x").as_uri()
    with pytest.raises(SourceError, match="different URLs"):
        BundleSources(bundle=url, public_key=url)


def test_fetch_all_without_detached_signature(tmp_path):
    (tmp_path / "b").write_bytes(b"bundle")
    (tmp_path / "k").write_bytes(b"key")
    sources = BundleSources(bundle=(tmp_path / "b").as_uri(), public_key=(tmp_path / "k").as_uri())
    with Fetcher() as f:
        fetched = f.fetch_all(sources, SizeCaps())
    assert (fetched.bundle, fetched.public_key, fetched.signature) == (b"bundle", b"key", None)


def test_as_url(tmp_path):
    assert as_url(tmp_path / "a b") == (tmp_path / "a b").as_uri()
    assert as_url("https://x.example/b") == "https://x.example/b"
    with pytest.raises(SourceError):
        as_url("http://x.example/b")


# --- a real local TLS server: verification is on, a private CA must be named ----------------


def _self_signed(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        body = b"served over TLS"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def tls_server(tmp_path):
    cert_path, key_path = _self_signed(tmp_path)
    server = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"https://localhost:{server.server_address[1]}/bundle", cert_path
    server.shutdown()
    server.server_close()


def test_untrusted_certificate_is_refused(tls_server):
    url, _ = tls_server
    with Fetcher(timeout=5) as f:
        with pytest.raises(SourceError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
            f.fetch(url, 1000)


def test_named_private_ca_is_accepted(tls_server):
    url, cert_path = tls_server
    with Fetcher(ca_bundle=cert_path, timeout=5) as f:
        assert f.fetch(url, 1000) == b"served over TLS"

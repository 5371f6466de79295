"""Apple's CA certificates: from APPLE_CA_DIR, or downloaded once, pinned and cached (no network)."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from bot.adapters.apple_ca import (
    APPLE_CA_SOURCES,
    AppleTrustStore,
    PinnedCA,
    cache_dir,
    load_ca_dir,
    load_trust_anchors,
)
from bot.config import Settings, load_settings
from bot.core.certificate import fingerprint
from bot.core.checks import inspect_certificate
from tests.certgen import (
    APPLE_FIXTURES,
    REAL_CA_FILES,
    REAL_PUSH_CERT,
    apple_ca,
    bundle,
    ca_dir,
    make_push_cert,
    needs_apple_fixtures,
    other_ca,
)
from tests.clock import T0

# The pins as DOMAIN.md prints them: the code must carry exactly these.
DOMAIN_PINS = {
    "AppleAAI2CA.cer": "D3:49:6F:4B:73:CD:67:AA:B9:F2:FC:B1:D5:AA:41:F8:"
    "DC:45:77:69:C4:55:C7:92:B7:0D:DB:19:E9:20:23:D6",
    "AppleIncRootCertificate.cer": "B0:B1:73:0E:CB:C7:FF:45:05:14:2C:49:F1:29:5E:6E:"
    "DA:6B:CA:ED:7E:2C:68:C5:BE:91:B5:A1:10:01:F0:24",
}
AT_2021 = datetime(2021, 5, 3, tzinfo=UTC)


def make_settings(tmp_path: Path, apple_ca_dir: Path | None = None) -> Settings:
    return Settings(
        slack=None,
        tenants={},
        db_path=tmp_path / "data" / "db.sqlite3",
        apple_ca_dir=apple_ca_dir,
    )


def generated_sources() -> tuple[PinnedCA, ...]:
    """Pins for the generated CA, served from https://ca.test/."""
    ca = apple_ca()
    return (
        PinnedCA(
            "AppleAAI2CA.cer",
            "https://ca.test/aai2.cer",
            fingerprint(ca.intermediate.cert),
            "intermediate",
        ),
        PinnedCA(
            "AppleIncRootCertificate.cer",
            "https://ca.test/root.cer",
            fingerprint(ca.root.cert),
            "root",
        ),
    )


class Server:
    """A MockTransport answering from a url -> body map, recording every request."""

    def __init__(self, files: Mapping[str, bytes], *, status: int = 200) -> None:
        self.files = dict(files)
        self.status = status
        self.requests: list[str] = []
        self.transport = httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(str(request.url))
        body = self.files.get(str(request.url))
        if body is None:
            return httpx.Response(404, text="not found")
        return httpx.Response(self.status, content=body)


def generated_server() -> Server:
    ca = apple_ca()
    return Server(
        {"https://ca.test/aai2.cer": ca.intermediate.der, "https://ca.test/root.cer": ca.root.der}
    )


def unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("no route to host", request=request)


# --- APPLE_CA_DIR -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["der", "pem"])
def test_ca_dir_is_trusted_as_configured(tmp_path: Path, fmt: str) -> None:
    directory = ca_dir(tmp_path / "ca", fmt=fmt)  # type: ignore[arg-type]
    anchors = load_trust_anchors(make_settings(tmp_path, directory))
    assert anchors is not None
    assert anchors.roots == (apple_ca().root.cert,)
    assert anchors.intermediates == (apple_ca().intermediate.cert,)
    assert anchors.source == f"APPLE_CA_DIR={directory}"


def test_ca_dir_ignores_what_is_not_a_ca_certificate(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = ca_dir(tmp_path / "ca")
    (directory / "README.md").write_text("Apple's CA files for apns-bot\n")
    (directory / ".hidden.cer").write_bytes(other_ca().root.der)
    (directory / "leaf.pem").write_bytes(make_push_cert().pem)
    (directory / "other.pem").write_bytes(bundle(other_ca().intermediate.pem, other_ca().root.pem))
    (directory / "sub").mkdir()
    with caplog.at_level(logging.INFO, logger="bot.adapters.apple_ca"):
        anchors = load_ca_dir(directory)
    assert anchors is not None
    assert set(anchors.roots) == {apple_ca().root.cert, other_ca().root.cert}
    assert set(anchors.intermediates) == {
        apple_ca().intermediate.cert,
        other_ca().intermediate.cert,
    }
    assert "README.md" in caplog.text and "non-CA" in caplog.text


def test_ca_dir_without_a_root_gives_none(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    directory = tmp_path / "ca"
    directory.mkdir()
    (directory / "AppleAAI2CA.cer").write_bytes(apple_ca().intermediate.der)
    assert load_ca_dir(directory) is None
    assert "no root certificate" in caplog.text
    assert load_ca_dir(tmp_path / "missing") is None


def test_apple_ca_dir_setting_reaches_the_adapter(tmp_path: Path) -> None:
    directory = ca_dir(tmp_path / "ca")
    settings = load_settings(
        {"APPLE_CA_DIR": str(directory), "APNS_DB_PATH": str(tmp_path / "db.sqlite3")},
        need_slack=False,
        need_graph=False,
    )
    anchors = load_trust_anchors(settings, transport=httpx.MockTransport(unreachable))
    assert anchors is not None and anchors.source.startswith("APPLE_CA_DIR=")


# --- pinned download and cache ----------------------------------------------------------------


def test_download_is_pinned_and_cached(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    server = generated_server()
    anchors = load_trust_anchors(settings, transport=server.transport, sources=generated_sources())
    assert anchors is not None
    assert anchors.roots == (apple_ca().root.cert,)
    assert anchors.intermediates == (apple_ca().intermediate.cert,)
    assert len(server.requests) == 2
    cached = cache_dir(settings)
    assert cached == tmp_path / "data" / "apple-ca"
    assert (cached / "AppleAAI2CA.cer").read_bytes() == apple_ca().intermediate.der
    assert sorted(p.name for p in cached.iterdir()) == sorted(REAL_CA_FILES)
    # second time: from the cache, no network at all
    again = load_trust_anchors(
        settings, transport=httpx.MockTransport(unreachable), sources=generated_sources()
    )
    assert again == anchors


def test_download_with_a_wrong_fingerprint_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path)
    server = generated_server()
    server.files["https://ca.test/root.cer"] = other_ca().root.der  # a proxy's or attacker's CA
    assert (
        load_trust_anchors(settings, transport=server.transport, sources=generated_sources())
        is None
    )
    assert "does not match the pin" in caplog.text
    assert not (cache_dir(settings) / "AppleIncRootCertificate.cer").exists()


def test_tampered_cache_is_replaced_by_a_fresh_download(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    load_trust_anchors(
        settings, transport=generated_server().transport, sources=generated_sources()
    )
    root_file = cache_dir(settings) / "AppleIncRootCertificate.cer"
    root_file.write_bytes(other_ca().root.der)
    server = generated_server()
    anchors = load_trust_anchors(settings, transport=server.transport, sources=generated_sources())
    assert anchors is not None and anchors.roots == (apple_ca().root.cert,)
    assert server.requests == ["https://ca.test/root.cer"]
    assert root_file.read_bytes() == apple_ca().root.der


@pytest.mark.parametrize(
    ("server", "logged"),
    [
        (Server({}, status=200), "answered HTTP 404"),
        (Server({"https://ca.test/aai2.cer": b"<html>captive portal</html>"}), "one certificate"),
        (Server({"https://ca.test/aai2.cer": b"x" * 70_000}), "70000 bytes"),
    ],
)
def test_failed_downloads_give_none_and_say_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, server: Server, logged: str
) -> None:
    settings = make_settings(tmp_path)
    assert (
        load_trust_anchors(settings, transport=server.transport, sources=generated_sources())
        is None
    )
    assert logged in caplog.text


def test_unreachable_apple_gives_none(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    anchors = load_trust_anchors(
        make_settings(tmp_path),
        transport=httpx.MockTransport(unreachable),
        sources=generated_sources(),
    )
    assert anchors is None
    assert "cannot download https://ca.test/aai2.cer (ConnectError)" in caplog.text
    # the checks then say so, as a warning
    inspection = inspect_certificate(make_push_cert().pem, now=T0, trust=anchors)
    assert inspection.codes == ["chain_not_verified"]


def test_download_off_uses_only_the_cache(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    server = generated_server()
    assert load_trust_anchors(settings, transport=server.transport, download=False) is None
    assert server.requests == []
    load_trust_anchors(settings, transport=server.transport, sources=generated_sources())
    cached = load_trust_anchors(
        settings, transport=server.transport, sources=generated_sources(), download=False
    )
    assert cached is not None and len(server.requests) == 2


def test_unwritable_cache_still_gives_anchors(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "data").write_text("a file where the folder should be")
    settings = make_settings(tmp_path)
    anchors = load_trust_anchors(
        settings, transport=generated_server().transport, sources=generated_sources()
    )
    assert anchors is not None
    assert "cannot cache" in caplog.text


def test_logs_never_carry_certificate_bodies(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        server = generated_server()
        server.files["https://ca.test/root.cer"] = other_ca().root.pem
        load_trust_anchors(
            make_settings(tmp_path), transport=server.transport, sources=generated_sources()
        )
    body_line = other_ca().root.pem.splitlines()[3].decode()
    assert body_line not in caplog.text and "does not match the pin" in caplog.text


def test_trust_store_loads_once_and_retries_failures_slowly(tmp_path: Path) -> None:
    now = [0.0]
    failing = Server({})
    store = AppleTrustStore(
        make_settings(tmp_path),
        transport=failing.transport,
        sources=generated_sources(),
        retry_seconds=300,
        clock=lambda: now[0],
    )
    assert store.get() is None and len(failing.requests) == 1
    assert store.get() is None and len(failing.requests) == 1  # not retried yet
    failing.files.update(generated_server().files)
    now[0] = 301.0
    anchors = store.get()
    assert anchors is not None and len(failing.requests) == 3
    assert store.get() is anchors and len(failing.requests) == 3


# --- Apple's real files (skip only when ../shared/fixtures/apple is absent) ---------------------


def test_pins_are_the_ones_in_domain_md() -> None:
    assert {s.filename: s.sha256 for s in APPLE_CA_SOURCES} == DOMAIN_PINS
    assert {s.filename: s.url for s in APPLE_CA_SOURCES} == {
        "AppleAAI2CA.cer": "https://www.apple.com/certificateauthority/AppleAAI2CA.cer",
        "AppleIncRootCertificate.cer": "https://www.apple.com/appleca/AppleIncRootCertificate.cer",
    }


@needs_apple_fixtures
def test_real_ca_files_match_the_pins() -> None:
    for name in REAL_CA_FILES:
        certificate = x509.load_der_x509_certificate((APPLE_FIXTURES / name).read_bytes())
        assert fingerprint(certificate) == DOMAIN_PINS[name]


def real_server() -> Server:
    return Server({s.url: (APPLE_FIXTURES / s.filename).read_bytes() for s in APPLE_CA_SOURCES})


@needs_apple_fixtures
def test_real_files_downloaded_pass_the_pins_and_verify_the_real_cert(tmp_path: Path) -> None:
    server = real_server()
    anchors = load_trust_anchors(make_settings(tmp_path), transport=server.transport)
    assert anchors is not None and len(server.requests) == 2
    data = (APPLE_FIXTURES / REAL_PUSH_CERT).read_bytes()
    inspection = inspect_certificate(data, now=AT_2021, trust=anchors)
    assert inspection.problems == [] and inspection.chain_verified is True


@needs_apple_fixtures
def test_real_file_tampered_in_transit_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = real_server()
    url = APPLE_CA_SOURCES[1].url
    tampered = bytearray(server.files[url])
    tampered[-5] ^= 0x01  # inside the signature: still parses, different fingerprint
    server.files[url] = bytes(tampered)
    assert load_trust_anchors(make_settings(tmp_path), transport=server.transport) is None
    assert f"refused {url}" in caplog.text


@needs_apple_fixtures
@pytest.mark.parametrize("fmt", ["der", "pem"])
def test_real_chain_verifies_through_apple_ca_dir(tmp_path: Path, fmt: str) -> None:
    directory = tmp_path / "apple-ca"
    directory.mkdir()
    for name in REAL_CA_FILES:
        if fmt == "der":
            shutil.copyfile(APPLE_FIXTURES / name, directory / name)
        else:
            certificate = x509.load_der_x509_certificate((APPLE_FIXTURES / name).read_bytes())
            pem = certificate.public_bytes(Encoding.PEM)
            (directory / name.replace(".cer", ".pem")).write_bytes(pem)
    anchors = load_trust_anchors(make_settings(tmp_path, directory))
    assert anchors is not None
    data = (APPLE_FIXTURES / REAL_PUSH_CERT).read_bytes()
    assert inspect_certificate(data, now=AT_2021, trust=anchors).problems == []
    expired = inspect_certificate(data, now=T0, trust=anchors)
    assert "expired" in expired.codes

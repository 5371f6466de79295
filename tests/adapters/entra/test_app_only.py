"""App-only sign-in with MSAL against the fake Entra ID, over real sockets."""

from __future__ import annotations

import base64
import json
import socket
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from bot.adapters.entra import app_only, http
from bot.adapters.entra.app_only import MsalAppTokenProvider
from bot.adapters.entra.client_certificate import load_client_certificate
from bot.adapters.entra.providers import build_token_provider
from bot.adapters.graph.client import build_graph_client
from bot.config import Settings, load_settings
from bot.errors import AuthError
from tests.clock import real_now
from tests.fakes.dead_host import DeadHost
from tests.fakes.graph_server import (
    FAKE_CLIENT_ID,
    FAKE_CLIENT_SECRET,
    FAKE_TENANT_ID,
    FakeGraph,
    Fault,
)


def settings_for(env: dict[str, str], **changes: str | None) -> Settings:
    merged = {**env, **changes}
    return load_settings({k: v for k, v in merged.items() if v is not None}, need_slack=False)


def provider_for(settings: Settings) -> MsalAppTokenProvider:
    return build_token_provider(settings, settings.default_tenant)


def token_now(settings: Settings) -> str:
    provider = provider_for(settings)
    try:
        return provider.token()
    finally:
        provider.close()


def app_certificate(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None = None, days: int = 30
) -> tuple[x509.Certificate, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey]:
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "apns-bot")])
    now = real_now()  # MSAL and Entra ID judge the app's certificate by the real clock
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=400))
        .not_valid_after(now + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def pem_file(path: Path, *parts: bytes) -> Path:
    path.write_bytes(b"".join(parts))
    return path


def cert_pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def key_pem(key: Any, password: bytes | None = None) -> bytes:
    encryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, encryption
    )


@pytest.fixture(scope="module")
def rsa_credential() -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    certificate, key = app_certificate()
    assert isinstance(key, rsa.RSAPrivateKey)
    return certificate, key


# --- client secret ---------------------------------------------------------------------------------


def test_a_client_secret_signs_in_without_instance_discovery(graph_env, fake_graph: FakeGraph):
    settings = settings_for(graph_env)
    provider = provider_for(settings)
    assert fake_graph.requests == []  # nothing happens until a token is needed
    try:
        token = provider.token()
    finally:
        provider.close()

    assert token
    discovery, token_request = fake_graph.requests
    assert discovery.method == "GET"
    assert discovery.path == f"/{FAKE_TENANT_ID}/v2.0/.well-known/openid-configuration"
    assert token_request.path == f"/{FAKE_TENANT_ID}/oauth2/v2.0/token"
    form = token_request.form
    assert form["grant_type"] == "client_credentials"
    assert form["client_id"] == FAKE_CLIENT_ID
    assert form["client_secret"] == FAKE_CLIENT_SECRET
    assert form["scope"] == f"{fake_graph.url}/.default"  # <graph root>/.default


def test_the_token_is_reused_and_the_app_built_once(graph_env, fake_graph: FakeGraph):
    provider = provider_for(settings_for(graph_env))
    try:
        tokens = {provider.token() for _ in range(5)}
    finally:
        provider.close()
    assert len(tokens) == 1
    assert len(fake_graph.token_requests()) == 1
    assert len(fake_graph.requests) == 2  # one discovery, one token


def test_concurrent_first_use_builds_one_app_and_fetches_one_token(graph_env, fake_graph):
    provider = provider_for(settings_for(graph_env))
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(provider.token())) for _ in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        provider.close()
    assert len(results) == 8
    assert len(set(results)) == 1
    assert len(fake_graph.requests) == 2


def test_invalidate_drops_only_the_rejected_token(graph_env, fake_graph: FakeGraph):
    provider = provider_for(settings_for(graph_env))
    try:
        first = provider.token()
        provider.invalidate("some-other-token")
        assert provider.token() == first
        provider.invalidate(first)
        second = provider.token()
    finally:
        provider.close()
    assert second != first
    assert len(fake_graph.token_requests()) == 2


def test_a_bad_client_secret_quotes_the_aadsts_description(graph_env, fake_graph: FakeGraph):
    settings = settings_for(graph_env, AZURE_CLIENT_SECRET="wrong-secret-value")
    with pytest.raises(AuthError) as caught:
        token_now(settings)
    message = caught.value.user_message
    assert caught.value.error == "invalid_client"
    assert "AADSTS7000215: Invalid client secret provided." in message
    assert "create a new client secret and copy its Value (not the Secret ID)" in message
    assert "Trace ID" not in message
    assert "Correlation ID " in message  # once, for support, not the raw trace block
    assert "wrong-secret-value" not in message


def test_a_bad_secret_reaches_the_graph_caller_as_auth_error(graph_env, fake_graph: FakeGraph):
    settings = settings_for(graph_env, AZURE_CLIENT_SECRET="wrong-secret-value")
    with build_graph_client(settings, settings.default_tenant) as graph, pytest.raises(AuthError):
        graph.get_certificate()
    assert fake_graph.graph_requests() == []


def test_an_unknown_app_says_which_ids_to_check(graph_env, fake_graph: FakeGraph):
    other = "11111111-2222-4333-8444-555555555555"
    with pytest.raises(AuthError) as caught:
        token_now(settings_for(graph_env, AZURE_CLIENT_ID=other))
    message = caught.value.user_message
    assert f"AADSTS700016: Application with identifier '{other}' was not found" in message
    assert "AZURE_CLIENT_ID" in message
    assert caught.value.error == "unauthorized_client"


def test_an_unknown_tenant_fails_clearly_and_is_retried_later(graph_env, fake_graph: FakeGraph):
    missing = "99999999-8888-4777-8666-555555555555"
    provider = provider_for(settings_for(graph_env, AZURE_TENANT_ID=missing))
    try:
        with pytest.raises(AuthError) as caught:
            provider.token()
        assert f"AADSTS90002: Tenant '{missing}' not found." in caught.value.user_message
        assert "AZURE_CLOUD" in caught.value.user_message
        # The failure is not cached: once the tenant exists, the next call builds the app.
        fake_graph.add_tenant(missing)
        fake_graph.register_app(missing, FAKE_CLIENT_ID, secret=FAKE_CLIENT_SECRET)
        assert provider.token()
    finally:
        provider.close()


def test_an_unreachable_authority_is_an_auth_error(graph_env, fake_graph: FakeGraph):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings = settings_for(graph_env, AZURE_AUTHORITY_HOST=f"127.0.0.1:{closed_port}")
    with pytest.raises(AuthError, match="Could not reach Microsoft Entra ID"):
        token_now(settings)


def _only_proxy(monkeypatch: pytest.MonkeyPatch, proxy: str, no_proxy: str | None) -> None:
    for key in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", proxy)
    if no_proxy is not None:
        monkeypatch.setenv("NO_PROXY", no_proxy)


def test_the_sign_in_goes_through_the_environments_proxy(graph_env, fake_graph, monkeypatch):
    """HTTPS_PROXY is honoured (the session reads it itself, not on every request)."""
    with DeadHost() as proxy:
        _only_proxy(monkeypatch, f"http://{proxy.netloc}", None)
        settings = settings_for(graph_env, APNS_NETWORK_TIMEOUT="1")
        with pytest.raises(AuthError, match="timed out"):
            token_now(settings)
    assert fake_graph.requests == []  # nothing went to Entra directly


def test_no_proxy_sends_the_sign_in_direct(graph_env, fake_graph, monkeypatch):
    with DeadHost() as proxy:
        _only_proxy(monkeypatch, f"http://{proxy.netloc}", "127.0.0.1,localhost")
        assert token_now(settings_for(graph_env, APNS_NETWORK_TIMEOUT="1"))
    assert [r.path.rsplit("/", 1)[-1] for r in fake_graph.requests] == [
        "openid-configuration",
        "token",
    ]


def test_the_proxy_environment_is_read_once_per_origin(monkeypatch: pytest.MonkeyPatch):
    lookups: list[str] = []

    def environ_proxies(url: str, no_proxy: str | None = None) -> dict[str, str]:
        lookups.append(url)
        return {"https": "http://proxy.example:3128"}

    monkeypatch.setattr(http.requests.utils, "get_environ_proxies", environ_proxies)
    client = http.SignInHttpClient(None, 5.0)
    try:
        for path in ("a/token", "b/token", "c/openid-configuration"):
            assert client.proxies_for(f"https://login.example/{path}") == {
                "https": "http://proxy.example:3128"
            }
        client.proxies_for("https://other.example/x")
    finally:
        client.close()
    assert lookups == ["https://login.example/a/token", "https://other.example/x"]


def test_a_failing_token_endpoint_is_an_auth_error(graph_env, fake_graph: FakeGraph):
    fake_graph.inject("POST", "/oauth2/v2.0/token", Fault.unavailable())
    with pytest.raises(AuthError, match="answered HTTP 503"):
        token_now(settings_for(graph_env))


def test_an_untrusted_tls_certificate_points_at_ssl_cert_file(graph_env, fake_graph: FakeGraph):
    settings = settings_for(graph_env)
    untrusted = Settings(slack=None, tenants=settings.tenants, ca_bundle=None)
    with pytest.raises(AuthError, match="SSL_CERT_FILE"):
        token_now(untrusted)


# --- certificate credential ------------------------------------------------------------------------


def test_a_certificate_credential_signs_in(graph_env, fake_graph, rsa_credential, tmp_path):
    certificate, key = rsa_credential
    fake_graph.register_app(FAKE_TENANT_ID, FAKE_CLIENT_ID, certificate=certificate)
    path = pem_file(tmp_path / "app.pem", key_pem(key), cert_pem(certificate))
    settings = settings_for(
        graph_env, AZURE_CLIENT_SECRET=None, AZURE_CLIENT_CERTIFICATE_PATH=str(path)
    )
    assert token_now(settings)

    (request,) = fake_graph.token_requests()
    form = request.form
    assert "client_secret" not in form
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    header = json.loads(base64.urlsafe_b64decode(form["client_assertion"].split(".")[0] + "=="))
    assert header["alg"] == "PS256"
    expected = base64.urlsafe_b64encode(certificate.fingerprint(hashes.SHA256())).decode()
    assert header["x5t#S256"].rstrip("=") == expected.rstrip("=")


def test_an_unregistered_certificate_names_its_thumbprint(graph_env, fake_graph, tmp_path):
    certificate, key = app_certificate()
    path = pem_file(tmp_path / "app.pem", cert_pem(certificate), key_pem(key))
    settings = settings_for(
        graph_env, AZURE_CLIENT_SECRET=None, AZURE_CLIENT_CERTIFICATE_PATH=str(path)
    )
    with pytest.raises(AuthError) as caught:
        token_now(settings)
    thumbprint = certificate.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303
    assert "AADSTS700027" in caught.value.user_message
    assert f"thumbprint {thumbprint}" in caught.value.user_message


def test_load_client_certificate_reads_either_order(rsa_credential, tmp_path: Path):
    certificate, key = rsa_credential
    path = pem_file(tmp_path / "app.pem", cert_pem(certificate), key_pem(key))
    loaded = load_client_certificate(path)
    assert loaded.certificate_pem.encode() == cert_pem(certificate)
    assert loaded.sha1_thumbprint == certificate.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303
    assert "PRIVATE KEY" in loaded.private_key_pem


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing", "Cannot read AZURE_CLIENT_CERTIFICATE_PATH"),
        ("certificate only", "holds no PEM private key"),
        ("key only", "holds no PEM certificate"),
        ("encrypted key", "is encrypted"),
        ("other key", "No certificate in"),
        ("expired", "expired on"),
        ("ec key", "is not RSA"),
    ],
)
def test_load_client_certificate_explains_what_is_wrong(
    case: str, expected: str, rsa_credential, tmp_path: Path
):
    certificate, key = rsa_credential
    path = tmp_path / "app.pem"
    if case == "certificate only":
        pem_file(path, cert_pem(certificate))
    elif case == "key only":
        pem_file(path, key_pem(key))
    elif case == "encrypted key":
        pem_file(path, cert_pem(certificate), key_pem(key, password=b"hunter22"))
    elif case == "other key":
        other, _ = app_certificate(ec.generate_private_key(ec.SECP256R1()))
        pem_file(path, cert_pem(other), key_pem(key))
    elif case == "expired":
        old = app_certificate(key, days=-1)[0]
        pem_file(path, cert_pem(old), key_pem(key))
    elif case == "ec key":
        ec_certificate, ec_private = app_certificate(ec.generate_private_key(ec.SECP256R1()))
        pem_file(path, cert_pem(ec_certificate), key_pem(ec_private))
    with pytest.raises(AuthError, match=expected):
        load_client_certificate(path)


# --- national clouds ---------------------------------------------------------------------------------


def test_national_clouds_use_their_authority_scope_and_instance_discovery(monkeypatch):
    built: dict[str, Any] = {}

    class RecordingApp:
        def __init__(self, client_id: str, **kwargs: Any) -> None:
            built.update(kwargs, client_id=client_id)

        def acquire_token_for_client(self, scopes: list[str]) -> dict[str, Any]:
            built["scopes"] = scopes
            return {"access_token": "t", "token_type": "Bearer", "expires_in": 3599}

    monkeypatch.setattr(app_only.msal, "ConfidentialClientApplication", RecordingApp)
    env = {
        "AZURE_TENANT_ID": FAKE_TENANT_ID,
        "AZURE_CLIENT_ID": FAKE_CLIENT_ID,
        "AZURE_CLIENT_SECRET": FAKE_CLIENT_SECRET,
        "AZURE_CLOUD": "usgov",
    }
    assert token_now(load_settings(env, need_slack=False)) == "t"
    assert built["authority"] == f"https://login.microsoftonline.us/{FAKE_TENANT_ID}"
    assert built["scopes"] == ["https://graph.microsoft.us/.default"]
    assert built["instance_discovery"] is None  # a known host: MSAL knows it without asking
    assert built["client_credential"] == FAKE_CLIENT_SECRET

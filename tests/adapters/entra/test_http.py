"""MSAL's urllib3 HTTP client (bot.adapters.entra.http) against the fake Entra ID, over real
sockets: what requests did for the sign-in, it still does."""

from __future__ import annotations

import base64
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from bot.adapters.entra.app_only import MsalAppTokenProvider, network_error
from bot.adapters.entra.http import SignInHttpClient, _with_query
from bot.config import Settings, load_settings
from bot.errors import AuthError
from tests.fakes.connect_proxy import ConnectProxy
from tests.fakes.dead_host import DeadHost
from tests.fakes.graph_faults import Fault
from tests.fakes.graph_server import FAKE_CLIENT_ID, FAKE_CLIENT_SECRET, FAKE_TENANT_ID, FakeGraph

DISCOVERY = "/v2.0/.well-known/openid-configuration"
PROXY_VARIABLES = (
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
)


def settings_for(env: dict[str, str], **changes: str) -> Settings:
    return load_settings({**env, **changes}, need_slack=False)


def sign_in(settings: Settings, client: SignInHttpClient | None = None) -> str:
    provider = MsalAppTokenProvider(settings, settings.default_tenant, signin_http=client)
    try:
        return provider.token()
    finally:
        provider.close()


def client_for(fake_graph: FakeGraph) -> SignInHttpClient:
    return SignInHttpClient(fake_graph.tls.ca_bundle, (2.0, 5.0))


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for key in (*PROXY_VARIABLES, "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(key, raising=False)
    return monkeypatch


# --- the sign-in's answers ---------------------------------------------------------------------


def test_a_failing_discovery_is_the_same_auth_error(graph_env, fake_graph: FakeGraph):
    fake_graph.inject("GET", DISCOVERY, Fault.unavailable())
    with pytest.raises(AuthError) as caught:
        sign_in(settings_for(graph_env))
    assert caught.value.user_message == (
        f"Microsoft Entra ID at https://{fake_graph.authority_host} answered HTTP 503: the "
        "sign-in service is having trouble; try again in a few minutes."
    )
    assert fake_graph.token_requests() == []


def test_an_error_answer_raises_requests_http_error_with_its_status(fake_graph: FakeGraph):
    fake_graph.inject("GET", DISCOVERY, Fault.gateway_timeout())
    client = client_for(fake_graph)
    try:
        answer = client.get(f"{fake_graph.url}/{FAKE_TENANT_ID}{DISCOVERY}")
    finally:
        client.close()
    assert answer.status_code == 504
    assert answer.headers["content-type"].startswith("application/json")  # any case
    with pytest.raises(requests.HTTPError) as caught:
        answer.raise_for_status()
    assert caught.value.response is answer
    assert "answered HTTP 504" in network_error(caught.value, "login.example", 5.0).user_message


def test_a_silent_authority_times_out_after_the_configured_timeout(graph_env, no_proxy_env):
    with DeadHost() as dead:
        settings = settings_for(
            graph_env, AZURE_AUTHORITY_HOST=dead.netloc, APNS_NETWORK_TIMEOUT="0.5"
        )
        with pytest.raises(AuthError) as caught:
            sign_in(settings)
    message = caught.value.user_message
    assert f"Microsoft Entra ID at https://{dead.netloc} timed out" in message
    assert "(waited up to 0.5 s)" in message
    assert isinstance(caught.value.__cause__, requests.RequestException)


def test_every_request_carries_the_settings_timeout(no_proxy_env: pytest.MonkeyPatch):
    """A host that accepts and never answers: the read timeout ends the request (without it, the
    request would wait for ever); the pool holds ``pool_size`` connections per host."""
    client = SignInHttpClient(None, (1.5, 0.3))
    try:
        assert client._direct.connection_pool_kw["maxsize"] == 10
        with DeadHost() as dead, pytest.raises(requests.exceptions.ReadTimeout):
            client.get(f"{dead.url}/tenant/v2.0/.well-known/openid-configuration")
    finally:
        client.close()


# --- what is sent --------------------------------------------------------------------------------


def test_a_bytes_form_value_is_sent_as_its_bytes(fake_graph: FakeGraph):
    """A certificate's client assertion may reach the client as bytes (DOMAIN.md section 4)."""
    client = client_for(fake_graph)
    try:
        answer = client.post(
            f"{fake_graph.url}/{FAKE_TENANT_ID}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": FAKE_CLIENT_ID,
                "client_secret": FAKE_CLIENT_SECRET.encode(),
                "scope": f"{fake_graph.url}/.default",
                "claims": None,  # dropped, as requests drops it
            },
        )
    finally:
        client.close()
    assert answer.status_code == 200
    assert '"access_token"' in answer.text
    (request,) = fake_graph.token_requests()
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.form["client_secret"] == FAKE_CLIENT_SECRET
    assert "claims" not in request.form


def test_params_join_the_query_as_requests_encodes_them(fake_graph: FakeGraph):
    client = client_for(fake_graph)
    try:
        answer = client.get(
            f"{fake_graph.url}/{FAKE_TENANT_ID}{DISCOVERY}",
            params={"api-version": "1.0", "skip": None, "url": "https://a b/"},
            headers={"Accept": "application/json", "client-request-id": None},
        )
    finally:
        client.close()
    assert answer.status_code == 200
    (request,) = fake_graph.requests
    assert request.query == "api-version=1.0&url=https%3A%2F%2Fa+b%2F"
    assert "client-request-id" not in request.headers  # a None header is not sent
    assert _with_query("https://h/p?x=1#f", {"y": "2"}) == "https://h/p?x=1&y=2#f"
    assert _with_query("https://h/p", None) == "https://h/p"


# --- proxies ---------------------------------------------------------------------------------------


def test_proxy_credentials_in_the_url_are_sent_as_proxy_authorization(
    graph_env, fake_graph: FakeGraph, no_proxy_env: pytest.MonkeyPatch
):
    with ConnectProxy(credentials=("corp\\svc", "p@ss:word")) as proxy:
        no_proxy_env.setenv("HTTPS_PROXY", f"http://corp%5Csvc:p%40ss%3Aword@{proxy.netloc}")
        assert sign_in(settings_for(graph_env))
    expected = "Basic " + base64.b64encode(b"corp\\svc:p@ss:word").decode()
    assert proxy.connects
    assert {c.target for c in proxy.connects} == {fake_graph.authority_host}
    assert {c.proxy_authorization for c in proxy.connects} == {expected}
    # the tunnel carried both requests, end to end over TLS
    assert [r.path.rsplit("/", 1)[-1] for r in fake_graph.requests] == [
        "openid-configuration",
        "token",
    ]


def test_a_proxy_refusing_the_credentials_is_an_auth_error(
    graph_env, fake_graph: FakeGraph, no_proxy_env: pytest.MonkeyPatch
):
    with ConnectProxy(credentials=("svc", "right")) as proxy:
        no_proxy_env.setenv("HTTPS_PROXY", f"http://svc:wrong@{proxy.netloc}")
        with pytest.raises(AuthError, match="Could not reach Microsoft Entra ID") as caught:
            sign_in(settings_for(graph_env))
    assert "ProxyError" in caught.value.user_message
    assert "svc:wrong" not in "".join(traceback.format_exception(caught.value))
    assert isinstance(caught.value.__cause__, requests.exceptions.ProxyError)
    assert fake_graph.requests == []


def test_a_malformed_proxy_url_is_named_without_its_credentials(
    graph_env, fake_graph: FakeGraph, no_proxy_env: pytest.MonkeyPatch
):
    """The URL parsers quote the URL they cannot parse: the error says which setting instead."""
    no_proxy_env.setenv("HTTPS_PROXY", "http://svc:s3cret-pw@proxy.example:99999")
    with pytest.raises(AuthError, match="Could not reach Microsoft Entra ID") as caught:
        sign_in(settings_for(graph_env))
    assert (
        "(ProxyError)" in caught.value.user_message and "HTTPS_PROXY" in caught.value.user_message
    )
    cause = caught.value.__cause__
    assert isinstance(cause, requests.exceptions.ProxyError)
    assert "malformed" in str(cause) and "HTTPS_PROXY" in str(cause)
    assert "s3cret-pw" not in "".join(traceback.format_exception(caught.value))
    assert fake_graph.requests == []


# --- sharing -----------------------------------------------------------------------------------------


def test_concurrent_sign_ins_of_many_tenants_share_one_client(
    graph_env, fake_graph: FakeGraph, no_proxy_env
):
    tenants = [str(uuid.UUID(int=i + 1, version=4)) for i in range(24)]
    for tenant in tenants:
        fake_graph.add_tenant(tenant)
        fake_graph.register_app(tenant, FAKE_CLIENT_ID, secret=FAKE_CLIENT_SECRET)
    shared = SignInHttpClient(fake_graph.tls.ca_bundle, (2.0, 5.0), pool_size=8)
    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            tokens = list(
                pool.map(
                    lambda t: sign_in(settings_for(graph_env, AZURE_TENANT_ID=t), shared), tenants
                )
            )
        assert sign_in(settings_for(graph_env), shared)  # still usable after the rush
    finally:
        shared.close()
    assert len(set(tokens)) == len(tenants)
    token_paths = {r.path for r in fake_graph.token_requests()}
    assert token_paths == {f"/{t}/oauth2/v2.0/token" for t in [*tenants, FAKE_TENANT_ID]}
    assert len(fake_graph.requests) == 2 * (len(tenants) + 1)

"""MSAL's public client against the fake Entra ID: one poll at a time, and what each answer means."""

from __future__ import annotations

import socket

import pytest

from bot.adapters.entra.public_client import PublicClient
from bot.adapters.sealing import generate_key
from bot.config import Settings, load_settings
from bot.core.signin import PollOutcome
from bot.errors import AuthError
from tests.fakes.graph_server import FAKE_CLIENT_ID, FAKE_TENANT_ID, FakeGraph

USER = "lead@contoso.example"


def delegated_settings(env: dict[str, str], **changes: str) -> Settings:
    merged = {**env, "AZURE_CLIENT_SECRET": "", "APNS_TOKEN_KEY": generate_key(), **changes}
    return load_settings(merged, need_slack=False)


@pytest.fixture
def client(graph_env: dict[str, str], fake_graph: FakeGraph) -> PublicClient:
    fake_graph.register_app(FAKE_TENANT_ID, FAKE_CLIENT_ID, public_client=True)
    settings = delegated_settings(graph_env)
    return PublicClient(settings, settings.default_tenant)


def test_start_shows_a_user_code_and_keeps_the_device_code_out_of_sight(
    client: PublicClient, fake_graph: FakeGraph
) -> None:
    started = client.start()
    session = fake_graph.delegated.session(started.user_code)
    assert started.verification_uri == "https://microsoft.com/devicelogin"
    assert (started.interval, started.expires_in) == (5, 900)
    assert started.flow["device_code"] == session.device_code
    assert session.device_code not in repr(started)
    [request] = fake_graph.requests_to("/oauth2/v2.0/devicecode", "POST")
    scopes = request.form["scope"].split()
    assert f"{fake_graph.url}/DeviceManagementServiceConfig.ReadWrite.All" in scopes
    assert "offline_access" in scopes


def test_each_poll_is_one_request_and_success_carries_the_account(
    client: PublicClient, fake_graph: FakeGraph
) -> None:
    started = client.start()
    pending = client.poll(started.flow)
    assert pending.outcome is PollOutcome.PENDING and pending.error is None
    fake_graph.delegated.slow_down(started.user_code)
    assert client.poll(pending.flow).outcome is PollOutcome.SLOW_DOWN
    fake_graph.delegated.sign_in(started.user_code, USER)
    done = client.poll(pending.flow)
    assert done.outcome is PollOutcome.SIGNED_IN
    assert (
        done.username == USER
        and done.home_account_id
        and done.home_account_id.endswith(FAKE_TENANT_ID)
    )
    assert len(fake_graph.delegated.session(started.user_code).polls) == 3
    assert done.cache is not None and done.cache not in repr(done)
    again = client.poll(pending.flow)  # a redeemed code cannot be used twice
    assert again.outcome is PollOutcome.FAILED


@pytest.mark.parametrize(
    ("end", "outcome"),
    [
        (lambda d, c: d.expire(c), PollOutcome.EXPIRED),
        (lambda d, c: d.decline(c), PollOutcome.DECLINED),
        (lambda d, c: d.decline(c, "access_denied"), PollOutcome.DECLINED),
    ],
)
def test_a_flow_that_ends_without_a_sign_in_says_why(
    client: PublicClient, fake_graph: FakeGraph, end: object, outcome: PollOutcome
) -> None:
    started = client.start()
    end(fake_graph.delegated, started.user_code)  # type: ignore[operator]
    result = client.poll(started.flow)
    assert result.outcome is outcome
    assert result.error is not None and "AADSTS" in result.error.user_message


def test_an_app_without_public_client_flows_is_explained(
    graph_env: dict[str, str], fake_graph: FakeGraph
) -> None:
    settings = delegated_settings(graph_env)
    client = PublicClient(settings, settings.default_tenant)
    started = client.start()  # Entra hands out codes; the token endpoint refuses the client
    fake_graph.delegated.sign_in(started.user_code, USER)
    result = client.poll(started.flow)
    assert result.outcome is PollOutcome.FAILED and result.error is not None
    assert "AADSTS7000218" in result.error.user_message
    assert "Allow public client flows" in result.error.user_message


def test_an_unknown_app_cannot_start_a_sign_in(
    graph_env: dict[str, str], fake_graph: FakeGraph
) -> None:
    settings = delegated_settings(graph_env, AZURE_CLIENT_ID="11111111-2222-3333-4444-555555555555")
    with pytest.raises(AuthError, match="AADSTS700016"):
        PublicClient(settings, settings.default_tenant).start()


def test_an_unreachable_sign_in_service_is_one_clear_sentence(
    graph_env: dict[str, str], fake_graph: FakeGraph
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{probe.getsockname()[1]}"
    settings = delegated_settings(graph_env, AZURE_AUTHORITY_HOST=closed)
    with pytest.raises(AuthError, match="Could not reach Microsoft Entra ID"):
        PublicClient(settings, settings.default_tenant).start()


def test_silent_refreshes_and_a_revoked_refresh_token_marks_the_sign_in_dead(
    client: PublicClient, fake_graph: FakeGraph
) -> None:
    started = client.start()
    fake_graph.delegated.sign_in(started.user_code, USER)
    done = client.poll(started.flow)
    assert done.cache is not None and done.home_account_id is not None
    cached = client.silent(done.cache, done.home_account_id)
    assert cached.token and cached.cache is None  # straight from the cache: nothing to store
    forced = client.silent(done.cache, done.home_account_id, force=True)
    assert forced.token and forced.token != cached.token and forced.cache is not None
    fake_graph.delegated.revoke_refresh_tokens(USER)
    dead = client.silent(done.cache, done.home_account_id, force=True)
    assert dead.dead and dead.token is None
    assert dead.error is not None and "AADSTS50173" in dead.error.user_message
    assert client.silent(done.cache, "someone.else").dead


def _discovery_requests(fake_graph: FakeGraph) -> int:
    return len(fake_graph.requests_to("/v2.0/.well-known/openid-configuration", "GET"))


def test_discovery_is_fetched_once_and_reused_by_later_calls(
    client: PublicClient, fake_graph: FakeGraph
) -> None:
    started = client.start()
    fetched = _discovery_requests(fake_graph)
    assert fetched >= 1
    client.poll(started.flow)
    client.start()
    assert _discovery_requests(fake_graph) == fetched


def test_calls_at_the_same_time_never_share_msals_discovery_cache(
    client: PublicClient, fake_graph: FakeGraph
) -> None:
    """MSAL locks its http_cache per app object: two apps on one mapping would race on its index.
    Two calls open at once each get their own copy of what was cached. (This reads MSAL's
    private attributes: an MSAL upgrade may need the path adjusted, not the rule.)"""
    client.start()  # discovery cached
    with client._app(None) as first, client._app(None) as second:
        first_mapping = first.http_client._expiring_mapping._mapping
        second_mapping = second.http_client._expiring_mapping._mapping
        assert first_mapping is not second_mapping
        assert first_mapping is not client._http_cache
        assert first_mapping.keys() == second_mapping.keys() == client._http_cache.keys()

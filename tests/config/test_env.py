"""Settings from a mapping: defaults, clouds, and one error listing every problem."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from bot.config import DEFAULT_REMIND_DAYS, Secret, load_settings
from bot.errors import ConfigError

GUID = "11111111-2222-3333-4444-555555555555"
MINIMAL = {
    "SLACK_BOT_TOKEN": "xoxb-1-2-3",
    "SLACK_APP_TOKEN": "xapp-1-2-3",
    "APNS_CHANNEL": "C0APNSOPS",
    "APNS_APPROVERS": "U0LEAD, S0LEADS",
    "AZURE_TENANT_ID": GUID,
    "AZURE_CLIENT_ID": GUID,
    "AZURE_CLIENT_SECRET": "s3cr3t-value",
}


def test_a_minimal_environment_gets_sensible_defaults() -> None:
    s = load_settings(MINIMAL)
    assert s.slack is not None and s.slack.socket_mode
    assert s.slack.api_url == "https://slack.com/api/"
    tenant = s.default_tenant
    assert tenant.name == "default"
    assert tenant.graph_url == "https://graph.microsoft.com/beta"
    assert tenant.authority == f"https://login.microsoftonline.com/{GUID}"
    assert tenant.app_scope == "https://graph.microsoft.com/.default"
    assert tenant.authority_is_known
    assert tenant.approver_users == ("U0LEAD",) and tenant.approver_groups == ("S0LEADS",)
    assert tenant.remind_days == DEFAULT_REMIND_DAYS
    assert s.db_path == Path("data/apns-bot.sqlite3")
    assert (s.required_approvals, s.approval_ttl_hours) == (1, 24)
    assert (s.check_time, s.timezone) == (time(9, 0), "UTC")


def test_an_empty_environment_lists_every_missing_key_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({})
    text = caught.value.user_message
    for key in (
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "SLACK_SIGNING_SECRET",
        "APNS_CHANNEL",
        "APNS_APPROVERS",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
    ):
        assert key in text
    assert len(caught.value.problems) >= 7


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [
        ("SLACK_BOT_TOKEN", "xoxp-user-token", "xoxb-"),
        ("SLACK_APP_TOKEN", "xoxb-wrong", "xapp-"),
        ("APNS_CHANNEL", "#apns-ops", "channel id"),
        ("APNS_APPROVERS", "alex,U0LEAD", "'alex'"),
        ("AZURE_TENANT_ID", "not a tenant", "GUID"),
        ("AZURE_CLIENT_ID", "contoso", "GUID"),
        ("AZURE_CLOUD", "mars", "usgov"),
        ("GRAPH_URL", "http://graph.example", "https://"),
        ("GRAPH_URL", "https://graph.example/api", "/beta or /v1.0"),
        ("APNS_REQUIRED_APPROVALS", "two", "whole number"),
        ("APNS_APPROVAL_TTL_HOURS", "0", "out of range"),
        ("APNS_REMIND_DAYS", "60,thirty", "comma-separated"),
        ("APNS_CHECK_TIME", "9am", "24-hour"),
        ("APNS_TIMEZONE", "Mars/Olympus", "time zone"),
        ("AZURE_CLIENT_CERTIFICATE_PATH", "/nonexistent/cert.pem", "does not exist"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL"),
    ],
)
def test_a_malformed_value_is_named_with_what_to_do(key: str, value: str, needle: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({**MINIMAL, key: value})
    assert needle in caught.value.user_message
    assert any(key in p for p in caught.value.problems)


@pytest.mark.parametrize(
    ("cloud", "login", "graph"),
    [
        ("usgov", "login.microsoftonline.us", "https://graph.microsoft.us"),
        ("usgov-dod", "login.microsoftonline.us", "https://dod-graph.microsoft.us"),
        ("china", "login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn"),
    ],
)
def test_national_clouds_set_authority_graph_and_scope(cloud: str, login: str, graph: str) -> None:
    tenant = load_settings({**MINIMAL, "AZURE_CLOUD": cloud}).default_tenant
    assert tenant.authority == f"https://{login}/{GUID}"
    assert tenant.graph_url == f"{graph}/beta"
    assert tenant.app_scope == f"{graph}/.default"


def test_overrides_make_an_unknown_authority_and_keep_the_graph_root_for_the_scope() -> None:
    tenant = load_settings(
        {
            **MINIMAL,
            "AZURE_AUTHORITY_HOST": "https://login.proxy.example/",
            "GRAPH_URL": "https://graph.proxy.example:8443/v1.0/",
        }
    ).default_tenant
    assert tenant.authority == f"https://login.proxy.example/{GUID}"
    assert not tenant.authority_is_known
    assert tenant.graph_url == "https://graph.proxy.example:8443/v1.0"
    assert tenant.app_scope == "https://graph.proxy.example:8443/.default"


def test_graph_only_commands_need_no_slack_settings() -> None:
    env = {k: v for k, v in MINIMAL.items() if not k.startswith(("SLACK", "APNS"))}
    s = load_settings(env, need_slack=False)
    assert s.slack is None and s.default_tenant.channel == ""


def test_http_mode_slack_api_url_gets_its_trailing_slash() -> None:
    env = {
        **MINIMAL,
        "SLACK_APP_TOKEN": "",
        "SLACK_SIGNING_SECRET": "abc",
        "SLACK_API_URL": "http://127.0.0.1:9/api",
    }
    s = load_settings(env)
    assert s.slack is not None and not s.slack.socket_mode
    assert s.slack.api_url == "http://127.0.0.1:9/api/"


def test_secrets_never_show_in_repr() -> None:
    s = load_settings(MINIMAL)
    for text in (repr(s), str(s.default_tenant), repr(s.slack)):
        assert "s3cr3t-value" not in text and "xoxb-1-2-3" not in text and "xapp-1-2-3" not in text
    assert s.default_tenant.client_secret == Secret("s3cr3t-value")


def test_remind_days_are_deduplicated_and_sorted_descending() -> None:
    s = load_settings({**MINIMAL, "APNS_REMIND_DAYS": "7, 30,7,90"})
    assert s.default_tenant.remind_days == (90, 30, 7)


def test_more_required_approvals_than_approvers_is_refused_unless_groups_may_supply_them() -> None:
    env = {**MINIMAL, "APNS_APPROVERS": "U0LEAD", "APNS_REQUIRED_APPROVALS": "2"}
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert "no request could ever be approved" in caught.value.user_message
    assert load_settings({**env, "APNS_APPROVERS": "U0LEAD,S0LEADS"}).required_approvals == 2


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("SLACK_BOT_TOKEN", "xoxb-..."),
        ("SLACK_BOT_TOKEN", "xoxb-…"),
        ("SLACK_APP_TOKEN", "xapp-..."),
        ("APNS_CHANNEL", "C0123ABCD"),
        ("APNS_APPROVERS", "U0LEAD,S0123ABCD"),
        ("AZURE_TENANT_ID", "00000000-0000-0000-0000-000000000000"),
        ("AZURE_CLIENT_ID", "00000000-0000-0000-0000-000000000000"),
    ],
)
def test_placeholders_are_refused_by_name(key: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({**MINIMAL, key: value})
    assert caught.value.problems == [
        next(p for p in caught.value.problems if p.startswith(f"{key}="))
    ]
    assert "is still the example value from .env.example" in caught.value.problems[0]


def test_every_value_env_example_ships_with_is_refused() -> None:
    from dotenv import dotenv_values

    example = dotenv_values(Path(__file__).resolve().parents[2] / ".env.example")
    shipped = {k: v for k, v in example.items() if v}
    assert shipped, ".env.example sets no value"
    with pytest.raises(ConfigError) as caught:
        load_settings({**MINIMAL, **shipped})
    refused = {p.split("=")[0] for p in caught.value.problems if "example value" in p}
    assert refused == set(shipped)


@pytest.mark.parametrize(("raw", "ok"), [("0.5", True), ("30", True), ("0", False), ("x", False)])
def test_network_timeout(raw: str, ok: bool) -> None:
    env = {**MINIMAL, "APNS_NETWORK_TIMEOUT": raw}
    if ok:
        settings = load_settings(env)
        assert settings.network_timeout == float(raw)
        assert settings.connect_timeout == min(5.0, float(raw))
    else:
        with pytest.raises(ConfigError, match="APNS_NETWORK_TIMEOUT"):
            load_settings(env)


def test_a_metrics_token_is_kept_secret() -> None:
    assert load_settings(MINIMAL).metrics_token is None
    settings = load_settings({**MINIMAL, "APNS_METRICS_TOKEN": "a" * 64})
    assert settings.metrics_token is not None and settings.metrics_token.reveal() == "a" * 64
    assert "a" * 64 not in repr(settings)


def test_metrics_are_served_beside_slack_unless_a_port_is_given() -> None:
    settings = load_settings(MINIMAL)
    assert (settings.metrics_port, settings.metrics_host) == (None, "127.0.0.1")
    settings = load_settings({**MINIMAL, "APNS_METRICS_PORT": " 9464 "})
    assert (settings.metrics_port, settings.metrics_host) == (9464, "127.0.0.1")
    settings = load_settings({**MINIMAL, "APNS_METRICS_PORT": "9464", "APNS_METRICS_HOST": "::"})
    assert settings.metrics_host == "::"


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"APNS_METRICS_PORT": "http"}, "APNS_METRICS_PORT='http' must be a port number"),
        ({"APNS_METRICS_PORT": "65536"}, "APNS_METRICS_PORT='65536' must be a port number"),
        ({"APNS_METRICS_PORT": "-1"}, "APNS_METRICS_PORT='-1' must be a port number"),
        ({"APNS_METRICS_PORT": "９４６４"}, "must be a port number"),  # full-width digits
        (
            {"APNS_METRICS_PORT": "9464", "APNS_METRICS_HOST": "http://0.0.0.0"},
            "APNS_METRICS_HOST='http://0.0.0.0' must be an address to listen on",
        ),
        (
            {"APNS_METRICS_PORT": "9464", "APNS_METRICS_HOST": "999.1.1.1"},
            "must be an address to listen on",
        ),
        (
            {"APNS_METRICS_HOST": "127.0.0.2"},
            "APNS_METRICS_HOST is set but APNS_METRICS_PORT is not",
        ),
        ({"APNS_METRICS_TOKEN": "short"}, "APNS_METRICS_TOKEN must be 16 to 512 characters"),
        ({"APNS_METRICS_TOKEN": "has space " * 3}, "APNS_METRICS_TOKEN must be 16 to 512"),
        ({"APNS_METRICS_TOKEN": "0123456789abcdef..."}, "APNS_METRICS_TOKEN must be"),
    ],
)
def test_bad_metrics_settings_are_named(env: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({**MINIMAL, **env})
    assert problem in caught.value.user_message

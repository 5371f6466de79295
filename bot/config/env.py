"""Settings, built from a mapping (the process environment at the entry point, a dict in tests).

Nothing here reads ``os.environ`` or ``.env``: the composition root (``bot.cli``) does that once and
passes the mapping in. Every problem is collected and raised together as one ``ConfigError``, so a
user fixes their ``.env`` in one go.

The Microsoft side is described per tenant (``TenantSettings``); with the environment alone there is
exactly one tenant, named ``default``; ``APNS_TENANTS_FILE`` describes several
(``bot.config.tenants_file``). The value types live in ``bot.config.model``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.config.auth import (
    missing_key_problem,
    parse_auth_mode,
    parse_flag,
    parse_token_keys,
)
from bot.config.fields import (
    CHANNEL_PATTERN,
    GUID_PATTERN,
    ZERO_GUID,
    check_tenant_id,
    database_url_problem,
    is_placeholder,
    parse_approvers,
    parse_bearer_token,
    parse_bind_host,
    parse_port,
    parse_remind_days,
    parse_seconds,
    parse_watch,
    resolve_cloud,
)
from bot.config.model import (
    DEFAULT_DB_PATH,
    DEFAULT_NETWORK_TIMEOUT,
    DEFAULT_SLACK_API_URL,
    DEFAULT_TENANT,
    Secret,
    Settings,
    SlackSettings,
    TenantSettings,
)
from bot.config.tenants_file import load_tenants_file
from bot.errors import ConfigError

# What .env.example ships with: copied unchanged, these would pass every format check and fail
# only later, at Slack or at sign-in. Refused by name before any network call.
EXAMPLE_VALUES: Mapping[str, tuple[str, ...]] = {
    "SLACK_BOT_TOKEN": ("xoxb-...",),
    "SLACK_APP_TOKEN": ("xapp-...",),
    "APNS_CHANNEL": ("C0123ABCD",),
    "APNS_APPROVERS": ("U0123ABCD", "S0123ABCD"),
    "AZURE_TENANT_ID": (ZERO_GUID,),
    "AZURE_CLIENT_ID": (ZERO_GUID,),
}
EXAMPLE_NOTE = "is still the example value from .env.example"


def example_problem(key: str, value: str | None, hint: str) -> str | None:
    """``key=value`` is a placeholder (``.env.example``'s, or obviously fake): say so by name."""
    if value is None:
        return None
    parts = [p.strip() for p in value.split(",")] if key == "APNS_APPROVERS" else [value]
    fake = [p for p in parts if p in EXAMPLE_VALUES.get(key, ()) or is_placeholder(p)]
    if not fake:
        return None
    return f"{key}={', '.join(fake)} {EXAMPLE_NOTE}: {hint}"


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def get(self, key: str) -> str | None:
        value = self.env.get(key)
        if value is None:
            return None
        value = value.strip()
        return value or None

    def required(self, key: str, hint: str) -> str | None:
        value = self.get(key)
        if value is None:
            self.problems.append(f"{key} is missing: {hint}")
        return value

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def example(self, key: str, hint: str) -> bool:
        """True (and a problem recorded) when ``key`` still holds a placeholder."""
        problem = example_problem(key, self.get(key), hint)
        if problem is not None:
            self.problems.append(problem)
        return problem is not None

    def integer(self, key: str, default: int, lo: int, hi: int) -> int:
        raw = self.get(key)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            self.problem(f"{key}={raw!r} is not a whole number (expected {lo}..{hi}).")
            return default
        if not lo <= value <= hi:
            self.problem(f"{key}={value} is out of range (expected {lo}..{hi}).")
            return default
        return value

    def path(self, key: str, *, must_exist: bool, is_dir: bool = False) -> Path | None:
        raw = self.get(key)
        if raw is None:
            return None
        path = Path(raw).expanduser()
        if must_exist and not path.exists():
            self.problem(f"{key}={raw} does not exist.")
            return None
        if must_exist and is_dir and not path.is_dir():
            self.problem(f"{key}={raw} is not a directory.")
            return None
        return path


def _slack_settings(r: _Reader) -> SlackSettings | None:
    bot_token = r.required(
        "SLACK_BOT_TOKEN",
        "the Bot User OAuth Token (xoxb-…) from your Slack app's OAuth & Permissions page.",
    )
    if r.example(
        "SLACK_BOT_TOKEN", "copy the Bot User OAuth Token (xoxb-…) from OAuth & Permissions."
    ):
        pass
    elif bot_token and not bot_token.startswith("xoxb-"):
        r.problem("SLACK_BOT_TOKEN must be a bot token starting with xoxb-.")
    app_token = r.get("SLACK_APP_TOKEN")
    signing_secret = r.get("SLACK_SIGNING_SECRET")
    if r.example(
        "SLACK_APP_TOKEN",
        "generate an app-level token (xapp-…, scope connections:write) under Basic Information, "
        "or remove the line and use SLACK_SIGNING_SECRET (HTTP mode).",
    ):
        pass
    elif app_token and not app_token.startswith("xapp-"):
        r.problem(
            "SLACK_APP_TOKEN must be an app-level token starting with xapp- (scope connections:write)."
        )
    if not app_token and not signing_secret:
        r.problem(
            "Set SLACK_APP_TOKEN (Socket Mode, no public URL needed: an app-level token xapp-… with "
            "connections:write) or SLACK_SIGNING_SECRET (HTTP mode: Basic Information → Signing Secret)."
        )
    api_url = r.get("SLACK_API_URL") or DEFAULT_SLACK_API_URL
    if not api_url.startswith(("https://", "http://")):
        r.problem(f"SLACK_API_URL={api_url!r} must be an http(s) URL.")
    if not api_url.endswith("/"):
        api_url += "/"  # WebClient joins method names onto the base URL
    if bot_token is None:
        return None
    return SlackSettings(
        bot_token=Secret(bot_token),
        app_token=Secret(app_token) if app_token else None,
        signing_secret=Secret(signing_secret) if signing_secret else None,
        api_url=api_url,
    )


def _default_tenant(r: _Reader, need_slack: bool) -> TenantSettings | None:
    tenant_id = r.required(
        "AZURE_TENANT_ID", "the Directory (tenant) ID from your Entra app registration's Overview."
    )
    if not r.example(
        "AZURE_TENANT_ID", "copy the Directory (tenant) ID from your Entra app's Overview."
    ):
        check_tenant_id(tenant_id, r.problems, "AZURE_TENANT_ID")
    client_id = r.required(
        "AZURE_CLIENT_ID",
        "the Application (client) ID from your Entra app registration's Overview.",
    )
    if r.example(
        "AZURE_CLIENT_ID", "copy the Application (client) ID from your Entra app's Overview."
    ):
        pass
    elif client_id and not GUID_PATTERN.match(client_id):
        r.problem(f"AZURE_CLIENT_ID={client_id!r} must be a GUID (Application (client) ID).")
    secret = r.get("AZURE_CLIENT_SECRET")
    cert_path = r.path("AZURE_CLIENT_CERTIFICATE_PATH", must_exist=True)
    has_credential = secret is not None or r.get("AZURE_CLIENT_CERTIFICATE_PATH") is not None
    mode = parse_auth_mode(r.get("AZURE_AUTH_MODE"), has_credential, r.problems, "AZURE_AUTH_MODE")
    if mode == "delegated" and r.get("APNS_TOKEN_KEY") is None:
        explicit = r.get("AZURE_AUTH_MODE") is not None
        r.problem(missing_key_problem("AZURE_AUTH_MODE=delegated" if explicit else None))
    if mode == "app" and not has_credential:
        r.problem(
            "Set AZURE_CLIENT_SECRET (Certificates & secrets → New client secret: the Value, not the "
            "Secret ID) or AZURE_CLIENT_CERTIFICATE_PATH (a PEM file holding the certificate and its "
            "private key)."
        )
    cloud = (r.get("AZURE_CLOUD") or "global").lower()
    host, graph_url = resolve_cloud(
        cloud, r.get("AZURE_AUTHORITY_HOST"), r.get("GRAPH_URL"), r.problems
    )
    channel = r.get("APNS_CHANNEL")
    if need_slack and channel is None:
        r.problem(
            "APNS_CHANNEL is missing: the id (C…) of the channel for approvals and notices "
            "(channel details → About → Channel ID); invite the bot there."
        )
    if r.example(
        "APNS_CHANNEL",
        "copy your approvals channel's id (channel details → About → Channel ID).",
    ):
        pass
    elif channel and not CHANNEL_PATTERN.match(channel):
        r.problem(f"APNS_CHANNEL={channel!r} must be a channel id such as C0A1B2C3D4, not a name.")
    r.example(
        "APNS_APPROVERS",
        "list your team leads' member ids (profile → ⋮ → Copy member ID) or user-group ids.",
    )
    approvers = parse_approvers(r.get("APNS_APPROVERS"), r.problems, "APNS_APPROVERS")
    if need_slack and not approvers and r.get("APNS_APPROVERS") is None:
        r.problem(
            "APNS_APPROVERS is missing: comma-separated Slack user ids (U…) and/or user-group ids "
            "(S…) of the team leads who approve renewals."
        )
    viewers = parse_approvers(r.get("APNS_VIEWERS"), r.problems, "APNS_VIEWERS")
    remind_days = parse_remind_days(r.get("APNS_REMIND_DAYS"), r.problems, "APNS_REMIND_DAYS")
    own_days = {
        kind: parse_remind_days(r.get(key), r.problems, key) if r.get(key) is not None else None
        for kind, key in (("ade", "APNS_REMIND_DAYS_ADE"), ("vpp", "APNS_REMIND_DAYS_VPP"))
    }
    watch = parse_watch(r.get("APNS_WATCH"), r.problems, "APNS_WATCH")
    if tenant_id is None or client_id is None:
        return None
    return TenantSettings(
        name=DEFAULT_TENANT,
        tenant_id=tenant_id,
        client_id=client_id,
        channel=channel or "",
        approvers=approvers,
        viewers=viewers,
        client_secret=Secret(secret) if secret else None,
        client_certificate_path=cert_path,
        cloud=cloud,
        authority_host=host,
        graph_url=graph_url,
        remind_days=remind_days,
        watch=watch,
        ade_remind_days=own_days["ade"],
        vpp_remind_days=own_days["vpp"],
        auth_mode=mode,
        skip_identity_match=parse_flag(
            r.get("APNS_SKIP_IDENTITY_MATCH"), r.problems, "APNS_SKIP_IDENTITY_MATCH"
        ),
    )


def load_settings(
    env: Mapping[str, str], *, need_slack: bool = True, need_graph: bool = True
) -> Settings:
    """Build ``Settings`` from ``env``; raise one ``ConfigError`` listing every problem.

    ``need_slack=False`` lets CLI commands that only talk to Graph (``status``, ``check``) run
    without Slack credentials; ``need_graph=False`` does the same for offline commands.
    """
    r = _Reader(env)
    slack = _slack_settings(r) if need_slack else None
    tenants: dict[str, TenantSettings] = {}
    tenants_file = r.get("APNS_TENANTS_FILE")
    if need_graph and tenants_file:
        tenants = load_tenants_file(Path(tenants_file).expanduser(), env, r.problems)
    elif need_graph:
        tenant = _default_tenant(r, need_slack)
        if tenant is not None:
            tenants[tenant.name] = tenant
    token_keys = parse_token_keys(r.get("APNS_TOKEN_KEY"), r.problems)
    if tenants_file and any(t.delegated for t in tenants.values()) and not r.get("APNS_TOKEN_KEY"):
        r.problem(missing_key_problem(f"auth_mode = delegated in {tenants_file}"))

    db_path = Path(r.get("APNS_DB_PATH") or DEFAULT_DB_PATH).expanduser()
    database_url = r.get("APNS_DATABASE_URL")
    if database_url is not None and not database_url.startswith(("postgresql://", "postgres://")):
        # never echo the value: it may hold a password
        r.problem(
            "APNS_DATABASE_URL must be a PostgreSQL URL (postgresql://user@host:5432/database); "
            "leave it unset to use the SQLite file at APNS_DB_PATH."
        )
        database_url = None
    elif database_url is not None and (problem := database_url_problem(database_url)):
        r.problem(problem)
        database_url = None
    ca_bundle = r.path("SSL_CERT_FILE", must_exist=True) or r.path(
        "REQUESTS_CA_BUNDLE", must_exist=True
    )
    apple_ca_dir = r.path("APPLE_CA_DIR", must_exist=True, is_dir=True)
    required_approvals = r.integer("APNS_REQUIRED_APPROVALS", 1, 1, 10)
    for tenant in tenants.values():
        # with user groups the count is only known at click time; with user ids alone it is now
        if (
            tenant.approvers
            and not tenant.approver_groups
            and len(tenant.approver_users) < required_approvals
        ):
            where = "APNS_APPROVERS" if tenant.name == DEFAULT_TENANT else f"tenant {tenant.name}"
            r.problem(
                f"APNS_REQUIRED_APPROVALS={required_approvals} but {where} lists only "
                f"{len(tenant.approver_users)} approver(s): no request could ever be approved."
            )
    ttl = r.integer("APNS_APPROVAL_TTL_HOURS", 24, 1, 24 * 30)

    check_time = time(9, 0)
    raw_time = r.get("APNS_CHECK_TIME")
    if raw_time is not None:
        match = re.match(r"^(\d{1,2}):(\d{2})$", raw_time)
        if match and int(match.group(1)) < 24 and int(match.group(2)) < 60:
            check_time = time(int(match.group(1)), int(match.group(2)))
        else:
            r.problem(f"APNS_CHECK_TIME={raw_time!r} must be a 24-hour time such as 09:00.")
    timezone = r.get("APNS_TIMEZONE") or "UTC"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        r.problem(f"APNS_TIMEZONE={timezone!r} is not a known time zone (e.g. Europe/Berlin, UTC).")
        timezone = "UTC"
    network_timeout = parse_seconds(
        r.get("APNS_NETWORK_TIMEOUT"), DEFAULT_NETWORK_TIMEOUT, r.problems, "APNS_NETWORK_TIMEOUT"
    )
    metrics_port = parse_port(r.get("APNS_METRICS_PORT"), r.problems, "APNS_METRICS_PORT")
    metrics_host = parse_bind_host(r.get("APNS_METRICS_HOST"), r.problems, "APNS_METRICS_HOST")
    if r.get("APNS_METRICS_HOST") and r.get("APNS_METRICS_PORT") is None:
        r.problem(
            "APNS_METRICS_HOST is set but APNS_METRICS_PORT is not: set the port the metrics "
            "server listens on, or remove APNS_METRICS_HOST."
        )
    metrics_token = parse_bearer_token(
        r.get("APNS_METRICS_TOKEN"), r.problems, "APNS_METRICS_TOKEN"
    )
    log_level = (r.get("LOG_LEVEL") or "INFO").upper()
    if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        r.problem(f"LOG_LEVEL={log_level!r} must be DEBUG, INFO, WARNING or ERROR.")
        log_level = "INFO"

    if r.problems:
        raise ConfigError(r.problems)
    return Settings(
        slack=slack,
        tenants=tenants,
        db_path=db_path,
        database_url=Secret(database_url) if database_url else None,
        ca_bundle=ca_bundle,
        apple_ca_dir=apple_ca_dir,
        required_approvals=required_approvals,
        approval_ttl_hours=ttl,
        check_time=check_time,
        timezone=timezone,
        log_level=log_level,
        token_keys=token_keys,
        network_timeout=network_timeout,
        metrics_port=metrics_port,
        metrics_host=metrics_host,
        metrics_token=Secret(metrics_token) if metrics_token else None,
    )

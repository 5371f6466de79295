"""The settings as values: Slack, one tenant, the whole bot (built by ``bot.config``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Literal

from bot.core.reminders import window_days
from bot.core.tokens import CredentialKind

DEFAULT_TENANT = "default"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_DB_PATH = "data/apns-bot.sqlite3"
DEFAULT_REMIND_DAYS = (60, 30, 14, 7, 3, 1)
# APNS_WATCH / `watch`: the yearly Apple credentials watched, in this order by default
DEFAULT_WATCH = (CredentialKind.PUSH, CredentialKind.ADE, CredentialKind.VPP)

Cloud = Literal["global", "usgov", "usgov-dod", "china"]
AuthMode = Literal["app", "delegated"]
DELEGATED_PERMISSION = "DeviceManagementServiceConfig.ReadWrite.All"


@dataclass(frozen=True)
class CloudEndpoints:
    authority_host: str
    graph_root: str


CLOUDS: dict[str, CloudEndpoints] = {
    "global": CloudEndpoints("login.microsoftonline.com", "https://graph.microsoft.com"),
    "usgov": CloudEndpoints("login.microsoftonline.us", "https://graph.microsoft.us"),
    "usgov-dod": CloudEndpoints("login.microsoftonline.us", "https://dod-graph.microsoft.us"),
    "china": CloudEndpoints("login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn"),
}
KNOWN_AUTHORITY_HOSTS = frozenset(c.authority_host for c in CLOUDS.values())


class Secret:
    """A string that never shows itself in ``repr``/``str`` (so never in a log line)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class SlackSettings:
    bot_token: Secret
    app_token: Secret | None
    signing_secret: Secret | None
    api_url: str = DEFAULT_SLACK_API_URL

    @property
    def socket_mode(self) -> bool:
        return self.app_token is not None


@dataclass(frozen=True)
class TenantSettings:
    """One Intune tenant: how to reach its Graph, where to talk about it, who approves."""

    name: str
    tenant_id: str
    client_id: str
    channel: str
    approvers: tuple[str, ...] = ()
    # APNS_VIEWERS / `viewers`: users and groups who may see the tenant without approving
    viewers: tuple[str, ...] = ()
    client_secret: Secret | None = None
    client_certificate_path: Path | None = None
    cloud: str = "global"
    authority_host: str = CLOUDS["global"].authority_host
    graph_url: str = CLOUDS["global"].graph_root + "/beta"
    display_name: str = ""
    remind_days: tuple[int, ...] = DEFAULT_REMIND_DAYS
    # app: the app's own identity (client credentials); delegated: the approving lead's sign-in
    auth_mode: AuthMode = "app"
    skip_identity_match: bool = False  # delegated: accept any Microsoft account an approver uses
    watch: tuple[CredentialKind, ...] = DEFAULT_WATCH
    # APNS_REMIND_DAYS_ADE / _VPP (`remind_days_ade` / `_vpp`): None means `remind_days`
    ade_remind_days: tuple[int, ...] | None = None
    vpp_remind_days: tuple[int, ...] | None = None

    def watches(self, kind: CredentialKind) -> bool:
        return kind in self.watch

    @property
    def token_kinds(self) -> tuple[CredentialKind, ...]:
        """The watched kinds other than the push certificate (ADE, VPP), in watch order."""
        return tuple(k for k in self.watch if k is not CredentialKind.PUSH)

    def remind_days_for(self, kind: CredentialKind) -> tuple[int, ...]:
        """The reminder thresholds of one kind (its own override, else ``remind_days``)."""
        own = {CredentialKind.ADE: self.ade_remind_days, CredentialKind.VPP: self.vpp_remind_days}
        return own.get(kind) or self.remind_days

    def window_for(self, kind: CredentialKind) -> int:
        """The reminder window of one kind: its largest threshold (what status views rank by)."""
        return window_days(self.remind_days_for(kind))

    @property
    def label(self) -> str:
        return self.display_name or self.name

    @property
    def authority(self) -> str:
        return f"https://{self.authority_host}/{self.tenant_id}"

    @property
    def authority_is_known(self) -> bool:
        """False for overrides (sovereign proxies, tests): MSAL must skip instance discovery."""
        return self.authority_host in KNOWN_AUTHORITY_HOSTS

    @property
    def graph_root(self) -> str:
        """Scheme and host of the Graph URL, e.g. ``https://graph.microsoft.com``."""
        match = re.match(r"^(https?://[^/]+)", self.graph_url)
        return match.group(1) if match else self.graph_url

    @property
    def app_scope(self) -> str:
        return f"{self.graph_root}/.default"

    @property
    def delegated_scope(self) -> str:
        return f"{self.graph_root}/{DELEGATED_PERMISSION}"

    @property
    def delegated(self) -> bool:
        return self.auth_mode == "delegated"

    @property
    def approver_users(self) -> tuple[str, ...]:
        return tuple(a for a in self.approvers if a.startswith(("U", "W")))

    @property
    def approver_groups(self) -> tuple[str, ...]:
        return tuple(a for a in self.approvers if a.startswith("S"))

    @property
    def viewer_users(self) -> tuple[str, ...]:
        return tuple(v for v in self.viewers if v.startswith(("U", "W")))

    @property
    def viewer_groups(self) -> tuple[str, ...]:
        return tuple(v for v in self.viewers if v.startswith("S"))


DEFAULT_METRICS_HOST = "127.0.0.1"  # loopback: nothing outside the host scrapes unless asked
DEFAULT_NETWORK_TIMEOUT = 8.0  # seconds; a host silent this long is reported as timed out
CONNECT_TIMEOUT = 5.0  # seconds; at most this long to open a connection, TLS handshake included


@dataclass(frozen=True)
class Settings:
    slack: SlackSettings | None
    tenants: Mapping[str, TenantSettings]
    db_path: Path = Path(DEFAULT_DB_PATH)
    # APNS_DATABASE_URL: postgresql://… selects PostgreSQL (replicas on several hosts); None: SQLite
    database_url: Secret | None = None
    ca_bundle: Path | None = None
    apple_ca_dir: Path | None = None
    required_approvals: int = 1
    approval_ttl_hours: int = 24
    check_time: time = time(9, 0)
    timezone: str = "UTC"
    log_level: str = "INFO"
    # APNS_TOKEN_KEY: Fernet keys, the first encrypts, all decrypt (rotation: "new,old")
    token_keys: tuple[Secret, ...] = ()
    # APNS_NETWORK_TIMEOUT: the longest one outbound call may wait for an answer, in seconds
    network_timeout: float = DEFAULT_NETWORK_TIMEOUT
    # APNS_METRICS_PORT / APNS_METRICS_HOST: a separate /metrics server (None: none; HTTP mode
    # then serves /metrics beside /slack/events)
    metrics_port: int | None = None
    metrics_host: str = DEFAULT_METRICS_HOST
    # APNS_METRICS_TOKEN: the bearer token a scrape of /metrics must carry (None: none)
    metrics_token: Secret | None = None

    @property
    def connect_timeout(self) -> float:
        """How long opening a connection (TCP, proxy CONNECT, TLS handshake) may take."""
        return min(CONNECT_TIMEOUT, self.network_timeout)

    @property
    def default_tenant(self) -> TenantSettings:
        return next(iter(self.tenants.values()))

    def tenant(self, name: str | None = None) -> TenantSettings:
        if name is None:
            return self.default_tenant
        return self.tenants[name]

    def tenant_for_channel(self, channel_id: str) -> TenantSettings | None:
        """The tenant whose channel this is; None when no tenant, or several, use it."""
        found = [t for t in self.tenants.values() if t.channel == channel_id]
        return found[0] if len(found) == 1 else None


# --- parsing helpers: each returns a value and appends to `problems` on failure ------------------

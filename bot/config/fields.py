"""Field parsers shared by the environment and the tenants file: each returns a value and appends
to ``problems`` (naming the key it was given) when the value is wrong."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from bot.config.model import CLOUDS, DEFAULT_METRICS_HOST, DEFAULT_REMIND_DAYS, DEFAULT_WATCH
from bot.core.tokens import CredentialKind

GUID_PATTERN = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
_TENANT_DOMAIN = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
CHANNEL_PATTERN = re.compile(r"^[CG][A-Z0-9]{2,}$")
_APPROVER = re.compile(r"^[UWS][A-Z0-9]{2,}$")
_HOST = re.compile(r"^[A-Za-z0-9.-]+(:\d+)?$")
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")


ZERO_GUID = "00000000-0000-0000-0000-000000000000"


def is_placeholder(value: str) -> bool:
    """Obviously not a real value: an all-zero GUID, or a token ending in ``...``/``…``."""
    return value.strip().lower() == ZERO_GUID or value.rstrip().endswith(("...", "…"))


def parse_seconds(raw: str | None, default: float, problems: list[str], key: str) -> float:
    """A number of seconds, fractions allowed (0.1 to 300)."""
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0.1 <= value <= 300:  # NaN fails too
        problems.append(f"{key}={raw!r} must be a number of seconds between 0.1 and 300.")
        return default
    return value


def parse_port(raw: str | None, problems: list[str], key: str) -> int | None:
    """A TCP port to listen on, 1 to 65535 (0: any free one, announced at start); None unset."""
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 5 and int(raw) <= 65535):
        problems.append(
            f"{key}={raw!r} must be a port number from 1 to 65535 (0: any free port, printed at start)."
        )
        return None
    return int(raw)


_BEARER = re.compile(r"^[A-Za-z0-9._~+/=-]{16,512}$")  # RFC 6750 token68 characters


def parse_bearer_token(raw: str | None, problems: list[str], key: str) -> str | None:
    """A bearer token (16 to 512 of ``A-Z a-z 0-9 . _ ~ + / = -``); None unset or empty."""
    if not raw:
        return None
    if not _BEARER.match(raw) or is_placeholder(raw):
        problems.append(
            f"{key} must be 16 to 512 characters of letters, digits and . _ ~ + / = - "
            "(e.g. the output of `openssl rand -hex 32`)."
        )
        return None
    return raw


def parse_bind_host(raw: str | None, problems: list[str], key: str) -> str:
    """An address to listen on: an IP address (``0.0.0.0``, ``::``) or a host name."""
    if raw is None:
        return DEFAULT_METRICS_HOST
    try:
        ipaddress.ip_address(raw)
    except ValueError:
        if not _HOSTNAME.match(raw) or raw.replace(".", "").isdigit():
            problems.append(
                f"{key}={raw!r} must be an address to listen on, e.g. 127.0.0.1 or 0.0.0.0."
            )
            return DEFAULT_METRICS_HOST
    return raw


def parse_remind_days(raw: str | None, problems: list[str], key: str) -> tuple[int, ...]:
    if raw is None:
        return DEFAULT_REMIND_DAYS
    try:
        days = sorted({int(part) for part in raw.split(",") if part.strip()}, reverse=True)
    except ValueError:
        problems.append(
            f"{key}={raw!r} must be a comma-separated list of days, e.g. 60,30,14,7,3,1."
        )
        return DEFAULT_REMIND_DAYS
    if not days or any(d < 1 or d > 365 for d in days):
        problems.append(f"{key}={raw!r}: every day must be between 1 and 365.")
        return DEFAULT_REMIND_DAYS
    return tuple(days)


def parse_approvers(raw: str | list[str] | None, problems: list[str], key: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    items = raw.split(",") if isinstance(raw, str) else [str(x) for x in raw]
    approvers = tuple(a.strip() for a in items if a.strip())
    bad = [a for a in approvers if not _APPROVER.match(a)]
    if bad:
        problems.append(
            f"{key} has {', '.join(repr(b) for b in bad)}: use Slack user ids (U…/W…) or user-group "
            "ids (S…), separated by commas. Find them in a profile's ⋮ menu → Copy member ID."
        )
    return tuple(a for a in approvers if _APPROVER.match(a))


GRAPH_VERSIONS = ("beta", "v1.0")


def resolve_cloud(
    cloud: str,
    authority_host: str | None,
    graph_url: str | None,
    problems: list[str],
    keys: tuple[str, str, str] = ("AZURE_CLOUD", "AZURE_AUTHORITY_HOST", "GRAPH_URL"),
) -> tuple[str, str]:
    """Return (authority_host, graph_url) for a cloud name with optional overrides.

    ``keys`` name the three settings in error messages (environment keys, or a tenants file's).
    """
    cloud_key, host_key, url_key = keys
    endpoints = CLOUDS.get(cloud)
    if endpoints is None:
        problems.append(f"{cloud_key}={cloud!r} is unknown: use one of {', '.join(CLOUDS)}.")
        endpoints = CLOUDS["global"]
    host = endpoints.authority_host
    if authority_host:
        host = re.sub(r"^https?://", "", authority_host).rstrip("/")
        if not _HOST.match(host):
            problems.append(f"{host_key}={authority_host!r} must be a host name.")
    url = (graph_url or endpoints.graph_root + "/beta").rstrip("/")
    if not url.startswith("https://"):
        problems.append(f"{url_key}={url!r} must start with https://.")
    elif url.rsplit("/", 1)[-1] not in GRAPH_VERSIONS:
        # every read appends its path to this URL, and ADE tokens are read on beta by swapping
        # a trailing /v1.0: a URL without Graph's version would fail each read, kind by kind
        problems.append(
            f"{url_key}={url!r} must end in Graph's version, /beta or /v1.0 "
            f"(e.g. {endpoints.graph_root}/beta)."
        )
    return host, url


def check_tenant_id(value: str | None, problems: list[str], key: str) -> None:
    if value and not (GUID_PATTERN.match(value) or _TENANT_DOMAIN.match(value)):
        problems.append(
            f"{key}={value!r} must be the directory (tenant) id, a GUID from Entra ID → Overview, "
            "or the tenant's primary domain."
        )


def parse_watch(
    raw: str | list[object] | None, problems: list[str], key: str
) -> tuple[CredentialKind, ...]:
    """``push,ade,vpp`` (any order, any subset, at least one); unknown kinds are named."""
    if raw is None:
        return DEFAULT_WATCH
    items = raw.split(",") if isinstance(raw, str) else [str(x) for x in raw]
    words = [w.strip().lower() for w in items if w.strip()]
    known = [k.value for k in CredentialKind]
    unknown = [w for w in words if w not in known]
    if unknown or not words:
        what = f"unknown kind {', '.join(repr(u) for u in unknown)}" if unknown else "no kind"
        problems.append(
            f"{key}={raw!r}: {what}; list one or more of {', '.join(known)} "
            "(push: the MDM push certificate, ade: Automated Device Enrollment tokens, "
            "vpp: Apps and Books tokens), e.g. push,ade,vpp."
        )
        return DEFAULT_WATCH
    return tuple(dict.fromkeys(CredentialKind(w) for w in words))


_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def database_url_problem(url: str, name: str = "APNS_DATABASE_URL") -> str | None:
    """Why the PostgreSQL URL ``url`` is one libpq cannot read, in words that quote none of it (it
    may hold a password, and libpq's own message would echo the part it could not read)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        parts = None
    if parts is None or _BAD_ESCAPE.search(url) or any(c.isspace() or ord(c) < 32 for c in url):
        return (
            f"{name} is not a valid PostgreSQL URL: write "
            "postgresql://user:password@host:5432/database and percent-encode spaces and "
            "special characters in the password (%20 for a space, %25 for %, %40 for @)."
        )
    return None

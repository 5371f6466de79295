"""The tenants file (``APNS_TENANTS_FILE``): many Intune tenants served by one bot.

TOML, read with the standard library. Top-level keys are defaults for every tenant; each
``[tenants.<name>]`` table is one tenant, ``<name>`` being the short name used in commands
(``/apns status contoso``). Secrets never sit in the file: ``client_secret_env`` names the
environment variable that holds a tenant's client secret. ``auth_mode`` (``app`` or ``delegated``)
is chosen as for the environment: ``app`` with a secret or certificate, else ``delegated`` (which
needs ``APNS_TOKEN_KEY``); ``skip_identity_match = true`` is ``APNS_SKIP_IDENTITY_MATCH`` for one
tenant. Every problem names the tenant and the key, and all of them are reported together.

    client_id = "4f1c2b7e-93a0-4d5e-b8c6-1e2f3a4b5c6d"   # one multi-tenant Entra app ...
    client_secret_env = "APNS_CLIENT_SECRET"             # ... consented in every tenant
    approvers = ["U0123LEAD", "S0123LEADS"]
    viewers = ["S0123HELPDESK"]                          # optional: may see, may not approve

    [tenants.contoso]
    display_name = "Contoso Ltd"
    tenant_id = "11111111-1111-1111-1111-111111111111"
    channel = "C0CONTOSO"

``watch`` is the tenant's, else the top level's, else ``APNS_WATCH``. A kind's reminder
thresholds come from the first of: the tenant's ``remind_days_<kind>``, the tenant's
``remind_days``, the top level's ``remind_days_<kind>``, the top level's ``remind_days``,
``APNS_REMIND_DAYS_<KIND>``, ``APNS_REMIND_DAYS`` (the push certificate has no key of its own).
Whatever the file says for a tenant beats what it says for all, and the file beats the
environment.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeGuard

from bot.config.auth import parse_auth_mode
from bot.config.fields import (
    CHANNEL_PATTERN,
    GUID_PATTERN,
    check_tenant_id,
    is_placeholder,
    parse_approvers,
    parse_remind_days,
    parse_watch,
    resolve_cloud,
)
from bot.config.model import Secret, TenantSettings
from bot.core.tokens import CredentialKind

TENANT_KEYS = frozenset(
    {
        "tenant_id",
        "channel",
        "approvers",
        "viewers",
        "display_name",
        "cloud",
        "client_id",
        "client_secret_env",
        "client_certificate_path",
        "remind_days",
        "remind_days_ade",
        "remind_days_vpp",
        "watch",
        "authority_host",
        "graph_url",
        "auth_mode",
        "skip_identity_match",
    }
)
RESERVED_NAMES = frozenset({"all", "help"})
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


@dataclass(frozen=True)
class EnvDefaults:
    """What the environment says for the keys it shares with the file: the defaults of a file
    that sets them neither at the top nor for a tenant. Read once, so a wrong value is one
    problem, not one per tenant."""

    watch: tuple[CredentialKind, ...]
    thresholds: Thresholds  # APNS_REMIND_DAYS (always set) and APNS_REMIND_DAYS_ADE / _VPP

    @classmethod
    def read(cls, env: Mapping[str, str], problems: list[str]) -> EnvDefaults:
        def get(key: str) -> str | None:
            return env.get(key, "").strip() or None

        def own_days(key: str) -> tuple[int, ...] | None:
            raw = get(key)
            return None if raw is None else parse_remind_days(raw, problems, key)

        thresholds = Thresholds(
            common=parse_remind_days(get("APNS_REMIND_DAYS"), problems, "APNS_REMIND_DAYS"),
            ade=own_days("APNS_REMIND_DAYS_ADE"),
            vpp=own_days("APNS_REMIND_DAYS_VPP"),
        )
        return cls(
            watch=parse_watch(get("APNS_WATCH"), problems, "APNS_WATCH"), thresholds=thresholds
        )


@dataclass(frozen=True)
class Thresholds:
    """The reminder thresholds one level sets (a tenant's table, the top of the file, the
    environment); None where it sets nothing."""

    common: tuple[int, ...] | None  # remind_days
    ade: tuple[int, ...] | None  # remind_days_ade
    vpp: tuple[int, ...] | None  # remind_days_vpp

    @classmethod
    def read(cls, values: dict[str, Any], problems: list[str], where: str) -> Thresholds:
        return cls(
            common=_remind_days(values, "remind_days", problems, where),
            ade=_remind_days(values, "remind_days_ade", problems, where),
            vpp=_remind_days(values, "remind_days_vpp", problems, where),
        )

    def of(self, kind: CredentialKind) -> tuple[int, ...] | None:
        """This level's thresholds of ``kind``: its own key, else ``remind_days``."""
        own = {CredentialKind.ADE: self.ade, CredentialKind.VPP: self.vpp}.get(kind)
        return own or self.common


def resolve_days(levels: Sequence[Thresholds], kind: CredentialKind) -> tuple[int, ...] | None:
    """The thresholds of ``kind`` from the first level (most specific first) that sets any:
    a level's ``remind_days`` beats a less specific level's ``remind_days_<kind>``."""
    return next((days for level in levels if (days := level.of(kind))), None)


def load_tenants_file(
    path: Path, env: Mapping[str, str], problems: list[str]
) -> dict[str, TenantSettings]:
    """Every tenant of the file, or {} with ``problems`` saying why."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(f"APNS_TENANTS_FILE={path} does not exist.")
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"APNS_TENANTS_FILE={path} cannot be read ({exc}).")
        return {}
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"{path} is not valid TOML: {exc}.")
        return {}
    tables = document.get("tenants")
    if not isinstance(tables, dict) or not tables:
        problems.append(f"{path}: add at least one [tenants.<name>] table.")
        return {}
    defaults = {k: v for k, v in document.items() if k != "tenants"}
    for key in sorted(set(defaults) - TENANT_KEYS):
        problems.append(
            f"{path}: unknown top-level key {key!r} (known: {', '.join(sorted(TENANT_KEYS))})."
        )
    # APNS_WATCH and APNS_REMIND_DAYS(_ADE/_VPP): the defaults of keys the file does not set
    fallback = EnvDefaults.read(env, problems)
    top = Thresholds.read(defaults, problems, f"{path} (top level)")  # one problem, not per tenant
    tenants: dict[str, TenantSettings] = {}
    by_id: dict[str, str] = {}  # lower-cased tenant_id -> the name it is under
    for name, table in tables.items():
        where = f"{path} [tenants.{name}]"
        if not isinstance(table, dict):
            problems.append(f"{where} must be a table.")
            continue
        if not _NAME.match(name) or name in RESERVED_NAMES:
            problems.append(
                f"{where}: the name must be 1-32 lower-case letters, digits, - or _, and not "
                f"{' or '.join(sorted(RESERVED_NAMES))} (it is typed in commands)."
            )
            continue
        for key in sorted(set(table) - TENANT_KEYS):
            problems.append(
                f"{where}: unknown key {key!r} (known: {', '.join(sorted(TENANT_KEYS))})."
            )
        values = {**defaults, **table}
        tenant = _tenant(name, values, env, problems, where, path.parent)
        own = Thresholds.read(table, problems, where)
        if tenant is not None:
            tenant = _watching(
                tenant, values, (own, top, fallback.thresholds), fallback, problems, where
            )
        if tenant is None:
            continue
        twin = by_id.setdefault(tenant.tenant_id.lower(), name)
        if twin != name:
            problems.append(
                f"{where}: tenant_id {tenant.tenant_id} is already [tenants.{twin}]; one "
                "Intune tenant under two names would be reminded twice and renewable by both."
            )
            continue
        tenants[name] = tenant
    return tenants


def _text(values: dict[str, Any], key: str, problems: list[str], where: str) -> str | None:
    value = values.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}: {key} must be a non-empty string.")
        return None
    return value.strip()


def _tenant(
    name: str,
    values: dict[str, Any],
    env: Mapping[str, str],
    problems: list[str],
    where: str,
    base: Path,
) -> TenantSettings | None:
    before = len(problems)
    tenant_id = _text(values, "tenant_id", problems, where)
    channel = _text(values, "channel", problems, where)
    client_id = _text(values, "client_id", problems, where)
    for key, value in (("tenant_id", tenant_id), ("channel", channel), ("client_id", client_id)):
        if value is None and key not in values:
            problems.append(f"{where}: {key} is required (here or at the top of the file).")
    for key, value in (("tenant_id", tenant_id), ("client_id", client_id)):
        if value is not None and is_placeholder(value):
            problems.append(f"{where}: {key}={value!r} is a placeholder, not a real id.")
    check_tenant_id(tenant_id, problems, f"{where}: tenant_id")
    if channel and not CHANNEL_PATTERN.match(channel):
        problems.append(f"{where}: channel={channel!r} must be a channel id such as C0123ABCD.")
    if client_id and not GUID_PATTERN.match(client_id):
        problems.append(
            f"{where}: client_id={client_id!r} must be the application (client) id, a GUID."
        )

    raw_approvers = values.get("approvers", [])
    if not isinstance(raw_approvers, list):
        problems.append(f"{where}: approvers must be a list of Slack ids.")
        raw_approvers = []
    approvers = parse_approvers([str(a) for a in raw_approvers], problems, f"{where}: approvers")
    if not approvers:
        problems.append(f"{where}: approvers is empty: list the team leads' user or group ids.")

    raw_viewers = values.get("viewers", [])
    if not isinstance(raw_viewers, list):
        problems.append(f"{where}: viewers must be a list of Slack ids.")
        raw_viewers = []
    viewers = parse_approvers([str(v) for v in raw_viewers], problems, f"{where}: viewers")

    secret_env = _text(values, "client_secret_env", problems, where)
    secret = env.get(secret_env, "").strip() if secret_env else ""
    if secret_env and not secret:
        problems.append(f"{where}: client_secret_env names {secret_env}, which is not set.")
    cert_raw = _text(values, "client_certificate_path", problems, where)
    cert_path = (base / cert_raw).expanduser() if cert_raw else None
    if cert_path is not None and not cert_path.exists():
        problems.append(f"{where}: client_certificate_path {cert_path} does not exist.")
    mode = parse_auth_mode(
        _text(values, "auth_mode", problems, where),
        bool(secret_env) or cert_raw is not None,
        problems,
        f"{where}: auth_mode",
    )
    skip = values.get("skip_identity_match", False)
    if not isinstance(skip, bool):
        problems.append(f"{where}: skip_identity_match must be true or false.")
    if mode == "app" and not secret_env and cert_raw is None:
        problems.append(
            f"{where}: set client_secret_env (the variable holding the secret) or client_certificate_path."
        )

    cloud = (_text(values, "cloud", problems, where) or "global").lower()
    host, graph_url = resolve_cloud(
        cloud,
        _text(values, "authority_host", problems, where),
        _text(values, "graph_url", problems, where),
        problems,
        keys=(f"{where}: cloud", f"{where}: authority_host", f"{where}: graph_url"),
    )
    display_name = _text(values, "display_name", problems, where) or ""
    if len(problems) > before or tenant_id is None or channel is None or client_id is None:
        return None
    return TenantSettings(
        name=name,
        tenant_id=tenant_id,
        client_id=client_id,
        channel=channel,
        approvers=approvers,
        viewers=viewers,
        client_secret=Secret(secret) if secret else None,
        client_certificate_path=cert_path,
        cloud=cloud,
        authority_host=host,
        graph_url=graph_url,
        display_name=display_name,
        auth_mode=mode,
        skip_identity_match=skip is True,
    )


def _watching(
    tenant: TenantSettings,
    values: dict[str, Any],
    levels: Sequence[Thresholds],
    fallback: EnvDefaults,
    problems: list[str],
    where: str,
) -> TenantSettings | None:
    """The tenant with its ``watch`` list and reminder thresholds (``None``: a problem). ``watch``:
    the tenant's, else the top level's, else ``APNS_WATCH``. Thresholds of a kind, from
    ``levels`` (the tenant's table, the top level, the environment): the first level that sets
    ``remind_days_<kind>`` or ``remind_days``, the kind's own key first within a level."""
    before = len(problems)
    raw = values.get("watch")
    if raw is not None and not isinstance(raw, list | str):
        problems.append(f'{where}: watch must be a list such as ["push", "ade", "vpp"].')
        raw = None
    watch = fallback.watch if raw is None else parse_watch(raw, problems, f"{where}: watch")
    if len(problems) > before:
        return None
    days = {kind: resolve_days(levels, kind) for kind in CredentialKind}
    return replace(
        tenant,
        watch=watch,
        remind_days=days[CredentialKind.PUSH] or tenant.remind_days,  # the environment's: set
        ade_remind_days=days[CredentialKind.ADE],
        vpp_remind_days=days[CredentialKind.VPP],
    )


def _remind_days(
    values: dict[str, Any], key: str, problems: list[str], where: str
) -> tuple[int, ...] | None:
    """The thresholds under ``key``, highest first; None when the key is not set (or is wrong:
    then a problem says so)."""
    value: object = values.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(_is_day(d) for d in value):
        problems.append(
            f"{where}: {key} must be a list of days between 1 and 365, e.g. [60, 30, 7]."
        )
        return None
    return tuple(sorted({d for d in value if _is_day(d)}, reverse=True))


def _is_day(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 365

"""Forgetting what the checks kept of a kind a tenant no longer watches (``APNS_WATCH``, ``watch``).

Each check compares what it reads with what the last check saw: the push certificate's snapshot
(``get_snapshot``) and "check failing since" (``FAILING_KEY``), each token kind's snapshot and
failing streak (``bot.usecases.token_watch``). Kept for ever, a kind's stale snapshot would have
the bot, watching it again months later, announce as done "outside apns-bot" every change made
while nobody watched, and a stale failing streak would end with a "recovered" notice.

**A kind unwatched for a week is forgotten** (``FORGET_AFTER``), not at once: two processes
sharing the database may watch different lists for a while (a replica not yet redeployed,
``apns-bot check`` from cron with its own environment), and dropping at once would have them undo
each other on every check (the watching one would see a first check every time, and re-post a
"read failed" notice with every new failing streak). So a check of a tenant that does not watch
kind K writes the marker ``unwatched:<kind>`` = ``{"since": iso}`` once
(``set_state(only_if_absent=True)``) and drops nothing while it is younger than a week. The first
check that finds it older claims it by a compare-and-set (``"dropped": true``): that one caller
drops K's snapshot and failing state and audits ``kind_unwatched`` (when anything was there), so
two replicas never both do. A check of a tenant that watches K deletes the marker and carries on
with what is there: a snapshot that survived is compared as usual; a dropped one makes the check
a fresh baseline, as the first check ever. The once-only marks stay: a reminder already posted
for a token's expiry is not posted again.

Store traffic: ``check_all`` reads every tenant's markers in one ``list_states``; a tenant that
watches everything and has no marker costs no write.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Protocol

from bot.config import TenantSettings
from bot.core.requests import JSONValue
from bot.core.tokens import CredentialKind
from bot.usecases.ports import AuditLog, NoticeStore
from bot.usecases.token_watch import FAILING_PREFIX, SNAPSHOT_PREFIX
from bot.usecases.watch_state import FAILING_KEY

log = logging.getLogger(__name__)

UNWATCHED_EVENT = "kind_unwatched"  # audit: what the checks kept of a kind was dropped
UNWATCHED_PREFIX = "unwatched:"  # tenant_state: {"since": iso[, "dropped": true]} per kind
FORGET_AFTER = timedelta(days=7)  # a kind unwatched for a week is forgotten

Markers = Mapping[str, JSONValue]  # one tenant's markers by key
"""One tenant's ``unwatched:`` markers, by key."""


class UnwatchedStore(NoticeStore, AuditLog, Protocol):
    """What forgetting needs from the store (``Store`` plays it)."""


def all_markers(store: NoticeStore) -> dict[str, Markers]:
    """Every tenant's markers, in one read."""
    found: dict[str, dict[str, JSONValue]] = {}
    for tenant, key, value, _ in store.list_states(UNWATCHED_PREFIX):
        found.setdefault(tenant, {})[key] = value
    return dict(found)


def forget_unwatched(
    store: UnwatchedStore,
    tenant: TenantSettings,
    now: datetime,
    markers: Markers | None = None,
) -> list[CredentialKind]:
    """Keep the ``unwatched:`` markers of ``tenant`` in step with what it watches, and drop the
    snapshot and failing state of every kind unwatched for ``FORGET_AFTER``; the kinds for which
    this caller dropped something (each audited once). ``markers``: the tenant's markers when
    the caller read them already (else one ``list_states``)."""
    if markers is None:
        markers = {
            key: value for _, key, value, _ in store.list_states(UNWATCHED_PREFIX, tenant.name)
        }
    dropped: list[CredentialKind] = []
    for kind in CredentialKind:
        key = UNWATCHED_PREFIX + kind.value
        marker = markers.get(key)
        if tenant.watches(kind):
            if marker is not None:  # watched again: whatever survived is compared as usual
                store.delete_state(tenant.name, key)
            continue
        if not _due(store, tenant.name, key, marker, now):
            continue
        if _forget(store, tenant.name, kind):
            dropped.append(kind)
            detail: dict[str, JSONValue] = {"kind": kind.value}
            store.audit(tenant.name, UNWATCHED_EVENT, "system", now, detail=detail)
            log.info(
                "tenant %s has not watched the %s for %d days: its last seen state is dropped",
                tenant.name,
                kind.label,
                FORGET_AFTER.days,
            )
    return dropped


def _due(store: NoticeStore, tenant: str, key: str, marker: JSONValue, now: datetime) -> bool:
    """True for the one caller that claims the drop of a marker older than ``FORGET_AFTER``;
    writes the marker when there is none (or an unreadable one)."""
    fresh: JSONValue = {"since": now.isoformat()}
    if marker is None:
        store.set_state(tenant, key, fresh, now, only_if_absent=True)
        return False
    since = _since(marker)
    if since is None:  # not a marker this code wrote: start the week again
        store.replace_state(tenant, key, marker, fresh, now)
        return False
    if not isinstance(marker, dict) or marker.get("dropped") is True or now - since < FORGET_AFTER:
        return False  # (a marker with a "since" is a dict: the check only narrows the type)
    claimed: JSONValue = {**marker, "dropped": True}
    return store.replace_state(tenant, key, marker, claimed, now)


def _since(marker: JSONValue) -> datetime | None:
    raw = marker.get("since") if isinstance(marker, dict) else None
    if not isinstance(raw, str):
        return None
    try:
        since = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return since if since.tzinfo is not None else None


def _forget(store: NoticeStore, tenant: str, kind: CredentialKind) -> bool:
    """True when something of ``kind`` was kept and this caller dropped it."""
    dropped = False
    if kind is CredentialKind.PUSH:
        keys = [FAILING_KEY]
        dropped = store.delete_snapshot(tenant)
    else:
        keys = [SNAPSHOT_PREFIX + kind.value, FAILING_PREFIX + kind.value]
    for key in keys:
        dropped = store.delete_state(tenant, key) or dropped
    return dropped

"""Forgetting what the checks kept of a kind a tenant no longer watches (``APNS_WATCH``, ``watch``).

Each check compares what it reads with what the last check saw: the push certificate's snapshot
(``get_snapshot``) and "check failing since" (``FAILING_KEY``), each token kind's snapshot and
failing streak (``bot.usecases.token_watch``). A kind taken out of the watch list keeps none of
them: else, watched again months later, its stale snapshot would have the bot announce as done
"outside apns-bot" every change made while nobody watched, and a stale failing streak would
end with a "recovered" notice. So every check of a tenant drops them for each kind it does not
watch, and watching the kind again starts from a fresh baseline, as the first check ever. The
once-only marks stay: a reminder already posted for a token's expiry is not posted again.

Reads first, deletes only what is there: a tenant that watches a subset costs no write per check.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Protocol

from bot.config import TenantSettings
from bot.core.requests import JSONValue
from bot.core.tokens import CredentialKind
from bot.usecases.ports import AuditLog, NoticeStore
from bot.usecases.token_watch import FAILING_PREFIX, SNAPSHOT_PREFIX
from bot.usecases.watch_state import FAILING_KEY

log = logging.getLogger(__name__)

UNWATCHED_EVENT = "kind_unwatched"  # audit: what the checks kept of a kind was dropped


class UnwatchedStore(NoticeStore, AuditLog, Protocol):
    """What forgetting needs from the store (``Store`` plays it)."""


def forget_unwatched(
    store: UnwatchedStore, tenant: TenantSettings, now: datetime
) -> list[CredentialKind]:
    """Drop the snapshot and failing state of every kind ``tenant`` does not watch; the kinds for
    which something was dropped (each audited once, by the one caller that dropped it)."""
    dropped: list[CredentialKind] = []
    for kind in CredentialKind:
        if tenant.watches(kind) or not _forget(store, tenant.name, kind):
            continue
        dropped.append(kind)
        detail: dict[str, JSONValue] = {"kind": kind.value}
        store.audit(tenant.name, UNWATCHED_EVENT, "system", now, detail=detail)
        log.info(
            "tenant %s no longer watches the %s: its last seen state is dropped",
            tenant.name,
            kind.label,
        )
    return dropped


def _forget(store: NoticeStore, tenant: str, kind: CredentialKind) -> bool:
    """True when something of ``kind`` was kept and this caller dropped it."""
    dropped = False
    if kind is CredentialKind.PUSH:
        keys = [FAILING_KEY]
        dropped = store.get_snapshot(tenant) is not None and store.delete_snapshot(tenant)
    else:
        keys = [SNAPSHOT_PREFIX + kind.value, FAILING_PREFIX + kind.value]
    for key in keys:
        if store.get_state(tenant, key) is not None:
            dropped = store.delete_state(tenant, key) or dropped
    return dropped

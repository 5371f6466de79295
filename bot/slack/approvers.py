"""Who may approve: the users in ``APNS_APPROVERS`` plus members of the user groups listed there;
and who may see a tenant (``bot.core.visibility``: approvers, the tenant's channel, ``APNS_VIEWERS``).

Checked at click time (membership changes), with a short cache so a burst of clicks costs one
``usergroups.users.list`` per group. User groups need a paid Slack plan: on a free workspace
Slack answers ``plan_upgrade_required``; the group is then reported and user ids keep working.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.config import TenantSettings
from bot.core.visibility import Audience
from bot.core.visibility import may_see as rule_may_see
from bot.usecases.ports import ApproverCheck

log = logging.getLogger(__name__)

CACHE_SECONDS = 60.0


class ApproverDirectory:
    def __init__(
        self,
        client: WebClient,
        *,
        ttl: float = CACHE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl = ttl
        self._now = monotonic
        self._lock = threading.Lock()
        self._groups: dict[str, tuple[float, frozenset[str] | None, str | None]] = {}

    def check(self, tenant: TenantSettings, user_id: str) -> ApproverCheck:
        if user_id in tenant.approver_users:
            return ApproverCheck(True)
        notes: list[str] = []
        for group in tenant.approver_groups:
            members, note = self._members(group)
            if members is not None and user_id in members:
                return ApproverCheck(True)
            if note:
                notes.append(note)
        return ApproverCheck(False, " ".join(notes) or None)

    def may_see(self, tenant: TenantSettings, user_id: str, channel_id: str | None = None) -> bool:
        """May ``user_id``, acting from ``channel_id`` (None: the Home tab, a DM), see ``tenant``?

        A group that cannot be read counts as not containing the user."""
        audience = Audience.of(tenant.channel, tenant.approvers, tenant.viewers)
        return rule_may_see(audience, user_id, channel_id, self._in_group)

    def _in_group(self, group: str, user_id: str) -> bool:
        members, _ = self._members(group)
        return members is not None and user_id in members

    def mentions(self, tenant: TenantSettings) -> str:
        """``<@U…>`` and ``<!subteam^S…>`` for every configured approver."""
        users = [f"<@{u}>" for u in tenant.approver_users]
        groups = [f"<!subteam^{g}>" for g in tenant.approver_groups]
        return " ".join(users + groups)

    def _members(self, group: str) -> tuple[frozenset[str] | None, str | None]:
        with self._lock:
            cached = self._groups.get(group)
            if cached and self._now() - cached[0] < self._ttl:
                return cached[1], cached[2]
        members: frozenset[str] | None = None
        note: str | None = None
        try:
            answer = self._client.usergroups_users_list(usergroup=group)
            members = frozenset(answer.get("users") or [])
        except SlackApiError as exc:
            error = exc.response.get("error", "unknown_error")
            if error == "plan_upgrade_required":
                note = (
                    f"User group <!subteam^{group}> cannot be checked: user groups need a paid "
                    "Slack plan. List approvers by user id (U…) in APNS_APPROVERS."
                )
            elif error == "missing_scope":
                note = "The bot lacks the usergroups:read scope needed to read approver groups."
            else:
                note = f"User group {group} could not be read ({error})."
            log.warning("approver group %s unreadable: %s", group, error)
        except (SlackClientError, OSError) as exc:
            log.warning("approver group %s unreadable: %s", group, type(exc).__name__)
            return None, f"User group {group} could not be read (Slack unreachable); try again."
        with self._lock:
            self._groups[group] = (self._now(), members, note)
        return members, note

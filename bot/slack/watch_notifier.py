"""The expiry watch's ``WatchNotifier`` port, played by Slack: posts in the tenant's channel.

A refused post is logged and reported as False; the watch keeps a retry mark and the next check
posts it again. Nothing here raises into the watch, and no certificate body is ever logged.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.config import TenantSettings
from bot.core.model import TenantCertificate
from bot.core.reminders import Change, Reminder
from bot.core.token_watch import TokenNotice
from bot.core.tokens import CredentialKind, ReadError
from bot.slack.approvers import ApproverDirectory
from bot.slack.timeouts import timed_out
from bot.slack.views.blocks import to_dicts
from bot.slack.views.reminders import (
    change_message,
    check_failed_message,
    check_recovered_message,
    reminder_message,
)
from bot.slack.views.token_messages import token_notice_message, token_read_failed_message

log = logging.getLogger(__name__)


class SlackWatchNotifier:
    def __init__(self, client: WebClient, approvers: ApproverDirectory) -> None:
        self.client = client
        self.approvers = approvers

    def post_reminder(
        self, tenant: TenantSettings, certificate: TenantCertificate, reminder: Reminder
    ) -> bool:
        mentions = self.approvers.mentions(tenant) if reminder.mention else ""
        text, blocks = reminder_message(tenant, certificate, reminder, mentions)
        return self._post(tenant, text, to_dicts(blocks))

    def post_change(self, tenant: TenantSettings, change: Change, now: datetime) -> bool:
        text, blocks = change_message(tenant, change, now, self.approvers.mentions(tenant))
        return self._post(tenant, text, to_dicts(blocks))

    def post_check_failed(self, tenant: TenantSettings, error: str, since: datetime) -> bool:
        return self._post(tenant, check_failed_message(tenant, error, since))

    def post_check_recovered(self, tenant: TenantSettings, since: datetime, now: datetime) -> bool:
        return self._post(tenant, check_recovered_message(tenant, since, now))

    def post_token_notice(self, tenant: TenantSettings, notice: TokenNotice) -> bool:
        mentions = self.approvers.mentions(tenant) if notice.mention else ""
        text, blocks = token_notice_message(tenant, notice, mentions)
        return self._post(tenant, text, to_dicts(blocks))

    def post_token_read_failed(
        self, tenant: TenantSettings, kind: CredentialKind, error: ReadError, since: datetime
    ) -> bool:
        return self._post(tenant, token_read_failed_message(tenant, kind, error, since))

    def _post(
        self, tenant: TenantSettings, text: str, blocks: list[dict[str, Any]] | None = None
    ) -> bool:
        try:
            self.client.chat_postMessage(channel=tenant.channel, text=text, blocks=blocks)
        except SlackApiError as exc:
            log.error(
                "cannot post to %s (%s): %s",
                tenant.channel,
                tenant.name,
                exc.response.get("error", "unknown_error"),
            )
            return False
        except (SlackClientError, OSError) as exc:
            why = "timed out" if timed_out(exc) else type(exc).__name__
            log.error("cannot post to %s (%s): %s", tenant.channel, tenant.name, why)
            return False
        return True

"""Delegated sign-in's notes to a person on Slack, and their profile e-mail (the identity check)."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.config import TenantSettings

log = logging.getLogger(__name__)


class SlackSignInNotifier:
    """``SignInNotifier`` on Slack: private notes and the approver's profile e-mail."""

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def tell(self, tenant: TenantSettings, user_id: str, text: str) -> None:
        """Ephemeral in the tenant's channel; a direct message when that is refused (e.g. the
        person is not in the channel)."""
        if tenant.channel:
            try:
                self.client.chat_postEphemeral(channel=tenant.channel, user=user_id, text=text)
                return
            except (SlackApiError, SlackClientError, OSError) as exc:
                log.info("ephemeral to %s refused (%s); sending a DM", user_id, _why(exc))
        try:
            self.client.chat_postMessage(channel=user_id, text=text)
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.error("cannot tell %s about their sign-in: %s", user_id, _why(exc))

    def email_of(self, user_id: str) -> str | None:
        try:
            answer = self.client.users_info(user=user_id)
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.warning("users.info for %s failed: %s", user_id, _why(exc))
            return None
        user = answer.get("user") or {}
        email = (user.get("profile") or {}).get("email") if isinstance(user, dict) else None
        return str(email) if email else None


def _why(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error", "unknown_error"))
    return type(exc).__name__

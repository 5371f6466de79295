"""``/apns signin`` and ``/apns signout``, and the Slack side of delegated sign-in.

Both verbs acknowledge at once and answer ephemerally from the bot's executor: starting a sign-in
asks Entra ID for a code, and only the verification URL and the user code are shown. Only
configured approvers sign in (their account is what the bot acts as); anyone may sign out.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.config import TenantSettings
from bot.errors import ApnsBotError
from bot.slack.listeners.commands import CommandCall, Verb, reply

if TYPE_CHECKING:
    from bot.slack.context import SlackContext

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


def verbs(deps: SlackContext) -> dict[str, Verb]:
    def verb_signin(call: CommandCall) -> None:
        call.ack(text=":hourglass_flowing_sand: One moment…", response_type="ephemeral")
        deps.background.submit(answer, call, "signin")

    def verb_signout(call: CommandCall) -> None:
        call.ack(text=":hourglass_flowing_sand: One moment…", response_type="ephemeral")
        deps.background.submit(answer, call, "signout")

    def answer(call: CommandCall, what: str) -> None:
        signins = deps.signins
        tenant = call.tenant
        try:
            if signins is None or not tenant.delegated:
                text = (
                    f"{tenant.label} uses app-only sign-in (the app's own identity): there is "
                    "nothing to sign in to or out of."
                )
            elif what == "signout":
                text = signins.signout(tenant, call.user_id)
            else:
                check = deps.approvers.check(tenant, call.user_id)
                text = (
                    signins.signin(tenant, call.user_id)
                    if check.allowed
                    else " ".join(
                        filter(
                            None,
                            [
                                "Only the configured approvers sign in: apns-bot changes Intune "
                                "as the approver who approved a renewal.",
                                check.note,
                            ],
                        )
                    )
                )
        except ApnsBotError as exc:
            text = f":warning: {exc.user_message}"
        reply(call.respond, text)

    return {"signin": verb_signin, "signout": verb_signout}


def _why(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error", "unknown_error"))
    return type(exc).__name__

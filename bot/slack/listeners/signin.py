"""``/apns signin`` and ``/apns signout`` (the Slack side of sign-in: ``bot.slack.signin_notifier``).

Both verbs acknowledge at once and answer ephemerally from the bot's executor: starting a sign-in
asks Entra ID for a code, and only the verification URL and the user code are shown. Only
configured approvers sign in (their account is what the bot acts as); anyone may sign out.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.errors import ApnsBotError
from bot.slack.listeners.commands import CommandCall, Verb, reply
from bot.slack.views.blocks import tenant_label

if TYPE_CHECKING:
    from bot.slack.context import SlackContext

log = logging.getLogger(__name__)


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
                    f"{tenant_label(tenant)} uses app-only sign-in (the app's own identity): there is "
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

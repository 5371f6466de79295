"""App Home listeners: the tab opened, and the *Start renewal* button of reminders and the Home tab,
which must open the renew modal within the 3-second life of its ``trigger_id``. Its value is the
tenant (the push certificate) or ``<tenant>|ade|<token id>`` / ``<tenant>|vpp|<token id>`` (an
ADE or VPP token's reminder: that token's form). The tab itself:
``bot.slack.home_tab``."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond

from bot.config import Settings
from bot.slack.clicks import clicked_channel, clicked_tenant, keep_original
from bot.slack.context import SlackContext
from bot.slack.ids import Action
from bot.slack.listeners.renew import open_renew_modal
from bot.slack.listeners.renew_token import open_token_form, token_kind


def register(app: App, settings: Settings, deps: SlackContext) -> None:
    @app.event("app_home_opened")
    def handle_app_home_opened(event: dict[str, Any]) -> None:
        if event.get("tab") == "home" and event.get("user"):
            deps.background.submit(deps.home.opened, str(event["user"]))

    @app.action(Action.START_RENEWAL)
    def handle_start_renewal_action(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        value = str(((body.get("actions") or [{}])[0]).get("value") or "")
        tenant_name, _, target = value.partition("|")  # "<tenant>" or "<tenant>|ade|<token id>"
        tenant = clicked_tenant(settings, body) if not target else settings.tenants.get(tenant_name)
        tell = keep_original(respond, body)
        if tenant is None:
            if tell is not None:
                deps.background.submit(
                    tell, text="That tenant is no longer configured.", response_type="ephemeral"
                )
            return
        word, _, token_id = target.partition("|")
        kind = token_kind(word)
        if kind is not None and token_id:  # a token's reminder: straight to that token's form
            deps.modals.submit(
                open_token_form,
                deps,
                str(body.get("trigger_id", "")),
                tenant,
                tell,
                viewer=(str(body["user"]["id"]), clicked_channel(body)),
                kind=kind,
                wanted=token_id,
            )
            return
        deps.modals.submit(
            open_renew_modal,
            deps,
            str(body.get("trigger_id", "")),
            tenant,
            tell,
            viewer=(str(body["user"]["id"]), clicked_channel(body)),
        )

"""``/apns history``: the tenant's latest audit events, newest first."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.core.requests import AuditEvent
from bot.slack.listeners.commands import CommandCall, Verb, reply, tell
from bot.slack.outcomes import outcome_of
from bot.slack.views.blocks import context, section, tenant_label
from bot.slack.views.history import history_lines
from bot.slack.visibility import allowed

if TYPE_CHECKING:
    from bot.slack.context import SlackContext

LIMIT = 15


def verbs(deps: SlackContext) -> dict[str, Verb]:
    def verb_history(call: CommandCall) -> None:
        call.ack(text=":hourglass_flowing_sand: Reading the history…", response_type="ephemeral")
        deps.background.submit(send_history, call)

    def send_history(call: CommandCall) -> None:
        if not allowed(
            deps.approvers, call.tenant, call.user_id, call.channel_id, tell(call.respond)
        ):
            return

        def told(sentence: str) -> None:
            reply(call.respond, sentence)

        events: list[AuditEvent] | None = outcome_of(
            "reading the history",
            lambda: deps.store.history(call.tenant.name, limit=LIMIT),
            failed=told,
        )
        if events is None:  # the person was told what went wrong
            return
        if not events:
            reply(call.respond, f"Nothing has happened yet for {tenant_label(call.tenant)}.")
            return
        text = f"Latest events ({tenant_label(call.tenant)}):\n" + "\n".join(history_lines(events))
        reply(call.respond, text, [section(text), context("Times are UTC.")])

    return {"history": verb_history}

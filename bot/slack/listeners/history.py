"""``/apns history``: the tenant's latest audit events, newest first."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.core.requests import AuditEvent
from bot.errors import internal_error
from bot.slack.listeners.commands import CommandCall, Verb, reply, tell
from bot.slack.views.blocks import context, escape, section
from bot.slack.visibility import allowed

if TYPE_CHECKING:
    from bot.runtime.compose import Deps

LIMIT = 15


def history_lines(events: list[AuditEvent]) -> list[str]:
    lines = []
    for event in events:
        who = "apns-bot" if event.actor == "system" else f"<@{event.actor}>"
        ref = f" `{event.request_id}`" if event.request_id else ""
        extra = escape(
            ", ".join(
                f"{k}: {v}" for k, v in event.detail.items() if isinstance(v, str | int) and v != ""
            )
        )
        lines.append(
            f"`{event.at:%Y-%m-%d %H:%M}` *{event.event.replace('_', ' ')}* by {who}{ref}"
            + (f" — {extra}" if extra else "")
        )
    return lines


def verbs(deps: Deps) -> dict[str, Verb]:
    def verb_history(call: CommandCall) -> None:
        call.ack(text=":hourglass_flowing_sand: Reading the history…", response_type="ephemeral")
        deps.background.submit(send_history, call)

    def send_history(call: CommandCall) -> None:
        if not allowed(
            deps.approvers, call.tenant, call.user_id, call.channel_id, tell(call.respond)
        ):
            return
        try:
            events = deps.store.history(call.tenant.name, limit=LIMIT)
        except Exception:  # noqa: BLE001 - the person must hear back, never a traceback
            reply(call.respond, internal_error("reading the history"))
            return
        if not events:
            reply(call.respond, f"Nothing has happened yet for {call.tenant.label}.")
            return
        text = f"Latest events ({call.tenant.label}):\n" + "\n".join(history_lines(events))
        reply(call.respond, text, [section(text), context("Times are UTC.")])

    return {"history": verb_history}

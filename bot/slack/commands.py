"""The ``/apns`` slash command: acknowledge at once, route the first word to a verb handler.

A verb handler receives a ``CommandCall`` after the command was acknowledged (or acknowledges it
itself when it must open a modal with the 3-second ``trigger_id``), and hands slow work to the
bot's own executor. Every verb answers the person who typed it, ephemerally.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack, App, Respond

from bot.config import Settings, TenantSettings
from bot.errors import ApnsBotError
from bot.slack.blocks import to_dicts
from bot.slack.ids import COMMAND
from bot.slack.status_views import error_message, help_message, status_message

if TYPE_CHECKING:
    from bot.app import Deps

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CommandCall:
    """One parsed ``/apns`` invocation."""

    verb: str
    args: tuple[str, ...]
    user_id: str
    channel_id: str
    trigger_id: str
    tenant: TenantSettings
    ack: Ack
    respond: Respond


Verb = Callable[[CommandCall], None]


def parse_command_text(text: str) -> tuple[str, tuple[str, ...]]:
    words = text.split()
    if not words:
        return "help", ()
    return words[0].lower(), tuple(words[1:])


def resolve_tenant(settings: Settings, channel_id: str) -> TenantSettings:
    """The tenant a command concerns: the one whose channel it was typed in, else the default."""
    return settings.tenant_for_channel(channel_id) or settings.default_tenant


def reply(respond: Respond, text: str, blocks: list[Any] | None = None) -> None:
    """Replace the acknowledgement with the real answer, visible only to the person who asked."""
    respond(
        text=text,
        blocks=to_dicts(blocks) if blocks else None,
        response_type="ephemeral",
        replace_original=True,
    )


def register(
    app: App, settings: Settings, deps: Deps, verbs: dict[str, Verb] | None = None
) -> None:
    """Register ``/apns``; ``verbs`` adds handlers beyond ``help`` and ``status``."""

    def verb_help(call: CommandCall) -> None:
        text, blocks = help_message()
        call.ack(text=text, blocks=to_dicts(blocks), response_type="ephemeral")

    def verb_status(call: CommandCall) -> None:
        call.ack(
            text=":hourglass_flowing_sand: Reading the certificate from Intune…",
            response_type="ephemeral",
        )
        deps.background.submit(send_status, call.tenant, call.respond)

    def send_status(tenant: TenantSettings, respond: Respond) -> None:
        try:
            certificate = deps.graph(tenant).get_certificate()
            text, blocks = status_message(tenant, certificate, deps.clock())
        except ApnsBotError as exc:
            text, blocks = error_message(exc, "Reading the certificate")
        reply(respond, text, list(blocks))

    table: dict[str, Verb] = {"help": verb_help, "status": verb_status, **(verbs or {})}

    @app.command(COMMAND)
    def handle_apns_command(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        verb, args = parse_command_text(command.get("text", ""))
        handler = table.get(verb)
        if handler is None:
            text, blocks = help_message(unknown=verb)
            ack(text=text, blocks=to_dicts(blocks), response_type="ephemeral")
            return
        call = CommandCall(
            verb=verb,
            args=args,
            user_id=command["user_id"],
            channel_id=command.get("channel_id", ""),
            trigger_id=command.get("trigger_id", ""),
            tenant=resolve_tenant(settings, command.get("channel_id", "")),
            ack=ack,
            respond=respond,
        )
        handler(call)

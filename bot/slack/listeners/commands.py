"""The ``/apns`` slash command: acknowledge at once, route the first word to a verb handler.

A verb handler receives a ``CommandCall`` after the command was acknowledged (or acknowledges it
itself when it must open a modal with the 3-second ``trigger_id``), and hands slow work to the
bot's own executor. Every verb answers the person who typed it, ephemerally.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack, App, Respond
from slack_sdk.models.blocks import Block

from bot.config import Settings, TenantSettings
from bot.slack.ids import COMMAND
from bot.slack.outcomes import outcome_of
from bot.slack.views.blocks import to_dicts
from bot.slack.views.items import tenant_status_message
from bot.slack.views.status import error_message, fleet_message, help_message
from bot.slack.visibility import allowed, visible_tenants
from bot.usecases.fleet import items_of, read_fleet
from bot.usecases.token_watch import read_tenant, with_failures_timed

if TYPE_CHECKING:
    from bot.slack.context import SlackContext

log = logging.getLogger(__name__)

FLEET_VERBS = frozenset({"status"})  # verbs that accept `all` for every tenant
FLEET_READS = threading.BoundedSemaphore(1)
FLEET_READ_WORKERS = 16
NO_TENANT_SHOWN = (
    ":lock: No tenant is shown to you: each is shown only to its approvers, to people acting from "
    "its channel and to the viewers listed in APNS_VIEWERS. Ask in a tenant's channel."
)


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
    everyone: bool = False  # `all` was typed: the verb covers every tenant
    tenant_word: str | None = None  # the first word, when it was taken as the tenant's name


Verb = Callable[[CommandCall], None]


def parse_command_text(text: str) -> tuple[str, tuple[str, ...]]:
    words = text.split()
    if not words:
        return "help", ()
    return words[0].lower(), tuple(words[1:])


def resolve_tenant(
    settings: Settings, channel_id: str, args: tuple[str, ...]
) -> tuple[TenantSettings | None, tuple[str, ...]]:
    """The tenant a command concerns, and the words left after its name.

    A tenant's short name as the first word wins (``/apns status contoso``); else the tenant whose
    channel the command was typed in; else the only tenant. None when that leaves a choice.
    """
    if args and args[0].lower() in settings.tenants:
        return settings.tenants[args[0].lower()], args[1:]
    implied = settings.tenant_for_channel(channel_id)
    if implied is not None:
        return implied, args
    if len(settings.tenants) == 1:
        return settings.default_tenant, args
    return None, args


def which_tenant(verb: str, shown: Sequence[TenantSettings]) -> str:
    """Ask which tenant, naming only those ``shown`` to the person (none: ``NO_TENANT_SHOWN``,
    as for ``status all``): a tenant's name is not told to someone who may not see it."""
    if not shown:
        return NO_TENANT_SHOWN
    names = ", ".join(f"`{tenant.name}`" for tenant in shown)
    return f"Which tenant? Type `{COMMAND} {verb} <tenant>` — one of {names}."


def reply(respond: Respond, text: str, blocks: list[Any] | None = None) -> None:
    """Replace the acknowledgement with the real answer, visible only to the person who asked."""
    respond(
        text=text,
        blocks=to_dicts(blocks) if blocks else None,
        response_type="ephemeral",
        replace_original=True,
    )


def tell(respond: Respond) -> Callable[[str], None]:
    """``reply`` for one text: how a verb refuses."""
    return lambda text: reply(respond, text)


def register(
    app: App, settings: Settings, deps: SlackContext, verbs: dict[str, Verb] | None = None
) -> dict[str, Verb]:
    """Register ``/apns``; ``verbs`` adds handlers beyond ``help`` and ``status``. Returns the
    live verb table: verbs added to it later are routed too."""

    def verb_help(call: CommandCall) -> None:
        text, blocks = help_message()
        call.ack(text=text, blocks=to_dicts(blocks), response_type="ephemeral")

    def verb_status(call: CommandCall) -> None:
        call.ack(
            text=":hourglass_flowing_sand: Reading the Apple credentials from Intune…",
            response_type="ephemeral",
        )
        if call.everyone:
            deps.background.submit(send_fleet, call.respond, call.user_id, call.channel_id)
        else:
            deps.background.submit(send_status, call)

    def send_fleet(respond: Respond, user_id: str, channel_id: str) -> None:
        # one fleet read at a time, on a small pool: a few people typing `status all` at once
        # must not starve the workers that approvals and uploads run on
        if not FLEET_READS.acquire(blocking=False):
            reply(
                respond, "Every tenant is being read for someone else right now; try again shortly."
            )
            return
        try:
            text, blocks = outcome_of(
                "reading every tenant", lambda: fleet(user_id, channel_id), failed=_text_only
            )
        finally:
            FLEET_READS.release()
        reply(respond, text, list(blocks))

    def fleet(user_id: str, channel_id: str) -> tuple[str, Sequence[Block]]:
        shown = visible_tenants(deps.approvers, settings.tenants.values(), user_id, channel_id)
        if not shown:
            return NO_TENANT_SHOWN, []
        rows = read_fleet(
            settings, deps.graph, deps.clock, max_workers=FLEET_READ_WORKERS, tenants=shown
        )
        return fleet_message(rows)

    def send_status(call: CommandCall) -> None:
        tenant, respond = call.tenant, call.respond
        if not allowed(deps.approvers, tenant, call.user_id, call.channel_id, tell(respond)):
            return
        text, blocks = outcome_of(
            "reading the Apple credentials",
            lambda: status_now(tenant),
            refused=lambda exc: error_message(exc, "Reading the Apple credentials"),
            failed=_text_only,
        )
        reply(respond, text, list(blocks))

    def status_now(tenant: TenantSettings) -> tuple[str, list[Block]]:
        """Every watched item, read now; a certificate that cannot be read (and no token
        kind watched) is the error card, as before."""
        found = read_tenant(deps.graph(tenant), tenant)
        if found.error is not None and all(not read.ok for read in found.tokens):
            raise found.error  # nothing could be read: the certificate's error says why
        error = found.error.user_message if found.error is not None else None
        now = deps.clock()
        timed = with_failures_timed(deps.store, tenant, found.tokens, now)
        items = items_of(tenant, replace(found, tokens=timed), error, now)
        return tenant_status_message(tenant, found.certificate, items, now)

    def ask_which_tenant(respond: Respond, verb: str, user_id: str, channel_id: str) -> None:
        shown = visible_tenants(deps.approvers, settings.tenants.values(), user_id, channel_id)
        reply(respond, which_tenant(verb, shown))

    table: dict[str, Verb] = {"help": verb_help, "status": verb_status}
    table.update(verbs or {})

    @app.command(COMMAND)
    def handle_apns_command(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        verb, args = parse_command_text(command.get("text", ""))
        handler = table.get(verb)
        if handler is None:
            text, blocks = help_message(unknown=verb)
            ack(text=text, blocks=to_dicts(blocks), response_type="ephemeral")
            return
        everyone = args[:1] == ("all",) and verb in FLEET_VERBS
        tenant, rest = resolve_tenant(settings, command.get("channel_id", ""), args)
        if tenant is None and not everyone:
            # who may see which tenant can take group look-ups: answered after the ack
            ack()
            deps.background.submit(
                ask_which_tenant, respond, verb, command["user_id"], command.get("channel_id", "")
            )
            return
        call = CommandCall(
            verb=verb,
            args=rest[1:] if everyone else rest,
            user_id=command["user_id"],
            channel_id=command.get("channel_id", ""),
            trigger_id=command.get("trigger_id", ""),
            tenant=tenant or settings.default_tenant,
            ack=ack,
            respond=respond,
            everyone=everyone,
            tenant_word=args[0] if args and len(rest) < len(args) else None,
        )
        handler(call)

    return table


def _text_only(text: str) -> tuple[str, Sequence[Block]]:
    return text, []

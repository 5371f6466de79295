"""``/apns ade-key [NAME]`` and the *Get public key* button: Intune's public key for an ADE token
as a ``.pem`` in a direct message, with the steps in Apple Business Manager.

As ``/apns csr`` does: the command and the click are acknowledged at once; reading the tokens and
the key from Graph (``getEncryptionPublicKey``, a read: it rotates nothing) and the upload to Slack
(``files_upload_v2`` into the DM opened with ``conversations.open``) run on the bot's executor. The
same ``may_see`` rule applies. The token is the one NAME names (its Intune name or id), else the
tenant's only ADE token; with several, the answer lists them. The button's value is
``<tenant>|<token id>``. The audit keeps the file's size and the token's id (``ade_id``).
"""

from __future__ import annotations

import logging
import re
import shlex
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack, App, Respond
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.config import Settings, TenantSettings
from bot.core.ade_token import IntuneKey, read_intune_key
from bot.core.messages import COMMAND
from bot.core.token_choice import choose_token
from bot.core.tokens import AppleToken
from bot.errors import ApnsBotError, TokenFileError
from bot.slack.clicks import clicked_item
from bot.slack.ids import Action
from bot.slack.listeners.commands import CommandCall, Verb, reply
from bot.slack.listeners.csr import dm_click, dm_fix
from bot.slack.outcomes import outcome_of
from bot.slack.views.blocks import escape, tenant_label
from bot.slack.visibility import allowed

if TYPE_CHECKING:
    from bot.slack.context import SlackContext

log = logging.getLogger(__name__)

Tell = Callable[[str], None]
ABM = "https://business.apple.com"
VERB = "ade-key"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def key_filename(token: AppleToken) -> str:
    """``Intune_ADE_key_<token name>.pem``, safe on every file system."""
    stem = _UNSAFE.sub("_", token.name or token.id).strip("._")[:60] or "token"
    return f"Intune_ADE_key_{stem}.pem"


def ade_key_comment(tenant: TenantSettings, token: AppleToken, key: IntuneKey | None) -> str:
    """The message that comes with the key: what it is and the steps in Apple Business Manager."""
    name = escape(token.name or token.id)
    apple_id = (
        escape(token.apple_id) if token.apple_id else "the Managed Apple Account that manages it"
    )
    facts = (
        f"Certificate serial `{key.serial}`, SHA-256 `{key.sha256[:23]}…`."
        if key is not None
        else ":warning: Intune's key could not be read as a certificate; it is sent as Graph gave it."
    )
    return (
        f"Intune's public key for the ADE token *{name}* ({tenant_label(tenant)}). {facts} "
        "Keep the file as it is.\n"
        f"1. Sign in to Apple Business Manager ({ABM}) as {apple_id} (or another Administrator or "
        "Device Enrollment Manager).\n"
        "2. Open *Preferences* → *Your MDM Servers* and select the server this token belongs to.\n"
        "3. *Edit* → *Upload Public Key*: choose this `.pem` file, then *Save*.\n"
        "4. *Download Token*: Apple gives a `…_smime.p7m` server token, encrypted to this key.\n"
        # the id, never the admin-chosen name, goes into a command people copy into a shell
        f"5. Check it before uploading: `apns-bot inspect-token <file> --against-graph --token "
        f"{escape(shlex.quote(token.id))}` (it must be encrypted to serial "
        f"`{key.serial if key else '…'}`).\n"
        f"6. Upload it with `{COMMAND} renew ade {name}` (checked, then approved like the "
        "certificate), or in the Intune admin center: *Devices* → *Enrollment* → *Apple* → "
        f"*Enrollment program tokens* → *{name}* → *Renew token*, with the Apple ID {apple_id}.\n"
        "A key downloaded earlier, or another MDM server's, makes a token Intune cannot open."
    )


def send_ade_key(
    deps: SlackContext,
    tenant: TenantSettings,
    wanted: str | None,
    user_id: str,
    channel_id: str | None,
    tell: Tell,
    *,
    or_else: str | None = None,
) -> None:
    """DM ``user_id`` Intune's key for the ADE token ``wanted`` names (None: the only one), if
    they may see ``tenant``; ``tell`` reports the outcome. ``or_else``: the name to try when
    ``wanted`` names no token (the whole text, when its first word was taken as the tenant)."""
    if not allowed(deps.approvers, tenant, user_id, channel_id, tell):
        return
    outcome_of(
        "sending Intune's ADE public key",
        lambda: _send(deps, tenant, wanted, user_id, tell, or_else),
        failed=lambda sentence: tell(f":warning: {sentence}"),
    )


def _send(
    deps: SlackContext,
    tenant: TenantSettings,
    wanted: str | None,
    user_id: str,
    tell: Tell,
    or_else: str | None = None,
) -> None:
    graph = deps.graph(tenant)
    try:
        tokens = graph.list_ade_tokens()
    except ApnsBotError as exc:
        tell(f":warning: Intune's ADE tokens could not be read: {escape(exc.user_message)}")
        return
    choice = choose_token(tokens, wanted)
    if choice.why == "unknown" and or_else is not None:
        retried = choose_token(tokens, or_else)  # "/apns ade-key contoso abm": "Contoso ABM"
        if retried.token is not None:
            choice = retried
    token = choice.token
    if token is None:
        tell(_no_choice(tenant, wanted, choice.why, choice.candidates))
        return
    try:
        pem = graph.ade_public_key(token.id)
    except ApnsBotError as exc:
        tell(f":warning: Intune's public key could not be downloaded: {escape(exc.user_message)}")
        return
    try:
        key: IntuneKey | None = read_intune_key(pem)
    except TokenFileError:
        log.warning("ADE key for %s/%s is not a readable certificate", tenant.name, token.id)
        key = None
    if key is not None and "-----BEGIN CERTIFICATE-----" not in pem:
        pem = key.pem  # Graph gave the bare base64: Apple Business Manager wants a PEM file
    content = (pem if pem.endswith("\n") else pem + "\n").encode("utf-8")
    filename = key_filename(token)
    try:
        opened = deps.slack.conversations_open(users=user_id)
        channel = str((opened.get("channel") or {}).get("id", ""))
        deps.slack.files_upload_v2(
            channel=channel,
            content=content,
            filename=filename,
            title=filename,
            initial_comment=ade_key_comment(tenant, token, key),
        )
    except (SlackApiError, SlackClientError, OSError) as exc:
        why = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
        log.error("cannot send the ADE key to %s: %s", user_id, why)
        tell(
            f":warning: The key could not be sent to you in a direct message ({why}). {dm_fix(why)}"
        )
        return
    deps.store.audit(
        tenant.name,
        "ade_key_sent",
        user_id,
        deps.clock(),
        detail={"ade_id": token.id, "bytes": len(content)},  # "token" keys are refused
    )
    tell(f":white_check_mark: `{filename}` is in your direct messages, with the steps.")


def _no_choice(
    tenant: TenantSettings, wanted: str | None, why: str | None, candidates: tuple[AppleToken, ...]
) -> str:
    if why == "none":
        return (
            f":information_source: {tenant_label(tenant)} has no ADE token in Intune. Add one in the "
            "Intune admin center (Devices → Enrollment → Apple → Enrollment program tokens → "
            "Add): Intune shows the key to download there."
        )
    names = ", ".join(f"`{escape(t.name or t.id)}`" for t in candidates)
    if why == "unknown":
        return f"No ADE token named `{escape(wanted or '')}` in {tenant_label(tenant)}: one of {names}."
    return (
        f"{tenant_label(tenant)} has several ADE tokens: type `{COMMAND} {VERB} <name>`, one of "
        f"{names}."
    )


def register(app: App, settings: Settings, deps: SlackContext) -> dict[str, Verb]:
    """Register the *Get public key* button; return the ``ade-key`` verb for ``/apns``."""

    def verb_ade_key(call: CommandCall) -> None:
        call.ack(
            text=":hourglass_flowing_sand: Getting Intune's public key for the ADE token…",
            response_type="ephemeral",
        )
        wanted = " ".join(call.args) or None
        # the first word named the tenant; it may also begin the token's name ("Contoso ABM")
        whole = " ".join((call.tenant_word, *call.args)) if call.tenant_word else None
        deps.background.submit(
            send_ade_key,
            deps,
            call.tenant,
            wanted,
            call.user_id,
            call.channel_id,
            lambda text: reply(call.respond, text),
            or_else=whole,
        )

    @app.action(Action.GET_ADE_KEY)
    def handle_get_ade_key_action(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        click = dm_click(settings, deps, body, respond)
        if click.tenant is not None:
            deps.background.submit(
                send_ade_key,
                deps,
                click.tenant,
                clicked_item(body),
                click.user_id,
                click.channel,
                click.tell,
            )

    return {VERB: verb_ade_key}

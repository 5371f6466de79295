"""``/apns csr`` and the *Get CSR* button: Intune's CSR as ``IntuneCSR.csr`` in a direct message.

The command and the click are acknowledged at once; the download from Graph and the upload to
Slack run on the bot's executor. The CSR is sent byte for byte as Graph returned it (UTF-8), with
``files_upload_v2`` (``files.getUploadURLExternal`` → upload → ``files.completeUploadExternal``)
into a direct message opened with ``conversations.open``, and the renewal steps name the Apple ID
and topic to renew with. The CSR's content is never logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack, App, Respond
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.config import Settings, TenantSettings
from bot.core.model import TenantCertificate
from bot.errors import ApnsBotError
from bot.slack.clicks import clicked_channel, clicked_tenant, keep_original
from bot.slack.ids import Action
from bot.slack.listeners.commands import CommandCall, Verb, reply
from bot.slack.outcomes import outcome_of
from bot.slack.views.blocks import escape, tenant_label
from bot.slack.views.reminders import CSR_FILENAME, renewal_steps
from bot.slack.visibility import allowed

if TYPE_CHECKING:
    from bot.slack.context import SlackContext

log = logging.getLogger(__name__)

Tell = Callable[[str], None]


def csr_comment(tenant: TenantSettings, certificate: TenantCertificate | None) -> str:
    """The message that comes with the file: what it is and the steps through Apple."""
    return (
        f"Intune's certificate signing request for the Apple push certificate ({tenant_label(tenant)}). "
        "Keep the file as it is — do not open and save it in an editor.\n"
        + renewal_steps(certificate, with_csr_step=False)
    )


def send_csr(
    deps: SlackContext, tenant: TenantSettings, user_id: str, channel_id: str | None, tell: Tell
) -> None:
    """Download the CSR and DM it to ``user_id`` (acting from ``channel_id``; None: the Home tab)
    with the steps, if they may see ``tenant``; ``tell`` reports the outcome."""
    if not allowed(deps.approvers, tenant, user_id, channel_id, tell):
        return
    outcome_of(
        "sending the CSR",
        lambda: _send_csr(deps, tenant, user_id, tell),
        failed=lambda sentence: tell(f":warning: {sentence}"),
    )


def _send_csr(deps: SlackContext, tenant: TenantSettings, user_id: str, tell: Tell) -> None:
    graph = deps.graph(tenant)
    try:
        csr = graph.download_csr()
    except ApnsBotError as exc:
        tell(f":warning: Intune's CSR could not be downloaded: {escape(exc.user_message)}")
        return
    try:
        certificate: TenantCertificate | None = graph.get_certificate()
    except ApnsBotError as exc:
        log.warning(
            "CSR for %s sent without the certificate facts: %s", tenant.name, exc.user_message
        )
        certificate = None
    content = csr.encode("utf-8")
    try:
        opened = deps.slack.conversations_open(users=user_id)
        channel = str((opened.get("channel") or {}).get("id", ""))
        deps.slack.files_upload_v2(
            channel=channel,
            content=content,
            filename=CSR_FILENAME,
            title=CSR_FILENAME,
            initial_comment=csr_comment(tenant, certificate),
        )
    except (SlackApiError, SlackClientError, OSError) as exc:
        why = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
        log.error("cannot send the CSR to %s: %s", user_id, why)
        tell(
            f":warning: The CSR could not be sent to you in a direct message ({why}). {dm_fix(why)}"
        )
        return
    deps.store.audit(tenant.name, "csr_sent", user_id, deps.clock(), detail={"bytes": len(content)})
    tell(f":white_check_mark: `{CSR_FILENAME}` is in your direct messages, with the steps.")


def dm_fix(error: str) -> str:
    if error == "messages_tab_disabled":
        return (
            "Turn on App Home → Show Tabs → Messages Tab in the Slack app's settings "
            "(manifest: messages_tab_enabled: true), then try again."
        )
    if error in {"missing_scope", "not_allowed_token_type"}:
        return "The app needs the files:write and im:write scopes: reinstall it from manifest.yml."
    return "Try again in a minute."


def teller(deps: SlackContext, user_id: str, respond: Callable[..., Any] | None) -> Tell:
    """How a click hears back: ephemerally under the message clicked, or, from the Home tab
    (no ``response_url``), problems and refusals only, in the direct message (the file itself
    says success)."""

    def tell(text: str) -> None:
        if respond is not None:
            respond(text=text, response_type="ephemeral")
        elif not text.startswith(":white_check_mark:"):
            try:
                deps.slack.chat_postMessage(channel=user_id, text=text)
            except (SlackApiError, SlackClientError, OSError) as exc:
                log.error("cannot tell %s about the CSR: %s", user_id, type(exc).__name__)

    return tell


@dataclass(frozen=True)
class Click:
    """A button that sends something by DM: who clicked, from where, and how to answer them."""

    user_id: str
    channel: str | None
    tell: Tell
    tenant: TenantSettings | None  # None: no longer configured (they were told so)


def dm_click(
    settings: Settings, deps: SlackContext, body: dict[str, Any], respond: Respond
) -> Click:
    """The click and its tenant; a tenant no longer configured is told so here."""
    user_id = str(body["user"]["id"])
    tell = teller(deps, user_id, keep_original(respond, body))
    tenant = clicked_tenant(settings, body)
    if tenant is None:
        deps.background.submit(tell, ":warning: That tenant is no longer configured.")
    return Click(user_id, clicked_channel(body), tell, tenant)


def register(app: App, settings: Settings, deps: SlackContext) -> dict[str, Verb]:
    """Register the *Get CSR* button; return the ``csr`` verb for ``/apns``."""

    def verb_csr(call: CommandCall) -> None:
        call.ack(
            text=":hourglass_flowing_sand: Getting Intune's certificate signing request…",
            response_type="ephemeral",
        )
        deps.background.submit(
            send_csr,
            deps,
            call.tenant,
            call.user_id,
            call.channel_id,
            lambda text: reply(call.respond, text),
        )

    @app.action(Action.GET_CSR)
    def handle_get_csr_action(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        click = dm_click(settings, deps, body, respond)
        if click.tenant is not None:
            deps.background.submit(
                send_csr, deps, click.tenant, click.user_id, click.channel, click.tell
            )

    return {"csr": verb_csr}

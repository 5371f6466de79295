"""The words of delegated sign-in: the code prompt, results for the person, reasons on a request.

Only the verification URL and the user code are ever shown; the device code never is. Whatever
Microsoft or a profile supplied (account names, e-mail addresses, Entra's messages) is made inert
in Slack's mrkdwn, so a crafted account name can neither mention @channel nor disguise a link.
"""

from __future__ import annotations

from datetime import datetime

from bot.core.mrkdwn import escape
from bot.core.requests import Failure

RETRY_HINT = "Press *Sign in and upload* on the request to get a new code."
NO_NAME = "an account without a name"


def _until(moment: datetime) -> str:
    return f"{moment:%H:%M} UTC"


def prompt(
    uri: str, user_code: str, expires_at: datetime, email: str | None, *, uploads: bool
) -> str:
    """Where to go and which code to enter (for the person only)."""
    account = (
        f"the Microsoft work account of {escape(email)}"
        if email
        else "your own Microsoft work account"
    )
    then = (
        "As soon as you are signed in, apns-bot uploads the certificate as you."
        if uploads
        else "apns-bot keeps the sign-in encrypted and uses it for Intune reads and for renewals "
        "you approve; `/apns signout` makes it forget it."
    )
    return (
        f":key: *Sign in to Microsoft:* open {escape(uri)} and enter the code "
        f"`{escape(user_code)}` (valid until {_until(expires_at)}). Use {account}. {then}"
    )


def signed_in_note(username: str, *, uploads: bool) -> str:
    text = f":white_check_mark: You are signed in to Microsoft as {escape(username)}."
    return text + (" Uploading the certificate now." if uploads else "")


def mismatch_note(username: str, email: str | None) -> str:
    if email is None:
        why = (
            "Slack did not tell apns-bot your e-mail address (the app needs the users:read.email "
            "scope, and your profile an e-mail), so it cannot check that the account is yours"
        )
    else:
        why = f"it is not the account of your Slack e-mail address {escape(email)}"
    return (
        f":no_entry: You signed in to Microsoft as {escape(username) or NO_NAME}, but {why}. "
        "apns-bot only changes Intune as the approver themself: the sign-in was not kept and "
        f"nothing was uploaded. {RETRY_HINT}"
    )


def ended_note(code: str, detail: str | None) -> str:
    what = {
        "signin_expired": ":hourglass: Your Microsoft sign-in code expired before it was used.",
        "signin_declined": ":no_entry: The Microsoft sign-in was declined.",
    }.get(code, ":warning: The Microsoft sign-in did not complete.")
    extra = f" {escape(detail)}" if detail else ""
    return f"{what}{extra} Nothing was uploaded. {RETRY_HINT} (Or type `/apns signin`.)"


SIGNIN_FAILURE_PREFIX = "signin_"


def failure_mrkdwn(failure: Failure) -> str:
    """A request's failure reason as mrkdwn, escaped exactly once: sign-in failures are written
    as mrkdwn already (``channel_failure``: a live mention, the rest escaped); every other reason
    is plain text from Graph or the bot and is escaped here."""
    if failure.code.startswith(SIGNIN_FAILURE_PREFIX):
        return failure.message
    return escape(failure.message)


def channel_failure(code: str, who: str, username: str = "", detail: str | None = None) -> str:
    """The reason shown on the request in the channel (``who``: a mention)."""
    if code == "signin_refused":
        return (
            f"{who} signed in to Microsoft as {escape(username) or NO_NAME}, which is not their "
            "own account: refused, nothing was uploaded."
        )
    if code == "signin_required":
        return f"The bot restarted before {who} had signed in to Microsoft: nothing was uploaded."
    if code == "signin_expired":
        return f"The Microsoft sign-in code of {who} expired unused: nothing was uploaded."
    if code == "signin_declined":
        return f"{who} declined the Microsoft sign-in: nothing was uploaded."
    reason = f" ({escape(detail)})" if detail else ""
    return f"The Microsoft sign-in of {who} did not complete{reason}: nothing was uploaded."


def already_signed_in(username: str, tenant_label: str) -> str:
    return (
        f"You are signed in to Microsoft as {escape(username)} for {escape(tenant_label)}. "
        "`/apns signout` makes apns-bot forget it."
    )


def signed_out(username: str | None, tenant_label: str) -> str:
    who = f" ({escape(username)})" if username else ""
    return (
        f"Signed out: apns-bot forgot your Microsoft sign-in{who} for {escape(tenant_label)} and holds "
        "no token of yours any more."
    )

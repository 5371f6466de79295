"""Messages of the expiry watch: reminders, changes seen from outside, a failing check.

Tone rises with urgency: a heads-up inside the window, "renew now" with the approvers mentioned
from 7 days on, a daily alarm while expired, and one notice when Apple's grace period is over.
Every reminder names the Apple ID and topic to renew with and carries *Start renewal* and
*Get CSR*; both buttons carry only the tenant's short name.
"""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement

from bot.config import TenantSettings
from bot.core.model import TenantCertificate
from bot.core.reminders import Change, ChangeKind, Reminder
from bot.core.status import GRACE_DAYS, Urgency
from bot.slack.ids import COMMAND, Action
from bot.slack.views.blocks import (
    URGENCY_EMOJI,
    code,
    context,
    days_phrase,
    escape,
    fields,
    header,
    section,
    slack_date,
    tenant_label,
)

PORTAL = "https://identity.apple.com"
CSR_FILENAME = "IntuneCSR.csr"


def _who(apple_id: str | None, unknown: str = "unknown") -> str:
    """An Apple ID as Graph reports it, inert in mrkdwn."""
    return escape(apple_id) if apple_id else unknown


def _day(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "—"


def renewal_steps(certificate: TenantCertificate | None, *, with_csr_step: bool = True) -> str:
    """The round trip through Apple, naming the Apple ID and topic (numbered mrkdwn lines)."""
    steps = []
    if with_csr_step:
        steps.append(
            f"Get Intune's CSR: press *Get CSR* or type `{COMMAND} csr`; it arrives as "
            f"`{CSR_FILENAME}` in a direct message."
        )
    if certificate is not None and certificate.exists:
        apple_id = f"*{_who(certificate.apple_id)}*" if certificate.apple_id else "the Apple ID"
        steps += [
            f"Sign in to Apple's Push Certificates Portal, {PORTAL}, with {apple_id} — the "
            "Apple ID that created the certificate, never another one.",
            f"Find the certificate with topic {code(certificate.topic)} and press *Renew* — not "
            "*Create a Certificate*: a new certificate has a new topic and every device would "
            "have to re-enroll.",
        ]
    else:
        steps += [
            f"Sign in to Apple's Push Certificates Portal, {PORTAL}, with the Apple ID your "
            "organisation will keep for this certificate (a shared, company-owned one).",
            "Press *Create a Certificate* (there is none to renew yet).",
        ]
    steps += [
        f"Upload `{CSR_FILENAME}` and download the `.pem` Apple gives you.",
        f"Type `{COMMAND} renew` (or press *Start renewal*) and upload the `.pem`; once an "
        "approver confirms, I upload it to Intune.",
    ]
    return "\n".join(f"{n}. {step}" for n, step in enumerate(steps, start=1))


def renewal_buttons(tenant: TenantSettings) -> ActionsBlock:
    return ActionsBlock(
        elements=[
            ButtonElement(
                text="Start renewal",
                action_id=Action.START_RENEWAL,
                value=tenant.name,
                style="primary",
            ),
            ButtonElement(text="Get CSR", action_id=Action.GET_CSR, value=tenant.name),
        ]
    )


def _reminder_lines(tenant: TenantSettings, reminder: Reminder, expiry: str) -> tuple[str, str]:
    """(header, summary) in the tone of the reminder's urgency."""
    emoji = URGENCY_EMOJI[reminder.urgency]
    where = f"*{tenant_label(tenant)}*"
    if reminder.urgency is Urgency.LAPSED:
        return "APNs certificate: grace period over", (
            f"{emoji} The Apple push certificate of {where} expired {expiry} and Apple's "
            f"{GRACE_DAYS}-day grace period is over. It can no longer be renewed: create a new "
            "certificate (it gets a new topic), upload it, and re-enroll every Apple device "
            "(supervised and ADE devices need a wipe)."
        )
    if reminder.urgency is Urgency.EXPIRED:
        grace = reminder.grace_days_left
        return "APNs certificate EXPIRED", (
            f"{emoji} The Apple push certificate of {where} *expired* {expiry}. Intune cannot "
            "reach enrolled iPhones, iPads and Macs, and no new ones can enroll. "
            f"*{grace} day{'s' * (grace != 1)}* of Apple's {GRACE_DAYS}-day grace period left: "
            "renew *today* with the same Apple ID and devices resume; after the grace period "
            "every device must re-enroll."
        )
    left = (
        "less than a day"
        if reminder.days_left == 0
        else f"{reminder.days_left} day{'s' * (reminder.days_left != 1)}"
    )
    if reminder.urgency is Urgency.CRITICAL:
        return f"Renew the APNs certificate now — {left} left", (
            f"{emoji} The Apple push certificate of {where} expires in *{left}*, {expiry}. "
            "When it expires, Intune can no longer reach enrolled Apple devices and no new ones "
            "can enroll. Renew it now."
        )
    return f"APNs certificate expires in {left}", (
        f"{emoji} The Apple push certificate of {where} expires in *{left}*, {expiry}. "
        "Renew it before then to keep every enrolled iPhone, iPad and Mac reachable."
    )


def reminder_message(
    tenant: TenantSettings, certificate: TenantCertificate, reminder: Reminder, mentions: str = ""
) -> tuple[str, list[Block]]:
    """A reminder (fallback text, blocks); ``mentions`` are the approvers, when it is time."""
    assert certificate.expires_at is not None  # a reminder is only due for an existing certificate
    title, summary = _reminder_lines(tenant, reminder, slack_date(certificate.expires_at))
    if mentions:
        summary += f"\n{mentions}"
    blocks: list[Block] = [
        header(title),
        section(summary),
        fields(
            [
                ("Apple ID", _who(certificate.apple_id, "_unknown_")),
                ("Expires", _day(certificate.expires_at)),
                ("Topic", code(certificate.topic)),
                ("Serial", code(certificate.serial)),
            ]
        ),
    ]
    if reminder.urgency is not Urgency.LAPSED:
        blocks.append(section("*How to renew* (about ten minutes):\n" + renewal_steps(certificate)))
    blocks.append(renewal_buttons(tenant))
    text = (
        f"APNs certificate ({tenant_label(tenant)}): {days_phrase(reminder.days_left)}, expires "
        f"{certificate.expires_at:%Y-%m-%d}." + (f" {mentions}" if mentions else "")
    )
    return text, blocks


def _changed_lines(change: Change) -> list[tuple[str, str]]:
    before, after = change.previous, change.current
    shown = {
        "apple_id": ("Apple ID", _who(before.apple_id), _who(after.apple_id)),
        "topic": ("Topic", code(before.topic), code(after.topic)),
        "serial": ("Serial", code(before.serial), code(after.serial)),
        "expires_at": ("Expires", _day(before.expires_at), _day(after.expires_at)),
    }
    return [(shown[f][0], f"{shown[f][1]} → {shown[f][2]}") for f in change.fields]


def _change_summary(tenant: TenantSettings, change: Change, now: datetime) -> str:
    before, after = change.previous, change.current
    where = f"({tenant_label(tenant)})"
    left = days_phrase(after.days_left(now) or 0) if after.expires_at else ""
    if change.kind is ChangeKind.TOPIC_CHANGED:
        return (
            f":rotating_light: *The APNs certificate's topic changed* {where}: from "
            f"{code(before.topic)} to {code(after.topic)}. The new certificate was created anew "
            "or under another Apple ID. Enrolled iPhones, iPads and Macs are bound to the old "
            "topic and stop syncing until they re-enroll (supervised and ADE devices need a "
            f"wipe). If this was a mistake, renew the original certificate (topic "
            f"{code(before.topic)}, Apple ID {_who(before.apple_id)}) at Apple and upload "
            "it at once: devices recover when the old topic is back."
        )
    if change.kind is ChangeKind.REMOVED:
        return (
            f":rotating_light: *The APNs certificate was removed from Intune* {where}. Intune "
            "cannot reach enrolled Apple devices and no new ones can enroll. The last one had "
            f"topic {code(before.topic)} and Apple ID {_who(before.apple_id)}: renew that "
            f"one at Apple and upload it with `{COMMAND} renew` to keep devices enrolled."
        )
    if change.kind is ChangeKind.ADDED:
        return (
            f":white_check_mark: *An APNs certificate was uploaded to Intune outside apns-bot* "
            f"{where}: topic {code(after.topic)}, expires {_day(after.expires_at)} ({left})."
        )
    if change.kind is ChangeKind.APPLE_ID_CHANGED:
        return (
            f":information_source: The Apple ID on record for the APNs certificate {where} "
            f"changed from {_who(before.apple_id)} to {_who(after.apple_id)}. Renewals must "
            "use the Apple ID that created the certificate."
        )
    verb = "renewed" if change.kind is ChangeKind.RENEWED else "replaced by one that expires sooner"
    emoji = ":arrows_counterclockwise:" if change.kind is ChangeKind.RENEWED else ":warning:"
    return (
        f"{emoji} *The APNs certificate was {verb} outside apns-bot* {where} (for example in "
        f"the Intune console). It now expires {_day(after.expires_at)} ({left}). The topic is "
        "unchanged: enrolled devices keep working."
    )


def change_message(
    tenant: TenantSettings, change: Change, now: datetime, mentions: str = ""
) -> tuple[str, list[Block]]:
    """A change seen from outside (fallback text, blocks); critical ones mention ``mentions``."""
    summary = _change_summary(tenant, change, now)
    if change.critical and mentions:
        summary += f"\n{mentions}"
    blocks: list[Block] = [section(summary)]
    changed = _changed_lines(change)
    if changed:
        blocks.append(fields(changed[:10]))
    if change.critical:
        blocks.append(renewal_buttons(tenant))
    blocks.append(context(f"Seen by the certificate check at {_day(now)}."))
    kind = change.kind.value.replace("_", " ")
    text = f"APNs certificate ({tenant_label(tenant)}): {kind} outside apns-bot." + (
        f" {mentions}" if change.critical and mentions else ""
    )
    return text, blocks


def check_failed_message(tenant: TenantSettings, error: str, since: datetime) -> str:
    return (
        f":warning: The check of the APNs certificate ({tenant_label(tenant)}) failed: {escape(error)} "
        f"Until it works again I cannot warn before expiry; I will say here when it does. "
        f"(Failing since {_day(since)}.)"
    )


def check_recovered_message(tenant: TenantSettings, since: datetime, now: datetime) -> str:
    return (
        f":white_check_mark: The check of the APNs certificate ({tenant_label(tenant)}) works again "
        f"(it failed from {_day(since)} to {_day(now)})."
    )

"""The "may see" rule applied where Slack asks for a tenant (``bot.core.visibility``).

Every read of a tenant for a person (status, CSR, history, the renew form, the buttons, the Home
tab) asks ``allowed`` first; a refusal is one private sentence naming who can see the tenant and
where to ask, and nothing about the certificate (no Apple ID, topic, serial or request id).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from bot.config import TenantSettings
from bot.slack.views.blocks import tenant_label

if TYPE_CHECKING:
    from bot.slack.approvers import ApproverDirectory

Tell = Callable[[str], None]


def not_shown(tenant: TenantSettings) -> str:
    """The refusal: who sees ``tenant`` and where to ask, in one sentence."""
    return (
        f":lock: {tenant_label(tenant)} is shown only to its approvers, to people acting from "
        f"<#{tenant.channel}> and to the viewers listed in APNS_VIEWERS: ask in <#{tenant.channel}> "
        "if you need to see it."
    )


def allowed(
    directory: ApproverDirectory,
    tenant: TenantSettings,
    user_id: str,
    channel_id: str | None,
    tell: Tell,
) -> bool:
    """True when ``user_id`` may see ``tenant``; else ``tell`` them so and return False."""
    if directory.may_see(tenant, user_id, channel_id):
        return True
    tell(not_shown(tenant))
    return False


def visible_tenants(
    directory: ApproverDirectory,
    tenants: Iterable[TenantSettings],
    user_id: str,
    channel_id: str | None = None,
) -> list[TenantSettings]:
    """The tenants ``user_id`` may see, in the given order."""
    return [t for t in tenants if directory.may_see(t, user_id, channel_id)]

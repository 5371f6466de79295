"""The watched-items section of /apns status and the App Home stays within Slack's limits."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bot.config import TenantSettings
from bot.core.items import tenant_items
from bot.core.tokens import AppleToken, CredentialKind, TokenRead
from bot.slack.views.items import item_line, tenant_status_message
from tests.clock import T0

SECTION_TEXT_LIMIT = 3000  # Slack: a section's text holds at most 3,000 characters


def test_long_names_and_notes_never_overflow_a_section() -> None:
    tokens = tuple(
        AppleToken(
            id=f"vpp-{n}",
            kind=CredentialKind.VPP,
            name="<&>" * 200,  # escaping makes each character four or five
            apple_id="x" * 300 + "@example.com",
            organization=None,
            expires_at=T0 + timedelta(days=n),
            state="invalid" * 50,
        )
        for n in range(30)
    )
    tenant = TenantSettings(
        name="t", tenant_id="00000000-0000-0000-0000-000000000000", client_id="c", channel="C1"
    )
    items = tenant_items(None, None, [TokenRead(CredentialKind.VPP, tokens)], T0, lambda k: 60)
    _, blocks = tenant_status_message(tenant, None, items, T0)
    texts = [b.to_dict()["text"]["text"] for b in blocks if b.to_dict().get("type") == "section"]
    assert texts and all(len(t) <= SECTION_TEXT_LIMIT for t in texts)
    assert "<&>" not in "".join(texts) and "&lt;&amp;&gt;" in texts[0]
    assert sum(t.count(":red_circle:") + t.count(":warning:") for t in texts) >= 20


def test_a_token_expired_within_the_day_is_expired_today_as_the_certificate_says() -> None:
    token = AppleToken(
        id="ade-1",
        kind=CredentialKind.ADE,
        name="Lapsed",
        apple_id=None,
        organization=None,
        expires_at=T0 - timedelta(hours=1),
    )
    read = [TokenRead(CredentialKind.ADE, (token, replace(token, id="ade-2", name="Older",
                                                          expires_at=T0 - timedelta(days=3, hours=1))))]  # fmt: skip
    items = tenant_items(None, None, read, T0, lambda k: 60, push=False)
    lines = [item_line(item) for item in items]
    assert [i.days_left for i in items] == [-4, -1]  # days_left keeps its meaning (floored)
    assert "*Older* — expired 3 days ago" in lines[0]
    assert "*Lapsed* — expired today" in lines[1]

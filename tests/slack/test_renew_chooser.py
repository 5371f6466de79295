"""The "what to renew" chooser when a tenant has more tokens than Slack's ten radio buttons: the
most urgent are shown, the rest are named as a count with the command that reaches them."""

from __future__ import annotations

import json

from bot.core.token_choice import by_urgency
from bot.core.tokens import AppleToken, CredentialKind
from bot.slack.views.renew_token import chooser_modal, token_value
from tests.clock import T0, days
from tests.usecases.fakes import TENANT


def vpp(n: int, expires_in: float) -> AppleToken:
    return AppleToken(
        id=f"vpp-{n}",
        kind=CredentialKind.VPP,
        name=f"Location {n}",
        apple_id="apps@contoso.example",
        organization="Contoso Ltd",
        expires_at=days(expires_in),
    )


def test_tokens_are_ranked_most_urgent_first() -> None:
    tokens = [vpp(1, 300), vpp(2, 3), vpp(3, 40)]
    assert [t.id for t in by_urgency(tokens, T0)] == ["vpp-2", "vpp-3", "vpp-1"]


def test_the_chooser_keeps_the_most_urgent_of_many_tokens_and_names_the_rest() -> None:
    tokens = [vpp(n, 300 + n) for n in range(11)] + [vpp(99, 2)]  # the urgent one comes last
    urgent = tokens[-1]
    view = chooser_modal(TENANT, T0, None, tokens, token_value(urgent)).to_dict()
    [radio] = [b["element"] for b in view["blocks"] if b.get("type") == "input"]
    values = [o["value"] for o in radio["options"]]
    assert len(values) == 10 and token_value(urgent) in values
    assert radio["initial_option"]["value"] == token_value(urgent)
    text = json.dumps(view)
    assert "3 more (expiring later)" in text and "renew vpp NAME" in text
    assert token_value(tokens[10]) not in values  # expires last: among the three left out

"""Which token a person means (``bot.core.token_choice``): by id or name, or the only one."""

from __future__ import annotations

from bot.core.token_choice import choose_token
from bot.core.tokens import AppleToken, CredentialKind
from tests.clock import days

MAIN = AppleToken("ade-1", CredentialKind.ADE, "Contoso  ABM", "a@contoso.example", None, days(9))
SCHOOL = AppleToken("ade-2", CredentialKind.ADE, "Contoso ASM", "b@contoso.example", None, days(90))
NAMELESS = AppleToken("ade-3", CredentialKind.ADE, None, None, None, None)


def test_the_only_token_needs_no_name() -> None:
    assert choose_token([MAIN], None).token == MAIN
    assert choose_token([MAIN], "  ").token == MAIN


def test_a_name_or_id_picks_one_without_case_or_extra_spaces() -> None:
    tokens = [MAIN, SCHOOL, NAMELESS]
    assert choose_token(tokens, "contoso abm").token == MAIN
    assert choose_token(tokens, "ADE-2").token == SCHOOL
    assert choose_token(tokens, "ade-3").token == NAMELESS


def test_why_there_is_no_choice() -> None:
    assert choose_token([], "x").why == "none"
    several = choose_token([MAIN, SCHOOL], None)
    assert (several.token, several.why, several.candidates) == (None, "several", (MAIN, SCHOOL))
    unknown = choose_token([MAIN, SCHOOL], "Fabrikam")
    assert (unknown.token, unknown.why) == (None, "unknown") and unknown.candidates == (
        MAIN,
        SCHOOL,
    )

"""APNS_WATCH / ``watch`` and the per-kind reminder thresholds, from the environment and the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import DEFAULT_REMIND_DAYS, load_settings
from bot.core.tokens import CredentialKind
from bot.errors import ConfigError
from tests.config.test_env import MINIMAL
from tests.config.test_tenants_file import GOOD, write

PUSH, ADE, VPP = CredentialKind.PUSH, CredentialKind.ADE, CredentialKind.VPP


def test_every_kind_is_watched_by_default_with_the_common_thresholds() -> None:
    tenant = load_settings(MINIMAL).default_tenant
    assert tenant.watch == (PUSH, ADE, VPP) and tenant.token_kinds == (ADE, VPP)
    assert tenant.remind_days_for(ADE) == tenant.remind_days_for(VPP) == DEFAULT_REMIND_DAYS


def test_apns_watch_picks_kinds_and_each_kind_may_have_its_own_thresholds() -> None:
    env = {
        **MINIMAL,
        "APNS_WATCH": " VPP, push ,vpp",
        "APNS_REMIND_DAYS": "30,7",
        "APNS_REMIND_DAYS_VPP": "90,45,7",
    }
    tenant = load_settings(env).default_tenant
    assert tenant.watch == (VPP, PUSH) and tenant.token_kinds == (VPP,)
    assert not tenant.watches(ADE)
    assert tenant.remind_days_for(VPP) == (90, 45, 7)
    assert tenant.remind_days_for(ADE) == tenant.remind_days_for(PUSH) == (30, 7)
    assert (tenant.window_for(VPP), tenant.window_for(ADE), tenant.window_for(PUSH)) == (90, 30, 30)


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [
        ("APNS_WATCH", "push,dep", "unknown kind 'dep'; list one or more of push, ade, vpp"),
        ("APNS_WATCH", " , ", "no kind"),
        ("APNS_REMIND_DAYS_ADE", "soon", "APNS_REMIND_DAYS_ADE='soon' must be a comma-separated"),
    ],
)
def test_a_wrong_value_is_named(key: str, value: str, needle: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({**MINIMAL, key: value})
    assert any(key in p and needle in p for p in caught.value.problems), caught.value.problems


def test_the_tenants_file_sets_watch_at_the_top_and_per_tenant(tmp_path: Path) -> None:
    text = GOOD.replace(
        'approvers = ["U0LEAD", "S0LEADS"]\n',
        'approvers = ["U0LEAD", "S0LEADS"]\nwatch = ["push", "ade"]\nremind_days_ade = [45, 5]\n',
    ).replace('cloud = "usgov"\n', 'cloud = "usgov"\nwatch = "vpp"\nremind_days_vpp = [20]\n')
    settings = load_settings(write(tmp_path, text))
    contoso, fabrikam = settings.tenants["contoso"], settings.tenants["fabrikam"]
    assert contoso.watch == (PUSH, ADE) and contoso.remind_days_for(ADE) == (45, 5)
    assert fabrikam.watch == (VPP,) and fabrikam.remind_days_for(VPP) == (20,)
    assert contoso.remind_days_for(VPP) == contoso.remind_days_for(PUSH)  # nobody sets it
    # fabrikam's own remind_days = [30, 7] beats the top level's remind_days_ade
    assert fabrikam.remind_days_for(ADE) == fabrikam.remind_days_for(PUSH) == (30, 7)


def test_apns_watch_is_the_default_of_a_file_that_does_not_say(tmp_path: Path) -> None:
    settings = load_settings({**write(tmp_path, GOOD), "APNS_WATCH": "ade"})
    assert all(t.watch == (ADE,) for t in settings.tenants.values())


def test_an_unknown_kind_in_the_file_names_the_tenant(tmp_path: Path) -> None:
    text = GOOD.replace(
        'cloud = "usgov"\n', 'cloud = "usgov"\nwatch = ["apns"]\nremind_days_vpp = 3\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    problems = caught.value.problems
    assert any("[tenants.fabrikam]: watch" in p and "unknown kind 'apns'" in p for p in problems)
    assert any("[tenants.fabrikam]: remind_days_vpp must be a list" in p for p in problems)


def test_the_environments_thresholds_are_the_defaults_of_what_the_file_does_not_set(
    tmp_path: Path,
) -> None:
    # the top sets remind_days_ade, fabrikam sets remind_days (GOOD), nobody sets remind_days_vpp
    text = GOOD.replace(
        'approvers = ["U0LEAD", "S0LEADS"]\n',
        'approvers = ["U0LEAD", "S0LEADS"]\nremind_days_ade = [45, 5]\n',
    )
    env = {
        **write(tmp_path, text),
        "APNS_REMIND_DAYS": "50,10",
        "APNS_REMIND_DAYS_ADE": "99",
        "APNS_REMIND_DAYS_VPP": " 90, 45 ",
    }
    settings = load_settings(env)
    contoso, fabrikam = settings.tenants["contoso"], settings.tenants["fabrikam"]
    assert contoso.remind_days_for(PUSH) == (50, 10)  # APNS_REMIND_DAYS: the file is silent
    assert fabrikam.remind_days_for(PUSH) == (30, 7)  # the tenant's own remind_days wins
    assert contoso.remind_days_for(ADE) == (45, 5)  # the file's top level beats the environment
    assert contoso.remind_days_for(VPP) == (90, 45)  # APNS_REMIND_DAYS_VPP: the file is silent
    # the tenant's remind_days beats every default of a kind's own (the file's, the environment's)
    assert fabrikam.remind_days_for(ADE) == fabrikam.remind_days_for(VPP) == (30, 7)


def test_without_per_kind_thresholds_anywhere_a_kind_follows_the_tenants_remind_days(
    tmp_path: Path,
) -> None:
    settings = load_settings({**write(tmp_path, GOOD), "APNS_REMIND_DAYS_VPP": "  "})
    fabrikam = settings.tenants["fabrikam"]
    assert fabrikam.remind_days_for(ADE) == fabrikam.remind_days_for(VPP) == (30, 7)
    assert settings.tenants["contoso"].remind_days_for(VPP) == DEFAULT_REMIND_DAYS


@pytest.mark.parametrize(
    "key", ["APNS_REMIND_DAYS", "APNS_REMIND_DAYS_ADE", "APNS_REMIND_DAYS_VPP", "APNS_WATCH"]
)
def test_a_wrong_environment_default_of_the_file_is_one_problem(tmp_path: Path, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({**write(tmp_path, GOOD), key: "0,soon"})
    named = [p for p in caught.value.problems if key + "=" in p]
    assert len(named) == 1, caught.value.problems  # not one per tenant
    assert "tenants." not in named[0]


# The order, most specific first: the tenant's remind_days_<kind>, the tenant's remind_days, the
# top level's remind_days_<kind>, the top level's remind_days, APNS_REMIND_DAYS_<KIND>,
# APNS_REMIND_DAYS. Each case sets every level from its step down, and the step's value wins.
ORDER = [
    ("tenant remind_days_vpp", [("tenant", "remind_days_vpp", [11])]),
    ("tenant remind_days", [("tenant", "remind_days", [12])]),
    ("top remind_days_vpp", [("top", "remind_days_vpp", [13])]),
    ("top remind_days", [("top", "remind_days", [14])]),
    ("APNS_REMIND_DAYS_VPP", [("env", "APNS_REMIND_DAYS_VPP", [15])]),
    ("APNS_REMIND_DAYS", [("env", "APNS_REMIND_DAYS", [16])]),
]
TOP = 'approvers = ["U0LEAD", "S0LEADS"]\n'
CONTOSO = 'channel = "C0CONTOSO"\n'


@pytest.mark.parametrize("step", range(len(ORDER)), ids=[name for name, _ in ORDER])
def test_each_step_of_the_threshold_order_beats_every_step_after_it(
    tmp_path: Path, step: int
) -> None:
    top, tenant, env = "", "", {}
    for _, settings in ORDER[step:]:
        for level, key, days in settings:
            if level == "top":
                top += f"{key} = {days}\n"
            elif level == "tenant":
                tenant += f"{key} = {days}\n"
            else:
                env[key] = ",".join(str(d) for d in days)
    text = GOOD.replace(TOP, TOP + top).replace(CONTOSO, CONTOSO + tenant)
    contoso = load_settings({**write(tmp_path, text), **env}).tenants["contoso"]
    [(_, _, expected)] = ORDER[step][1]
    assert contoso.remind_days_for(VPP) == tuple(expected)


def test_a_kind_without_its_own_key_and_the_push_certificate_follow_remind_days(
    tmp_path: Path,
) -> None:
    text = GOOD.replace(TOP, TOP + "remind_days = [14]\nremind_days_vpp = [13]\n").replace(
        CONTOSO, CONTOSO + "remind_days_vpp = [11]\n"
    )
    env = {**write(tmp_path, text), "APNS_REMIND_DAYS_ADE": "15", "APNS_REMIND_DAYS": "16"}
    settings = load_settings(env)
    contoso, fabrikam = settings.tenants["contoso"], settings.tenants["fabrikam"]
    assert contoso.remind_days_for(VPP) == (11,)
    assert contoso.remind_days_for(ADE) == contoso.remind_days_for(PUSH) == (14,)  # top level
    assert fabrikam.remind_days_for(VPP) == fabrikam.remind_days_for(ADE) == (30, 7)  # its own


def test_a_wrong_threshold_at_the_top_of_the_file_is_one_problem(tmp_path: Path) -> None:
    text = GOOD.replace(TOP, TOP + "remind_days_ade = [0]\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    named = [p for p in caught.value.problems if "remind_days_ade" in p]
    assert len(named) == 1 and "(top level)" in named[0], caught.value.problems

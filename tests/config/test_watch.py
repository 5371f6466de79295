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
    assert fabrikam.remind_days_for(ADE) == (45, 5)  # the top-level default still applies


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


def test_the_environments_thresholds_are_the_defaults_of_a_file_that_does_not_set_them(
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
    assert contoso.remind_days_for(ADE) == fabrikam.remind_days_for(ADE) == (45, 5)  # the file's
    assert contoso.remind_days_for(VPP) == fabrikam.remind_days_for(VPP) == (90, 45)


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

"""APNS_TENANTS_FILE: defaults at the top, one table per tenant, errors naming tenant and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_settings
from bot.errors import ConfigError

SLACK = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"}
GOOD = """
client_id = "99999999-9999-9999-9999-999999999999"
client_secret_env = "MSP_SECRET"
approvers = ["U0LEAD", "S0LEADS"]

[tenants.contoso]
display_name = "Contoso Ltd"
tenant_id = "11111111-1111-1111-1111-111111111111"
channel = "C0CONTOSO"

[tenants.fabrikam]
tenant_id = "fabrikam.onmicrosoft.com"
channel = "C0FABRIKAM"
approvers = ["U0FABLEAD"]
cloud = "usgov"
remind_days = [30, 7, 30]
client_secret_env = "FABRIKAM_SECRET"
"""


def write(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "tenants.toml"
    path.write_text(text)
    return {**SLACK, "APNS_TENANTS_FILE": str(path), "MSP_SECRET": "s1", "FABRIKAM_SECRET": "s2"}


def test_defaults_apply_to_every_tenant_and_tables_override_them(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, GOOD))
    assert list(settings.tenants) == ["contoso", "fabrikam"]
    contoso, fabrikam = settings.tenants["contoso"], settings.tenants["fabrikam"]
    assert contoso.label == "Contoso Ltd" and fabrikam.label == "fabrikam"
    assert contoso.client_id == fabrikam.client_id == "99999999-9999-9999-9999-999999999999"
    assert contoso.approvers == ("U0LEAD", "S0LEADS") and fabrikam.approvers == ("U0FABLEAD",)
    assert contoso.client_secret is not None and contoso.client_secret.reveal() == "s1"
    assert fabrikam.client_secret is not None and fabrikam.client_secret.reveal() == "s2"
    assert fabrikam.graph_url == "https://graph.microsoft.us/beta"
    assert fabrikam.authority == "https://login.microsoftonline.us/fabrikam.onmicrosoft.com"
    assert fabrikam.remind_days == (30, 7)
    assert settings.tenant_for_channel("C0FABRIKAM") is fabrikam
    assert settings.tenant_for_channel("C0ELSEWHERE") is None


def test_no_azure_or_channel_keys_are_needed_in_the_environment_with_a_file(tmp_path: Path) -> None:
    env = write(tmp_path, GOOD)
    assert "AZURE_TENANT_ID" not in env and "APNS_CHANNEL" not in env
    assert len(load_settings(env).tenants) == 2


def test_every_problem_names_the_tenant_and_the_key(tmp_path: Path) -> None:
    text = """
client_id = "not-a-guid"
colour = "blue"

[tenants.contoso]
channel = "#contoso"
approvers = ["alex"]
client_secret_env = "UNSET_SECRET"
cloud = "mars"
remind_days = [0]
favourite = 1

[tenants.ALL]
tenant_id = "11111111-1111-1111-1111-111111111111"
"""
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    problems = "\n".join(caught.value.problems)
    for needle in (
        "unknown top-level key 'colour'",
        "[tenants.contoso]: tenant_id is required",
        "[tenants.contoso]: channel='#contoso'",
        "[tenants.contoso]: approvers has 'alex'",
        "[tenants.contoso]: client_secret_env names UNSET_SECRET, which is not set",
        "[tenants.contoso]: cloud='mars'",
        "[tenants.contoso]: remind_days",
        "[tenants.contoso]: unknown key 'favourite' (known: approvers, auth_mode,",
        "[tenants.contoso]: client_id='not-a-guid'",
        "[tenants.ALL]: the name must be",
    ):
        assert needle in problems


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("tenants = 3", "add at least one [tenants.<name>] table"),
        ("[tenants.contoso\n", "not valid TOML"),
        ("", "add at least one"),
    ],
)
def test_a_broken_file_is_one_clear_problem(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    assert needle in caught.value.user_message


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({**SLACK, "APNS_TENANTS_FILE": str(tmp_path / "nope.toml")})
    assert "nope.toml does not exist" in caught.value.user_message


def test_a_channel_shared_by_two_tenants_implies_neither(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, GOOD.replace("C0FABRIKAM", "C0CONTOSO")))
    assert settings.tenant_for_channel("C0CONTOSO") is None


def test_one_intune_tenant_under_two_names_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace("fabrikam.onmicrosoft.com", "11111111-1111-1111-1111-111111111111")
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    assert (
        "[tenants.fabrikam]: tenant_id 11111111-1111-1111-1111-111111111111 is already [tenants.contoso]"
        in caught.value.user_message
    )


def test_placeholder_ids_are_refused(tmp_path: Path) -> None:
    text = GOOD.replace(
        'tenant_id = "11111111-1111-1111-1111-111111111111"',
        'tenant_id = "00000000-0000-0000-0000-000000000000"',
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    assert any(
        "[tenants.contoso]: tenant_id='00000000-0000-0000-0000-000000000000' is a placeholder" in p
        for p in caught.value.problems
    )


def test_the_command_points_at_the_tenants_file_for_its_problems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.harness import apns_bot

    env = write(tmp_path, GOOD.replace('channel = "C0CONTOSO"', 'chanel = "C0CONTOSO"'))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    assert apns_bot(["status", "--all"]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'tenants.toml'} [tenants.contoso]: unknown key 'chanel' (known:" in err
    assert f"Problems that name {tmp_path / 'tenants.toml'} are fixed in that file." in err
    assert "Fix these in .env" not in err and "No .env was found" not in err

"""Settings for sign-in: the auth mode, its default, APNS_TOKEN_KEY and the identity check."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.adapters.sealing import generate_key
from bot.config import load_settings
from bot.errors import ConfigError
from tests.config.test_env import MINIMAL

KEY = generate_key()
NO_SECRET = {k: v for k, v in MINIMAL.items() if k != "AZURE_CLIENT_SECRET"}


def test_a_secret_means_app_only_and_no_key_is_needed() -> None:
    settings = load_settings(MINIMAL)
    tenant = settings.default_tenant
    assert tenant.auth_mode == "app" and not tenant.delegated
    assert settings.token_keys == ()
    assert not tenant.skip_identity_match


def test_without_a_secret_or_certificate_the_default_is_delegated() -> None:
    settings = load_settings({**NO_SECRET, "APNS_TOKEN_KEY": KEY})
    tenant = settings.default_tenant
    assert tenant.auth_mode == "delegated"
    assert tenant.delegated_scope == (
        "https://graph.microsoft.com/DeviceManagementServiceConfig.ReadWrite.All"
    )
    assert [k.reveal() for k in settings.token_keys] == [KEY]


def test_neither_a_secret_nor_a_key_explains_both_ways_and_keygen() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(NO_SECRET)
    [problem] = caught.value.problems
    for words in ("AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "apns-bot keygen"):
        assert words in problem


def test_delegated_chosen_explicitly_needs_the_key_even_with_a_secret() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({**MINIMAL, "AZURE_AUTH_MODE": "delegated"})
    [problem] = caught.value.problems
    assert problem.startswith("APNS_TOKEN_KEY is missing") and "AZURE_AUTH_MODE" in problem
    tenant = load_settings(
        {**MINIMAL, "AZURE_AUTH_MODE": "Delegated", "APNS_TOKEN_KEY": KEY}
    ).default_tenant
    assert tenant.delegated


def test_app_only_chosen_explicitly_still_needs_a_credential() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({**NO_SECRET, "AZURE_AUTH_MODE": "app"})
    assert any("AZURE_CLIENT_SECRET" in p for p in caught.value.problems)


def test_an_unknown_mode_and_a_bad_flag_are_reported_together() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({**MINIMAL, "AZURE_AUTH_MODE": "user", "APNS_SKIP_IDENTITY_MATCH": "maybe"})
    text = caught.value.user_message
    assert "AZURE_AUTH_MODE='user'" in text and "APNS_SKIP_IDENTITY_MATCH='maybe'" in text


def test_a_malformed_key_is_refused_without_echoing_it() -> None:
    secret_looking = "not-a-key-but-maybe-a-password"
    with pytest.raises(ConfigError) as caught:
        load_settings({**NO_SECRET, "APNS_TOKEN_KEY": secret_looking})
    text = caught.value.user_message
    assert "APNS_TOKEN_KEY is not valid" in text and "apns-bot keygen" in text
    assert secret_looking not in text


def test_several_keys_rotate_and_a_bad_one_among_them_is_named_by_position() -> None:
    other = generate_key()
    settings = load_settings({**NO_SECRET, "APNS_TOKEN_KEY": f"{KEY}, {other}"})
    assert [k.reveal() for k in settings.token_keys] == [KEY, other]
    assert "Secret('***')" in repr(settings.token_keys)
    with pytest.raises(ConfigError) as caught:
        load_settings({**NO_SECRET, "APNS_TOKEN_KEY": f"{KEY},short"})
    assert "key 2" in caught.value.user_message


@pytest.mark.parametrize(("raw", "skip"), [("true", True), ("1", True), ("no", False)])
def test_the_identity_check_can_be_skipped(raw: str, skip: bool) -> None:
    env = {**NO_SECRET, "APNS_TOKEN_KEY": KEY, "APNS_SKIP_IDENTITY_MATCH": raw}
    assert load_settings(env).default_tenant.skip_identity_match is skip


FLEET = """
client_id = "99999999-9999-9999-9999-999999999999"
approvers = ["U0LEAD"]

[tenants.contoso]
tenant_id = "11111111-1111-1111-1111-111111111111"
channel = "C0CONTOSO"
client_secret_env = "CONTOSO_SECRET"

[tenants.fabrikam]
tenant_id = "22222222-2222-2222-2222-222222222222"
channel = "C0FABRIKAM"
skip_identity_match = true
"""


def test_a_tenants_file_mixes_app_only_and_delegated_tenants(tmp_path: Path) -> None:
    path = tmp_path / "tenants.toml"
    path.write_text(FLEET)
    env = {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_APP_TOKEN": "xapp-1",
        "APNS_TENANTS_FILE": str(path),
        "CONTOSO_SECRET": "s3cr3t",
    }
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    [problem] = caught.value.problems
    assert "APNS_TOKEN_KEY is missing" in problem and str(path) in problem
    settings = load_settings({**env, "APNS_TOKEN_KEY": KEY})
    contoso, fabrikam = settings.tenants["contoso"], settings.tenants["fabrikam"]
    assert (contoso.auth_mode, fabrikam.auth_mode) == ("app", "delegated")
    assert fabrikam.skip_identity_match and not contoso.skip_identity_match

    path.write_text(FLEET.replace("skip_identity_match = true", 'auth_mode = "app"'))
    with pytest.raises(ConfigError) as caught:
        load_settings({**env, "APNS_TOKEN_KEY": KEY})
    assert any("client_secret_env" in p for p in caught.value.problems)

"""The command line in delegated mode: keygen, status as a signed-in approver, doctor's report."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.adapters.msal_public import PublicClient
from bot.adapters.sealing import Sealer, generate_key
from bot.adapters.store import SqliteStore
from bot.auth_settings import is_fernet_key
from bot.cli import main
from bot.config import load_settings
from bot.core.signin import SavedSignIn
from tests.fakes.graph_server import FAKE_CLIENT_ID, FAKE_TENANT_ID, FakeGraph
from tests.fakes.slack_server import FakeSlack
from tests.harness import LEAD_2, UseEnv

KEY = generate_key()
USER = "lead.two@contoso.example"


@pytest.fixture
def delegated_env(bot_env: dict[str, str], fake_graph: FakeGraph) -> dict[str, str]:
    fake_graph.register_app(FAKE_TENANT_ID, FAKE_CLIENT_ID, public_client=True)
    return {**bot_env, "AZURE_CLIENT_SECRET": "", "APNS_TOKEN_KEY": KEY}


def save_sign_in(env: dict[str, str], fake_graph: FakeGraph) -> None:
    """LEAD_2 signed in earlier, as the bot would have kept it."""
    settings = load_settings(env)
    client = PublicClient(settings, settings.default_tenant)
    started = client.start()
    fake_graph.delegated.sign_in(started.user_code, USER)
    done = client.poll(started.flow)
    assert done.cache is not None and done.home_account_id is not None
    sealer = Sealer(settings.token_keys)
    now = datetime.now(UTC)
    with SqliteStore(settings.db_path, sealer=sealer) as store:
        store.save_signin(
            SavedSignIn(
                "default", LEAD_2, USER, done.home_account_id, sealer.seal(done.cache), now, now
            )
        )


def test_keygen_prints_a_fresh_valid_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keygen"]) == 0
    first = capsys.readouterr().out.strip()
    assert main(["keygen"]) == 0
    second = capsys.readouterr().out.strip()
    assert is_fernet_key(first) and is_fernet_key(second) and first != second


def test_status_reads_as_the_signed_in_approver(
    delegated_env: dict[str, str],
    use_env: UseEnv,
    fake_graph: FakeGraph,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_env(delegated_env)
    assert main(["status"]) == 2
    assert "Nobody is signed in" in capsys.readouterr().err
    save_sign_in(delegated_env, fake_graph)
    assert main(["status"]) == 0
    assert "com.apple.mgmt.External." in capsys.readouterr().out
    [read] = fake_graph.requests_to("/deviceManagement/applePushNotificationCertificate", "GET")
    assert fake_graph.token_user(read) == USER


def test_doctor_says_who_should_sign_in_then_who_is(
    delegated_env: dict[str, str],
    use_env: UseEnv,
    fake_slack: FakeSlack,
    fake_graph: FakeGraph,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_env(delegated_env)
    assert main(["doctor"]) == 0  # warnings only: nothing is broken yet
    out = capsys.readouterr().out
    assert "WARN  entra sign-in" in out and "/apns signin" in out
    assert "WARN  saved sign-ins" in out

    save_sign_in(delegated_env, fake_graph)
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "PASS  entra sign-in" in out and "DeviceManagementServiceConfig.ReadWrite.All" in out
    assert "PASS  graph read" in out
    assert f"PASS  saved sign-ins 1: {USER} (Slack {LEAD_2})" in out


def test_doctor_reports_sign_ins_another_key_sealed(
    delegated_env: dict[str, str],
    use_env: UseEnv,
    fake_slack: FakeSlack,
    fake_graph: FakeGraph,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    save_sign_in(delegated_env, fake_graph)
    use_env({**delegated_env, "APNS_TOKEN_KEY": generate_key()})
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "cannot be opened with APNS_TOKEN_KEY" in out and "APNS_TOKEN_KEY=new,old" in out
    assert USER not in out.split("saved sign-ins")[-1].splitlines()[0]

"""The command line in delegated mode: keygen, status as a signed-in approver, doctor's report."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.adapters.entra.public_client import PublicClient
from bot.adapters.sealing import SEALED_PREFIX, Sealer, generate_key
from bot.adapters.store import SqliteStore
from bot.config import Secret, load_settings
from bot.config.auth import is_fernet_key
from bot.core.signin import PendingSignIn, SavedSignIn
from tests.adapters.store.fixtures import PEM, PEM_BODY, raw, request
from tests.clock import T0
from tests.fakes.graph_server import FAKE_CLIENT_ID, FAKE_TENANT_ID, FakeGraph
from tests.fakes.slack_server import FakeSlack
from tests.harness import LEAD_1, LEAD_2, UseEnv, apns_bot

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
    now = T0
    with SqliteStore(settings.db_path, sealer=sealer) as store:
        store.save_signin(
            SavedSignIn(
                "default", LEAD_2, USER, done.home_account_id, sealer.seal(done.cache), now, now
            )
        )


def test_keygen_prints_a_fresh_valid_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert apns_bot(["keygen"]) == 0
    first = capsys.readouterr().out.strip()
    assert apns_bot(["keygen"]) == 0
    second = capsys.readouterr().out.strip()
    assert is_fernet_key(first) and is_fernet_key(second) and first != second


def test_status_reads_as_the_signed_in_approver(
    delegated_env: dict[str, str],
    use_env: UseEnv,
    fake_graph: FakeGraph,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_env(delegated_env)
    assert apns_bot(["status"]) == 2
    assert "Nobody is signed in" in capsys.readouterr().err
    save_sign_in(delegated_env, fake_graph)
    assert apns_bot(["status"]) == 0
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
    assert apns_bot(["doctor"]) == 0  # warnings only: nothing is broken yet
    out = capsys.readouterr().out
    assert "WARN  entra sign-in" in out and "/apns signin" in out
    assert "WARN  saved sign-ins" in out

    save_sign_in(delegated_env, fake_graph)
    assert apns_bot(["doctor"]) == 0
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
    assert apns_bot(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "cannot be opened with APNS_TOKEN_KEY" in out and "APNS_TOKEN_KEY=new,old" in out
    assert USER not in out.split("saved sign-ins")[-1].splitlines()[0]


def test_rotating_the_key_rekey_then_drop_the_old_one(
    delegated_env: dict[str, str],
    use_env: UseEnv,
    fake_slack: FakeSlack,
    fake_graph: FakeGraph,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """docs/delegated-sign-in.md's rotation: APNS_TOKEN_KEY=new,old; `apns-bot rekey`; APNS_TOKEN_KEY=new."""
    save_sign_in(delegated_env, fake_graph)  # sealed with KEY
    db = Path(delegated_env["APNS_DB_PATH"])
    old, stranger = _sealer(KEY), _sealer(generate_key())
    now = T0
    with SqliteStore(db, sealer=old) as store:
        sealed_pem = request()
        store.create_request(sealed_pem)
        store.add_device_flow(
            PendingSignIn("default", LEAD_1, old.seal('{"device_code": "x"}'), 5, now, now, now)
        )
        lost = SavedSignIn(
            "default", LEAD_1, "gone@contoso.example", "h", stranger.seal("{}"), now, now
        )
        store.save_signin(lost)  # sealed with a key nobody configured: cannot be saved
    with SqliteStore(db) as plain_store:  # a certificate stored before any key was set
        plain_pem = request()
        plain_store.create_request(plain_pem)

    new = generate_key()
    use_env({**delegated_env, "APNS_TOKEN_KEY": f"{new},{KEY}"})
    assert apns_bot(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "WARN  token key" in out and "apns-bot rekey" in out
    assert (
        "still sealed with an older key in APNS_TOKEN_KEY: 1 saved sign-ins, 1 pending sign-ins, "
        "1 approved certificates;" in out
    )

    assert apns_bot(["rekey", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "saved sign-ins: would seal again 1, already on the first key 0, opened by no " in out
    assert "Nothing was changed (--dry-run)." in out
    assert not _sealer(new).is_current(_signin(db, LEAD_2).sealed_cache)

    assert apns_bot(["rekey"]) == 0
    out = capsys.readouterr().out
    assert (
        "saved sign-ins: sealed again 1, already on the first key 0, opened by no configured key 1"
        in out
    )
    assert "pending sign-ins: sealed again 1," in out
    assert "approved certificates: sealed again 2," in out  # one re-sealed, one sealed at last
    assert "1 value(s) open with none of the keys" in out
    assert KEY not in out and new not in out and PEM_BODY not in out

    assert apns_bot(["rekey"]) == 0  # a second run has nothing left to do
    assert "saved sign-ins: sealed again 0, already on the first key 1," in capsys.readouterr().out
    assert apns_bot(["doctor"]) == 0
    assert "PASS  token key" in capsys.readouterr().out

    use_env({**delegated_env, "APNS_TOKEN_KEY": new})  # the old key dropped
    assert apns_bot(["doctor"]) == 0
    out = capsys.readouterr().out
    assert f"PASS  saved sign-ins 1: {USER} (Slack {LEAD_2})" in out
    assert "token key" not in out and "PASS  entra sign-in" in out
    only_new = _sealer(new)
    with SqliteStore(db, sealer=only_new) as store:
        for pem in (sealed_pem, plain_pem):
            stored = store.get_request(pem.id)
            assert stored is not None and stored.certificate_pem == PEM
        flow = store.get_device_flow("default", LEAD_1)
        assert flow is not None and only_new.open(flow.sealed_flow) == '{"device_code": "x"}'
    [(raw_pem,)] = raw(
        db, "SELECT certificate_pem FROM change_requests WHERE id = ?", (plain_pem.id,)
    )
    assert str(raw_pem).startswith(SEALED_PREFIX)


def test_rekey_without_a_key_is_a_clear_error(
    delegated_env: dict[str, str], use_env: UseEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    use_env({**delegated_env, "APNS_TOKEN_KEY": ""})
    assert apns_bot(["rekey"]) == 2
    assert "APNS_TOKEN_KEY is not set" in capsys.readouterr().err


def _signin(db: Path, user_id: str) -> SavedSignIn:
    with SqliteStore(db) as store:
        signin = store.get_signin("default", user_id)
    assert signin is not None
    return signin


def _sealer(key: str) -> Sealer:
    return Sealer([Secret(key)])

"""APNS_DATABASE_URL: the password in it reaches no message and no log line (no server needed)."""

from __future__ import annotations

import logging

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from bot.adapters.store import open_store, store_label
from bot.adapters.store.postgres import PostgresStore, display_url, scrub
from bot.config import load_settings
from bot.errors import ConfigError, StoreError

PASSWORD = "pa55-w0rd-never-shown"
URL = f"postgresql://apns:{PASSWORD}@127.0.0.1:1/apns?connect_timeout=2"


def test_the_url_is_shown_without_its_password() -> None:
    assert display_url(URL) == "postgresql://apns@127.0.0.1:1/apns"
    assert PASSWORD not in scrub(f"failed for {URL}: bad {PASSWORD}", URL)


def test_an_unreachable_server_is_a_clear_error_without_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG), pytest.raises(StoreError) as caught:
        PostgresStore(URL, timeout=2)
    message = str(caught.value)
    assert "postgresql://apns@127.0.0.1:1/apns could not be used" in message
    assert PASSWORD not in message and PASSWORD not in repr(caught.value)
    assert PASSWORD not in caplog.text


def test_the_setting_selects_postgresql_and_keeps_the_password_out_of_its_repr() -> None:
    settings = load_settings({"APNS_DATABASE_URL": URL}, need_slack=False, need_graph=False)
    assert PASSWORD not in repr(settings)
    assert store_label(settings) == "postgresql://apns@127.0.0.1:1/apns"
    with pytest.raises(StoreError, match=r"127\.0\.0\.1:1"):
        open_store(settings)


def test_a_url_that_is_not_postgresql_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(
            {"APNS_DATABASE_URL": f"mysql://root:{PASSWORD}@db/apns"},
            need_slack=False,
            need_graph=False,
        )
    assert "APNS_DATABASE_URL must be a PostgreSQL URL" in str(caught.value.problems)
    assert PASSWORD not in str(caught.value.problems)


# libpq's parser echoes the part it cannot read: here, the password
MALFORMED = [
    "postgresql://apns:my secret@127.0.0.1/apns",
    "postgresql://apns:secr%zzet@127.0.0.1/apns",
    "postgresql://apns:secret@[::1/apns",
]


@pytest.mark.parametrize("url", MALFORMED)
def test_a_malformed_url_is_refused_by_the_settings_without_echoing_it(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"APNS_DATABASE_URL": url}, need_slack=False, need_graph=False)
    problems = str(caught.value.problems)
    assert "APNS_DATABASE_URL is not a valid PostgreSQL URL" in problems
    assert "secr" not in problems


@pytest.mark.parametrize("url", MALFORMED)
def test_a_malformed_url_reaches_no_message_and_no_traceback(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        try:
            PostgresStore(url, timeout=2)
        except StoreError as exc:
            logging.getLogger("test").exception("the store could not be opened")
            message = str(exc)
        else:  # pragma: no cover - the assertion below reports it
            message = "opened"
    assert "could not be used" in message and "secr" not in message
    assert "Traceback" in caplog.text and "secr" not in caplog.text


@pytest.mark.parametrize("url", MALFORMED)
def test_scrub_drops_the_userinfo_of_a_url_it_cannot_parse(url: str) -> None:
    with pytest.raises(psycopg.ProgrammingError) as caught:
        conninfo_to_dict(url)  # libpq's own words about it, quoting the password
    assert "secr" in str(caught.value)
    assert "secr" not in scrub(f"failed for {url}: {caught.value}", url)

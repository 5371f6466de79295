"""Downloading a modal's uploaded file: only from Slack, only with the bot token, only so much."""

from __future__ import annotations

import pytest

from bot.adapters.slack_files import SlackFiles
from bot.config import load_settings
from bot.errors import SlackFileError
from tests.fakes.slack_server import FakeSlack


@pytest.fixture
def files(bot_env: dict[str, str]) -> SlackFiles:
    downloader = SlackFiles(load_settings(bot_env))
    yield downloader  # type: ignore[misc]
    downloader.close()


def test_the_file_comes_with_the_bot_token(files: SlackFiles, fake_slack: FakeSlack) -> None:
    entry = fake_slack.host_file("F0CERT0001", b"-----BEGIN CERTIFICATE-----\nAAAA\n")
    assert files.download(entry["url_private_download"], limit=1024).startswith(b"-----BEGIN")
    [call] = fake_slack.calls_to("files.download")
    assert call.headers["Authorization"].startswith("Bearer xoxb-")


def test_reading_stops_past_the_limit(files: SlackFiles, fake_slack: FakeSlack) -> None:
    entry = fake_slack.host_file("F0BIG", b"x" * 100_000)
    assert len(files.download(entry["url_private_download"], limit=1000)) == 1001


def test_slacks_sign_in_page_is_an_error_naming_the_scope(
    files: SlackFiles, fake_slack: FakeSlack
) -> None:
    url = fake_slack.host_file("F0CERT0001", b"data")["url_private_download"].replace(
        "F0CERT0001", "F0NONE"
    )
    with pytest.raises(SlackFileError, match="files:read"):
        files.download(url, limit=1024)


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/files-pri/T0-F0/download/cert.pem",
        "http://files.slack.com/files-pri/T0-F0/download/cert.pem",
        "file:///etc/passwd",
    ],
)
def test_the_token_is_never_sent_anywhere_but_slack_over_https(
    files: SlackFiles, fake_slack: FakeSlack, url: str
) -> None:
    with pytest.raises(SlackFileError, match="not to Slack"):
        files.download(url, limit=1024)
    assert fake_slack.calls == []


def test_a_redirect_to_another_host_is_refused(files: SlackFiles, fake_slack: FakeSlack) -> None:
    entry = fake_slack.host_file("F0REDIR", b"data")
    fake_slack.files["F0REDIR"].redirect_to = "https://evil.example/steal"
    with pytest.raises(SlackFileError, match=r"evil\.example"):
        files.download(entry["url_private_download"], limit=1024)

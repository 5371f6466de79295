"""Download a file uploaded through a modal's ``file_input`` (``url_private_download``).

Slack serves private files only to a token with ``files:read``; a wrong token or a missing scope
gets an HTML sign-in page *with status 200*, so the body is checked, not just the status. The bot
token is sent only to Slack's own file host (or the configured API host, for proxies and tests),
redirects are followed only on that host, and the body is read no further than the size limit.
"""

from __future__ import annotations

import logging
from urllib.parse import urljoin, urlparse

import httpx

from bot.adapters.tls import ssl_context
from bot.config import Settings
from bot.errors import SlackFileError

log = logging.getLogger(__name__)

SLACK_FILE_HOSTS = frozenset({"files.slack.com", "slack-files.com"})
MAX_REDIRECTS = 3


class SlackFiles:
    """Fetches private Slack files with the bot token."""

    def __init__(self, settings: Settings, *, timeout: float | None = None) -> None:
        """``timeout``: the longest wait for each answer or chunk (default ``APNS_NETWORK_TIMEOUT``)."""
        if settings.slack is None:
            raise ValueError("SlackFiles needs Slack settings")
        self._token = settings.slack.bot_token
        api = urlparse(settings.slack.api_url)
        self._hosts = SLACK_FILE_HOSTS | {api.netloc}
        # plain http only where the operator configured it themselves (a local proxy, tests)
        self._http_hosts = {api.netloc} if api.scheme == "http" else set()
        self._client = httpx.Client(
            verify=ssl_context(settings.ca_bundle),
            timeout=httpx.Timeout(
                settings.network_timeout if timeout is None else timeout,
                connect=settings.connect_timeout,
            ),
            follow_redirects=False,
        )

    def close(self) -> None:
        self._client.close()

    def download(self, url: str, *, limit: int) -> bytes:
        """The file's bytes, or at most ``limit + 1`` of them (the caller reports "too large")."""
        for _ in range(MAX_REDIRECTS + 1):
            parsed = urlparse(url)
            host = parsed.netloc
            secure = parsed.scheme == "https" or (
                parsed.scheme == "http" and host in self._http_hosts
            )
            if not secure or host not in self._hosts:
                raise SlackFileError(
                    f"The file link points to {host or 'nowhere'}, not to Slack; upload the "
                    "certificate again from Slack."
                )
            try:
                with self._client.stream(
                    "GET", url, headers={"Authorization": f"Bearer {self._token.reveal()}"}
                ) as response:
                    if response.is_redirect:
                        url = urljoin(url, response.headers.get("location", ""))
                        continue
                    if response.status_code != 200:
                        raise SlackFileError(
                            f"Slack answered {response.status_code} when the bot fetched the file; "
                            "upload it again."
                        )
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body.extend(chunk)
                        if len(body) > limit:
                            break
                    content_type = response.headers.get("content-type", "")
            except httpx.HTTPError as exc:
                silent = isinstance(exc, httpx.TimeoutException)
                why = f"timed out, {host} did not answer" if silent else "network error"
                log.warning("file download from %s failed: %s", host, type(exc).__name__)
                raise SlackFileError(
                    f"The certificate could not be fetched from Slack ({why}); try again."
                ) from None
            if _is_login_page(bytes(body[:512]), content_type):
                raise SlackFileError(
                    "Slack returned its sign-in page instead of the file: the bot token lacks the "
                    "files:read scope (add it in the app's OAuth & Permissions and reinstall)."
                )
            return bytes(body[: limit + 1])
        raise SlackFileError("Slack redirected the file download too many times; try again.")


def _is_login_page(head: bytes, content_type: str) -> bool:
    start = head.lstrip().lower()
    return "text/html" in content_type.lower() or start.startswith((b"<!doctype html", b"<html"))

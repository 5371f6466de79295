"""``build_app(settings, deps)``: the Bolt app, with nothing running at import time."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from slack_bolt import App, BoltResponse

from bot.config import Settings
from bot.errors import internal_error
from bot.slack.listeners import ade_key, approval, commands, csr, history, home, renew, signin
from bot.slack.log_hygiene import trim_library_logs

if TYPE_CHECKING:
    from bot.slack.context import SlackContext


def build_app(settings: Settings, deps: SlackContext, *, http: bool | None = None) -> App:
    """``http``: requests arrive over HTTP (default: when no app-level token is set). Every HTTP
    request's signature is then verified, even when an app token is configured too."""
    if settings.slack is None:
        raise ValueError("build_app needs Slack settings")
    http = not settings.slack.socket_mode if http is None else http
    if http and settings.slack.signing_secret is None:
        raise ValueError("HTTP mode needs SLACK_SIGNING_SECRET to verify requests")
    trim_library_logs()  # Bolt and slack_sdk put request bodies and response_urls in log lines
    app = App(
        # listener loggers are named after the app: under slack_bolt, so trimmed like Bolt's own
        name="slack_bolt.apns-bot",
        client=deps.slack,
        signing_secret=(
            settings.slack.signing_secret.reveal() if settings.slack.signing_secret else ""
        ),
        # Socket Mode messages are authenticated by the app-level token's connection instead.
        request_verification_enabled=http,
        # `apns-bot run` checks auth.test itself, with a readable error, before serving.
        token_verification_enabled=False,
        listener_executor=deps.listeners,
        raise_error_for_unhandled_request=False,
    )
    # Bolt tries listeners in registration order, running each matcher (and inspecting its
    # signature) until one matches: the most frequent requests' listeners go first. Slash
    # commands, then the approval buttons, then modals and the Home tab.
    verbs = commands.register(app, settings, deps)
    approval.register(app, settings, deps)
    verbs.update(renew.register(app, settings, deps))
    verbs.update(history.verbs(deps))
    verbs.update(csr.register(app, settings, deps))
    verbs.update(ade_key.register(app, settings, deps))
    verbs.update(signin.verbs(deps))
    home.register(app, settings, deps)
    app.error(_handle_error)
    return app


def _handle_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
    """Central error handler: a listener's bug is logged server-side with a reference; the person
    sees a sentence (a slash command's answer) or nothing, never a traceback, never a 500."""
    kind = re.sub(r"[^a-z_]", "", str(body.get("type") or "")[:40]) or (
        "command" if body.get("command") else "request"
    )
    sentence = internal_error(f"handling a {kind}", error)
    if body.get("command"):
        return BoltResponse(status=200, body=sentence)
    return BoltResponse(status=400, body="")

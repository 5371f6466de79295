"""``build_app(settings, deps)``: the Bolt app, with nothing running at import time."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient

from bot.adapters.apple_ca import AppleTrustStore
from bot.adapters.retry import RetryPolicy
from bot.adapters.sealing import build_sealer
from bot.adapters.slack_files import SlackFiles
from bot.adapters.store import SqliteStore, Store
from bot.config import Settings, TenantSettings
from bot.core.chain import TrustAnchors
from bot.delegated_setup import Delegated, build_delegated
from bot.runtime import Answering, Background, GraphClients, internal_error, start_threads
from bot.slack import approval, commands, csr, history, home, renew, signin
from bot.slack.approvers import ApproverDirectory
from bot.slack.home import HomePublisher, HomeRefreshingNotifier
from bot.slack.log_hygiene import trim_library_logs
from bot.slack.notifier import SlackNotifier
from bot.slack.watch_notifier import SlackWatchNotifier
from bot.slack.web import build_trigger_client, build_web_client
from bot.watch import Watch
from bot.workflow import Renewals

if TYPE_CHECKING:
    from bot.adapters.graph import GraphClient
    from bot.signins import DelegatedSignIns

log = logging.getLogger(__name__)

# Bolt's default listener pool has 5 threads; acknowledgements wait for a free one, so bursts of
# commands and clicks need more. Listeners only ack and enqueue, so threads are cheap here.
LISTENER_THREADS = 32
# How long follow-up work may wait for the server to finish answering requests (bot/runtime.py):
# work on the main executor can wait a second; a modal must reach views.open well within the 3 s
# its trigger_id lives (the trigger client's own timeout is 2 s).
FOLLOW_UP_DEFER = 1.0
MODAL_DEFER = 0.5
# Each views.open waits ~100-300 ms on the network in production: 16 threads open ~50-150 modals a
# second, so a burst of "Start renewal" clicks still gets its modals well within the 3 s.
MODAL_THREADS = 16


def utcnow() -> datetime:
    return datetime.now(UTC)


class FileSource(Protocol):
    def download(self, url: str, *, limit: int) -> bytes: ...


@dataclass
class Deps:
    """Everything the listeners need from the outside world, built once per process."""

    slack: WebClient
    slack_trigger: WebClient  # views.open with a trigger_id: no retries, short timeout
    graph: Callable[[TenantSettings], GraphClient]
    store: Store
    files: FileSource
    trust: Callable[[], TrustAnchors | None]
    background: Background
    modals: Background  # views.open with a trigger_id, apart from Graph-bound work
    answering: Answering  # requests the HTTP server is answering; follow-ups yield to them
    listeners: ThreadPoolExecutor  # Bolt's listener pool: acknowledgements only, never blocks
    clock: Callable[[], datetime]
    approvers: ApproverDirectory
    renewals: Renewals
    watch: Watch
    home: HomePublisher
    delegated: Delegated | None = None  # delegated sign-in, when some tenant uses it

    @property
    def signins(self) -> DelegatedSignIns | None:
        return self.delegated.signins if self.delegated is not None else None

    def start_threads(self) -> None:
        """Start every pool's workers now, before serving (``bot.runtime.start_threads``)."""
        start_threads(self.listeners, LISTENER_THREADS)
        self.background.start_threads()
        self.modals.start_threads()

    def close(self) -> None:
        # in the order work flows: listeners submit to both executors, modals to the main one
        self.listeners.shutdown(wait=True)
        self.modals.shutdown(wait=True)
        self.background.shutdown(wait=True)
        for part in (self.graph, self.delegated, self.files, self.store):
            close = getattr(part, "close", None)
            if callable(close):
                close()


def build_deps(
    settings: Settings,
    *,
    slack: WebClient | None = None,
    graph: Callable[[TenantSettings], GraphClient] | None = None,
    store: Store | None = None,
    trust: Callable[[], TrustAnchors | None] | None = None,
    clock: Callable[[], datetime] = utcnow,
    sleep: Callable[[float], None] = time.sleep,
) -> Deps:
    """Real adapters by default; tests override the clock and the sleep between retries (and
    rarely anything else)."""
    slack = slack or build_web_client(settings, sleep)
    store = store or SqliteStore(settings.db_path, sealer=build_sealer(settings.token_keys))
    answering = Answering()
    background = Background(answering=answering, defer=FOLLOW_UP_DEFER)
    modals = Background(MODAL_THREADS, name="apns-modal", answering=answering, defer=MODAL_DEFER)
    delegated = build_delegated(settings, store, slack, clock, background.submit)
    graph = graph or GraphClients(
        settings, delegated.graph_factory if delegated else None, retry=RetryPolicy(sleep=sleep)
    )
    trust = trust or AppleTrustStore(settings).get
    approvers = ApproverDirectory(slack)
    home_tab = HomePublisher(settings, slack, store, graph, background, clock, approvers)
    # every change the renewal workflow announces also refreshes the App Home
    notifier = HomeRefreshingNotifier(
        SlackNotifier(
            settings,
            slack,
            approvers,
            clock,
            waiting_for=delegated.signins.waiting_for if delegated else None,
        ),
        home_tab.refresh_soon,
    )
    renewals = Renewals(
        settings,
        store,
        graph,
        notifier,
        approvers,
        trust,
        clock,
        sleep=sleep,
        graph_for=delegated.graph_for(graph) if delegated else None,
        gate=delegated.signins if delegated else None,
    )
    if delegated is not None:
        delegated.signins.attach(renewals)
    notices = SlackWatchNotifier(slack, approvers)
    watch = Watch(settings, store, graph, notices, clock, on_checked=home_tab.after_check)
    return Deps(
        slack=slack,
        slack_trigger=build_trigger_client(slack),
        graph=graph,
        store=store,
        files=SlackFiles(settings),
        trust=trust,
        background=background,
        modals=modals,
        answering=answering,
        listeners=ThreadPoolExecutor(max_workers=LISTENER_THREADS, thread_name_prefix="apns-ack"),
        clock=clock,
        approvers=approvers,
        renewals=renewals,
        watch=watch,
        home=home_tab,
        delegated=delegated,
    )


def build_app(settings: Settings, deps: Deps, *, http: bool | None = None) -> App:
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

"""``build_deps(settings)``: the composition of a running bot — adapters, use cases, executors."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from slack_sdk import WebClient

from bot.adapters.apple_ca import AppleTrustStore
from bot.adapters.graph.retry import RetryPolicy
from bot.adapters.sealing import build_sealer
from bot.adapters.slack_files import SlackFiles
from bot.adapters.store import SqliteStore, Store
from bot.config import Settings, TenantSettings
from bot.core.chain import TrustAnchors
from bot.runtime.delegated import Delegated, build_delegated
from bot.runtime.executors import Answering, Background, start_threads
from bot.runtime.graph_clients import GraphClients
from bot.runtime.slack_clients import build_trigger_client, build_web_client
from bot.slack.approvers import ApproverDirectory
from bot.slack.listeners.home import HomePublisher, HomeRefreshingNotifier
from bot.slack.notifier import SlackNotifier
from bot.slack.watch_notifier import SlackWatchNotifier
from bot.usecases.renewals import Renewals
from bot.usecases.watch import Watch

if TYPE_CHECKING:
    from bot.adapters.graph.client import GraphClient
    from bot.usecases.signins import DelegatedSignIns

log = logging.getLogger(__name__)

# Bolt's default listener pool has 5 threads; acknowledgements wait for a free one, so bursts of
# commands and clicks need more. Listeners only ack and enqueue, so threads are cheap here.
LISTENER_THREADS = 32
# How long follow-up work may wait for the server to finish answering requests (bot/runtime/executors.py):
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

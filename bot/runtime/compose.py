"""``build_deps(settings)``: the composition of a running bot — adapters, use cases, executors."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from slack_sdk import WebClient

from bot.adapters.apple_ca import AppleTrustStore
from bot.adapters.graph.retry import RetryPolicy
from bot.adapters.metrics import PrometheusMetrics
from bot.adapters.sealing import build_sealer
from bot.adapters.slack_files import SlackFiles
from bot.adapters.store import open_store
from bot.config import Settings
from bot.core.chain import TrustAnchors
from bot.core.tokens import CredentialKind
from bot.runtime.delegated import Delegated, acting_graphs, delegated_graphs, graph_factory
from bot.runtime.executors import Answering, Background, start_threads
from bot.runtime.graph_clients import GraphClients
from bot.runtime.slack_clients import build_trigger_client, build_web_client
from bot.slack.approvers import ApproverDirectory
from bot.slack.context import SlackContext
from bot.slack.home_tab import HomePublisher, HomeRefreshingNotifier
from bot.slack.notifier import SlackNotifier
from bot.slack.signin_notifier import SlackSignInNotifier
from bot.slack.watch_notifier import SlackWatchNotifier
from bot.usecases.applying import Applying, UploadRetry
from bot.usecases.ports import Graphs, Store
from bot.usecases.renewals import Renewals
from bot.usecases.signins import DelegatedSignIns
from bot.usecases.token_renewals import TokenRenewals
from bot.usecases.watch import CheckResult, Watch

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


@dataclass(kw_only=True)
class Deps(SlackContext):
    """The listeners' context plus what only the running process handles: its pools, the
    upload half of the renewal workflow (tickers reconcile with it) and delegated sign-in."""

    background: Background
    modals: Background
    answering: Answering  # requests the HTTP server is answering; follow-ups yield to them
    applying: Applying
    metrics: PrometheusMetrics  # this bot's own registry: GET /metrics
    delegated: Delegated | None = None  # delegated sign-in, when some tenant uses it

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


def seed_metrics(metrics: PrometheusMetrics, settings: Settings, store: Store) -> None:
    """Each tenant's push certificate expiry as the last check stored it: the expiry alert has
    its series from the start, even when Graph fails after a restart (not when it is no longer
    watched: its snapshot, kept for a week in case it is watched again, is no series)."""
    for tenant, watched in settings.tenants.items():
        if not watched.watches(CredentialKind.PUSH):
            continue
        try:
            metrics.seed(tenant, store.get_snapshot(tenant))
        except Exception:  # metrics never stop the bot from starting
            log.exception("could not seed the metrics of tenant %s from the store", tenant)


def build_deps(
    settings: Settings,
    *,
    slack: WebClient | None = None,
    graph: Graphs | None = None,
    store: Store | None = None,
    trust: Callable[[], TrustAnchors | None] | None = None,
    clock: Callable[[], datetime] = utcnow,
    sleep: Callable[[float], None] = time.sleep,
) -> Deps:
    """Real adapters by default; tests override the clock and the sleep between retries (and
    rarely anything else)."""
    slack = slack or build_web_client(settings, sleep)
    store = store or open_store(settings, sealer=build_sealer(settings.token_keys))
    answering = Answering()
    metrics = PrometheusMetrics()
    seed_metrics(metrics, settings, store)
    background = Background(answering=answering, defer=FOLLOW_UP_DEFER)
    modals = Background(MODAL_THREADS, name="apns-modal", answering=answering, defer=MODAL_DEFER)
    graphs = delegated_graphs(settings, store, clock)
    graph = graph or GraphClients(
        settings, graph_factory(graphs) if graphs else None, retry=RetryPolicy(sleep=sleep)
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
            waiting_for=store.signin_wait if graphs else None,
        ),
        home_tab.refresh_soon,
    )
    signins = (
        DelegatedSignIns(
            settings,
            store,
            graphs.tokens,
            SlackSignInNotifier(slack),
            clock,
            background.submit,
            notifier,
        )
        if graphs
        else None
    )
    applying = Applying(
        settings,
        store,
        graph,
        notifier,
        clock,
        retry=UploadRetry(sleep=sleep),
        graph_for=acting_graphs(graphs, graph) if graphs else None,
        gate=signins,
        metrics=metrics,
    )
    if signins is not None:
        signins.attach(applying)
    renewals = Renewals(
        settings, store, graph, notifier, approvers, trust, clock, applying, metrics=metrics
    )
    notices = SlackWatchNotifier(slack, approvers)

    def checked(result: CheckResult) -> None:  # every check refreshes the App Home and metrics
        metrics.observe(result)
        home_tab.after_check(result)

    watch = Watch(settings, store, graph, notices, clock, on_checked=checked)
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
        token_renewals=TokenRenewals(settings, graph, renewals, clock, metrics=metrics),
        applying=applying,
        metrics=metrics,
        watch=watch,
        home=home_tab,
        signins=signins,
        delegated=Delegated(graphs, signins) if graphs and signins else None,
    )

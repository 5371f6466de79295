"""``SlackContext``: what the listeners need from the rest of the bot, handed to ``build_app``.

The composition root (``bot.runtime.compose``) builds it; listeners only read it, so they never
import the composition root back.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from slack_sdk import WebClient

from bot.core.chain import TrustAnchors
from bot.slack.approvers import ApproverDirectory
from bot.slack.home_tab import HomePublisher
from bot.usecases.ports import Executor, Graphs, Store
from bot.usecases.renewals import Renewals
from bot.usecases.signins import DelegatedSignIns
from bot.usecases.token_renewals import TokenRenewals
from bot.usecases.watch import Watch


class FileSource(Protocol):
    def download(self, url: str, *, limit: int) -> bytes: ...


@dataclass(kw_only=True)
class SlackContext:
    slack: WebClient
    slack_trigger: WebClient  # views.open with a trigger_id: no retries, short timeout
    graph: Graphs
    store: Store
    files: FileSource
    trust: Callable[[], TrustAnchors | None]
    background: Executor
    modals: Executor  # views.open with a trigger_id, apart from Graph-bound work
    listeners: ThreadPoolExecutor  # Bolt's listener pool: acknowledgements only, never blocks
    clock: Callable[[], datetime]
    approvers: ApproverDirectory
    renewals: Renewals
    token_renewals: TokenRenewals
    watch: Watch
    home: HomePublisher
    signins: DelegatedSignIns | None = None  # delegated sign-in, when some tenant uses it

"""``apns-bot run``: serve Slack in Socket Mode (``SLACK_APP_TOKEN``) or HTTP mode."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Mapping
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

from bot.config import Settings, load_settings
from bot.config.fields import parse_port
from bot.errors import ApnsBotError, ConfigError
from bot.runtime.compose import Deps, build_deps
from bot.runtime.daily_check import DailyCheck, RunClaims
from bot.runtime.executors import Answering
from bot.runtime.metrics_http import METRICS_PATH, make_metrics_server
from bot.runtime.scheduler import Ticker
from bot.runtime.server import EVENTS_PATH, HEALTH_PATH, make_server
from bot.runtime.slack_clients import unreachable
from bot.slack.app import build_app

log = logging.getLogger("bot.run")

EXPIRE_EVERY_SECONDS = 60.0
RECONCILE_EVERY_SECONDS = 120.0  # the first run is immediate: settle a crash at start-up
RETRY_NOTICES_EVERY_SECONDS = 900.0  # notices Slack refused go out within 15 minutes of it healing
DAILY_CHECK_POLL_SECONDS = 30.0  # how often the daily check looks at the clock
SIGNIN_POLL_SECONDS = 1.0  # how often due device code flows are looked for
DEFAULT_HTTP_PORT = 3000


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "run",
        help="start the bot (Socket Mode when SLACK_APP_TOKEN is set, else HTTP)",
        description=(
            "Serve Slack: Socket Mode when SLACK_APP_TOKEN is set (no public URL needed), else "
            "HTTP on --host/--port. Checks the Slack token first and stops with one clear line "
            "when Slack cannot be reached; then checks the certificate now and daily."
        ),
    )
    parser.add_argument(
        "--http", action="store_true", help="serve HTTP even when SLACK_APP_TOKEN is set"
    )
    parser.add_argument("--host", default=None, help="HTTP bind address (default 0.0.0.0)")
    parser.add_argument("--port", type=int, default=None, help="HTTP port (default $PORT or 3000)")
    parser.set_defaults(func=run)


def check_slack(deps: Deps, settings: Settings) -> str:
    """auth.test before serving, so a wrong token is one clear line, not a stream of failures."""
    try:
        answer = deps.slack.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error", "unknown_error")
        raise ApnsBotError(
            f"Slack refused SLACK_BOT_TOKEN ({error}). Copy the Bot User OAuth Token (xoxb-…) "
            "from your Slack app's OAuth & Permissions page and reinstall the app if needed."
        ) from None
    except (SlackClientError, OSError) as exc:
        why = unreachable(exc, deps.slack.base_url, settings.network_timeout)
        raise ApnsBotError(
            f"Slack Web API {why}. Check the network, a proxy (HTTPS_PROXY) or SSL_CERT_FILE "
            "for a TLS-inspecting proxy."
        ) from None
    return f"{answer.get('user', '?')} in {answer.get('team', '?')}"


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    settings = load_settings(env)
    assert settings.slack is not None
    http = args.http or not settings.slack.socket_mode
    if http and settings.slack.signing_secret is None:
        raise ConfigError(
            ["SLACK_SIGNING_SECRET is missing: HTTP mode verifies every request with it."]
        )
    address = http_address(args, env) if http else None
    if address is not None and settings.metrics_port and settings.metrics_port == address[1]:
        raise ConfigError(
            [
                f"APNS_METRICS_PORT={settings.metrics_port} is also the HTTP port: choose another "
                "one, or leave APNS_METRICS_PORT unset to serve /metrics on the HTTP port."
            ]
        )
    logging.getLogger().setLevel(settings.log_level)
    deps = build_deps(settings, clock=args.clock, sleep=args.sleep)
    tickers: list[Ticker] = []
    stop_metrics: Callable[[], None] | None = None
    try:
        identity = check_slack(deps, settings)
        app = build_app(settings, deps, http=http)
        log.info("signed in to Slack as %s", identity)
        stop_metrics = start_metrics_server(deps, settings)
        deps.start_threads()  # the first burst after start-up must not start threads one by one
        tickers = start_jobs(deps, settings) + start_signin_polling(deps)
        if address is not None:
            serve_http(app, settings, address, deps)
        else:
            serve_socket_mode(app, settings, deps)
    finally:
        for ticker in tickers:
            ticker.stop()
        if stop_metrics is not None:
            stop_metrics()
        deps.close()
    return 0


def start_metrics_server(deps: Deps, settings: Settings) -> Callable[[], None] | None:
    """APNS_METRICS_PORT set: ``GET /metrics`` on a server of its own (either mode), bound to
    APNS_METRICS_HOST; returns how to stop it. Unset: None (HTTP mode serves it beside Slack)."""
    if settings.metrics_port is None:
        return None
    host, port = settings.metrics_host, settings.metrics_port
    try:
        server = make_metrics_server(
            deps.metrics.exposition, host, port, token=metrics_token(settings)
        )
    except OSError as exc:
        raise ApnsBotError(
            f"Cannot serve metrics on {host}:{port} ({exc.strerror or type(exc).__name__}): "
            "choose a free APNS_METRICS_PORT, or an address of this host for APNS_METRICS_HOST."
        ) from None

    def serve() -> None:
        with contextlib.suppress(OSError):  # waitress's loop ends so when its sockets close
            server.run()

    thread = threading.Thread(target=serve, name="apns-metrics", daemon=True)
    thread.start()
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{server.effective_port}{METRICS_PATH}"
    log.info("metrics: GET %s", url)
    print(f"apns-bot metrics on {url}", flush=True)

    def stop() -> None:
        server.close()
        thread.join(5)

    return stop


def metrics_token(settings: Settings) -> str | None:
    """APNS_METRICS_TOKEN: the bearer token a scrape must carry (None: none)."""
    return settings.metrics_token.reveal() if settings.metrics_token is not None else None


def http_address(args: argparse.Namespace, env: Mapping[str, str]) -> tuple[str, int]:
    """Where HTTP mode listens: --host/--port, else HOST/PORT, else 0.0.0.0:3000."""
    host = args.host or env.get("HOST") or "0.0.0.0"  # noqa: S104 - a server listens on all interfaces by default
    key, raw = ("--port", str(args.port)) if args.port is not None else ("PORT", env.get("PORT"))
    problems: list[str] = []
    port = parse_port(raw.strip() if raw else None, problems, key)
    if problems:
        raise ConfigError(problems)
    return host, DEFAULT_HTTP_PORT if port is None else port


def start_signin_polling(deps: Deps, every: float = SIGNIN_POLL_SECONDS) -> list[Ticker]:
    """Delegated sign-in: each second, poll the device code flows that are due (one poll per
    flow per interval, on the executor; flows a restart interrupted are resumed here)."""
    if deps.signins is None:
        return []
    return [Ticker("signin-poll", every, deps.signins.poll_due).start()]


def start_jobs(deps: Deps, settings: Settings) -> list[Ticker]:
    """Check the certificate now; then expire unapproved requests every minute, settle requests a
    crash left behind (once their lease is over) every few minutes, post again every 15 minutes
    the notices Slack refused, and check the certificate daily at APNS_CHECK_TIME in
    APNS_TIMEZONE."""
    deps.background.submit(deps.watch.check_all)
    daily = DailyCheck(
        deps.watch.check_all,
        settings.check_time,
        ZoneInfo(settings.timezone),
        deps.clock,
        claims=RunClaims(deps.store, deps.clock),  # one replica runs each day's check
    )
    log.info("daily certificate check at %s (next %s)", settings.check_time, daily.next_run)
    return [
        Ticker("expire-requests", EXPIRE_EVERY_SECONDS, deps.applying.expire_due).start(),
        Ticker("reconcile", RECONCILE_EVERY_SECONDS, deps.applying.reconcile).start(),
        Ticker(
            "retry-notices",
            RETRY_NOTICES_EVERY_SECONDS,
            deps.watch.retry_refused,
            delay=RETRY_NOTICES_EVERY_SECONDS,  # the check at start-up retries them already
        ).start(),
        Ticker("daily-check", DAILY_CHECK_POLL_SECONDS, daily.tick).start(),
    ]


def serve_http(app: Any, settings: Settings, address: tuple[str, int], deps: Deps) -> None:
    host, port = address
    assert settings.slack is not None and settings.slack.signing_secret is not None  # run() checked
    server = make_server(
        app,
        host,
        port,
        signing_secret=settings.slack.signing_secret.reveal(),
        answering=deps.answering,
        # with APNS_METRICS_PORT, /metrics is served there only (start_metrics_server)
        metrics=deps.metrics.exposition if settings.metrics_port is None else None,
        metrics_token=metrics_token(settings),
    )
    bound = server.effective_port
    if settings.metrics_port is None and settings.metrics_token is None:
        log.warning(
            "GET %s answers anyone who can reach this port (tenant and token names, expiry "
            "dates): set APNS_METRICS_TOKEN or APNS_METRICS_PORT to restrict it",
            METRICS_PATH,
        )
    paths = HEALTH_PATH if settings.metrics_port is not None else f"{HEALTH_PATH}, {METRICS_PATH}"
    log.info("HTTP mode: POST %s and GET %s on %s:%s", EVENTS_PATH, paths, host, bound)
    print(f"apns-bot listening on http://{host}:{bound}{EVENTS_PATH}", flush=True)

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("signal %s: shutting down", signum)
        threading.Thread(target=server.close, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.run()
    except OSError:
        # waitress raises when its sockets are closed under it during shutdown
        log.debug("server loop ended", exc_info=True)


class CountingSocketModeHandler(SocketModeHandler):
    """Counts each envelope until its acknowledgement is sent, as HTTP mode counts requests: the
    bot's follow-up work yields to acknowledgements here too (bot/runtime.py)."""

    def __init__(self, app: Any, app_token: str, answering: Answering) -> None:
        super().__init__(app, app_token)
        self.answering = answering

    def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]  # as Bolt declares it
        with self.answering.request():
            super().handle(client, req)


def serve_socket_mode(app: Any, settings: Settings, deps: Deps) -> None:
    """Connect out to Slack over a WebSocket (no public URL); SIGTERM/SIGINT close it cleanly."""
    assert settings.slack is not None and settings.slack.app_token is not None
    handler = CountingSocketModeHandler(app, settings.slack.app_token.reveal(), deps.answering)
    stopped = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("signal %s: shutting down", signum)
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("Socket Mode: connecting to Slack")
    handler.connect()  # type: ignore[no-untyped-call]  # slack_bolt leaves connect() unannotated
    print("apns-bot connected in Socket Mode", flush=True)
    stopped.wait()
    handler.close()  # type: ignore[no-untyped-call]

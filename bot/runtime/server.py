"""HTTP mode: Bolt behind its WSGI adapter, served by waitress (a production WSGI server).

Bolt's built-in server is a development server: measured on a 2-core machine it reset 30 of 500
connections at 50 concurrent requests, while the same app under waitress lost none. ``/healthz``
answers load balancers and orchestrators without touching Slack or Graph; ``GET /metrics``
answers Prometheus (``bot.runtime.metrics_http``) unless ``APNS_METRICS_PORT`` moved it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from slack_bolt import App

from bot.runtime.bolt_body import SlackBoltHandler
from bot.runtime.executors import Answering
from bot.runtime.metrics_http import METRICS_PATH, Render, metrics_endpoint
from bot.runtime.request_gate import MAX_BODY_BYTES, RequestGate

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
SERVER_THREADS = 16


def wsgi_app(
    app: App,
    signing_secret: str,
    ready: Callable[[], bool] = lambda: True,
    answering: Answering | None = None,
    metrics: Render | None = None,
    metrics_token: str | None = None,
) -> Any:
    """One WSGI callable: ``POST /slack/events`` through the request gate (``bot.runtime.request_gate``:
    size, signature, shape) to Bolt, ``GET /healthz``, ``GET /metrics`` when ``metrics`` renders
    them (never through the gate: Prometheus does not sign), 404 otherwise.

    ``answering`` counts the Slack requests in Bolt's hands (follow-up work waits for them).
    """
    answering = answering or Answering()
    bolt = SlackBoltHandler(app, path=EVENTS_PATH)

    def counted(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        # only what passed the gate is counted: a flood of refused requests delays no follow-up
        with answering.request():
            # Bolt's handler answers with the whole body in a list: the answer is ready here
            return bolt(environ, start_response)

    slack = RequestGate(counted, signing_secret)
    scrape = metrics_endpoint(metrics, metrics_token) if metrics is not None else None

    def application(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == HEALTH_PATH:
            ok = ready()
            body = b'{"status":"ok"}' if ok else b'{"status":"starting"}'
            start_response(
                "200 OK" if ok else "503 Service Unavailable",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
            )
            return [body]
        if scrape is not None and environ.get("PATH_INFO") == METRICS_PATH:
            return scrape(environ, start_response)
        if environ.get("PATH_INFO") != EVENTS_PATH:
            start_response("404 Not Found", [("Content-Length", "9")])
            return [b"Not Found"]
        return slack(environ, start_response)

    return application


def make_server(
    app: App,
    host: str,
    port: int,
    *,
    signing_secret: str,
    threads: int = SERVER_THREADS,
    loop_timeout: float = 1.0,
    answering: Answering | None = None,
    metrics: Render | None = None,
    metrics_token: str | None = None,
) -> Any:
    """A waitress server bound to ``host:port`` (``port=0`` picks a free one); call ``.run()``.

    ``loop_timeout`` is how often the event loop wakes up, so also how soon it notices a close.
    ``answering``: the bot's ``Deps.answering``, so its follow-up work yields to acknowledgements.
    ``metrics``: what ``GET /metrics`` answers (None: 404); ``metrics_token``: the bearer token a
    scrape must carry (None: none).
    """
    from waitress.server import create_server

    return create_server(
        wsgi_app(
            app, signing_secret, answering=answering, metrics=metrics, metrics_token=metrics_token
        ),
        host=host,
        port=port,
        threads=threads,
        # Slack retries unanswered requests after 3 s; keep the accept queue deep for bursts.
        backlog=1024,
        connection_limit=1000,
        ident="apns-bot",
        clear_untrusted_proxy_headers=True,
        asyncore_loop_timeout=loop_timeout,
        # waitress answers 413 itself to a larger body (chunked too) instead of buffering it
        max_request_body_size=MAX_BODY_BYTES,
    )

"""``GET /metrics``: the bot's Prometheus metrics, over HTTP.

HTTP mode answers it on the Slack endpoint's own server (``bot.runtime.server``), before the Slack
request gate: Prometheus does not sign its scrapes. With ``APNS_METRICS_PORT`` set (either mode)
a small waitress server of its own answers it instead, bound to ``APNS_METRICS_HOST`` (default
127.0.0.1), and the Slack endpoint does not. Only ``GET`` is answered (405 otherwise); the body is
never read; every other path is 404. With ``APNS_METRICS_TOKEN`` set, a scrape must carry
``Authorization: Bearer <token>`` (401 otherwise). The format is negotiated by prometheus_client
from ``Accept``, and the body gzipped when ``Accept-Encoding`` allows it.
"""

from __future__ import annotations

import hmac
import logging
import socket
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from bot.adapters.metrics import Exposition

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
METRICS_THREADS = 2  # one scraper, now and then
METRICS_CONNECTIONS = 8  # a few scrapers; more wait in the accept queue
METRICS_CHANNEL_TIMEOUT = 10  # seconds a silent connection is kept

Render = Callable[[str, str], Exposition]  # (Accept, Accept-Encoding) -> the answer


def authorized(environ: WSGIEnvironment, token: str | None) -> bool:
    """No token configured, or ``Authorization: Bearer <token>`` (compared in constant time)."""
    if token is None:
        return True
    scheme, _, given = str(environ.get("HTTP_AUTHORIZATION", "")).strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode("utf-8"), token.encode("utf-8"))


def metrics_endpoint(exposition: Render, token: str | None = None) -> WSGIApplication:
    """The WSGI answer to a request for ``METRICS_PATH``."""

    def application(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "GET":
            return plain("405 Method Not Allowed", start_response, [("Allow", "GET")])
        if not authorized(environ, token):
            challenge = 'Bearer realm="apns-bot metrics"'
            return plain("401 Unauthorized", start_response, [("WWW-Authenticate", challenge)])
        try:
            answer = exposition(
                str(environ.get("HTTP_ACCEPT", "")), str(environ.get("HTTP_ACCEPT_ENCODING", ""))
            )
        except Exception:
            log.exception("could not render the metrics")
            return plain("500 Internal Server Error", start_response)
        headers = [
            ("Content-Type", answer.content_type),
            ("Content-Length", str(len(answer.body))),
            ("Cache-Control", "no-store"),
            ("Vary", "Accept, Accept-Encoding, Authorization"),
        ]
        if answer.content_encoding is not None:
            headers.append(("Content-Encoding", answer.content_encoding))
        start_response("200 OK", headers)
        return [answer.body]

    return application


def metrics_only(exposition: Render, token: str | None = None) -> WSGIApplication:
    """The metrics server's whole WSGI app: ``METRICS_PATH``, else 404."""
    metrics = metrics_endpoint(exposition, token)

    def application(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == METRICS_PATH:
            return metrics(environ, start_response)
        return plain("404 Not Found", start_response)

    return application


def make_metrics_server(
    exposition: Render,
    host: str,
    port: int,
    *,
    token: str | None = None,
    loop_timeout: float = 1.0,
) -> Any:
    """A waitress server for ``/metrics`` alone on ``host:port`` (``port=0``: a free one).

    The socket is bound here, before waitress starts anything: an address in use or unknown is an
    ``OSError`` with nothing left open (waitress would leave its threads and sockets behind), and
    a host name is one address, not one server per address it resolves to."""
    from waitress.server import create_server

    family, _, _, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    listening = socket.create_server(address, family=family)
    return create_server(
        metrics_only(exposition, token),
        sockets=[listening],
        threads=METRICS_THREADS,
        connection_limit=METRICS_CONNECTIONS,
        channel_timeout=METRICS_CHANNEL_TIMEOUT,
        ident="apns-bot",
        clear_untrusted_proxy_headers=True,
        asyncore_loop_timeout=loop_timeout,
        max_request_body_size=0,  # a scrape has no body: refuse any with 413, unread
    )


def plain(
    status: str, start_response: StartResponse, extra: list[tuple[str, str]] | None = None
) -> list[bytes]:
    body = status[4:].encode("ascii")
    start_response(
        status,
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            *(extra or []),
        ],
    )
    return [body]

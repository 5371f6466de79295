"""The benchmark's load generator (``bench/load.py``) reads real HTTP/1.1 answers correctly.

Its latencies go into docs/benchmarks.md, so it is checked against waitress (the server the bot runs
on) answering with a length, chunked, and closing the connection, and against a closed port.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from waitress.server import create_server

from bench.load import burst, summarize
from bench.payloads import help_command
from tests.harness import serve_until_closed

WsgiApp = Callable[[dict[str, Any], Any], Iterable[bytes]]


def _with_length(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


def _chunked(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("200 OK", [("Content-Type", "text/plain")])  # no length: waitress chunks it
    return iter([b"first part ", b"", b"second part"])


class _Closing(BaseHTTPRequestHandler):
    """HTTP/1.0 (http.server's default): one answer per connection, then it closes."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(503)
        self.send_header("Content-Length", "4")
        self.end_headers()
        self.wfile.write(b"busy")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def serve() -> Iterator[Callable[[WsgiApp], str]]:
    servers: list[tuple[Any, threading.Thread]] = []

    def start(app: WsgiApp) -> str:
        server = create_server(app, host="127.0.0.1", port=0, threads=4)
        thread = threading.Thread(target=serve_until_closed, args=(server,), daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.effective_port}/slack/events"

    yield start
    for server, thread in servers:
        server.close()
        thread.join(5)


def _bodies(count: int) -> list[tuple[str, bytes]]:
    body, _ = help_command()
    return [(f"kind{n % 3}", body) for n in range(count)]


@pytest.mark.parametrize("app", [_with_length, _chunked], ids=["content-length", "chunked"])
def test_every_request_is_answered_and_timed_on_kept_alive_connections(
    serve: Callable[[WsgiApp], str], app: WsgiApp
) -> None:
    samples = burst(serve(app), _bodies(60), concurrency=5)
    assert [s.kind for s in samples] == [kind for kind, _ in _bodies(60)]
    assert all(s.status == 200 and s.error is None and s.seconds > 0 for s in samples)
    stats = summarize(samples, wall=1.0)
    assert stats["requests"] == 60 and stats["dropped"] == 0 and stats["not_200"] == 0
    assert set(stats["p99_by_kind_ms"]) == {"kind0", "kind1", "kind2"}


def test_a_server_that_closes_after_each_answer_is_reconnected_and_its_status_counted() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Closing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/slack/events"
        samples = burst(url, _bodies(12), concurrency=3)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert [s.status for s in samples] == [503] * 12
    stats = summarize(samples, wall=1.0)
    assert stats["not_200"] == 12 and stats["dropped"] == 0


def test_a_refused_connection_is_a_dropped_request_not_a_crash() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    samples = burst(f"http://127.0.0.1:{port}/slack/events", _bodies(4), concurrency=2)
    assert len(samples) == 4
    assert all(s.status is None and s.error == "ConnectionRefusedError" for s in samples)
    assert summarize(samples, wall=1.0)["dropped"] == 4


class _Trailing(BaseHTTPRequestHandler):
    """HTTP/1.1 with an interim 100 Continue, then a chunked body with a trailer field."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.wfile.write(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n"
            b"5\r\nhello\r\n0\r\nX-Checksum: 1234\r\n\r\n"
        )
        self.wfile.flush()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_interim_answers_and_chunk_trailers_leave_the_next_answer_intact() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Trailing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/slack/events"
        samples = burst(url, _bodies(10), concurrency=2)  # 5 answers per kept-alive connection
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert [s.status for s in samples] == [200] * 10

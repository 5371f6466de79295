"""An HTTP proxy on loopback that tunnels ``CONNECT`` requests (how clients reach HTTPS hosts
through a corporate proxy, RFC 9110 section 9.3.6) and records each one's target and
``Proxy-Authorization`` header.

With ``credentials`` set it answers ``407 Proxy Authentication Required`` with
``Proxy-Authenticate: Basic`` (RFC 9110 section 11.7.1) unless the client sent them as HTTP Basic.
The tunnel relays bytes both ways: TLS runs end to end, the proxy sees no request inside it.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import socketserver
import threading
from dataclasses import dataclass
from types import TracebackType


@dataclass(frozen=True)
class Connect:
    target: str  # host:port
    proxy_authorization: str | None


class ConnectProxy:
    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        self.connects: list[Connect] = []
        self._lock = threading.Lock()
        expected = None
        if credentials is not None:
            expected = "Basic " + base64.b64encode(":".join(credentials).encode()).decode()
        self._expected = expected
        self._server = _Server(("127.0.0.1", 0), _Tunnel)
        self._server.proxy = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def netloc(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def record(self, connect: Connect) -> bool:
        """Note ``connect``; True when the proxy lets it through."""
        with self._lock:
            self.connects.append(connect)
        return self._expected is None or connect.proxy_authorization == self._expected

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()

    def __enter__(self) -> ConnectProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    proxy: ConnectProxy


class _Tunnel(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        request_line = self.rfile.readline(8192).decode("latin-1").split()
        headers: dict[str, str] = {}
        while (line := self.rfile.readline(8192).decode("latin-1").strip()) != "":
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if len(request_line) != 3 or request_line[0] != "CONNECT":
            self.wfile.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        target = request_line[1]
        if not self.server.proxy.record(Connect(target, headers.get("proxy-authorization"))):
            self.wfile.write(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                b'Proxy-Authenticate: Basic realm="proxy"\r\nContent-Length: 0\r\n\r\n'
            )
            return
        host, _, port = target.rpartition(":")
        with socket.create_connection((host, int(port)), timeout=10) as upstream:
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self.wfile.flush()
            back = threading.Thread(target=_relay, args=(upstream, self.connection), daemon=True)
            back.start()
            _relay(self.connection, upstream)
            back.join()


def _relay(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass  # either side hung up
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

"""A host that accepts connections and never answers: a dead proxy or a hung server.

The kernel completes the TCP handshake for the listening socket's backlog, and nothing ever reads
or writes: a client's TLS handshake, proxy CONNECT or HTTP request waits until its own timeout.
"""

from __future__ import annotations

import socket
from types import TracebackType


class DeadHost:
    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port: int = self._listener.getsockname()[1]

    @property
    def netloc(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"https://{self.netloc}"

    def close(self) -> None:
        self._listener.close()  # the connections waiting in the backlog are reset with it

    def __enter__(self) -> DeadHost:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

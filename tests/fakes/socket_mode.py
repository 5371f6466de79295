"""A fake Socket Mode endpoint: the WebSocket that ``apps.connections.open`` hands out.

Speaks Slack's Socket Mode protocol as documented (and as ../shared/payloads/socket-envelope.json
shows): a ``hello`` on connect, then envelopes ``{envelope_id, type, payload,
accepts_response_payload}``; the app answers each with ``{envelope_id, payload?}``. Plain ``ws://``
on 127.0.0.1 (slack_sdk's built-in client uses TLS only on port 443).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve


class FakeSocketMode:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._connection: ServerConnection | None = None
        self.acks: dict[str, dict[str, Any]] = {}
        self._server: Server = serve(self._handle, "127.0.0.1", 0)
        self.port = self._server.socket.getsockname()[1]
        self.url = f"ws://127.0.0.1:{self.port}/link/?ticket=fake-ticket&app_id=A0APNSBOT"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(5)

    def _handle(self, connection: ServerConnection) -> None:
        connection.send(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "debug_info": {"host": "applink-fake", "approximate_connection_time": 18060},
                    "connection_info": {"app_id": "A0APNSBOT"},
                }
            )
        )
        with self._lock:
            self._connection = connection
        self._connected.set()
        try:
            for message in connection:
                answer = json.loads(message)
                if isinstance(answer, dict) and "envelope_id" in answer:
                    with self._lock:
                        self.acks[answer["envelope_id"]] = answer
        except ConnectionClosed:
            pass

    def wait_connected(self, timeout: float = 10.0) -> None:
        assert self._connected.wait(timeout), "the bot never connected to the Socket Mode URL"

    def send(self, kind: str, payload: dict[str, Any]) -> str:
        """Deliver one envelope (``slash_commands``, ``interactive`` or ``events_api``)."""
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": 0,
            "retry_reason": "",
        }
        with self._lock:
            assert self._connection is not None
            self._connection.send(json.dumps(envelope))
        return envelope_id

    def wait_ack(self, envelope_id: str, timeout: float = 3.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if envelope_id in self.acks:
                    return self.acks[envelope_id]
            time.sleep(0.01)
        raise AssertionError(f"envelope {envelope_id} not acknowledged within {timeout}s")

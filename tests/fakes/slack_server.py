"""A fake Slack Web API on 127.0.0.1, faithful where the bot depends on Slack's behaviour.

- ``POST /api/<method>`` with the bot token as a Bearer header (what ``slack_sdk.WebClient`` sends),
  form- or JSON-encoded; answers ``{"ok": true, ...}`` or ``{"ok": false, "error": ...}`` with
  HTTP 200, and ``429`` + ``Retry-After`` when told to rate-limit a method.
- ``GET /files-pri/...`` serves an uploaded file only to the bot token; any other caller gets
  Slack's HTML sign-in page with status 200, as the real service does.
- ``POST /response/<id>`` stands in for ``response_url`` (hooks.slack.com).
- The external-upload flow behind ``files_upload_v2``: ``files.getUploadURLExternal``, the upload
  URL, ``files.completeUploadExternal``.
- ``conversations.open`` (needs ``im:write``): the same ``D…`` id for the same user every time.

Every call is recorded; tests wait for and assert on them.
"""

from __future__ import annotations

import itertools
import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

BOT_TOKEN = "xoxb-1-fake-bot-token"
APP_TOKEN = "xapp-1-fake-app-level-token"
SCOPES = "commands,chat:write,files:read,files:write,im:write,users:read,users:read.email,usergroups:read"
TRIGGER_LIFETIME_MS = 3000
LOGIN_PAGE = (
    b"<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in to Slack</body></html>"
)


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)
    answer: dict[str, Any] | None = None  # what the fake answered (Web API methods)


@dataclass
class HostedFile:
    content: bytes
    name: str
    redirect_to: str | None = None


class FakeSlack:
    """State and controls; ``url`` is the API base (``.../api/``) to use as ``SLACK_API_URL``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self._server = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.url = f"{self.base}/api/"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.reset()

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeSlack:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        with self._lock:
            self.calls: list[Call] = []
            self.files: dict[str, HostedFile] = {}
            self.users: dict[str, dict[str, Any]] = {}
            self.usergroups: dict[str, list[str]] | None = {}
            self.rate_limits: dict[str, list[int]] = {}
            self.failures: dict[str, list[str]] = {}
            self.uploads: dict[str, dict[str, Any]] = {}
            self.ims: dict[str, str] = {}  # user id -> the bot's DM channel with them
            self.scopes = SCOPES  # what the workspace granted the app (auth.test's x-oauth-scopes)
            self.socket_url: str | None = None  # what apps.connections.open hands out
            self.used_triggers: set[str] = set()
            self.view_hashes: dict[str, str] = {}  # view id -> current hash

    def reset_calls(self) -> None:
        """Forget the calls seen so far, keeping users, groups, files and DMs."""
        with self._lock:
            self.calls = []

    # --- controls --------------------------------------------------------------------------
    def host_file(self, file_id: str, content: bytes, name: str = "cert.pem") -> dict[str, Any]:
        """Store a file and return the ``files[]`` entry a ``file_input`` submission carries."""
        self.files[file_id] = HostedFile(content, name)
        slug = name.lower().replace(" ", "_")
        return {
            "id": file_id,
            "name": name,
            "title": name,
            "mimetype": "application/x-x509-ca-cert",
            "filetype": "text",
            "size": len(content),
            "url_private": f"{self.base}/files-pri/T0EXAMPLE-{file_id}/{slug}",
            "url_private_download": f"{self.base}/files-pri/T0EXAMPLE-{file_id}/download/{slug}",
        }

    def rate_limit(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        with self._lock:
            self.rate_limits.setdefault(method, []).extend([retry_after] * times)

    def fail(self, method: str, error: str, times: int = 1) -> None:
        with self._lock:
            self.failures.setdefault(method, []).extend([error] * times)

    def add_user(self, user_id: str, email: str, name: str = "") -> None:
        self.users[user_id] = {
            "id": user_id,
            "name": name or user_id.lower(),
            "profile": {"email": email},
        }

    # --- assertions ------------------------------------------------------------------------
    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(
        self, method: str, where: Callable[[Call], bool] = lambda c: True, timeout: float = 10.0
    ) -> Call:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for call in self.calls_to(method):
                if where(call):
                    return call
            time.sleep(0.01)
        seen = [(c.method, sorted(c.params)) for c in self.calls]
        raise AssertionError(f"no {method} call matched within {timeout}s; saw {seen}")

    def wait_for_count(self, method: str, count: int, timeout: float = 10.0) -> list[Call]:
        """Wait until at least ``count`` calls to ``method`` arrived; returns them all."""
        deadline = time.monotonic() + timeout
        while len(calls := self.calls_to(method)) < count:
            if time.monotonic() >= deadline:
                raise AssertionError(f"{len(calls)} {method} calls within {timeout}s, not {count}")
            time.sleep(0.01)
        return calls

    # --- behaviour -------------------------------------------------------------------------
    def next_ts(self) -> str:
        return f"1795700{next(self._ts):03d}.000100"

    def api(
        self, method: str, params: dict[str, Any], token: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._lock:
            waits = self.rate_limits.get(method)
            if waits:
                return (
                    429,
                    {"ok": False, "error": "ratelimited"},
                    {"Retry-After": str(waits.pop(0))},
                )
            errors = self.failures.get(method)
            if errors:
                return 200, {"ok": False, "error": errors.pop(0)}, {}
        if token is None:
            return 200, {"ok": False, "error": "not_authed"}, {}
        if method == "apps.connections.open":  # the one method that takes the app-level token
            if token != APP_TOKEN or self.socket_url is None:
                return 200, {"ok": False, "error": "invalid_auth"}, {}
            return 200, {"ok": True, "url": self.socket_url}, {}
        if token != BOT_TOKEN:
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        handler = getattr(self, "m_" + method.replace(".", "_"), None)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        answer: dict[str, Any] = handler(params)
        headers = {"x-oauth-scopes": self.scopes} if method == "auth.test" else {}
        return 200, answer, headers

    def m_auth_test(self, p: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://example.slack.com/",
            "team": "Example",
            "user": "apns-bot",
            "team_id": "T0EXAMPLE",
            "user_id": "U0APNSBOT",
            "bot_id": "B0APNSBOT",
        }

    def m_chat_postMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        if not p.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        ts = self.next_ts()
        return {
            "ok": True,
            "channel": p["channel"],
            "ts": ts,
            "message": {
                "type": "message",
                "text": p.get("text", ""),
                "ts": ts,
                "bot_id": "B0APNSBOT",
            },
        }

    def m_chat_update(self, p: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "channel": p.get("channel"),
            "ts": p.get("ts"),
            "text": p.get("text", ""),
        }

    def m_chat_postEphemeral(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "message_ts": self.next_ts()}

    def m_views_open(self, p: dict[str, Any]) -> dict[str, Any]:
        """A trigger id works once, within 3 s of the interaction that carried it."""
        trigger = str(p.get("trigger_id") or "")
        parts = trigger.split(".")
        if len(parts) != 3 or not parts[1].isdigit():
            return {"ok": False, "error": "invalid_trigger_id"}
        with self._lock:
            if trigger in self.used_triggers:
                return {"ok": False, "error": "exchanged_trigger_id"}
            self.used_triggers.add(trigger)
        if time.time() * 1000 - int(parts[1]) > TRIGGER_LIFETIME_MS:
            return {"ok": False, "error": "expired_trigger_id"}
        view_id = f"V{next(self._ts):08d}"
        return {
            "ok": True,
            "view": {**_json(p.get("view")), "id": view_id, "hash": self._rehash(view_id)},
        }

    def m_views_update(self, p: dict[str, Any]) -> dict[str, Any]:
        """With ``hash``, only the latest version may be updated (else ``hash_conflict``)."""
        view_id = str(p.get("view_id") or "")
        with self._lock:
            current = self.view_hashes.get(view_id)
        if current is None:
            return {"ok": False, "error": "not_found"}
        if p.get("hash") and p["hash"] != current:
            return {"ok": False, "error": "hash_conflict"}
        return {
            "ok": True,
            "view": {**_json(p.get("view")), "id": view_id, "hash": self._rehash(view_id)},
        }

    def view_changed(self, view_id: str) -> None:
        """Slack changed the view itself (a submission answered with response_action=update)."""
        self._rehash(view_id)

    def _rehash(self, view_id: str) -> str:
        with self._lock:
            new = f"{time.time():.6f}.{next(self._ts)}"
            self.view_hashes[view_id] = new
            return new

    def m_views_publish(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "view": {**_json(p.get("view")), "id": "VHOME"}}

    def m_users_info(self, p: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(p.get("user")))
        return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}

    def m_usergroups_users_list(self, p: dict[str, Any]) -> dict[str, Any]:
        if self.usergroups is None:
            return {"ok": False, "error": "plan_upgrade_required"}
        group = self.usergroups.get(str(p.get("usergroup")))
        return (
            {"ok": True, "users": group}
            if group is not None
            else {"ok": False, "error": "no_such_subteam"}
        )

    def m_conversations_info(self, p: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "channel": {"id": p.get("channel"), "name": "apns-ops", "is_member": True},
        }

    def m_conversations_open(self, p: dict[str, Any]) -> dict[str, Any]:
        if "im:write" not in self.scopes.split(","):
            return {"ok": False, "error": "missing_scope", "needed": "im:write"}
        users = [u.strip() for u in str(p.get("users") or "").split(",") if u.strip()]
        if not users:
            return {"ok": False, "error": "users_list_not_supplied"}
        if len(users) > 8:
            return {"ok": False, "error": "too_many_users"}
        if len(users) > 1:
            return {"ok": True, "channel": {"id": f"G{next(self._ts):08d}"}}
        with self._lock:
            already = users[0] in self.ims
            channel = self.ims.setdefault(users[0], f"D{users[0][1:]}")
        answer: dict[str, Any] = {"ok": True, "channel": {"id": channel}}
        if already:
            answer.update(no_op=True, already_open=True)
        return answer

    def m_files_getUploadURLExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        file_id = f"FUP{next(self._ts):06d}"
        with self._lock:
            self.uploads[file_id] = {
                "filename": p.get("filename"),
                "length": int(p.get("length", 0)),
            }
        return {"ok": True, "upload_url": f"{self.base}/upload/{file_id}", "file_id": file_id}

    def m_files_completeUploadExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        files = _json(p.get("files"))
        out = []
        for entry in files:
            upload = self.uploads.get(entry["id"])
            if upload is None or "content" not in upload:
                return {"ok": False, "error": "file_not_found"}
            out.append(
                {
                    "id": entry["id"],
                    "title": entry.get("title") or upload["filename"],
                    "name": upload["filename"],
                }
            )
        return {"ok": True, "files": out}


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up early (a download stopped at its size limit) is no error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _json(value: Any) -> Any:
    if isinstance(value, str):
        return json.loads(value)
    return value if value is not None else {}


def _handler_for(fake: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(
            self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _token(self) -> str | None:
            auth = self.headers.get("Authorization", "")
            return auth[7:] if auth.startswith("Bearer ") else None

        def do_GET(self) -> None:
            path = urlparse(self.path).path
            if path.startswith("/files-pri/"):
                file_id = path.split("/")[2].split("-")[-1]
                hosted = fake.files.get(file_id)
                with fake._lock:  # recorded before answering: the client may look right after
                    fake.calls.append(Call("files.download", {"file": file_id}, dict(self.headers)))
                if self._token() != BOT_TOKEN or hosted is None:
                    self._send(200, LOGIN_PAGE, "text/html; charset=utf-8")
                elif hosted.redirect_to:
                    self._send(302, b"", "text/plain", {"Location": hosted.redirect_to})
                else:
                    self._send(200, hosted.content, "application/octet-stream")
                return
            self._send(404, b"not found", "text/plain")

        def do_POST(self) -> None:
            url = urlparse(self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = dict(self.headers)
            if url.path.startswith("/upload/"):
                file_id = url.path.rsplit("/", 1)[-1]
                with fake._lock:
                    if file_id in fake.uploads:
                        fake.uploads[file_id]["content"] = raw
                    fake.calls.append(
                        Call("files.upload_url", {"file_id": file_id, "size": len(raw)}, headers)
                    )
                self._send(200, b"OK - " + str(len(raw)).encode(), "text/plain")
                return
            params = _parse_body(raw, self.headers.get("Content-Type", ""))
            params.update({k: v[0] for k, v in parse_qs(url.query).items()})
            if url.path.startswith("/response/"):
                with fake._lock:
                    fake.calls.append(Call("response_url", {**params, "_path": url.path}, headers))
                self._send(200, b"ok", "text/html")
                return
            if not url.path.startswith("/api/"):
                self._send(404, b"not found", "text/plain")
                return
            method = url.path[len("/api/") :]
            call = Call(method, params, headers)
            with fake._lock:
                fake.calls.append(call)
            status, answer, extra = fake.api(method, params, self._token() or params.get("token"))
            call.answer = answer
            self._send(
                status, json.dumps(answer).encode(), "application/json; charset=utf-8", extra
            )

    return Handler


def _parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    if not raw:
        return {}
    if "json" in content_type:
        parsed = json.loads(raw)
        return parsed if isinstance(parsed, dict) else {"_": parsed}
    return {k: v[0] for k, v in parse_qs(raw.decode()).items()}

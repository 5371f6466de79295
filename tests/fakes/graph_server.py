"""A fake Microsoft Entra ID + Microsoft Graph, served over real HTTPS on 127.0.0.1.

It serves what apns-bot talks to: OIDC discovery and the token endpoint (client credentials with a
client secret or a certificate-signed client assertion), and the Intune
``deviceManagement/applePushNotificationCertificate`` resource on ``/beta`` and ``/v1.0`` (GET,
PATCH deriving topic/serial/expiry from the uploaded PEM, CSR download). Bearer tokens are checked;
errors use Graph's and Entra's shapes. State is kept per tenant id, so one server can stand in for
many tenants.

Tests steer it through ``FakeGraph`` (thread-safe): ``inject`` queues faults for the next matching
requests, ``set_latency`` slows every answer, ``set_permission`` makes an app read-only, and
``requests`` records everything received, each request of a JSON batch as its own
``RecordedRequest`` (``batched=True``) after the ``$batch`` POST itself (``tests.fakes.graph_batch``). ``apple_tokens`` holds each tenant's ADE and VPP tokens
(``tests.fakes.graph_tokens``: listing, paging, 403 per kind); ``token_writes`` renews them
(``tests.fakes.graph_token_writes``: Intune's ADE key, uploads, read-back lag, licence syncs). Standalone, for benchmarks::

    python -m tests.fakes.graph_server --port 8443 --latency 2

prints its URL on the first line, then the settings that point apns-bot at it.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import secrets
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509

from tests.clock import Clock, MovableClock
from tests.fakes import entra
from tests.fakes import graph_shapes as shapes
from tests.fakes.entra import AppRegistration, Permission
from tests.fakes.entra_delegated import DEVICE_CODE_GRANT, DelegatedEntra
from tests.fakes.graph_batch import BATCH_PATH, batch_answer, sub_requests
from tests.fakes.graph_faults import Fault, fault_response, forbidden, intune_error, unauthorized
from tests.fakes.graph_token_writes import TokenWrites
from tests.fakes.graph_tokens import AppleTokens
from tests.fakes.https import HttpsServer, RecordedRequest, Response
from tests.fakes.tls import TlsMaterial, make_tls_material

__all__ = [
    "FAKE_CLIENT_ID",
    "FAKE_CLIENT_SECRET",
    "FAKE_TENANT_ID",
    "FakeGraph",
    "Fault",
    "RecordedRequest",
]

FAKE_TENANT_ID = "8d3c2a10-4f5e-4b6a-9c7d-1e2f3a4b5c6d"
FAKE_CLIENT_ID = "0f9e8d7c-6b5a-4c3d-8e2f-1a0b9c8d7e6f"
FAKE_CLIENT_SECRET = "Fk8Q~fake.client-secret_value"
TOKEN_LIFETIME = 3599
HOLD_LIMIT_SECONDS = 30.0  # a held Graph answers anyway after this, so no test hangs
GRAPH_JSON = "application/json;odata.metadata=minimal;odata.streaming=true;charset=utf-8"


@dataclass(frozen=True)
class _Token:
    tenant_id: str
    client_id: str
    expires_at: float
    user: str | None = None  # delegated: the signed-in account's preferred_username


@dataclass
class _Rule:
    method: str
    path_suffix: str
    faults: deque[Fault]


class FakeGraph:
    """The fake's state and control API; ``start()`` serves it on a background thread."""

    def __init__(self, tls: TlsMaterial, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.tls = tls
        self._lock = threading.RLock()
        self._released = threading.Event()
        self._server = HttpsServer(self.handle, tls.server_context(), host, port)
        self.delegated = DelegatedEntra(self.url)  # device code flow and refresh grants
        self.reset()

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def authority_host(self) -> str:
        return self._server.address

    @property
    def url(self) -> str:
        return f"https://{self.authority_host}"

    @property
    def graph_url(self) -> str:
        return f"{self.url}/beta"

    def token_endpoint(self, tenant_id: str) -> str:
        return f"{self.url}/{tenant_id}/oauth2/v2.0/token"

    def start(self) -> FakeGraph:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> FakeGraph:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def env(self, tenant_id: str = FAKE_TENANT_ID) -> dict[str, str]:
        """Settings that point apns-bot at this fake, for the default app of ``tenant_id``."""
        return {
            "AZURE_TENANT_ID": tenant_id,
            "AZURE_CLIENT_ID": FAKE_CLIENT_ID,
            "AZURE_CLIENT_SECRET": FAKE_CLIENT_SECRET,
            "AZURE_AUTHORITY_HOST": self.authority_host,
            "GRAPH_URL": self.graph_url,
            "SSL_CERT_FILE": str(self.tls.ca_bundle),
        }

    # --- control API (thread-safe) -----------------------------------------------------------

    def reset(self, *, default_tenant: bool = True) -> None:
        """Forget everything; with ``default_tenant`` re-create the default tenant and app."""
        with self._lock:
            self._entities: dict[str, dict[str, Any]] = {}
            self._csrs: dict[str, str] = {}
            self._apps: dict[tuple[str, str], AppRegistration] = {}
            self._tokens: dict[str, _Token] = {}
            self._rules: list[_Rule] = []
            self._requests: list[RecordedRequest] = []
            self._latency = 0.0
            self._graph_only_latency = False
            self._token_lifetime = TOKEN_LIFETIME
            self._held = 0
            # tests only: rewrites every JSON batch's answer body (a broken proxy, a Graph bug)
            self.batch_mangler: Callable[[Any], Any] | None = None
            self._released.set()  # a test that stopped while holding Graph lets it answer
            # Graph's own dates (lastModifiedDateTime) come from here: the suite's anchor T0,
            # or the bot's clock when a whole-bot test shares it (tests/harness.py).
            self.clock: Clock = MovableClock()
            self.apple_tokens = AppleTokens()  # ADE and VPP tokens per tenant
            # their renewal: Intune's ADE keys, uploads, read-backs (lag), licence syncs
            self.token_writes = TokenWrites(self.apple_tokens, lambda: self.clock())
            self.delegated.reset()
            if default_tenant:
                self.add_tenant(FAKE_TENANT_ID)
                self.register_app(FAKE_TENANT_ID, FAKE_CLIENT_ID, secret=FAKE_CLIENT_SECRET)

    def add_tenant(self, tenant_id: str, entity: dict[str, Any] | None = None) -> None:
        """A tenant with a healthy certificate (or ``entity``: Graph properties), one healthy ADE
        token and one healthy VPP token (``apple_tokens.set`` changes them)."""
        with self._lock:
            self._entities[tenant_id] = dict(
                entity if entity is not None else shapes.default_entity()
            )
            self.apple_tokens.add_tenant(tenant_id)

    def register_app(
        self,
        tenant_id: str,
        client_id: str,
        *,
        secret: str | None = None,
        certificate: x509.Certificate | None = None,
        permission: Permission = "ReadWrite",
        public_client: bool | None = None,
    ) -> None:
        with self._lock:
            app = self._apps.get((tenant_id, client_id))
            if app is None:
                app = AppRegistration(tenant_id, client_id, None, [], permission)
                self._apps[(tenant_id, client_id)] = app
            app.secret = secret if secret is not None else app.secret
            if public_client is not None:
                app.public_client = public_client
            if certificate is not None:
                app.certificates.append(certificate)
            app.permission = permission

    def set_permission(
        self,
        permission: Permission,
        tenant_id: str = FAKE_TENANT_ID,
        client_id: str = FAKE_CLIENT_ID,
    ) -> None:
        """``Read`` makes PATCH answer 403; ``None`` makes every Graph call answer 403."""
        with self._lock:
            self._apps[(tenant_id, client_id)].permission = permission

    def entity(self, tenant_id: str = FAKE_TENANT_ID) -> dict[str, Any]:
        with self._lock:
            return dict(self._entities[tenant_id])

    def set_entity(self, tenant_id: str = FAKE_TENANT_ID, **properties: Any) -> None:
        with self._lock:
            self._entities[tenant_id].update(properties)

    def clear_certificate(self, tenant_id: str = FAKE_TENANT_ID) -> None:
        with self._lock:
            self._entities[tenant_id] = shapes.empty_entity()

    def csr(self, tenant_id: str = FAKE_TENANT_ID) -> str:
        with self._lock:
            return self._csrs.setdefault(
                tenant_id, base64.b64encode(secrets.token_bytes(1200)).decode()
            )

    def inject(self, method: str, path_suffix: str, *faults: Fault) -> None:
        """Queue ``faults`` for the next requests whose method matches (``*``: any) and whose
        path ends with ``path_suffix`` (e.g. ``shapes.CERT_PATH``, ``/oauth2/v2.0/token``)."""
        with self._lock:
            self._rules.append(_Rule(method.upper(), path_suffix.lower(), deque(faults)))

    def pending_faults(self) -> int:
        with self._lock:
            return sum(len(rule.faults) for rule in self._rules)

    def hold(self) -> None:
        """Keep every Graph answer (not Entra ID's) back until ``release()``: a Graph as slow as
        a test needs, without waiting a fixed time. ``reset()`` releases too."""
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def wait_held(self, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until ``count`` Graph requests are being held back."""
        deadline = time.monotonic() + timeout
        while self._held < count:
            if time.monotonic() >= deadline:
                raise AssertionError(f"{self._held} Graph requests held, not {count}")
            time.sleep(0.005)

    def set_latency(self, seconds: float, *, graph_only: bool = False) -> None:
        """Delay every answer by ``seconds`` (with ``graph_only``, only Graph's, not Entra's).
        A JSON batch is delayed once, not once per request inside it (Graph runs them at once)."""
        with self._lock:
            self._latency = seconds
            self._graph_only_latency = graph_only

    def revoke_tokens(self) -> None:
        """Make every issued token expired (Graph answers 401 until a new one is fetched)."""
        with self._lock:
            self._tokens = {
                k: dataclasses.replace(t, expires_at=0.0) for k, t in self._tokens.items()
            }

    def set_token_lifetime(self, seconds: int) -> None:
        """Lifetime of access tokens issued from now on (MSAL refreshes those under 5 minutes)."""
        with self._lock:
            self._token_lifetime = seconds

    def token_user(self, request: RecordedRequest) -> str | None:
        """The account whose delegated token authorised ``request`` (None: app-only or unknown)."""
        header = request.headers.get("authorization", "")
        with self._lock:
            token = self._tokens.get(header[7:].strip())
        return token.user if token is not None else None

    def issued_tokens(self) -> list[str]:
        """Every access token issued so far (tests check none of them leaked)."""
        with self._lock:
            return list(self._tokens)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, path_suffix: str, method: str | None = None) -> list[RecordedRequest]:
        return [
            r
            for r in self.requests
            if r.path.lower().endswith(path_suffix.lower()) and method in (None, r.method)
        ]

    def token_requests(self) -> list[RecordedRequest]:
        return self.requests_to("/oauth2/v2.0/token", "POST")

    def graph_requests(self) -> list[RecordedRequest]:
        """Every Graph request: each ``$batch`` POST and each request inside it."""
        return [r for r in self.requests if r.path.startswith(("/beta/", "/v1.0/"))]

    def graph_calls(self) -> list[RecordedRequest]:
        """Every read or write Graph performed, batched or not (not the ``$batch`` POSTs)."""
        return [r for r in self.graph_requests() if not r.path.endswith(BATCH_PATH)]

    def batches(self) -> list[RecordedRequest]:
        """Every JSON batch received (``POST /{version}/$batch``)."""
        return [r for r in self.graph_requests() if r.path.endswith(BATCH_PATH)]

    # --- request handling --------------------------------------------------------------------

    def handle(self, request: RecordedRequest) -> Response | None:
        """The answer to ``request``; ``None`` means: drop the connection."""
        with self._lock:
            self._requests.append(request)
            latency = self._latency
            if self._graph_only_latency and not request.path.startswith(("/beta/", "/v1.0/")):
                latency = 0.0
            fault = self._take_fault(request)
            held = not self._released.is_set() and request.path.startswith(("/beta/", "/v1.0/"))
            self._held += held
        if held:
            self._released.wait(HOLD_LIMIT_SECONDS)
            with self._lock:
                self._held -= 1
        if latency:
            time.sleep(latency)
        request_id = str(uuid.uuid4())
        client_request_id = request.headers.get("client-request-id") or request_id
        response = self._answer(request, fault, request_id, client_request_id)
        if response is None:
            return None
        if request.path.startswith(("/beta/", "/v1.0/")):
            response.content_type = GRAPH_JSON
            response.headers.setdefault("request-id", request_id)
            response.headers.setdefault("client-request-id", client_request_id)
            response.headers.setdefault(
                "x-ms-ags-diagnostic", '{"ServerInfo":{"DataCenter":"Fake","Slice":"E"}}'
            )
        return response

    def answer_batched(self, request: RecordedRequest) -> Response | None:
        """One request of a JSON batch: recorded, its faults taken and routed as a plain one
        (no latency of its own: the batch's is the latency). ``None``: drop the batch."""
        with self._lock:
            self._requests.append(request)
            fault = self._take_fault(request)
        request_id = str(uuid.uuid4())
        return self._answer(
            request, fault, request_id, request.headers.get("client-request-id", "")
        )

    def _answer(
        self, request: RecordedRequest, fault: Fault | None, request_id: str, client_request_id: str
    ) -> Response | None:
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.seconds)
            fault = None
        if fault is not None and fault.kind == "drop":
            return None
        if fault is not None and fault.kind != "error_after_apply":
            return fault_response(fault, self.url, request_id, client_request_id)
        response = self._route(request, request_id, client_request_id)
        if fault is not None and response is not None:
            response = intune_error(500, "InternalServerError", request_id, client_request_id)
        return response

    def _take_fault(self, request: RecordedRequest) -> Fault | None:
        path = request.path.lower()
        for rule in self._rules:
            if (
                rule.faults
                and rule.method in ("*", request.method)
                and path.endswith(rule.path_suffix)
            ):
                return rule.faults.popleft()
        return None

    def _route(self, request: RecordedRequest, request_id: str, crid: str) -> Response | None:
        parts = request.path.split("/")
        if request.method == "GET" and request.path.endswith(
            "/v2.0/.well-known/openid-configuration"
        ):
            return self._discovery(parts[1])
        if (
            request.method == "POST"
            and request.path.endswith("/oauth2/v2.0/token")
            and len(parts) == 5
        ):
            return self._token(parts[1], request)
        if (
            request.method == "POST"
            and request.path.endswith("/oauth2/v2.0/devicecode")
            and len(parts) == 5
        ):
            return self._devicecode(parts[1], request)
        for version in shapes.GRAPH_VERSIONS:
            prefix = f"/{version}/"
            if request.path.startswith(prefix):
                return self._graph(
                    request, version, request.path[len(prefix) - 1 :], request_id, crid
                )
        return Response(404, {"error": "not_found", "error_description": "No such endpoint."})

    # --- Entra ID --------------------------------------------------------------------------

    def _discovery(self, tenant_id: str) -> Response:
        with self._lock:
            known = tenant_id in self._entities
        if not known:
            return Response(400, entra.unknown_tenant(tenant_id))
        return Response(200, shapes.openid_configuration(self.url, tenant_id))

    def _devicecode(self, tenant_id: str, request: RecordedRequest) -> Response:
        form = request.form
        with self._lock:
            known = tenant_id in self._entities
            app = self._apps.get((tenant_id, form.get("client_id", "")))
        if not known:
            return Response(400, entra.unknown_tenant(tenant_id))
        return Response(*self.delegated.device_authorization(tenant_id, app, form))

    def _issue(self, tenant_id: str, client_id: str, user: str | None = None) -> tuple[str, int]:
        token = secrets.token_urlsafe(48)
        with self._lock:
            lifetime = self._token_lifetime
            self._tokens[token] = _Token(tenant_id, client_id, time.time() + lifetime, user)
        return token, lifetime

    def _token(self, tenant_id: str, request: RecordedRequest) -> Response:
        form = request.form
        with self._lock:
            known = tenant_id in self._entities
            app = self._apps.get((tenant_id, form.get("client_id", "")))
        grant = form.get("grant_type")
        if known and grant == DEVICE_CODE_GRANT:
            return Response(*self.delegated.device_token(tenant_id, app, form, self._issue))
        if known and grant == "refresh_token":
            return Response(*self.delegated.refresh(tenant_id, app, form, self._issue))
        refusal = entra.check_token_request(
            tenant_id,
            known,
            app,
            form,
            request.headers.get("authorization", ""),
            resource=self.url,
            token_endpoint=self.token_endpoint(tenant_id),
        )
        if refusal is not None:
            return Response(*refusal)
        token, lifetime = self._issue(tenant_id, form["client_id"])
        return Response(
            200,
            {
                "token_type": "Bearer",
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": token,
            },
        )

    # --- Graph -------------------------------------------------------------------------------

    def _graph(
        self, request: RecordedRequest, version: str, path: str, request_id: str, crid: str
    ) -> Response | None:
        header = request.headers.get("authorization", "")
        presented = header[7:].strip() if header.lower().startswith("bearer ") else ""
        with self._lock:
            token = self._tokens.get(presented)
            app = self._apps.get((token.tenant_id, token.client_id)) if token else None
        if not presented:
            return unauthorized("Access token is empty.", self.url, request_id, crid)
        if token is None or app is None:
            return unauthorized("Access token validation failure.", self.url, request_id, crid)
        if token.expires_at <= time.time():
            return unauthorized(
                "Lifetime validation failed, the token is expired.", self.url, request_id, crid
            )
        lowered = path.lower().rstrip("/")
        if lowered == BATCH_PATH and request.method == "POST" and not request.batched:
            return self._batch(request, version, request_id, crid)
        if lowered == shapes.CERT_PATH.lower() and request.method in ("GET", "PATCH"):
            if request.method == "GET":
                if app.permission == "None":
                    return forbidden(shapes.READ_SCOPES, request_id, crid)
                return Response(200, self._entity_document(token.tenant_id, version))
            if app.permission != "ReadWrite":
                return forbidden(shapes.WRITE_SCOPES, request_id, crid)
            return self._patch(token.tenant_id, version, request, request_id, crid)
        if lowered == shapes.CSR_PATH.lower() and request.method == "GET":
            if app.permission == "None":
                return forbidden(shapes.READ_SCOPES, request_id, crid)
            return Response(
                200,
                {
                    "@odata.context": f"{self.url}/{version}/$metadata#Edm.String",
                    "value": self.csr(token.tenant_id),
                },
            )
        written = self.token_writes.answer(
            request, version, self.url, token.tenant_id, app.permission, (request_id, crid)
        )
        if written is not None:
            return written
        listed = self.apple_tokens.answer(
            request,
            version,
            self.url,
            token.tenant_id,
            app.permission != "None",
            (request_id, crid),
        )
        if listed is not None:
            return listed
        segment = path.strip("/").split("/")[-1]
        return Response(
            400,
            shapes.graph_error(
                "BadRequest", f"Resource not found for the segment '{segment}'.", request_id, crid
            ),
        )

    def _batch(
        self, request: RecordedRequest, version: str, request_id: str, crid: str
    ) -> Response | None:
        subs = sub_requests(request, version, (request_id, crid))
        if isinstance(subs, Response):
            return subs
        answers: list[tuple[str, Response]] = []
        for key, sub in subs:
            answer = self.answer_batched(sub)
            if answer is None:
                return None  # a dropped request drops the batch's connection
            answers.append((key, answer))
        response = batch_answer(answers)
        if self.batch_mangler is not None:
            response.body = self.batch_mangler(response.body)
        return response

    def _entity_document(self, tenant_id: str, version: str) -> dict[str, Any]:
        context = f"{self.url}/{version}/$metadata#deviceManagement/applePushNotificationCertificate/$entity"
        # Intune hands out a different id on every read: nothing may key on it.
        return {"@odata.context": context, "id": str(uuid.uuid4()), **self.entity(tenant_id)}

    def _patch(
        self, tenant_id: str, version: str, request: RecordedRequest, request_id: str, crid: str
    ) -> Response:
        try:
            body = request.json
        except ValueError:
            body = None
        if not isinstance(body, dict):
            message = (
                "Unable to read JSON request payload. Please ensure Content-Type header is set and "
                "payload is of valid JSON format."
            )
            return Response(400, shapes.graph_error("BadRequest", message, request_id, crid))
        unknown = sorted(set(body) - shapes.ENTITY_PROPERTIES)
        if unknown:
            message = (
                f"The property '{unknown[0]}' does not exist on type "
                "'microsoft.graph.applePushNotificationCertificate'. Make sure to only use property "
                "names that are defined by the type or mark the type as open type."
            )
            return Response(400, shapes.graph_error("BadRequest", message, request_id, crid))
        updates: dict[str, Any] = {}
        if "appleIdentifier" in body:
            updates["appleIdentifier"] = body["appleIdentifier"]
        if "certificate" in body:
            pem = body["certificate"]
            if not pem:  # an empty certificate removes the tenant's certificate
                updates.update(
                    topicIdentifier=None, certificateSerialNumber=None, expirationDateTime=None
                )
            else:
                try:
                    updates.update(shapes.derive_from_pem(str(pem)))
                except shapes.InvalidUpload as exc:
                    return intune_error(400, "BadRequest", request_id, crid, str(exc))
        updates["lastModifiedDateTime"] = shapes.odata_timestamp(self.clock())
        with self._lock:
            self._entities[tenant_id].update(updates)
        return Response(200, self._entity_document(tenant_id, version))


def fleet_tenant_id(index: int) -> str:
    """A deterministic tenant id for the ``index``-th tenant of a large fleet (benchmarks)."""
    return str(uuid.UUID(int=(0xF1EE7 << 96) | index))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument("--tls-dir", type=Path, default=None, help="where to write the CA bundle")
    parser.add_argument(
        "--graph-latency", type=float, default=0.0, help="seconds added to Graph's answers only"
    )
    parser.add_argument(
        "--tenants", type=int, default=0, help="also serve N tenants: fleet_tenant_id(0..N-1)"
    )
    parser.add_argument(
        "--token-lifetime",
        type=int,
        default=TOKEN_LIFETIME,
        help="expires_in of the access tokens handed out (300 or less: clients treat them as due)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fake-graph-") as scratch:
        tls = make_tls_material(args.tls_dir or Path(scratch))
        with FakeGraph(tls, host=args.host, port=args.port) as fake:
            fake.set_latency(args.latency or args.graph_latency, graph_only=not args.latency)
            fake.set_token_lifetime(args.token_lifetime)
            for index in range(args.tenants):
                fake.add_tenant(fleet_tenant_id(index))
                fake.register_app(fleet_tenant_id(index), FAKE_CLIENT_ID, secret=FAKE_CLIENT_SECRET)
            print(fake.url, flush=True)
            for key, value in fake.env().items():
                print(f"{key}={value}", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

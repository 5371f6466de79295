"""The delegated side of the fake Entra ID: device authorization, device-code polling, refresh.

What a public client (Entra "Allow public client flows" = Yes) sees, in Entra's shapes:

- ``POST /{tenant}/oauth2/v2.0/devicecode`` answers ``device_code``, ``user_code``,
  ``verification_uri``, ``expires_in``, ``interval``, ``message`` (../shared/payloads/device-code.json).
- ``POST /{tenant}/oauth2/v2.0/token`` with the device-code grant answers ``authorization_pending``
  (AADSTS70016) until a test signs the code in as some user, ``slow_down`` when told to,
  ``expired_token`` (AADSTS70020) after ``expires_in``, ``authorization_declined`` or
  ``access_denied`` when declined, ``invalid_grant`` for a code already redeemed,
  ``bad_verification_code`` for an unknown one, and ``invalid_client`` (AADSTS7000218) when the app
  is not a public client. Success carries an access token, a refresh token, an unsigned
  ``id_token`` with ``preferred_username`` and ``client_info`` (base64url ``{"uid", "utid"}``).
- The refresh-token grant answers the same success shape, or ``invalid_grant`` (AADSTS50173)
  for a revoked or unknown refresh token.

Access tokens themselves are minted by ``FakeGraph`` (``issue``), which checks them on Graph calls.
"""

from __future__ import annotations

import base64
import json
import secrets
import string
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.entra import AppRegistration
from tests.fakes.graph_shapes import aad_error

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DELEGATED_SCOPE = "DeviceManagementServiceConfig.ReadWrite.All"
VERIFICATION_URI = "https://microsoft.com/devicelogin"

Answer = tuple[int, dict[str, Any]]
Issue = Callable[[str, str, str], tuple[str, int]]  # (tenant, client, username) -> (token, ttl)


@dataclass
class DeviceSession:
    tenant_id: str
    client_id: str
    device_code: str
    user_code: str
    expires_at: float
    interval: int
    scopes: tuple[str, ...]
    state: str = "pending"  # pending | approved | declined | redeemed
    username: str | None = None
    decline_error: str = "authorization_declined"
    slow_downs: int = 0
    polls: list[float] = field(default_factory=list)


@dataclass
class RefreshGrant:
    tenant_id: str
    client_id: str
    username: str
    revoked: bool = False


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def user_oid(username: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, username.lower()))


def id_token(issuer: str, tenant_id: str, client_id: str, username: str) -> str:
    """An unsigned JWT (MSAL reads the claims without verifying, as for any token it fetched)."""
    now = int(time.time())
    claims = {
        "aud": client_id,
        "iss": issuer,
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "name": username.split("@")[0].title(),
        "oid": user_oid(username),
        "preferred_username": username,
        "sub": _b64url(username.encode())[:43],
        "tid": tenant_id,
        "ver": "2.0",
    }
    header = {"alg": "none", "typ": "JWT"}
    return ".".join(_b64url(json.dumps(p).encode()) for p in (header, claims)) + "."


class DelegatedEntra:
    """State and answers of the delegated grants, for one fake authority (thread-safe)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.sessions: dict[str, DeviceSession] = {}
            self.refresh_tokens: dict[str, RefreshGrant] = {}
            self.id_tokens: list[str] = []
            self.interval = 5
            self.expires_in = 900

    # --- controls --------------------------------------------------------------------------

    def session(self, user_code: str | None = None) -> DeviceSession:
        """The session with ``user_code`` (default: the latest)."""
        with self._lock:
            found = [s for s in self.sessions.values() if user_code in (None, s.user_code)]
        if not found:
            raise AssertionError(f"no device code session {user_code or ''}")
        return found[-1]

    def sign_in(self, user_code: str, username: str) -> None:
        with self._lock:
            session = self._by_user_code(user_code)
            session.state, session.username = "approved", username

    def decline(self, user_code: str, error: str = "authorization_declined") -> None:
        with self._lock:
            session = self._by_user_code(user_code)
            session.state, session.decline_error = "declined", error

    def expire(self, user_code: str) -> None:
        with self._lock:
            self._by_user_code(user_code).expires_at = 0.0

    def slow_down(self, user_code: str, times: int = 1) -> None:
        with self._lock:
            self._by_user_code(user_code).slow_downs += times

    def revoke_refresh_tokens(self, username: str | None = None) -> None:
        with self._lock:
            for grant in self.refresh_tokens.values():
                if username in (None, grant.username):
                    grant.revoked = True

    def _by_user_code(self, user_code: str) -> DeviceSession:
        for session in self.sessions.values():
            if session.user_code == user_code:
                return session
        raise AssertionError(f"no device code session {user_code}")

    # --- endpoints -------------------------------------------------------------------------

    def device_authorization(
        self, tenant_id: str, app: AppRegistration | None, form: dict[str, str]
    ) -> Answer:
        client_id = form.get("client_id", "")
        if app is None:
            return 400, _unknown_app(client_id, tenant_id)
        scopes = tuple(form.get("scope", "").split())
        problem = self._scope_problem(scopes, tenant_id)
        if problem is not None:
            return problem
        user_code = "".join(secrets.choice(string.ascii_uppercase + "23456789") for _ in range(9))
        session = DeviceSession(
            tenant_id=tenant_id,
            client_id=client_id,
            device_code="DAQABAAEAAAD--" + secrets.token_urlsafe(96),
            user_code=user_code,
            expires_at=time.time() + self.expires_in,
            interval=self.interval,
            scopes=scopes,
        )
        with self._lock:
            self.sessions[session.device_code] = session
        return 200, {
            "user_code": user_code,
            "device_code": session.device_code,
            "verification_uri": VERIFICATION_URI,
            "expires_in": self.expires_in,
            "interval": self.interval,
            "message": (
                f"To sign in, use a web browser to open the page {VERIFICATION_URI} and enter "
                f"the code {user_code} to authenticate."
            ),
        }

    def device_token(
        self, tenant_id: str, app: AppRegistration | None, form: dict[str, str], issue: Issue
    ) -> Answer:
        refusal = self._client_problem(tenant_id, app, form)
        if refusal is not None:
            return refusal
        with self._lock:
            session = self.sessions.get(form.get("device_code", ""))
            if session is None or session.tenant_id != tenant_id:
                return 400, aad_error(
                    "bad_verification_code",
                    70000,
                    "The provided value for the input parameter 'device_code' is not valid.",
                )
            session.polls.append(time.monotonic())
            if session.state == "redeemed":
                return 400, aad_error(
                    "invalid_grant", 54005, "OAuth2 Authorization code was already redeemed."
                )
            if time.time() >= session.expires_at:
                return 400, aad_error(
                    "expired_token",
                    70020,
                    "The provided value for the input parameter 'device_code' is not valid. "
                    "This device code has expired.",
                )
            if session.state == "declined":
                return 400, aad_error(
                    session.decline_error, 70000, "The user declined the authentication request."
                )
            if session.slow_downs:
                session.slow_downs -= 1
                return 400, aad_error("slow_down", 70016, "Polling too frequently. Slow down.")
            if session.state != "approved" or session.username is None:
                return 400, aad_error(
                    "authorization_pending",
                    70016,
                    "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
                )
            session.state = "redeemed"
            username = session.username
        return 200, self._tokens(tenant_id, form["client_id"], username, issue)

    def refresh(
        self, tenant_id: str, app: AppRegistration | None, form: dict[str, str], issue: Issue
    ) -> Answer:
        refusal = self._client_problem(tenant_id, app, form)
        if refusal is not None:
            return refusal
        with self._lock:
            grant = self.refresh_tokens.get(form.get("refresh_token", ""))
        if grant is None or grant.revoked or grant.tenant_id != tenant_id:
            return 400, aad_error(
                "invalid_grant",
                50173,
                "The provided grant has expired due to it being revoked, a fresh auth token is "
                "needed. The user might have changed or reset their password.",
            )
        return 200, self._tokens(tenant_id, grant.client_id, grant.username, issue)

    # --- plumbing --------------------------------------------------------------------------

    def _tokens(
        self, tenant_id: str, client_id: str, username: str, issue: Issue
    ) -> dict[str, Any]:
        access_token, lifetime = issue(tenant_id, client_id, username)
        refresh_token = "0.AX" + secrets.token_urlsafe(120)
        with self._lock:
            self.refresh_tokens[refresh_token] = RefreshGrant(tenant_id, client_id, username)
        client_info = {"uid": user_oid(username), "utid": tenant_id}
        issuer = f"{self.base_url}/{tenant_id}/v2.0"
        issued_id_token = id_token(issuer, tenant_id, client_id, username)
        with self._lock:
            self.id_tokens.append(issued_id_token)
        return {
            "token_type": "Bearer",
            "scope": f"{self.base_url}/{DELEGATED_SCOPE} openid profile offline_access",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": access_token,
            "refresh_token": refresh_token,
            "id_token": issued_id_token,
            "client_info": _b64url(json.dumps(client_info).encode()),
        }

    def _client_problem(
        self, tenant_id: str, app: AppRegistration | None, form: dict[str, str]
    ) -> Answer | None:
        if app is None:
            return 400, _unknown_app(form.get("client_id", ""), tenant_id)
        if not app.public_client and not form.get("client_secret"):
            return 401, aad_error(
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or "
                "'client_secret'.",
            )
        return None

    def _scope_problem(self, scopes: tuple[str, ...], tenant_id: str) -> Answer | None:
        wanted = f"{self.base_url}/{DELEGATED_SCOPE}"
        if wanted in scopes:
            return None
        resource = next((s.rsplit("/", 1)[0] for s in scopes if "/" in s), "")
        return 400, aad_error(
            "invalid_resource",
            500011,
            f"The resource principal named {resource} was not found in the tenant named {tenant_id}.",
        )


def _unknown_app(client_id: str, tenant_id: str) -> dict[str, Any]:
    return aad_error(
        "unauthorized_client",
        700016,
        f"Application with identifier '{client_id}' was not found in the directory '{tenant_id}'.",
    )

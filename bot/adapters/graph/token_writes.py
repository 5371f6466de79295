"""Intune's ADE and Apps and Books (VPP) tokens on Microsoft Graph: ``AppleTokenGraph``.

``HttpGraphClient`` holds one as ``tokens`` and forwards the ``GraphClient`` port's methods to it;
every request goes through the tenant's ``GraphTransport``.

- Lists: ``GET beta/deviceManagement/depOnboardingSettings`` and ``deviceAppManagement/vppTokens``
  (every ``@odata.nextLink`` on the tenant's Graph host; ``bot.adapters.graph.tokens``); the
  watch reads them batched with the push certificate (``wanted``, ``bot.adapters.graph.batch``).

- ADE (Graph beta only, whatever ``GRAPH_URL`` names):
  ``GET  deviceManagement/depOnboardingSettings/{id}/getEncryptionPublicKey()`` → ``{"value": PEM}``
  (Intune's public key for Apple Business Manager; a function, so it changes nothing);
  ``POST deviceManagement/depOnboardingSettings/{id}/uploadDepToken`` with ``{"appleId", "depToken"}``
  → 204; ``GET deviceManagement/depOnboardingSettings/{id}`` reads one token back.
- VPP (``GRAPH_URL``, v1.0 or beta): ``PATCH deviceAppManagement/vppTokens/{id}`` with
  ``{"token": "<.vpptoken text>"}`` → 200 with the token (or 204);
  ``POST deviceAppManagement/vppTokens/{id}/syncLicenses`` → 200 with the token (v1.0 docs) or 204;
  ``GET deviceAppManagement/vppTokens/{id}`` reads one back.

An upload is sent once: after a timeout, a connection lost once sent, or a 5xx, the outcome is
unknown and ``UploadOutcomeUnknown`` says so (the caller reads the token back before anything
else); only a 429 or a connection that never opened (a connect timeout included) is tried again
(``GraphTransport.send``). A refusal (4xx), or a connection that never opened even after the
retries (``GraphError.sent`` False), is a plain ``GraphError``: nothing was applied.
``syncLicenses`` only asks Intune to sync, so it is retried like a read. Token contents never reach a log line or an error message.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from bot.adapters.graph.batch import Wanted
from bot.adapters.graph.timestamps import parse_timestamp
from bot.adapters.graph.tokens import (
    ADE_ACTION,
    ADE_PATH,
    VPP_ACTION,
    VPP_PATH,
    beta_base,
    collect_pages,
    listed_tokens,
    parse_ade_token,
    parse_vpp_token,
)
from bot.adapters.graph.transport import GraphTransport
from bot.core.tokens import AppleToken, CredentialKind
from bot.errors import ApnsBotError, GraphError, UploadOutcomeUnknown

ADE_THING = "ADE token"
VPP_THING = "Apps and Books (VPP) token"


class EmptyTokenError(ApnsBotError, ValueError):
    """An upload with an empty token, Apple ID or token id (Intune would clear or misplace it)."""


def segment(token_id: str) -> str:
    """A token id as one URL path segment (ids come from Graph, but never trusted as a path)."""
    if not token_id or not token_id.strip():
        raise EmptyTokenError("Refusing to call Graph: the token id is empty.")
    return quote(token_id.strip(), safe="")


def vpp_token_wire_value(content: str) -> str:
    """The ``token`` property sent for a ``.vpptoken`` file: the file's text as Apple wrote it
    (already the base64 of ``{"token","expDate","orgName"}``), surrounding whitespace removed.

    What Intune expects is not settled by its documentation. Microsoft Graph's vppToken resource
    (learn.microsoft.com/graph/api/resources/intune-onboarding-vpptoken) only says "The Apple
    Volume Purchase Program Token string downloaded from the Apple Volume Purchase Program"; the
    Update/Create pages show a placeholder. Public scripts differ: PacktPublishing's
    Microsoft-Intune-Cookbook (Chapter-6/create-vpp-token.ps1) base64-encodes the file's text a
    second time before a POST, while other MDMs' APIs (Jamf Pro's ``service_token``) take the
    file's text unchanged. apns-bot sends the text unchanged, as the documentation reads; if a
    tenant answers 400 to that, this one function is what changes (docs/renewal-tokens.md)."""
    return content.strip()


class AppleTokenGraph:
    """The ADE and VPP token reads and uploads of one tenant's Graph."""

    def __init__(self, transport: GraphTransport) -> None:
        self._transport = transport

    # --- lists ----------------------------------------------------------------------------------

    def list_ade_tokens(self) -> list[AppleToken]:
        """Every Automated Device Enrollment token (Graph beta, whatever ``GRAPH_URL`` names)."""
        t = self._transport
        return self.ade_tokens_from(t.get_json(beta_base(t.base) + ADE_PATH, ADE_ACTION))

    def list_vpp_tokens(self) -> list[AppleToken]:
        """Every Apps and Books (VPP) token."""
        return self.vpp_tokens_from(self._transport.get_json(VPP_PATH, VPP_ACTION))

    def ade_tokens_from(self, first_page: Any) -> list[AppleToken]:
        """The ADE tokens of the list whose first page is ``first_page`` (plain or batched)."""
        t = self._transport
        entities = collect_pages(t.get_json, first_page, ADE_ACTION, t.tenant.graph_root)
        kind, tenant = CredentialKind.ADE, t.tenant.name
        return listed_tokens(entities, parse_ade_token, parse_timestamp, tenant=tenant, kind=kind)

    def vpp_tokens_from(self, first_page: Any) -> list[AppleToken]:
        """The VPP tokens of the list whose first page is ``first_page`` (plain or batched)."""
        t = self._transport
        entities = collect_pages(t.get_json, first_page, VPP_ACTION, t.tenant.graph_root)
        kind, tenant = CredentialKind.VPP, t.tenant.name
        return listed_tokens(entities, parse_vpp_token, parse_timestamp, tenant=tenant, kind=kind)

    def wanted(self, kind: CredentialKind) -> Wanted | None:
        """One kind's list as a batchable read (``bot.adapters.graph.batch``); None: not a token."""
        t = self._transport
        if kind is CredentialKind.ADE:
            base = beta_base(t.base)
            return Wanted(kind, base, ADE_PATH, ADE_ACTION, self.ade_tokens_from)
        if kind is CredentialKind.VPP:
            return Wanted(kind, t.base, VPP_PATH, VPP_ACTION, self.vpp_tokens_from)
        return None

    # --- ADE ------------------------------------------------------------------------------------

    def _ade(self, token_id: str, tail: str = "") -> str:
        return beta_base(self._transport.base) + f"{ADE_PATH}/{segment(token_id)}{tail}"

    def ade_public_key(self, token_id: str) -> str:
        """Intune's public key for one ADE token, exactly as Graph returns it (a PEM certificate)."""
        action = "download Intune's public key for the ADE token"
        document = self._transport.get_json(
            self._ade(token_id, "/getEncryptionPublicKey()"), action
        )
        value = document.get("value") if isinstance(document, dict) else None
        if not isinstance(value, str) or not value.strip():
            raise GraphError(f"Microsoft Graph answered the request to {action} without a key.")
        return value

    def get_ade_token(self, token_id: str) -> AppleToken:
        """One ADE token as Graph reports it now (the read-back after an upload)."""
        action = "read the ADE token"
        document = self._transport.get_json(self._ade(token_id), action)
        if not isinstance(document, dict):
            raise GraphError(f"Microsoft Graph answered the request to {action} unexpectedly.")
        return parse_ade_token(document, parse_timestamp)

    def upload_ade_token(self, token_id: str, apple_id: str, content: str) -> None:
        """``uploadDepToken`` once; ``UploadOutcomeUnknown`` when it may or may not have landed."""
        if not apple_id or not apple_id.strip():
            raise EmptyTokenError("Refusing to upload: the Apple ID is empty.")
        if not content or not content.strip():
            raise EmptyTokenError("Refusing to upload: the server token is empty.")
        body = {"appleId": apple_id.strip(), "depToken": content}
        path = self._ade(token_id, "/uploadDepToken")
        self._write("POST", path, "upload the ADE server token", body, ADE_THING, "ade", token_id)

    # --- Apps and Books (VPP) -------------------------------------------------------------------

    def _vpp(self, token_id: str, tail: str = "") -> str:
        return f"{VPP_PATH}/{segment(token_id)}{tail}"

    def get_vpp_token(self, token_id: str) -> AppleToken:
        """One Apps and Books token as Graph reports it now (the read-back after an upload)."""
        action = "read the Apps and Books (VPP) token"
        document = self._transport.get_json(self._vpp(token_id), action)
        if not isinstance(document, dict):
            raise GraphError(f"Microsoft Graph answered the request to {action} unexpectedly.")
        return parse_vpp_token(document, parse_timestamp)

    def upload_vpp_token(self, token_id: str, content: str) -> None:
        """PATCH the token's ``token`` once; ``UploadOutcomeUnknown`` when it may have landed."""
        if not content or not content.strip():
            raise EmptyTokenError("Refusing to upload: the Apps and Books token is empty.")
        action = "upload the Apps and Books (VPP) token"
        body = {"token": vpp_token_wire_value(content)}
        self._write("PATCH", self._vpp(token_id), action, body, VPP_THING, "vpp", token_id)

    def sync_vpp_licenses(self, token_id: str) -> None:
        """Ask Intune to sync the token's licences with Apple (harmless to repeat)."""
        action = "sync the Apps and Books licences"
        self._transport.send("POST", self._vpp(token_id, "/syncLicenses"), action)

    # --- plumbing -------------------------------------------------------------------------------

    def _write(
        self,
        method: str,
        path: str,
        action: str,
        body: dict[str, str],
        thing: str,
        kind: str,
        token_id: str,
    ) -> None:
        try:
            self._transport.send(method, path, action, json=body, writes=True, thing=thing)
        except UploadOutcomeUnknown:
            raise
        except GraphError as exc:
            if exc.transient and exc.sent is not False:  # it may have landed: read back first
                raise UploadOutcomeUnknown(exc, kind=kind, token_id=token_id) from exc
            raise  # refused (4xx), or never sent: nothing changed

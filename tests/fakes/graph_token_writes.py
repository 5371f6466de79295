"""The fake Graph's renewals of ADE and Apps and Books (VPP) tokens, with Intune's behaviour.

- ``GET  /beta/deviceManagement/depOnboardingSettings/{id}/getEncryptionPublicKey()``: the PEM
  certificate of a key pair generated for that token (``tests.tokengen.intune_key``; ``set_key``
  picks one), as ``{"@odata.context": ...#Edm.String, "value": PEM}`` (``bare_key``: the base64
  without armour, since Microsoft does not document which one Intune sends).
- ``POST .../depOnboardingSettings/{id}/uploadDepToken`` ``{"appleId", "depToken"}``: unwraps the
  S/MIME file, decrypts the CMS with that token's private key (cryptography's PKCS#7 support), reads
  ``access_token_expiry`` from Apple's ``-----BEGIN MESSAGE-----`` JSON and updates
  ``tokenExpirationDateTime``, ``appleIdentifier`` and ``lastModifiedDateTime``; 204. A token Intune
  cannot open is a 400 with Intune's nested message, and nothing changes.
- ``PATCH /{v1.0,beta}/deviceAppManagement/vppTokens/{id}`` ``{"token"}``: decodes the ``.vpptoken``
  and updates ``expirationDateTime``, ``organizationName``, ``state`` (``valid``) and
  ``lastModifiedDateTime``; 200 with the token.
- ``POST .../vppTokens/{id}/syncLicenses``: 200 with the token (Graph's docs; ``sync_status`` = 204
  answers without a body), ``lastSyncDateTime`` and ``lastSyncStatus`` updated.
- ``GET`` of one token on either path (the read-back); 404 for an unknown id.

``lag_reads = N`` keeps an upload's effect out of every read of that token until N single-token
reads have shown the old values (Intune's delay before it shows a new expiry). Writes need the app's
``ReadWrite`` permission. Faults (503 then success, 500 after apply...) come from ``FakeGraph.inject``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.serialization import pkcs7

from tests.fakes import graph_shapes as shapes
from tests.fakes.graph_faults import forbidden, graph_error, intune_error
from tests.fakes.graph_tokens import ADE_PATH, VPP_PATH, AppleTokens, TokenKind, for_version
from tests.fakes.https import RecordedRequest, Response
from tests.tokengen import IntuneKey, intune_key

_ONE = re.compile(
    r"^/(deviceManagement/depOnboardingSettings|deviceAppManagement/vppTokens)/([^/]+)(/.*)?$", re.I
)
_MESSAGE = re.compile(rb"-----BEGIN MESSAGE-----\s*(.*?)\s*-----END MESSAGE-----", re.DOTALL)


@dataclass
class _Pending:
    kind: TokenKind
    properties: dict[str, Any]
    reads_left: int


class TokenWrites:
    """Per-tenant keys, pending (lagging) updates and the answers above (thread-safe)."""

    def __init__(self, tokens: AppleTokens, clock: Callable[[], datetime]) -> None:
        self._tokens = tokens
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[tuple[str, str], IntuneKey] = {}
        self._pending: dict[tuple[str, str], _Pending] = {}
        self.lag_reads = 0
        self.sync_status = 200
        self.bare_key = False  # getEncryptionPublicKey's value without PEM armour

    def key(self, tenant_id: str, token_id: str) -> IntuneKey:
        """Intune's key pair for one ADE token (slot 1 unless ``set_key`` chose another)."""
        with self._lock:
            return self._keys.setdefault((tenant_id, token_id), intune_key(1))

    def set_key(self, tenant_id: str, token_id: str, key: IntuneKey) -> None:
        with self._lock:
            self._keys[(tenant_id, token_id)] = key

    def answer(
        self,
        request: RecordedRequest,
        version: str,
        base_url: str,
        tenant_id: str,
        permission: str,
        ids: tuple[str, str],
    ) -> Response | None:
        """Graph's answer if ``request`` is one of the operations above, else ``None``."""
        match = _ONE.match(request.path[len(version) + 1 :])
        if match is None:
            return None
        kind: TokenKind = "ade" if match.group(1).lower() == ADE_PATH.lower().strip("/") else "vpp"
        token_id, tail = match.group(2), (match.group(3) or "").rstrip("/")
        if kind == "ade" and version != "beta":
            return graph_error(
                400,
                "BadRequest",
                "Resource not found for the segment 'depOnboardingSettings'.",
                *ids,
            )
        operation = (request.method, tail.lower())
        known = {
            ("GET", ""),
            ("GET", "/getencryptionpublickey()"),
            ("POST", "/uploaddeptoken"),
            ("PATCH", ""),
            ("POST", "/synclicenses"),
        }
        if operation not in known or (kind == "vpp" and "deptoken" in tail.lower()):
            return None
        writes = request.method in ("POST", "PATCH")
        if permission == "None" or (writes and permission != "ReadWrite"):
            return forbidden(shapes.WRITE_SCOPES if writes else shapes.READ_SCOPES, *ids)
        if self._tokens.find(tenant_id, kind, token_id) is None:
            message = f"Resource with id '{token_id}' was not found."
            return graph_error(404, "ResourceNotFound", message, *ids)
        if operation == ("GET", ""):
            return Response(200, self._read(base_url, version, tenant_id, kind, token_id))
        if operation == ("GET", "/getencryptionpublickey()"):
            pem = self.key(tenant_id, token_id).pem
            value = "".join(pem.splitlines()[1:-1]) if self.bare_key else pem
            document = {
                "@odata.context": f"{base_url}/{version}/$metadata#Edm.String",
                "value": value,
            }
            return Response(200, document)
        if operation == ("POST", "/synclicenses"):
            now = shapes.odata_timestamp(self._clock())
            self._tokens.update(
                tenant_id, "vpp", token_id, lastSyncDateTime=now, lastSyncStatus="completed"
            )
            if self.sync_status == 204:
                return Response(204, None)
            return Response(200, self._entity(base_url, version, tenant_id, "vpp", token_id))
        try:
            body = request.json
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return graph_error(400, "BadRequest", "Unable to read JSON request payload.", *ids)
        if kind == "ade":
            return self._upload_ade(tenant_id, token_id, body, ids)
        return self._upload_vpp(base_url, version, tenant_id, token_id, body, ids)

    # --- ADE -------------------------------------------------------------------------------------

    def _upload_ade(
        self, tenant_id: str, token_id: str, body: dict[str, Any], ids: tuple[str, str]
    ) -> Response:
        apple_id, content = body.get("appleId"), body.get("depToken")
        if not isinstance(apple_id, str) or not isinstance(content, str) or not content:
            return intune_error(400, "BadRequest", *ids, "appleId and depToken are required")
        key = self.key(tenant_id, token_id)
        try:
            plain = pkcs7.pkcs7_decrypt_der(_cms_of(content), key.cert, key.key, [])
            found = _MESSAGE.search(plain)
            document = json.loads(found.group(1)) if found else None
            expiry = datetime.strptime(document["access_token_expiry"], "%Y-%m-%dT%H:%M:%SZ")
        except (ValueError, KeyError, TypeError, binascii.Error):
            return intune_error(400, "BadRequest", *ids, "The DEP token could not be decrypted")
        self._apply(
            tenant_id,
            "ade",
            token_id,
            {
                "tokenExpirationDateTime": shapes.odata_timestamp(expiry.replace(tzinfo=UTC)),
                "appleIdentifier": apple_id,
                "lastModifiedDateTime": shapes.odata_timestamp(self._clock()),
                "lastSyncErrorCode": 0,
            },
        )
        return Response(204, None)

    # --- VPP -------------------------------------------------------------------------------------

    def _upload_vpp(
        self,
        base_url: str,
        version: str,
        tenant_id: str,
        token_id: str,
        body: dict[str, Any],
        ids: tuple[str, str],
    ) -> Response:
        unknown = sorted(set(body) - {"token", "@odata.type"})
        if unknown:
            message = (
                f"The property '{unknown[0]}' does not exist on type 'microsoft.graph.vppToken'."
            )
            return graph_error(400, "BadRequest", message, *ids)
        try:
            document = json.loads(base64.b64decode(str(body.get("token") or ""), validate=True))
            expiry = datetime.strptime(document["expDate"], "%Y-%m-%dT%H:%M:%S%z")
            organization = str(document["orgName"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            return intune_error(400, "BadRequest", *ids, "The VPP token is not valid")
        self._apply(
            tenant_id,
            "vpp",
            token_id,
            {
                "expirationDateTime": shapes.odata_timestamp(expiry.astimezone(UTC)),
                "organizationName": organization,
                "state": "valid",
                "lastModifiedDateTime": shapes.odata_timestamp(self._clock()),
            },
        )
        return Response(200, self._entity(base_url, version, tenant_id, "vpp", token_id))

    # --- state -----------------------------------------------------------------------------------

    def _apply(
        self, tenant_id: str, kind: TokenKind, token_id: str, properties: dict[str, Any]
    ) -> None:
        with self._lock:
            if self.lag_reads > 0:
                self._pending[(tenant_id, token_id)] = _Pending(kind, properties, self.lag_reads)
                return
        self._tokens.update(tenant_id, kind, token_id, **properties)

    def _read(
        self, base_url: str, version: str, tenant_id: str, kind: TokenKind, token_id: str
    ) -> dict[str, Any]:
        """One token; a lagging update lands once its reads are used up."""
        with self._lock:
            pending = self._pending.get((tenant_id, token_id))
            if pending is not None:
                pending.reads_left -= 1
                if pending.reads_left < 0:
                    del self._pending[(tenant_id, token_id)]
                    self._tokens.update(tenant_id, pending.kind, token_id, **pending.properties)
        return self._entity(base_url, version, tenant_id, kind, token_id)

    def _entity(
        self, base_url: str, version: str, tenant_id: str, kind: TokenKind, token_id: str
    ) -> dict[str, Any]:
        token = self._tokens.find(tenant_id, kind, token_id) or {}
        path = (ADE_PATH if kind == "ade" else VPP_PATH).strip("/")
        return {
            "@odata.context": f"{base_url}/{version}/$metadata#{path}/$entity",
            **for_version(kind, token, version),
        }


def _cms_of(content: str) -> bytes:
    """The DER of an uploaded server token: Apple's S/MIME file (headers, blank line, base64)."""
    text = content.strip()
    parts = re.split(r"\r?\n\r?\n", text, maxsplit=1)
    body = parts[1] if len(parts) == 2 and ":" in parts[0].splitlines()[0] else text
    return base64.b64decode(re.sub(r"\s+", "", body), validate=True)

"""The Entra ID side of the fake: app registrations and the client-credentials token request.

Checks what Entra checks, in its order, and refuses with its error codes: unknown tenant (90002),
wrong grant (70003), unknown app (700016), scope without ``/.default`` (1002012) or for another
resource (500011), wrong secret (7000215), no credential (7000218), and a client assertion that is
not signed by a certificate registered on the app (700027) or is out of its time range (700024).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import unquote_plus

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from tests.fakes.graph_shapes import aad_error

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
Permission = Literal["ReadWrite", "Read", "None"]  # DeviceManagementServiceConfig.*.All granted


@dataclass
class AppRegistration:
    tenant_id: str
    client_id: str
    secret: str | None = None
    certificates: list[x509.Certificate] = field(default_factory=list)
    permission: Permission = "ReadWrite"
    public_client: bool = False  # Authentication → "Allow public client flows" (device code)


Refusal = tuple[int, dict[str, Any]]  # HTTP status, Entra's error body


def unknown_tenant(tenant_id: str) -> dict[str, Any]:
    return aad_error(
        "invalid_tenant",
        90002,
        f"Tenant '{tenant_id}' not found. Check to make sure you have the correct tenant ID and are "
        "signing into the correct cloud. Check with your subscription administrator, this may "
        "happen if there are no active subscriptions for the tenant.",
    )


def check_token_request(
    tenant_id: str,
    tenant_exists: bool,
    app: AppRegistration | None,
    form: dict[str, str],
    authorization: str,
    *,
    resource: str,
    token_endpoint: str,
) -> Refusal | None:
    """``None`` when a token may be issued, else Entra's refusal."""
    if not tenant_exists:
        return 400, unknown_tenant(tenant_id)
    if form.get("grant_type") != "client_credentials":
        return 400, aad_error(
            "unsupported_grant_type", 70003, "The app requested an unsupported grant type."
        )
    client_id = form.get("client_id", "")
    if app is None:
        return 400, aad_error(
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory "
            f"'{tenant_id}'. This can happen if the application has not been installed by the "
            "administrator of the tenant or consented to by any user in the tenant. You may have "
            "sent your authentication request to the wrong tenant.",
        )
    scopes = form.get("scope", "").split()
    if f"{resource}/.default" not in scopes:
        if not any(s.endswith("/.default") for s in scopes):
            return 400, aad_error(
                "invalid_scope",
                1002012,
                f"The provided value for scope {' '.join(scopes)} is not valid. Client credential "
                "flows must have a scope value with /.default suffixed to the resource identifier "
                "(application ID URI).",
            )
        return 400, aad_error(
            "invalid_resource",
            500011,
            f"The resource principal named {scopes[0].removesuffix('/.default')} was not found in "
            f"the tenant named {tenant_id}.",
        )
    secret = form.get("client_secret") or _basic_secret(authorization)
    assertion = form.get("client_assertion")
    if secret is not None:
        if app.secret is None or not secrets.compare_digest(secret, app.secret):
            return 401, aad_error(
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the "
                f"client secret value, not the client secret ID, for a secret added to app "
                f"'{client_id}'.",
            )
        return None
    if assertion is not None and form.get("client_assertion_type") == JWT_BEARER:
        problem = check_assertion(app, assertion, token_endpoint)
        return None if problem is None else (401, aad_error("invalid_client", *problem))
    return 401, aad_error(
        "invalid_client",
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or "
        "'client_secret'.",
    )


def _basic_secret(header: str) -> str | None:
    if not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip()).decode()
    except ValueError:
        return None
    return unquote_plus(decoded.partition(":")[2])


def _thumbprint(certificate: x509.Certificate, algorithm: hashes.HashAlgorithm) -> str:
    return base64.urlsafe_b64encode(certificate.fingerprint(algorithm)).decode().rstrip("=")


def check_assertion(app: AppRegistration, assertion: str, audience: str) -> tuple[int, str] | None:
    """Verify a client assertion as Entra does; ``(AADSTS code, description)`` on failure."""
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.InvalidTokenError:
        return 50027, "JWT token is invalid or malformed."
    wanted_s256 = str(header.get("x5t#S256", "")).rstrip("=")
    wanted_sha1 = str(header.get("x5t", "")).rstrip("=")
    certificate = next(
        (
            c
            for c in app.certificates
            if (wanted_s256 and _thumbprint(c, hashes.SHA256()) == wanted_s256)
            or (wanted_sha1 and _thumbprint(c, hashes.SHA1()) == wanted_sha1)  # noqa: S303
        ),
        None,
    )
    if certificate is None:
        return (
            700027,
            "The certificate with identifier used to sign the client assertion is not registered "
            "on application. [Reason - The key was not found., Thumbprint of key used by client: "
            f"'{wanted_s256 or wanted_sha1}']",
        )
    try:
        claims = jwt.decode(
            assertion,
            certificate.public_key(),  # type: ignore[arg-type]
            algorithms=["PS256", "RS256"],
            audience=audience,
            issuer=app.client_id,
            options={"require": ["exp", "aud", "iss", "sub", "jti"]},
            leeway=300,
        )
    except (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError):
        return 700024, "Client assertion is not within its valid time range."
    except jwt.InvalidTokenError as exc:
        return 700027, f"Client assertion failed signature validation. [Reason - {exc}]"
    if claims.get("sub") != app.client_id:
        return 700027, "Client assertion contains an invalid subject."
    return None

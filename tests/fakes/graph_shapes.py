"""The shapes Entra ID and Microsoft Graph answer with, for the fake server.

Written from Microsoft's public documentation and captured answers (see ../shared/payloads): OIDC
discovery, token answers and AADSTS errors, Graph's error envelope, Intune's nested error JSON, and
the applePushNotificationCertificate entity as Intune derives it from an uploaded PEM.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from tests.clock import T0, iso

CERT_PATH = "/deviceManagement/applePushNotificationCertificate"
CSR_PATH = CERT_PATH + "/downloadApplePushNotificationCertificateSigningRequest"
GRAPH_VERSIONS = ("beta", "v1.0")

READ_SCOPES = "DeviceManagementServiceConfig.Read.All, DeviceManagementServiceConfig.ReadWrite.All"
WRITE_SCOPES = "DeviceManagementServiceConfig.ReadWrite.All"


# The default tenant's certificate, as offsets from the suite's anchor: renewed 58 days ago, so
# 307 days are left (healthy: outside every reminder window). Whole seconds, as Graph has them.
DEFAULT_EXPIRY = T0 + timedelta(days=307, hours=3, minutes=41, seconds=28)
DEFAULT_LAST_MODIFIED = T0 - timedelta(days=58, hours=2, minutes=7, seconds=12)


def graph_now() -> str:
    """Graph's innerError date: UTC, seconds precision, no offset (the suite's anchor ``T0``)."""
    return T0.strftime("%Y-%m-%dT%H:%M:%S")


def odata_timestamp(moment: datetime) -> str:
    """A DateTimeOffset with 7 fractional digits, as Intune writes lastModifiedDateTime."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def graph_error(code: str, message: str, request_id: str, client_request_id: str) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": graph_now(),
                "request-id": request_id,
                "client-request-id": client_request_id,
            },
        }
    }


def intune_nested_message(activity_id: str, detail: str = "An error has occurred") -> str:
    """Intune's error document, serialized with CRLFs, as it appears inside Graph's ``message``."""
    document = {
        "_version": 3,
        "Message": (
            f"{detail} - Operation ID (for customer support): "
            "00000000-0000-0000-0000-000000000000 - Activity ID: "
            f"{activity_id} - Url: https://fef.msub06.manage.microsoft.com/DeviceFE/"
            "StatelessDeviceFEService/deviceManagement/applePushNotificationCertificate"
            "?api-version=5024-09-04"
        ),
        "CustomApiErrorPhrase": "",
        "RetryAfter": None,
        "ErrorSourceService": "",
        "HttpHeaders": "{}",
    }
    return json.dumps(document, indent=2).replace("\n", "\r\n")


def aad_error(error: str, code: int, description: str) -> dict[str, Any]:
    """An Entra token/discovery error, with the trace noise real answers carry."""
    trace_id = str(uuid.uuid4())
    correlation_id = str(uuid.uuid4())
    timestamp = T0.strftime("%Y-%m-%d %H:%M:%SZ")
    return {
        "error": error,
        "error_description": (
            f"AADSTS{code}: {description}\r\nTrace ID: {trace_id}\r\n"
            f"Correlation ID: {correlation_id}\r\nTimestamp: {timestamp}"
        ),
        "error_codes": [code],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }


def openid_configuration(base_url: str, tenant_id: str) -> dict[str, Any]:
    root = f"{base_url}/{tenant_id}"
    return {
        "token_endpoint": f"{root}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic",
        ],
        "jwks_uri": f"{root}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{root}/v2.0",
        "request_uri_parameter_supported": False,
        "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
        "end_session_endpoint": f"{root}/oauth2/v2.0/logout",
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
    }


def default_entity() -> dict[str, Any]:
    """A healthy tenant, like ../shared/payloads/graph-entity.json."""
    return {
        "appleIdentifier": "mdm-admin@contoso.example",
        "topicIdentifier": "com.apple.mgmt.External.2f42b322-d7c9-4734-8e2e-eeadadd36f20",
        "lastModifiedDateTime": iso(DEFAULT_LAST_MODIFIED),
        "expirationDateTime": iso(DEFAULT_EXPIRY),
        "certificateUploadStatus": None,
        "certificateUploadFailureReason": None,
        "certificateSerialNumber": "0B7002EFEA6BA6D0",
        "certificate": None,
    }


def empty_entity() -> dict[str, Any]:
    """A tenant that never had a push certificate uploaded."""
    return {key: None for key in default_entity()}


ENTITY_PROPERTIES = frozenset(default_entity()) | {"id"}


class InvalidUpload(ValueError):
    """The uploaded text is not a usable Apple push certificate (Intune answers 400)."""


def derive_from_pem(pem: str) -> dict[str, Any]:
    """What Intune derives from an uploaded certificate: topic, serial and expiry."""
    try:
        certificate = x509.load_pem_x509_certificate(pem.strip().encode())
    except ValueError as exc:
        raise InvalidUpload("The certificate could not be parsed") from exc
    uids = certificate.subject.get_attributes_for_oid(NameOID.USER_ID)
    topic = str(uids[0].value) if uids else ""
    if not topic.startswith("com.apple.mgmt."):
        raise InvalidUpload("The certificate is not an Apple MDM push certificate")
    return {
        "topicIdentifier": topic,
        "certificateSerialNumber": f"{certificate.serial_number:016X}",
        "expirationDateTime": certificate.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }

"""The one place that reads ``view["state"]["values"]``: submissions become dataclasses."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from bot.slack.ids import Block, Input

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class UploadedFile:
    id: str
    name: str
    url: str
    size: int | None


@dataclass(frozen=True)
class RenewForm:
    tenant: str | None
    apple_id: str
    file: UploadedFile | None
    reason: str | None


def _object(value: Any) -> dict[str, Any]:
    """``value`` if it is an object, else empty: a malformed payload reads as an empty form."""
    return value if isinstance(value, dict) else {}


def _values(view: dict[str, Any]) -> dict[str, Any]:
    return _object(_object(view.get("state")).get("values"))


def _field(values: dict[str, Any], block: str, action: str) -> dict[str, Any]:
    return _object(_object(values.get(block)).get(action))


def _text(values: dict[str, Any], block: str, action: str) -> str | None:
    raw = _field(values, block, action).get("value")
    return raw.strip() if isinstance(raw, str) and raw.strip() else None


def metadata(view: dict[str, Any]) -> dict[str, Any]:
    try:
        parsed = json.loads(view.get("private_metadata") or "{}")
    except json.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def parse_renew_form(view: dict[str, Any]) -> tuple[RenewForm, dict[str, str]]:
    """The submitted form and field errors (block id -> message) for ``response_action=errors``."""
    values = _values(view)
    errors: dict[str, str] = {}
    apple_id = _text(values, Block.APPLE_ID, Input.VALUE) or ""
    if len(apple_id) > 254 or not _EMAIL.match(apple_id):
        errors[Block.APPLE_ID] = "Enter the Apple ID (an e-mail address) used at Apple's portal."
    files = _field(values, Block.CERTIFICATE, Input.FILE).get("files")
    uploaded: UploadedFile | None = None
    if not isinstance(files, list) or len(files) != 1 or not isinstance(files[0], dict):
        errors[Block.CERTIFICATE] = "Attach exactly one certificate file (.pem) from Apple."
    else:
        entry = files[0]
        url = entry.get("url_private_download") or entry.get("url_private")
        if not url:
            errors[Block.CERTIFICATE] = "Slack sent no download link for the file; attach it again."
        else:
            uploaded = UploadedFile(
                id=str(entry.get("id", "")),
                name=str(entry.get("name") or entry.get("title") or "certificate"),
                url=str(url),
                size=entry.get("size") if isinstance(entry.get("size"), int) else None,
            )
    reason = _text(values, Block.REASON, Input.VALUE)
    tenant = metadata(view).get("tenant")
    form = RenewForm(
        tenant=tenant if isinstance(tenant, str) else None,
        apple_id=apple_id,
        file=uploaded,
        reason=reason,
    )
    return form, errors


def parse_reject_reason(view: dict[str, Any]) -> tuple[str | None, str | None]:
    """(request id from metadata, the reason typed)."""
    request_id = metadata(view).get("request_id")
    reason = _text(_values(view), Block.REJECT_REASON, Input.VALUE)
    return (request_id if isinstance(request_id, str) else None), reason

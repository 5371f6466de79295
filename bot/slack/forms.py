"""The one place that reads ``view["state"]["values"]``: submissions become dataclasses."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.views import View as ModalView

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


def acting_from(view: ModalView, channel: str | None) -> ModalView:
    """``view`` with the channel its form was opened from in its metadata, so a submission is
    checked against who may see the tenant as the opening was (Slack keeps the metadata)."""
    meta = json.loads(view.private_metadata or "{}")
    view.private_metadata = json.dumps({**meta, "channel": channel} if channel else meta)
    return view


def acted_from(view: dict[str, Any]) -> str | None:
    """The channel a submitted form was opened from (``acting_from``); None when opened
    elsewhere (the Home tab)."""
    return _meta_text(metadata(view), "channel")


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


@dataclass(frozen=True)
class TokenForm:
    """The ADE/VPP token form: what it renews (from its metadata) and what was typed."""

    tenant: str | None
    kind: str | None  # "ade" or "vpp"
    token_id: str | None
    apple_id: str | None  # ADE only
    file: UploadedFile | None
    reason: str | None


def _one_file(values: dict[str, Any], block: str) -> UploadedFile | str:
    """The single uploaded file in ``block``, or why there is none."""
    files = _field(values, block, Input.FILE).get("files")
    if not isinstance(files, list) or len(files) != 1 or not isinstance(files[0], dict):
        return "Attach exactly one token file from Apple Business Manager."
    entry = files[0]
    url = entry.get("url_private_download") or entry.get("url_private")
    if not url:
        return "Slack sent no download link for the file; attach it again."
    return UploadedFile(
        id=str(entry.get("id", "")),
        name=str(entry.get("name") or entry.get("title") or "token"),
        url=str(url),
        size=entry.get("size") if isinstance(entry.get("size"), int) else None,
    )


def _meta_text(meta: dict[str, Any], key: str) -> str | None:
    value = meta.get(key)
    return value if isinstance(value, str) and value else None


def parse_token_form(view: dict[str, Any]) -> tuple[TokenForm, dict[str, str]]:
    """The submitted token form and field errors (block id -> message)."""
    values = _values(view)
    meta = metadata(view)
    errors: dict[str, str] = {}
    kind = _meta_text(meta, "kind")
    apple_id = None
    if kind == "ade":
        apple_id = _text(values, Block.APPLE_ID, Input.VALUE) or ""
        if len(apple_id) > 254 or not _EMAIL.match(apple_id):
            errors[Block.APPLE_ID] = "Enter the Apple ID (an e-mail address) of the MDM server."
    found = _one_file(values, Block.TOKEN_FILE)
    if isinstance(found, str):
        errors[Block.TOKEN_FILE] = found
    form = TokenForm(
        tenant=_meta_text(meta, "tenant"),
        kind=kind,
        token_id=_meta_text(meta, "token"),
        apple_id=apple_id,
        file=found if isinstance(found, UploadedFile) else None,
        reason=_text(values, Block.REASON, Input.VALUE),
    )
    return form, errors


def parse_choice(view: dict[str, Any]) -> tuple[str | None, str | None]:
    """The chooser's (tenant from metadata, the option chosen: ``push`` or ``ade|<id>``...)."""
    tenant = _meta_text(metadata(view), "tenant")
    selected = _object(_field(_values(view), Block.RENEW_WHAT, Input.VALUE).get("selected_option"))
    value = selected.get("value")
    return tenant, (value if isinstance(value, str) and value else None)

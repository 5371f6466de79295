"""Is a parsed Slack body shaped as Slack sends it? Checked once, before Bolt or a listener reads it.

Bolt's matchers and the listeners index into the body (``body["user"]["id"]``, the first action,
the view's state): a signed body with a field of the wrong type must be refused here with a clean
400 rather than raise deep inside. Unknown fields are ignored, as Slack adds fields over time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# interactive payloads ("payload=" JSON) that Bolt routes by type; each names who acted
INTERACTIVE = frozenset(
    {
        "block_actions",
        "block_suggestion",
        "view_submission",
        "view_closed",
        "shortcut",
        "message_action",
        "interactive_message",
        "dialog_submission",
        "dialog_cancellation",
        "dialog_suggestion",
    }
)
ID_OR_OBJECT = ("user", "team", "enterprise", "channel")  # Slack sends an id or an object
OBJECTS = ("container", "message", "view", "event", "state", "function_data")
LISTS_OF_OBJECTS = ("actions", "authorizations", "response_urls")
TEXTS = (
    "type",
    "token",
    "trigger_id",
    "response_url",
    "callback_id",
    "api_app_id",
    "command",
    "text",
    "user_id",
    "channel_id",
    "team_id",
    "enterprise_id",
    "challenge",
    "bot_access_token",
)
VIEW_PAYLOADS = frozenset({"view_submission", "view_closed"})
VIEW_TEXTS = ("id", "type", "callback_id", "private_metadata", "hash", "root_view_id")
ACTION_TEXTS = ("action_id", "block_id", "value", "type", "action_ts")
EVENT_TEXTS = ("type", "user", "channel", "tab", "subtype", "ts")


def shape_problem(body: Mapping[str, Any]) -> str | None:
    """None when ``body`` can be read as Slack's; else what is wrong (for a log line, no data)."""
    problem = _fields(body, "body")
    if problem:
        return problem
    kind = body.get("type")
    if kind in INTERACTIVE:
        user = body.get("user")
        if not isinstance(user, dict) or not _is_text(user.get("id")):
            return "an interactive payload without a user id"
        if kind == "block_actions" and not body.get("actions"):
            return "block_actions without an action"  # Bolt reads the first one
        view = body.get("view")
        if kind in VIEW_PAYLOADS and not (isinstance(view, dict) and _is_text(view.get("type"))):
            return "a view payload without a view type"
    elif "command" in body and not (body.get("user_id") and _is_url(body.get("response_url"))):
        return "a slash command without a user id or response_url"
    if body.get("response_url") is not None and not _is_url(body.get("response_url")):
        return "response_url is not a URL"
    view = body.get("view")
    if isinstance(view, dict):
        problem = _texts(view, VIEW_TEXTS, "view") or _objects(view, ("state",), "view")
        state = view.get("state")
        if not problem and isinstance(state, dict):
            problem = _state_values_problem(state.get("values", {}))
        if problem:
            return problem
    for action in body.get("actions") or []:
        problem = _texts(action, ACTION_TEXTS, "action")
        if problem:
            return problem
    event = body.get("event")
    if isinstance(event, dict):
        return _texts(event, EVENT_TEXTS, "event")
    return None


def _state_values_problem(values: Any) -> str | None:
    """``view.state.values`` is {block_id: {action_id: {...}}}, file inputs a list of objects."""
    if not isinstance(values, dict):
        return "view.state.values is not an object"
    for block in values.values():
        if not isinstance(block, dict) or not all(isinstance(a, dict) for a in block.values()):
            return "a block in view.state.values is not an object of objects"
        for action in block.values():
            files = action.get("files")
            if files is not None and not (
                isinstance(files, list) and all(isinstance(f, dict) for f in files)
            ):
                return "a file input's files are not a list of objects"
    return None


def _fields(body: Mapping[str, Any], where: str) -> str | None:
    for key in ID_OR_OBJECT:
        value = body.get(key)
        if value is not None and not isinstance(value, str | dict):
            return f"{where}.{key} is neither an id nor an object"
        if isinstance(value, dict) and not _is_text(value.get("id"), optional=True):
            return f"{where}.{key}.id is not text"
    problem = _objects(body, OBJECTS, where) or _texts(body, TEXTS, where)
    if problem:
        return problem
    for key in LISTS_OF_OBJECTS:
        if key not in body:
            continue
        value = body[key]
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            return f"{where}.{key} is not a list of objects"
    return None


def _objects(body: Mapping[str, Any], keys: tuple[str, ...], where: str) -> str | None:
    # present means an object: Bolt reads these with ``body.get(key, {}).get(...)``
    for key in keys:
        if key in body and not isinstance(body[key], dict):
            return f"{where}.{key} is not an object"
    return None


def _texts(body: Mapping[str, Any], keys: tuple[str, ...], where: str) -> str | None:
    for key in keys:
        if not _is_text(body.get(key), optional=True):
            return f"{where}.{key} is not text"
    return None


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("https://", "http://"))


def _is_text(value: Any, *, optional: bool = False) -> bool:
    return isinstance(value, str) or (optional and value is None)

"""Every Slack identifier the bot uses, in one place (the manifest test checks it against these)."""

from __future__ import annotations

from enum import StrEnum

from bot.core.messages import COMMAND as COMMAND  # the slash command, named in messages too


class Action(StrEnum):
    """``action_id`` of buttons and inputs; buttons carry a request id or a tenant as their value
    (*Get public key*: the tenant and the ADE token's id)."""

    APPROVE = "apns.approve"
    REJECT = "apns.reject"
    RETRY = "apns.retry"
    START_RENEWAL = "apns.start_renewal"
    GET_CSR = "apns.get_csr"
    GET_ADE_KEY = "apns.get_ade_key"  # value: "<tenant>|<ADE token id>"


class View(StrEnum):
    """``callback_id`` of modals."""

    RENEW = "apns.renew"
    RENEW_CHOOSE = "apns.renew_choose"  # what to renew: the push certificate or an ADE/VPP token
    RENEW_TOKEN = "apns.renew_token"  # noqa: S105 - an ADE/VPP token form (metadata: tenant, kind, id)
    REJECT_REASON = "apns.reject_reason"


class Block(StrEnum):
    """``block_id`` of the inputs that ``bot.slack.forms`` reads back."""

    APPLE_ID = "apple_id"
    CERTIFICATE = "certificate"
    TOKEN_FILE = "token_file"  # noqa: S105 - a block id, not a secret
    RENEW_WHAT = "renew_what"
    REASON = "reason"
    REJECT_REASON = "reject_reason"


class Input(StrEnum):
    """``action_id`` of input elements inside the blocks above."""

    VALUE = "value"
    FILE = "file"


EVENTS = ("app_home_opened",)

# Bot scopes the whole mission needs; manifest.yml grants exactly these and `doctor` checks them.
BOT_SCOPES = (
    "commands",
    "chat:write",
    "files:read",
    "files:write",
    "im:write",
    "users:read",
    "users:read.email",
    "usergroups:read",
)

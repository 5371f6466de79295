"""``apns-bot doctor`` for delegated sign-in: who is signed in, what is pending, what the key opens.

Reads the store only (no Microsoft call beyond the Graph check ``doctor`` already makes) and never
prints a token, a code or a cache: only Slack user ids, Microsoft usernames and times.
"""

from __future__ import annotations

from bot.adapters.entra.delegated import SignInRequiredError, TenantReader, open_reader
from bot.adapters.sealing import Sealer, build_sealer
from bot.cli.doctor_report import DATABASE_FIX, NETWORK_FIX, Result
from bot.config import Settings, TenantSettings
from bot.errors import ApnsBotError, SealError
from bot.slack.ids import COMMAND

ROTATE_FIX = (
    "if APNS_TOKEN_KEY was replaced, list the previous key after the new one "
    "(APNS_TOKEN_KEY=new,old); otherwise those approvers type `/apns signin` again"
)


def looking_provider(settings: Settings, tenant: TenantSettings) -> TenantReader | None:
    """For a delegated tenant, a reader that leaves unusable sign-ins in place for the report."""
    return open_reader(settings, tenant, read_only=True) if tenant.delegated else None


def signin_result(prefix: str, exc: ApnsBotError) -> Result:
    """The ``entra sign-in`` line: nobody signed in yet is a warning with whom to ask."""
    if isinstance(exc, SignInRequiredError):
        fix = f"an approver types `{COMMAND} signin` in Slack and signs in with their work account"
        return Result("entra sign-in", "WARN", prefix + exc.user_message, fix)
    return Result("entra sign-in", "FAIL", prefix + exc.user_message, signin_fix(exc))


def signin_fix(exc: ApnsBotError) -> str:
    """What to do about a failed sign-in: the network, or the app registration."""
    text = exc.user_message
    if "timed out" in text or "Could not reach" in text:
        return NETWORK_FIX
    if "TLS certificate" in text:
        return "set SSL_CERT_FILE to a PEM bundle holding your proxy's CA certificate"
    return (
        "correct the app registration or the AZURE_* settings as the message says "
        "(README: Quick start, step 2)"
    )


def _opens(sealer: Sealer, sealed: str) -> bool:
    try:
        sealer.open(sealed)
    except SealError:
        return False
    return True


def delegated_state(settings: Settings, tenant: TenantSettings) -> list[Result]:
    from bot.adapters.store import open_store

    prefix = "" if len(settings.tenants) == 1 else f"{tenant.name}: "
    sealer = build_sealer(settings.token_keys)
    if sealer is None:
        return [
            Result(
                "delegated",
                "FAIL",
                prefix + "APNS_TOKEN_KEY is not set",
                "set APNS_TOKEN_KEY to what `apns-bot keygen` prints",
            )
        ]
    try:
        with open_store(settings, sealer=sealer) as store:
            signins = store.list_signins(tenant.name)
            flows = store.list_device_flows(tenant.name)
    except ApnsBotError as exc:
        return [Result("delegated", "FAIL", prefix + exc.user_message, DATABASE_FIX)]
    results: list[Result] = []
    usable = [s for s in signins if _opens(sealer, s.sealed_cache)]
    if usable:
        who = ", ".join(f"{s.username} (Slack {s.user_id})" for s in usable)
        results.append(Result("saved sign-ins", "PASS", f"{prefix}{len(usable)}: {who}"))
    elif not signins:
        results.append(
            Result(
                "saved sign-ins",
                "WARN",
                f"{prefix}nobody has signed in yet (delegated mode reads and writes as an approver)",
                f"an approver types `{COMMAND} signin` in Slack",
            )
        )
    unreadable = len(signins) - len(usable)
    if unreadable:
        results.append(
            Result(
                "saved sign-ins",
                "WARN",
                f"{prefix}{unreadable} saved sign-in(s) cannot be opened with APNS_TOKEN_KEY; the bot "
                "removes them at first use",
                ROTATE_FIX,
            )
        )
    if flows:
        stuck = sum(1 for f in flows if not _opens(sealer, f.sealed_flow))
        who = ", ".join(f"Slack {f.user_id} until {f.expires_at:%H:%M} UTC" for f in flows)
        status = "WARN" if stuck else "PASS"
        results.append(Result("pending sign-ins", status, f"{prefix}{len(flows)}: {who}"))
    return results


def token_key_state(settings: Settings) -> list[Result]:
    """With ``APNS_TOKEN_KEY=new,old``: is anything stored still sealed with an older key?"""
    from bot.adapters.store import open_store
    from bot.adapters.store.resealing import Sealed, fernet_token

    sealer = build_sealer(settings.token_keys)
    if sealer is None or len(settings.token_keys) < 2:
        return []
    older = dict.fromkeys(Sealed, 0)

    def count(kind: Sealed, value: str) -> None:
        token = fernet_token(kind, value)  # None: plain text from before a key (rekey seals it)
        if token is not None and _opens(sealer, token) and not sealer.is_current(token):
            older[kind] += 1

    try:
        with open_store(settings, sealer=sealer) as store:
            store.rewrite_sealed(count, write=False)
    except ApnsBotError as exc:
        return [Result("token key", "FAIL", exc.user_message, DATABASE_FIX)]
    if not any(older.values()):
        return [
            Result(
                "token key",
                "PASS",
                "everything stored is sealed with the first APNS_TOKEN_KEY: the others can go",
            )
        ]
    detail = ", ".join(f"{n} {kind.value}" for kind, n in older.items() if n)
    return [
        Result(
            "token key",
            "WARN",
            f"still sealed with an older key in APNS_TOKEN_KEY: {detail}; dropping that key now "
            "would lose them",
            "with every replica and cron job on APNS_TOKEN_KEY=new,old, run `apns-bot rekey`; "
            "then drop the older key",
        )
    ]

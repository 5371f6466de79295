"""What ``--json`` prints when a command fails (shared by the CLI entry point and commands)."""

from __future__ import annotations

from bot.errors import ApnsBotError, FileCheckError


def error_document(exc: ApnsBotError, message: str | None = None) -> dict[str, dict[str, str]]:
    """``{"error": {"code", "message"}}``: what ``--json`` prints when a command fails. The code
    is the refused file's problem code (certificate or token), else the error's kind (``config``,
    ``graph``, ``auth``…)."""
    if isinstance(exc, FileCheckError):
        code = exc.code
    else:
        name = type(exc).__name__.removesuffix("Error") or "ApnsBot"
        code = "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
    return {"error": {"code": code, "message": message or exc.user_message}}

"""Graph's DateTimeOffset values as aware UTC datetimes (``parse_timestamp``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_TIMESTAMP = re.compile(
    r"^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE,
)


def parse_timestamp(value: object) -> datetime | None:
    """A Graph DateTimeOffset (any number of fractional digits) as an aware UTC datetime.

    ``None``, empty strings and ``0001-01-01`` (.NET's "no value") give ``None``; anything else
    that is not a timestamp raises ``ValueError``.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    match = _TIMESTAMP.match(str(value).strip())
    if match is None:
        raise ValueError(f"not a timestamp: {value!r}")
    base, fraction, offset = match.groups()
    text = base + (f".{fraction[:6].ljust(6, '0')}" if fraction else "")
    if offset and offset.upper() != "Z":
        text += offset if ":" in offset else f"{offset[:3]}:{offset[3:]}"
    moment = datetime.fromisoformat(text)
    if moment.year <= 1:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)

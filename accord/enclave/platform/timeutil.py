"""Time in the attestation world: Unix milliseconds (the document's `timestamp`) and aware UTC
datetimes (certificate validity), plus the injectable clock every time-bound check uses."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The system clock, as an aware UTC datetime."""
    return datetime.now(UTC)


def from_millis(ms: int) -> datetime:
    """Unix milliseconds -> aware UTC datetime (exact to the millisecond)."""
    seconds, millis = divmod(ms, 1000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=millis * 1000)


def to_millis(moment: datetime) -> int:
    """Aware datetime -> Unix milliseconds (truncated)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: attestation times must carry a time zone")
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def parse_time(text: str) -> datetime:
    """Parse an RFC 3339 timestamp (zone required) or integer Unix milliseconds."""
    text = text.strip()
    if text.isdigit():
        return from_millis(int(text))
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError as exc:
        raise ValueError(f"{text!r} is neither RFC 3339 nor integer Unix milliseconds") from exc
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone offset (RFC 3339 requires one)")
    return moment.astimezone(UTC)

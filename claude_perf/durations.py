"""Time arguments as `docker logs --since` takes them: `1h`, `30m`, `90s`, `1h30m`, RFC 3339, epoch.

A duration means "that long before now"; an absolute time may be RFC 3339 with up to nine
fractional digits (nanoseconds are kept by ``parse_instant_ns``), a date alone (midnight UTC), or
Unix seconds with a fraction (``1700000000.123456789``), the forms the docker CLI accepts
(docker/cli ``opts`` and moby ``api/types/time/timestamp.go`` GetTimestamp).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from claude_perf.errors import UsageError

NS_PER_S = 1_000_000_000
# "No time known" in int64 nanosecond arrays: pandas' own NaT value, so views of datetime64[ns]
# data need no conversion.
NAT_NS = -(2**63)
MAX_NS = 2**63 - 1
_UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": NS_PER_S,
    "sec": NS_PER_S,
    "secs": NS_PER_S,
    "m": 60 * NS_PER_S,
    "min": 60 * NS_PER_S,
    "h": 3600 * NS_PER_S,
    "d": 86400 * NS_PER_S,
}
# Go's spellings (docker's) plus a few human ones: ".5s", "3 sec", "2 min".
_UNITS = r"(ns|us|µs|ms|secs|sec|s|min|m|h|d)"
_DURATION_RE = re.compile(rf"^(?:(\d+(?:\.\d+)?|\.\d+) ?{_UNITS})+$")
_PART_RE = re.compile(rf"(\d+(?:\.\d+)?|\.\d+) ?{_UNITS}")
_RFC3339_RE = re.compile(
    r"^(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,9}))?)?"
    r"(Z|z|[+-]\d\d:?\d\d)?)?$"
)
_EPOCH_RE = re.compile(r"^(\d{1,12})(?:\.(\d{1,9}))?$")
_EPOCH_DT = datetime(1970, 1, 1, tzinfo=UTC)


def parse_duration_ns(text: str) -> int:
    """Go-style duration (``1h30m``, ``90s``, ``500ms``, ``2d``) as integer nanoseconds."""
    value = text.strip()
    if not value or not _DURATION_RE.match(value):
        raise UsageError(f"'{text}' is not a duration (examples: 90s, 30m, 1h, 1h30m, 2d)")
    total = 0.0
    for number, unit in _PART_RE.findall(value):
        total += float(number) * _UNIT_NS[unit]
    return round(total)


def parse_duration_s(text: str) -> float:
    """A duration in seconds (float), for intervals and sampling lengths."""
    return parse_duration_ns(text) / NS_PER_S


def now_ns() -> int:
    """The current UTC time as integer nanoseconds since the epoch."""
    import time

    return time.time_ns()


def parse_instant_ns(text: str, now: int | None = None) -> int:
    """A `--since`/`--until` value as UTC nanoseconds since the epoch.

    Durations count back from ``now`` (nanoseconds; default the current time). RFC 3339 times
    without a zone are taken as UTC (the engine's own convention for log timestamps).
    """
    value = text.strip()
    if not value:
        raise UsageError("an empty time was given (examples: 1h, 30m, 2025-01-31T12:00:00Z)")
    if _DURATION_RE.match(value):
        return (now_ns() if now is None else now) - parse_duration_ns(value)
    epoch = _EPOCH_RE.match(value)
    if epoch:
        seconds, fraction = epoch.groups()
        return int(seconds) * NS_PER_S + int((fraction or "").ljust(9, "0"))
    match = _RFC3339_RE.match(value)
    if not match:
        raise UsageError(
            f"'{text}' is neither a duration (1h, 30m, 90s) nor an RFC 3339 time "
            "(2025-01-31T12:00:00Z) nor Unix seconds"
        )
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        base = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=UTC,
        )
    except ValueError as exc:
        raise UsageError(f"'{text}' is not a valid time: {exc}") from exc
    offset_s = 0
    if zone and zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset_s = sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    whole_s = (base - _EPOCH_DT) // timedelta(seconds=1) - offset_s
    return whole_s * NS_PER_S + int((fraction or "").ljust(9, "0"))


def parse_instant(text: str, now: datetime | None = None) -> datetime:
    """A `--since`/`--until` value as an aware UTC datetime (microsecond precision)."""
    now_value = None if now is None else to_ns(now)
    return from_ns(parse_instant_ns(text, now_value))


def series_ns(series: Any) -> Any:
    """A pandas datetime Series → int64 nanoseconds since the epoch (NaT as NAT_NS)."""
    import numpy as np

    if len(series) == 0:
        return np.zeros(0, dtype=np.int64)
    values = series.astype("datetime64[ns, UTC]").to_numpy(dtype="datetime64[ns]")
    return values.view(np.int64).copy()


def to_ns(value: datetime) -> int:
    """An aware datetime as integer nanoseconds since the epoch (naive means UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - _EPOCH_DT
    return (delta.days * 86400 + delta.seconds) * NS_PER_S + delta.microseconds * 1000


def from_ns(value_ns: int) -> datetime:
    """Integer nanoseconds since the epoch as an aware UTC datetime (truncated to microseconds)."""
    return _EPOCH_DT + timedelta(microseconds=value_ns // 1000)


def engine_timestamp(value_ns: int) -> str:
    """Nanoseconds as the engine's ``seconds.nanoseconds`` form, which keeps every digit.

    docker-py turns a datetime ``since`` into a float and drops nanoseconds; the Engine API
    itself parses ``<seconds>.<nanoseconds>`` exactly (moby ``api/types/time`` ParseTimestamps).
    """
    seconds, nanos = divmod(value_ns, NS_PER_S)
    return f"{seconds}.{nanos:09d}"


def iso(value: datetime | None) -> str | None:
    """UTC ISO-8601 with microseconds and a Z, or None."""
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

"""durations.py: `--since`/`--until` values as docker takes them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from claude_perf.durations import (
    engine_timestamp,
    from_ns,
    parse_duration_ns,
    parse_duration_s,
    parse_instant,
    parse_instant_ns,
    to_ns,
)
from claude_perf.errors import UsageError

NOW = 1_700_000_000_123_456_789


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("30m", 1800), ("1h", 3600), ("1h30m", 5400), ("2d", 172800), ("500ms", 0.5)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration_s(text) == seconds
    assert parse_instant_ns(text, now=NOW) == NOW - round(seconds * 1e9)


@pytest.mark.parametrize("bad", ["", "1x", "h", "-1h", "1h-", "yesterday", "2025-13-01T00:00:00Z"])
def test_bad_values_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError):
        parse_instant_ns(bad, now=NOW)


def test_rfc3339_keeps_nanoseconds() -> None:
    assert parse_instant_ns("2023-11-14T22:13:20.123456789Z") == NOW
    assert parse_instant_ns("2023-11-14T23:13:20.123456789+01:00") == NOW
    assert parse_instant_ns("2023-11-14T22:13:20.1Z") == 1_700_000_000_100_000_000
    assert parse_instant_ns("2023-11-14") == 1_699_920_000 * 10**9


def test_epoch_seconds() -> None:
    assert parse_instant_ns("1700000000.123456789") == NOW
    assert parse_instant_ns("1700000000") == 1_700_000_000 * 10**9


def test_datetimes_are_utc() -> None:
    value = parse_instant("1h", now=datetime(2025, 1, 1, 12, tzinfo=UTC))
    assert value == datetime(2025, 1, 1, 11, tzinfo=UTC)
    assert value.tzinfo is not None
    assert to_ns(from_ns(NOW)) == NOW - 789  # datetimes hold microseconds


def test_engine_timestamp_keeps_every_digit() -> None:
    assert engine_timestamp(NOW) == "1700000000.123456789"
    assert engine_timestamp(1_700_000_000_000_000_001) == "1700000000.000000001"
    assert parse_duration_ns("1s") == 10**9

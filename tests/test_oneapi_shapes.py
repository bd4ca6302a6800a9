"""The `one-api` dialect on line shapes the captures do not hold, written from the projects'
format strings: older new-api (logger "[%s] %v | %s | %s \\n" with ERR and "SYSTEM", the consume
line with its balance), a client's own X-Oneapi-Request-Id (new-api keeps it), a Go duration over
a minute, a query string, bookkeeping errors after a 200, and plain output without engine times.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from claude_perf.analysis.pipeline import analyse
from claude_perf.config.schema import Config
from claude_perf.ingest.files import read_logs
from claude_perf.report.summary import build

T = "2026-12-01T06:00:0{}.{:09d}Z "
OLD_NEWAPI = [
    "[SYS] 2026/12/01 - 06:00:00 | New API v0.6.6 started ",
    "[INFO] 2026/12/01 - 06:00:00 | SYSTEM | channel 1 balance updated ",
    # a client's own id (new-api's RequestId middleware keeps the header's)
    "[GIN] 2026/12/01 - 06:01:12 | my-trace-1 | 200 |   1m12.5004s |      172.17.0.1 |    POST /v1/messages?beta=true",
    "[INFO] 2026/12/01 - 06:01:12 | my-trace-1 | record consume log: userId=1, 用户调用前余额=5000, channelId=2, promptTokens=5, completionTokens=6, modelName=claude-3-7-sonnet-20250219, tokenName=t, quota=33,multiplier=模型倍率 1.50 ",
    "[ERR] 2026/12/01 - 06:01:12 | my-trace-1 | error update user quota cache: redis: nil ",
    "[ERR] 2026/12/01 - 06:01:13 | SYSTEM | failed to sync channel cache ",
    "[ERR] 2026/12/01 - 06:01:13 | 20261201060113508443021a8Xk2Lq0 | relay error (channel #2, status code: 429): rate limited ",
    "[GIN] 2026/12/01 - 06:01:13 | 20261201060113508443021a8Xk2Lq0 | 429 |  812.4µs |      172.17.0.1 |    POST /v1/messages",
]


def analysed(tmp_path: Path, lines: list[str], stamped: bool = True):
    if stamped:
        lines = [T.format(i % 10, i * 1000) + line for i, line in enumerate(lines)]
    path = tmp_path / "one-api.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    a = analyse(read_logs([str(path)]), Config())
    return a, a.requests.table.set_index("request_id")


def test_older_new_api_lines(tmp_path: Path) -> None:
    a, table = analysed(tmp_path, OLD_NEWAPI)
    assert list(a.quality.dialects.values()) == [("one-api",)]
    assert sorted(table.index) == ["20261201060113508443021a8Xk2Lq0", "my-trace-1"]
    ok = table.loc["my-trace-1"]
    assert ok["model"] == "claude-3-7-sonnet-20250219" and ok["path"] == "/v1/messages"
    assert ok["latency_s"] == 72.5004  # "1m12.5004s"
    # the quota cache's error came after the answer: the request succeeded
    assert ok["outcome"] == "succeeded" and ok["error_records"] == 0
    limited = table.loc["20261201060113508443021a8Xk2Lq0"]
    assert limited["outcome"] == "failed" and limited["error_class"] == "rate_limit"
    assert "rate limited" in limited["error_message"] and pd.isna(limited["model"])
    assert abs(limited["latency_s"] - 0.0008124) < 1e-9
    assert a.startups_logged and not any(a.restarts_seen.values())


def test_plain_output_without_engine_times_keeps_the_logged_latency(tmp_path: Path) -> None:
    a, table = analysed(tmp_path, OLD_NEWAPI, stamped=False)
    assert list(a.quality.dialects.values()) == [("one-api",)] and len(table) == 2
    assert table.loc["my-trace-1", "latency_s"] == 72.5004
    assert table.loc["my-trace-1", "model"] == "claude-3-7-sonnet-20250219"


def test_a_gin_default_line_is_not_one_api_and_one_api_is_not_gin(tmp_path: Path) -> None:
    gin_default = (
        '[GIN] 2026/12/01 - 03:00:02 | 200 |  1.234567s |      172.17.0.1 | POST     "/v1/messages"'
    )
    a, table = analysed(tmp_path, [gin_default])
    assert list(a.quality.dialects.values()) == [("gin",)] and len(table) == 1


# The shape of one-api v0.6.7 output pasted in songquanpeng/one-api#1973 (ids and values ours):
# the upstream answered 200 with a body one-api could not use, so the relay failed with status
# 200 ("won't retry"), its errors logged before its [GIN] line, which says 200.
ONEAPI_067 = [
    "[SYS] 2026/12/01 - 06:00:00 | One API v0.6.7 started ",
    "[INFO] 2026/12/01 - 06:00:01 | 2026120106000155501234567890123 | user 1 has enough quota 99999, trusted and no need to pre-consume ",
    "[ERR] 2026/12/01 - 06:00:01 | 2026120106000155501234567890123 | relay error happen, status code is 200, won't retry in this case ",
    "[ERR] 2026/12/01 - 06:00:01 | 2026120106000155501234567890123 | relay error (channel id 1, user id: 1): unexpected upstream body ",
    "[GIN] 2026/12/01 - 06:00:01 | 2026120106000155501234567890123 | 200 |  247.072445ms |      172.17.0.1 |    POST /v1/chat/completions",
    "[FATAL] 2026/12/01 - 06:00:02 | [failed to get gpt-3.5-turbo token encoder: permission denied] ",
]


def test_a_relay_failure_answered_200_is_a_failure(tmp_path: Path) -> None:
    a, table = analysed(tmp_path, ONEAPI_067)
    assert list(a.quality.dialects.values()) == [("one-api",)]
    row = table.loc["2026120106000155501234567890123"]
    assert row["status"] == 200 and row["outcome"] == "failed" and row["error_records"] == 2
    assert "won't retry" in row["error_message"] and abs(row["latency_s"] - 0.247072445) < 1e-9
    assert build(a)["lines"]["unparsed"] == 0  # the [SYS] and [FATAL] lines are known


def test_gins_own_lines_in_a_one_api_source_are_still_requests(tmp_path) -> None:
    """one-api's log and another gin service's (gin's default line, no request id) in one
    file: one-api supersedes gin there, so its dialect reads gin's line too (review of
    2026-12-01: 63 of 123 requests before)."""
    captures = Path(__file__).parent.parent / "fixtures" / "captures"
    logs = [
        captures / name / "docker-logs-t.txt" for name in ("oneapi-v0.6.10-c6", "go-gin-release-c6")
    ]
    mixed = tmp_path / "mixed.log"
    mixed.write_bytes(b"".join(sorted(b"".join(p.read_bytes() for p in logs).splitlines(True))))

    def counts(path: Path) -> tuple[int, int]:
        table = analyse(read_logs([str(path)]), Config()).requests.table
        model = table[table["kind"] == "model"]
        return len(model), int((model["outcome"] == "failed").sum())

    alone = [counts(p) for p in logs]
    assert counts(mixed) == (sum(n for n, _ in alone), sum(f for _, f in alone))

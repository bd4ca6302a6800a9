"""Property tests: the parser never raises on any bytes and accounts for every input line."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claude_perf.analysis.pipeline import analyse
from claude_perf.config.schema import Config
from claude_perf.ingest.files import read_log, read_logs
from claude_perf.report.summary import build, dumps

REAL_LINES = [
    '2026-11-29T00:50:50.916774998Z INFO:     172.17.0.1:50264 - "POST /v1/chat/completions HTTP/1.1" 200 OK',
    "2026-11-29T00:50:49.843913252Z 2026-11-29 00:50:49,843 - src.main - INFO - Chat completion: session_id=None, total_messages=1",
    "2026-11-29T00:51:07.390440302Z Error output: Check stderr output for details",
    "2026-11-29T00:51:07.153527400Z 2026-11-29 00:51:07,153 - src.parameter_validator - WARNING - Model 'gpt-4' is not in the known supported models list.",
    '{"log":"INFO:     127.0.0.1:1 - \\"GET /health HTTP/1.1\\" 200 OK\\n","stream":"stdout","time":"2026-11-29T00:50:50.8Z"}',
    '{"event":"request.complete","requestId":"r-1","model":"opus","durationMs":5910,"status":200}',
    "model=opus duration=5.91s status=200",
    "INFO:     Application startup complete.",
    # no engine timestamp: the application's own times, zoned and local, epoch numbers
    "2026-11-29 00:50:49,843 - src.main - INFO - Chat completion: session_id=None, total_messages=1",
    '{"event": "request.start", "timestamp": "2026-11-29T10:00:00Z", "request_id": "a"}',
    '{"level":50,"time":1764410402000,"msg":"boom model=opus"}',
    '{"event": "e", "timestamp": "2026-11-29T12:00:03+02:00", "level": "error"}',
    'INFO:     127.0.0.1:5 - "GET /health HTTP/1.1" 200 OK',
]

line_strategy = st.one_of(
    st.sampled_from(REAL_LINES),
    st.text(max_size=200),
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
    st.sampled_from(REAL_LINES).map(lambda s: s[: len(s) // 2]),  # truncated
)


def expected_lines(data: bytes) -> int:
    if not data:
        return 0
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_any_bytes_never_raise_and_every_line_is_counted(data):
    table, info, _ = read_log("prop", data=data)
    assert info.lines == expected_lines(data) or info.form == "json-file"
    analysis = analyse(read_logs_from(table, info), Config())
    summary = build(analysis)
    assert (
        sum(summary["lines"]["by_kind"].values()) + summary["lines"]["duplicates"]
        == summary["lines"]["total"]
    )
    json.loads(dumps(summary))  # always valid JSON


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(line_strategy, max_size=60), st.randoms(use_true_random=False))
def test_shuffled_duplicated_mixed_lines_are_all_accounted_for(lines, rng):
    lines = lines + lines[: len(lines) // 3]  # duplicates
    rng.shuffle(lines)
    data = ("\n".join(lines)).encode("utf-8", errors="replace")
    table, info, _ = read_log("prop", data=data)
    analysis = analyse(read_logs_from(table, info), Config())
    summary = build(analysis)
    total = summary["lines"]["total"]
    assert sum(summary["lines"]["by_kind"].values()) + summary["lines"]["duplicates"] == total
    requests = summary["requests"]
    assert requests["succeeded"] + requests["failed"] == requests["total"]
    for model in summary["models"]:
        stats = model["latency_s"]
        if stats is not None:
            assert stats["min"] <= stats["p50"] <= stats["p95"] <= stats["p99"] <= stats["max"]


def read_logs_from(table, info):
    from claude_perf.ingest.files import combine

    return combine([table], [info], [{"invalid_utf8": 0, "partial_merged": 0, "broken_json": 0}])


def test_a_ten_megabyte_line_is_one_line(tmp_path):
    path = tmp_path / "big.log"
    path.write_bytes(b"2026-11-29T00:00:00Z " + b"x" * 10_000_000 + b"\nshort\n")
    summary = build(analyse(read_logs([str(path)]), Config()))
    assert summary["lines"]["total"] == 2


def test_empty_file_gives_an_empty_but_valid_summary(tmp_path):
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    summary = build(analyse(read_logs([str(path)]), Config()))
    assert summary["lines"]["total"] == 0
    assert summary["requests"]["total"] == 0
    assert summary["window"]["start"] is None

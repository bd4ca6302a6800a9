"""Client files of other tools read into ClientRecords: known answers on real-shaped samples.

Each sample is written here in the shape its tool documents:

- k6 ``--out json``: https://grafana.com/docs/k6/latest/results-output/real-time/json/ (Metric and
  Point lines); every ``http_req_*`` sample of one request has the request's end time
  (``Trail.EndTime``, k6 lib/netext/httpext/tracer.go) and the same tags.
- AIPerf ``profile_export.jsonl``: AIPerf docs, tutorials/working-with-profile-exports.md (the
  successful and the failed record there).
- GenAI-Perf ``profile_export.json``: experiments[].requests[] with ``timestamp``,
  ``request_inputs.payload`` and ``response_timestamps`` (genai-perf's LLMProfileDataParser input).
- Locust ``--csv``: the ``*_stats.csv`` header Locust writes (times in ms, an ``Aggregated`` row).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from claude_perf.errors import InputError
from claude_perf.ingest.client_files import (
    read_client_file,
    read_client_files,
    records_jsonl,
    rfc3339_ns,
)
from claude_perf.ingest.client_records import ClientRecord

T0 = 1_764_520_000_000_000_000  # 2025-11-30T16:26:40Z


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- claude-perf's own lines


def _record(n: int, **extra: object) -> ClientRecord:
    start = T0 + n * 1_000_000_000
    base: dict[str, object] = {
        "id": f"r-{n}",
        "tool": "claude-perf load",
        "start_ns": start,
        "end_ns": start + 500_000_000,
        "path": "/v1/chat/completions",
        "model_asked": "sonnet",
        "status": 200,
        "ok": True,
    }
    base.update(extra)
    return ClientRecord(**base)  # type: ignore[arg-type]


def test_own_lines_round_trip_in_start_order(tmp_path: Path) -> None:
    records = [_record(2), _record(0, stream=True, first_token_ns=T0 + 100), _record(1)]
    path = tmp_path / "records.jsonl"
    path.write_bytes(records_jsonl(records))
    read = read_client_file(path)
    assert read.format == "claude-perf"
    assert read.records == (records[1], records[2], records[0])
    assert read.notes == ()


def test_a_half_written_last_line_is_counted_and_noted(tmp_path: Path) -> None:
    text = records_jsonl([_record(0), _record(1)]).decode() + '{"schema":"claude-perf/client-re'
    read = read_client_file(_write(tmp_path, "cut.jsonl", text))
    assert [r.id for r in read.records] == ["r-0", "r-1"]
    assert read.notes == (
        f"{tmp_path / 'cut.jsonl'}: last line 3 is cut short (half written): skipped",
    )


def test_a_broken_line_in_the_middle_is_one_line_error(tmp_path: Path) -> None:
    lines = records_jsonl([_record(0), _record(1)]).decode().splitlines()
    path = _write(tmp_path, "bad.jsonl", "\n".join([lines[0], "{oops", lines[1]]) + "\n")
    with pytest.raises(InputError) as error:
        read_client_file(path)
    assert str(error.value) == f"{path}:2: not JSON (a client file's lines are JSON objects)"


def test_unknown_and_empty_files_are_one_line_errors_naming_the_file(tmp_path: Path) -> None:
    for name, text in (("notes.txt", "hello\nworld\n"), ("empty.jsonl", ""), ("x.json", "[1,2]")):
        path = _write(tmp_path, name, text)
        with pytest.raises(InputError) as error:
            read_client_file(path)
        message = str(error.value)
        assert message.startswith(f"{path}: not a client file claude-perf knows (")
        assert "\n" not in message
    with pytest.raises(InputError, match="no such client file"):
        read_client_file(tmp_path / "missing.jsonl")


# ---------------------------------------------------------------- k6


def _k6_point(metric: str, time: str, value: float, tags: dict[str, str]) -> str:
    return json.dumps(
        {"type": "Point", "data": {"time": time, "value": value, "tags": tags}, "metric": metric}
    )


K6_TAGS = {
    "expected_response": "true",
    "group": "",
    "method": "POST",
    "name": "http://127.0.0.1:3456/v1/chat/completions",
    "proto": "HTTP/1.1",
    "scenario": "default",
    "status": "200",
    "url": "http://127.0.0.1:3456/v1/chat/completions",
    "model": "sonnet",
}


def _k6_request(
    time: str, tags: dict[str, str], failed: int, timings: dict[str, float]
) -> list[str]:
    lines = [_k6_point("http_reqs", time, 1, tags)]
    for name, value in timings.items():
        lines.append(_k6_point(f"http_req_{name}", time, value, tags))
    lines.append(_k6_point("http_req_failed", time, failed, tags))
    return lines


def test_k6_points_of_one_request_become_one_record(tmp_path: Path) -> None:
    metric = json.dumps(
        {
            "type": "Metric",
            "data": {"type": "trend", "contains": "time", "thresholds": [], "submetrics": None},
            "metric": "http_req_duration",
        }
    )
    first = _k6_request(
        "2026-11-30T17:00:01.500000000+01:00",
        K6_TAGS,
        0,
        {"duration": 1200.0, "sending": 0.5, "waiting": 1150.0, "receiving": 49.5},
    )
    refused = {**K6_TAGS, "status": "0", "expected_response": "false", "model": "haiku"}
    second = _k6_request("2026-11-30T16:00:02.25Z", refused, 1, {"duration": 0.0, "waiting": 0.0})
    vus = json.dumps(
        {
            "type": "Point",
            "data": {"time": "2026-11-30T16:00:00Z", "value": 1, "tags": None},
            "metric": "vus",
        }
    )
    path = _write(tmp_path, "k6.json", "\n".join([metric, vus, *first, *second]) + "\n")
    read = read_client_file(path)
    assert read.format == "k6"
    end = rfc3339_ns("2026-11-30T16:00:01.5Z", "t")
    assert read.records == (
        ClientRecord(
            id="k6-1",
            tool="k6",
            start_ns=end - 1_200_000_000,
            end_ns=end,
            method="POST",
            path="/v1/chat/completions",
            model_asked="sonnet",
            first_byte_ns=end - 49_500_000,
            status=200,
            ok=True,
        ),
        ClientRecord(
            id="k6-2",
            tool="k6",
            start_ns=rfc3339_ns("2026-11-30T16:00:02.25Z", "t"),
            end_ns=rfc3339_ns("2026-11-30T16:00:02.25Z", "t"),
            method="POST",
            path="/v1/chat/completions",
            model_asked="haiku",
            first_byte_ns=rfc3339_ns("2026-11-30T16:00:02.25Z", "t"),
            status=None,
            ok=False,
            error_class="connect",
        ),
    )


def test_rfc3339_keeps_nanoseconds_and_zones() -> None:
    assert rfc3339_ns("1970-01-01T00:00:01.000000001Z", "t") == 1_000_000_001
    assert rfc3339_ns("1970-01-01T01:00:00.5+01:00", "t") == 500_000_000
    with pytest.raises(InputError, match="not RFC 3339"):
        rfc3339_ns("yesterday", "file:3")


# ---------------------------------------------------------------- AIPerf and GenAI-Perf

AIPERF_OK = {
    "metadata": {
        "session_num": 45,
        "x_request_id": "7609a2e7-aa53-4ab1-98f4-f35ecafefd25",
        "x_correlation_id": "32ee4f33-cfca-4cfc-988f-79b45408b909",
        "conversation_id": "77aa5b0e-b305-423f-88d5-c00da1892599",
        "turn_index": 0,
        "request_start_ns": 1759813207532900363,
        "request_ack_ns": 1759813207650730976,
        "request_end_ns": 1759813207838764604,
        "worker_id": "worker_359d423a",
        "record_processor_id": "record_processor_1fa47cd7",
        "benchmark_phase": "profiling",
        "was_cancelled": False,
        "cancellation_time_ns": None,
    },
    "metrics": {
        "input_sequence_length": {"value": 550, "unit": "tokens"},
        "time_to_first_token": {"value": 255.886568, "unit": "ms"},
        "request_latency": {"value": 297.525228, "unit": "ms"},
        "inter_chunk_latency": {"value": [4.898437, 5.316006], "unit": "ms"},
        "output_sequence_length": {"value": 9, "unit": "tokens"},
    },
    "error": None,
}
AIPERF_FAILED = {
    "metadata": {
        "session_num": 80,
        "x_request_id": "c35e4b1b-6775-4750-b875-94cd68e5ec15",
        "request_start_ns": 1759879161119147826,
        "request_ack_ns": None,
        "request_end_ns": 1759879161119772754,
        "was_cancelled": True,
    },
    "metrics": {"error_isl": {"value": 550, "unit": "tokens"}},
    "error": {"code": 503, "type": "ServiceUnavailable", "message": "overloaded"},
}


def test_aiperf_records_keep_their_request_id_ttft_and_tokens(tmp_path: Path) -> None:
    text = json.dumps(AIPERF_OK) + "\n" + json.dumps(AIPERF_FAILED) + "\n"
    read = read_client_file(_write(tmp_path, "profile_export.jsonl", text))
    assert read.format == "aiperf"
    ok, failed = read.records
    assert ok.id == "7609a2e7-aa53-4ab1-98f4-f35ecafefd25"
    assert (ok.start_ns, ok.end_ns, ok.first_byte_ns) == (
        1759813207532900363,
        1759813207838764604,
        1759813207650730976,
    )
    assert ok.first_token_ns == 1759813207532900363 + 255_886_568
    assert ok.chunk_gaps_s == pytest.approx((0.004898437, 0.005316006))
    assert (ok.input_tokens, ok.output_tokens, ok.stream, ok.ok, ok.status) == (
        550,
        9,
        True,
        True,
        200,
    )
    assert (failed.ok, failed.status, failed.error_class, failed.error) == (
        False,
        503,
        "http_5xx",
        "overloaded",
    )


def test_genai_perf_export_gives_ttft_from_the_first_response(tmp_path: Path) -> None:
    payload = json.dumps({"model": "sonnet", "stream": True, "messages": []})
    document = {
        "experiments": [
            {
                "experiment": {"mode": "concurrency", "value": 1},
                "requests": [
                    {
                        "timestamp": 1_000,
                        "request_inputs": {"payload": payload},
                        "response_timestamps": [3_000, 4_000, 6_000],
                        "response_outputs": [{"response": "data: {}"}] * 3,
                    }
                ],
            }
        ],
        "version": "",
    }
    read = read_client_file(_write(tmp_path, "profile_export.json", json.dumps(document, indent=2)))
    (record,) = read.records
    assert read.format == "genai-perf"
    assert (record.model_asked, record.stream, record.start_ns, record.end_ns) == (
        "sonnet",
        True,
        1_000,
        6_000,
    )
    assert (record.first_token_ns, record.chunks) == (3_000, 3)
    assert record.chunk_gaps_s == pytest.approx((1e-6, 2e-6))


# ---------------------------------------------------------------- Locust

LOCUST = """\
Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%
POST,/v1/chat/completions,120,3,1100,1234.5,800,4100,512,2.0,0.05,1100,1300,1400,1500,2000,2500,3500,4000,4100,4100,4100
,Aggregated,120,3,1100,1234.5,800,4100,512,2.0,0.05,1100,1300,1400,1500,2000,2500,3500,4000,4100,4100,4100
"""


def test_locust_stats_are_aggregates_only_and_say_so(tmp_path: Path) -> None:
    path = _write(tmp_path, "run_stats.csv", LOCUST)
    read = read_client_file(path)
    assert (read.format, read.records) == ("locust", ())
    first, total = read.aggregates
    assert (first.method, first.name, first.requests, first.failures) == (
        "POST",
        "/v1/chat/completions",
        120,
        3,
    )
    assert (first.mean_s, first.p50_s, first.p95_s, first.p99_s, first.max_s) == pytest.approx(
        (1.2345, 1.1, 2.5, 4.0, 4.1)
    )
    assert (total.method, total.name, total.requests_per_s) == (None, "Aggregated", 2.0)
    assert read.notes == (
        f"{path}: Locust writes aggregates only: no per-request records to join or rank",
    )


def test_several_files_merge_in_start_order_and_gzip_is_read(tmp_path: Path) -> None:
    later = tmp_path / "later.jsonl.gz"
    later.write_bytes(gzip.compress(records_jsonl([_record(5)])))
    earlier = tmp_path / "earlier.jsonl"
    earlier.write_bytes(records_jsonl([_record(1)]))
    locust = _write(tmp_path, "x_stats.csv", LOCUST)
    merged = read_client_files([later, earlier, locust])
    assert [r.id for r in merged.records] == ["r-1", "r-5"]
    assert merged.formats == ("claude-perf", "claude-perf", "locust")
    assert len(merged.aggregates) == 2 and len(merged.notes) == 1

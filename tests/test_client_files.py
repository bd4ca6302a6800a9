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
- llmperf: ``*_summary.json`` as LLMPerfResults.to_dict flattens token_benchmark_ray.py's
  metrics_summary (keys and figures of 01-ai-Yi-1-5-34B-Chat_550_150_summary.json in its repo) and
  ``*_individual_responses.json`` records as its OpenAI chat client fills them (errors included).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from claude_perf.analysis.client_view import reduce_aggregate
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
    for impossible in ("2026-11-30T16:00:61Z", "2026-13-30T16:00:00Z", "2026-11-30T16:00:00+25:00"):
        with pytest.raises(InputError, match=r"^file:3: time .* is not a real instant$"):
            rfc3339_ns(impossible, "file:3")


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


# ---------------------------------------------------------------- llmperf


def _llmperf_stats(metric: str, quantiles: tuple[float, ...], rest: tuple[Any, ...]) -> dict:
    """One metric as LLMPerfResults.to_dict flattens metrics_summary's nested dict."""
    names = ("p25", "p50", "p75", "p90", "p95", "p99")
    flat: dict[str, Any] = {
        f"results_{metric}_quantiles_{n}": v for n, v in zip(names, quantiles, strict=True)
    }
    stats = (f"results_{metric}_{s}" for s in ("mean", "min", "max", "stddev"))
    flat.update(zip(stats, rest, strict=True))
    return flat


def _llmperf_summary(**changes: Any) -> dict[str, Any]:
    """llmperf's 01-ai-Yi-1-5-34B-Chat_550_150_summary.json (its repo), key order kept: the run's
    parameters, metrics_summary flattened (token counts' min/max as strings: numpy ints through
    json.dump(default=str)), a --metadata key, then the timestamp."""
    summary: dict[str, Any] = {
        "version": "2023-08-31",
        "name": "01-ai-Yi-1-5-34B-Chat_550_150_summary",
        "model": "01-ai/Yi-1.5-34B-Chat",
        "mean_input_tokens": 550,
        "stddev_input_tokens": 0,
        "mean_output_tokens": 150,
        "stddev_output_tokens": 0,
        "num_concurrent_requests": 1,
    }
    summary |= _llmperf_stats(
        "inter_token_latency_s",
        (0.0449, 0.0451, 0.0453, 0.0455, 0.0456, 0.0458),
        (0.0452, 0.0410, 0.0463, 0.0007),
    )
    summary |= _llmperf_stats(
        "ttft_s", (0.5321, 0.5705, 0.6051, 0.6370, 0.6722, 0.7493), (0.5784, 0.4817, 0.8120, 0.0612)
    )
    summary |= _llmperf_stats(
        "end_to_end_latency_s",
        (7.1834, 7.1880, 7.1950, 7.2203, 7.2331, 7.2436),
        (7.1799, 6.2535, 7.2444, 0.1039),
    )
    summary |= _llmperf_stats(
        "request_output_throughput_token_per_s",
        (20.80, 20.84, 20.88, 20.93, 20.97, 21.03),
        (20.85, 20.65, 23.98, 0.36),
    )
    summary |= _llmperf_stats("number_input_tokens", (550.0,) * 6, (550.0, "550", "550", 0.0))
    summary |= _llmperf_stats(
        "number_output_tokens",
        (150.0, 150.0, 150.0, 151.0, 151.0, 152.0),
        (150.4, "130", "152", 2.3),
    )
    summary |= {
        "results_num_requests_started": 83,
        "results_error_rate": 0.0,
        "results_number_errors": 0,
        "results_error_code_frequency": "{}",
        "results_mean_output_throughput_token_per_s": 21.67,
        "results_num_completed_requests": 83,
        "results_num_completed_requests_per_min": 8.21,
        "purpose": "experiments",  # --metadata purpose=experiments: not GenAI-Perf's key
        "timestamp": 1718205712,
    }
    return summary | changes


LLMPERF_NOT_JOINED = (
    "llmperf writes no wall-clock time, model per request or request id, "
    "so nothing is joined with the proxy's requests"
)


def test_llmperf_summary_is_one_aggregate_row_with_its_figures(tmp_path: Path) -> None:
    path = _write(tmp_path, "s_summary.json", json.dumps(_llmperf_summary(), indent=4))
    read = read_client_file(path)
    assert (read.format, read.records) == ("llmperf", ())
    (row,) = read.aggregates
    assert (row.tool, row.name, row.method, row.requests, row.failures) == (
        "llmperf",
        "01-ai/Yi-1.5-34B-Chat",
        None,
        83,
        0,
    )
    # end-to-end latency: mean, p50, p95, p99, max; then TTFT p50, p95 as the file gives them
    assert (row.mean_s, row.p50_s, row.p95_s, row.p99_s, row.max_s) == (
        7.1799,
        7.1880,
        7.2331,
        7.2436,
        7.2444,
    )
    assert (row.ttft_p50_s, row.ttft_p95_s) == (0.5705, 0.6722)
    assert row.requests_per_s == pytest.approx(8.21 / 60)  # completed requests per minute / 60
    assert read.notes == (f"{path}: llmperf summary, aggregates only: {LLMPERF_NOT_JOINED}",)


def test_an_llmperf_summary_on_one_line_is_read_too(tmp_path: Path) -> None:
    path = _write(tmp_path, "s_summary.json", json.dumps(_llmperf_summary(model="m")) + "\n")
    (row,) = read_client_file(path).aggregates
    assert (row.name, row.requests, row.p50_s) == ("m", 83, 7.1880)


def test_an_llmperf_summary_where_every_request_failed_has_unknown_figures(
    tmp_path: Path,
) -> None:
    # metrics_summary over no successful request: pandas gives NaN quantiles, mean, min, max
    # (json.dump writes NaN); a hand-trimmed file may lack the keys altogether
    failed = {
        "results_num_requests_started": 5,
        "results_number_errors": 5,
        "results_num_completed_requests": 0,
        "results_num_completed_requests_per_min": 0.0,
        "results_error_code_frequency": "{429: 5}",
    }
    nan = {k: float("nan") for k in _llmperf_summary() if k.startswith("results_") and "_s_" in k}
    missing = {k: v for k, v in _llmperf_summary(**failed).items() if k not in nan}
    for name, summary in (
        ("nan_summary.json", _llmperf_summary(**nan, **failed)),
        ("missing_summary.json", missing),
    ):
        text = json.dumps(summary, indent=4)
        assert ("NaN" in text) == (name == "nan_summary.json")
        (row,) = read_client_file(_write(tmp_path, name, text)).aggregates
        assert (row.requests, row.failures, row.requests_per_s) == (5, 5, 0.0)
        figures = (row.mean_s, row.p50_s, row.p95_s, row.p99_s, row.max_s)
        assert (*figures, row.ttft_p50_s, row.ttft_p95_s) == (None,) * 7


def _llmperf_response(e2e: float | None, ttft: float | None, **error: Any) -> dict[str, Any]:
    """One record of *_individual_responses.json as token_benchmark_ray.py writes it."""
    return {
        "error_code": error.get("code"),
        "error_msg": error.get("msg", ""),
        "inter_token_latency_s": 0.0453 if e2e else 0,
        "ttft_s": ttft,
        "end_to_end_latency_s": e2e,
        "request_output_throughput_token_per_s": 159 / e2e if e2e else 0,
        "number_total_tokens": 709 if e2e else 550,
        "number_output_tokens": 159 if e2e else 0,
        "number_input_tokens": 550,
    }


LLMPERF_RESPONSES = [
    # an error first: its record has every key too (the client sets them all), values 0
    _llmperf_response(0, 0, code=429, msg="Too Many Requests"),
    _llmperf_response(7.2014, 0.6051),
    _llmperf_response(6.2535, 0.5112),
    _llmperf_response(7.1880, 0.7320),
    _llmperf_response(None, None, code=500, msg='{"error": "upstream"}'),
    _llmperf_response(7.2444, 0.5987),
    _llmperf_response(7.1834, 0.6604),
]


def test_llmperf_individual_responses_are_aggregated_without_their_errors(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path, "m_individual_responses.json", json.dumps(LLMPERF_RESPONSES, indent=4))
    read = read_client_file(path)
    assert (read.format, read.records) == ("llmperf", ())
    (read_row,) = read.aggregates
    assert read_row.p50_s is None and len(read_row.latencies_s) == 5  # figures: the analysis'
    row = reduce_aggregate(read_row)
    assert (row.latencies_s, row.ttfts_s) == ((), ())
    assert (row.tool, row.name, row.method) == (
        "llmperf",
        "individual responses (no model in the file)",
        None,
    )
    assert (row.requests, row.failures, row.requests_per_s) == (7, 2, None)
    # the 5 successes sorted: 6.2535 7.1834 7.1880 7.2014 7.2444 (the errors' 0 and null out);
    # type 7: p95 at rank 3.8 = 7.2014 + 0.8 × 0.043, p99 at 3.96 = 7.2014 + 0.96 × 0.043
    assert row.mean_s == pytest.approx(35.0707 / 5)
    assert (row.p50_s, row.p95_s, row.p99_s, row.max_s) == pytest.approx(
        (7.1880, 7.2358, 7.24268, 7.2444)
    )
    # TTFT of the successes: 0.5112 0.5987 0.6051 0.6604 0.7320; p95 = 0.6604 + 0.8 × 0.0716
    assert (row.ttft_p50_s, row.ttft_p95_s) == pytest.approx((0.6051, 0.71768))
    assert read.notes == (
        f"{path}: llmperf individual responses, aggregated here: {LLMPERF_NOT_JOINED}",
    )


def test_llmperf_responses_a_zero_ttft_is_no_token_not_an_instant_one(tmp_path: Path) -> None:
    # llmperf's clients start ttft at 0 and set it at the first content token
    responses = [_llmperf_response(2.0, 0), _llmperf_response(4.0, 0.5)]
    path = _write(tmp_path, "r.json", json.dumps(responses))
    row = reduce_aggregate(*read_client_file(path).aggregates)
    assert (row.requests, row.failures, row.p50_s) == (2, 0, 3.0)
    assert (row.ttft_p50_s, row.ttft_p95_s) == (0.5, 0.5)


@pytest.mark.parametrize(
    ("name", "document", "message"),
    [
        (
            "items_individual_responses.json",
            [_llmperf_response(1.0, 0.1), "oops"],
            "llmperf response 2 is not a JSON object",
        ),
        (
            "e2e_individual_responses.json",
            [
                _llmperf_response(1.0, 0.1),
                _llmperf_response(1.0, 0.1) | {"end_to_end_latency_s": "slow"},
            ],
            "llmperf response 2 end_to_end_latency_s 'slow' is not a number",
        ),
        (
            "count_summary.json",
            _llmperf_summary(results_num_requests_started="83"),
            "llmperf summary results_num_requests_started '83' is not a count (an integer)",
        ),
        (
            "errors_summary.json",
            _llmperf_summary(results_number_errors=1.5),
            "llmperf summary results_number_errors 1.5 is not a count (an integer)",
        ),
        (
            "more_summary.json",
            _llmperf_summary(results_number_errors=84),
            "llmperf summary has more errors (84) than requests",
        ),
        (
            "figure_summary.json",
            _llmperf_summary(results_end_to_end_latency_s_max=[7.2]),
            "llmperf summary results_end_to_end_latency_s_max [7.2] is not a number",
        ),
        (
            "huge_summary.json",
            _llmperf_summary(results_end_to_end_latency_s_mean=10**400),
            "llmperf summary results_end_to_end_latency_s_mean is out of range",
        ),
    ],
)
def test_bad_llmperf_files_are_one_line_errors_naming_the_file(
    tmp_path: Path, name: str, document: Any, message: str
) -> None:
    path = _write(tmp_path, name, json.dumps(document, indent=4))
    with pytest.raises(InputError) as error:
        read_client_file(path)
    assert str(error.value) == f"{path}: {message}"


def test_json_arrays_and_objects_of_other_shapes_are_not_llmperf(tmp_path: Path) -> None:
    other_arrays = (
        [],
        [{"ttft_s": 0.1}],  # no end_to_end_latency_s in the first object
        ["end_to_end_latency_s", "ttft_s"],
        [{"x": 1}, {"end_to_end_latency_s": 1.0, "ttft_s": 0.1}],
    )
    for n, document in enumerate(other_arrays):
        path = _write(tmp_path, f"a{n}.json", json.dumps(document, indent=4))
        with pytest.raises(InputError, match="not a client file claude-perf knows"):
            read_client_file(path)
    # a results_ key and a version but no llmperf figure: still unknown, one line
    path = _write(tmp_path, "o.json", json.dumps({"notes": "results_ later"}, indent=4))
    with pytest.raises(InputError, match="not a client file claude-perf knows"):
        read_client_file(path)


def test_a_genai_perf_export_with_llmperf_like_keys_is_still_genai_perf(tmp_path: Path) -> None:
    document = {
        "version": "1",
        "results_note": "x",
        "experiments": [
            {"requests": [{"timestamp": 1_000, "response_timestamps": [3_000, 4_000]}]}
        ],
    }
    read = read_client_file(_write(tmp_path, "profile_export.json", json.dumps(document, indent=2)))
    assert (read.format, len(read.records), read.aggregates) == ("genai-perf", 1, ())

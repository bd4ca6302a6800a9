"""`report --client`: the Client view in JSON and Markdown (exact), gates, compare and bundles.

The crafted session: a Node proxy's morgan lines (explicit durations: each request's start is its
end minus its duration) and three client records: two sonnet requests the log shows (the client's
clock 0.5 ms behind at the midpoints), one haiku request refused at connect; and one health check
in the log that no client sent.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from claude_perf.ci.compare import compare
from claude_perf.ingest.bundle import read_bundle, write_bundle
from claude_perf.ingest.client_files import rfc3339_ns
from claude_perf.ingest.client_records import ClientRecord, record_to_json
from claude_perf.ingest.files import read_logs
from claude_perf.ingest.session import Session
from tests.cli_support import run_cli
from tests.test_client_files import _llmperf_response

LOG = """\
2025-11-30T10:00:00.000000000Z Server listening on 3456
2025-11-30T10:00:01.000000000Z POST /v1/chat/completions 200 900.000 ms - 100
2025-11-30T10:00:02.500000000Z GET /health 200 1.000 ms - 2
2025-11-30T10:00:03.000000000Z POST /v1/chat/completions 200 1500.000 ms - 300
"""


def at(text: str) -> int:
    return rfc3339_ns(f"2025-11-30T10:00:{text}Z", "test")


RECORDS = (
    ClientRecord(
        id="r1",
        tool="claude-perf load",
        start_ns=at("00.095"),
        end_ns=at("01.004"),
        path="/v1/chat/completions",
        model_asked="sonnet",
        stream=False,
        status=200,
        ok=True,
        input_tokens=12,
        output_tokens=30,
        cost_usd=0.0123,
    ),
    ClientRecord(
        id="r2",
        tool="claude-perf load",
        start_ns=at("01.495"),
        end_ns=at("03.004"),
        path="/v1/chat/completions",
        model_asked="sonnet",
        stream=True,
        first_byte_ns=at("01.600"),
        first_token_ns=at("02.000"),
        chunks=3,
        chunk_gaps_s=(0.01, 0.03),
        status=200,
        ok=True,
        output_tokens=60,
    ),
    ClientRecord(
        id="r3",
        tool="claude-perf load",
        start_ns=at("04.000"),
        end_ns=at("04.001"),
        path="/v1/chat/completions",
        model_asked="haiku",
        status=None,
        ok=False,
        error_class="connect",
        error="connection refused",
    ),
)
SLO = ("--slo", "ttft=1s", "--slo", "latency=1.2s")


def stats(n: int, mean: float, p50: float, p90: float, p95: float, p99: float) -> dict[str, Any]:
    return {"n": n, "mean": mean, "p50": p50, "p90": p90, "p95": p95, "p99": p99}


EXPECTED_CLIENT = {
    "records": 3,
    "tools": ["claude-perf load"],
    "matched": 2,
    "matched_by_id": 0,
    "unmatched_client": 1,
    "unmatched_server": 1,
    "outside_window": 0,
    "clock_offset_s": 0.0005,
    "match_tolerance_s": 0.001,
    "slo": {"ttft_s": 1.0, "latency_s": 1.2, "itl_s": None, "output_tokens_per_s": None},
    # r1 is good (0.909 s; its TTFT is its latency, 0.909 s ≤ 1 s); r2 took 1.509 s > 1.2 s
    "goodput": {"good": 1, "requests": 3, "share": 0.3333, "per_s": 0.256},  # 1 / 3.906 s
    "errors": {"connect": 1},
    "cost_basis": "API-equivalent: what the responses reported, not money spent on a subscription",
    "models": [
        {
            "model": "sonnet",
            "requests": 2,
            "succeeded": 2,
            "failed": 0,
            "latency_s": stats(2, 1.209, 1.209, 1.449, 1.479, 1.503),  # 0.909 and 1.509 s
            "ttft_s": stats(1, 0.505, 0.505, 0.505, 0.505, 0.505),
            "inter_token_latency_s": stats(1, 0.02, 0.02, 0.02, 0.02, 0.02),  # gaps 10, 30 ms
            "output_tokens_per_s": {
                # 30 / 0.909 = 33.0033 and 60 / 1.509 = 39.7614 tokens/s
                "per_request": stats(2, 36.382366, 36.382366, 39.085618, 39.423525, 39.69385),
                "overall": 30.9385,  # 90 tokens / 2.909 s
            },
            "tokens": {"input": 12, "output": 90, "cache_read": None, "cache_creation": None},
            "cost_usd": 0.0123,
            "goodput": {"good": 1, "requests": 2, "share": 0.5, "per_s": 0.3438},
            "server": {
                "matched": 2,
                "inferred_pairings": 0,
                "latency_s": {"n": 2, "p50": 1.2, "p95": 1.47},  # 0.9 and 1.5 s logged
                "ttfb_s": None,
                "difference_p50_s": 0.009,
            },
        },
        {
            "model": "haiku",
            "requests": 1,
            "succeeded": 0,
            "failed": 1,
            "latency_s": None,
            "ttft_s": None,
            "inter_token_latency_s": None,
            "output_tokens_per_s": {"per_request": None, "overall": None},
            "tokens": {"input": None, "output": None, "cache_read": None, "cache_creation": None},
            "cost_usd": None,
            "goodput": {"good": 0, "requests": 1, "share": 0.0, "per_s": 0.0},
            "server": {
                "matched": 0,
                "inferred_pairings": 0,
                "latency_s": None,
                "ttfb_s": None,
                "difference_p50_s": None,
            },
        },
    ],
    "aggregates": [],
}

EXPECTED_SECTION = """\
## 4. Client view

- **Client records:** 3 from claude-perf load
- **Matched with the proxy's log:** 2/3 (66.7%)
- **Client requests the logs do not show:** 1
- **Logged requests no client sent:** 1 in the clients' window
- **Clock offset (log − client):** +0.5 ms, matched within ±1.0 ms (both estimated from the pairs)
- **Goodput (TTFT ≤ 1.00 s, latency ≤ 1.20 s):** 1 of 3 requests (33.3%), 0.256 good requests/s
- **Client-side failures:** connect 1

| Model asked |    Succeeded |    p50 |    p95 |    p99 | TTFT p50 | TTFT p95 | ITL mean | Server p50 | Server p95 | Client − server |
| ----------- | -----------: | -----: | -----: | -----: | -------: | -------: | -------: | ---------: | ---------: | --------------: |
| sonnet      | 2/2 (100.0%) | 1.21 s | 1.48 s | 1.50 s |   0.51 s |   0.51 s |    20 ms |     1.20 s |     1.47 s |            9 ms |
| haiku       |   0/1 (0.0%) |      – |      – |      – |        – |        – |        – |          – |          – |               – |

| Model asked | Tokens in | Tokens out | Cache read | Cache created | Out tok/s p50 | Out tok/s overall | Cost (API-eq.) |     Goodput |
| ----------- | --------: | ---------: | ---------: | ------------: | ------------: | ----------------: | -------------: | ----------: |
| sonnet      |        12 |         90 |          – |             – |          36.4 |              30.9 |        $0.0123 | 1/2 (50.0%) |
| haiku       |         – |          – |          – |             – |             – |                 – |              – |  0/1 (0.0%) |

Server p50/p95 are the proxy's logged latencies of the same (matched) requests; client − server is the median difference over requests timed on both sides: the network, queueing before the proxy's first log line and the time after its last.

Cost is what the responses reported, API-equivalent: on a subscription plan it is what the same tokens would cost on the API, not money spent.

"""


@pytest.fixture()
def session_files(tmp_path: Path) -> tuple[Path, Path]:
    log = tmp_path / "session.log"
    log.write_text(LOG)
    clients = tmp_path / "clients.jsonl"
    clients.write_text("".join(record_to_json(r) + "\n" for r in RECORDS))
    return log, clients


def report(log: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("report", "-i", str(log), *args)


def test_json_client_key_exactly(session_files: tuple[Path, Path]) -> None:
    log, clients = session_files
    result = report(log, "--client", str(clients), *SLO, "-f", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["client"] == EXPECTED_CLIENT
    without = report(log, "-f", "json")
    assert json.loads(without.stdout)["client"] is None


def test_markdown_client_view_exactly(session_files: tuple[Path, Path], tmp_path: Path) -> None:
    log, clients = session_files
    out = tmp_path / "report.md"
    result = report(log, "--client", str(clients), *SLO, "-o", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    section = text[text.index("## 4. Client view") : text.index("## 5. ")]
    chart = "![Client latency and time to first token per model](report-charts/client_latency_ttft.png)\n\n"
    assert section == EXPECTED_SECTION + chart
    assert (tmp_path / "report-charts" / "client_latency_ttft.png").read_bytes()[:4] == b"\x89PNG"
    html = report(log, "--client", str(clients), "-f", "html", "--no-charts").stdout
    assert '<section id="client">' in html and "Client − server" in html


def test_gates_on_the_client_view_exit_3(session_files: tuple[Path, Path]) -> None:
    log, clients = session_files
    gates = ("--max-ttft-p95", "sonnet=400ms", "--min-goodput", "50")
    result = report(log, "--client", str(clients), *SLO, *gates, "-f", "json")
    assert result.returncode == 3
    assert result.stderr.strip().splitlines()[-1] == (
        "claude-perf: error: 2 quality gates failed: max-ttft-p95 sonnet: p95 TTFT of sonnet "
        "0.505 s > 0.4 s (n=1); min-goodput: goodput 33.33% (1 good) < 50%"
    )
    passing = report(log, "--client", str(clients), *SLO, "--max-ttft-p95", "sonnet=1s")
    assert passing.returncode == 0, passing.stderr
    no_slo = report(log, "--client", str(clients), "--min-goodput", "10", "-f", "json")
    assert no_slo.returncode == 3
    assert json.loads(no_slo.stdout)["gates"][0]["text"] == "no --slo given"


def test_client_usage_errors_are_one_line_exit_2(
    session_files: tuple[Path, Path], tmp_path: Path
) -> None:
    log, clients = session_files
    unknown_model = report(log, "--client", str(clients), "--max-ttft-p95", "opus=1s")
    assert unknown_model.returncode == 2
    assert unknown_model.stderr.strip() == (
        "claude-perf: error: --max-ttft-p95: model 'opus' was not asked by any client "
        "(models asked: sonnet, haiku)"
    )
    bad_slo = report(log, "--slo", "ttft=soon")
    assert bad_slo.returncode == 2
    assert bad_slo.stderr.strip().startswith("claude-perf: error: config: slo.ttft_s")
    assert report(log, "--slo", "speed=1").stderr.strip() == (
        "claude-perf: error: --slo: unknown objective 'speed' (known: ttft, latency, itl, tokens_per_s)"
    )
    junk = tmp_path / "junk.txt"
    junk.write_text("not a client file\n")
    result = report(log, "--client", str(junk))
    assert result.returncode == 2
    assert result.stderr.strip().startswith(f"claude-perf: error: {junk}: not a client file")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_half_written_client_file_is_reported_with_a_note(
    session_files: tuple[Path, Path],
) -> None:
    log, clients = session_files
    clients.write_text(clients.read_text() + '{"schema":"claude-perf/client-record/1","id":"r4"')
    result = report(log, "--client", str(clients), "-f", "json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["client"]["records"] == 3
    assert (
        f"{clients}: last line 4 is cut short (half written): skipped"
        in summary["data_quality"]["notes"]
    )


def test_compare_flags_client_ttft_and_token_rate_regressions() -> None:
    def summary(ttft_p50: float, rate_p50: float, n: int = 8) -> dict[str, Any]:
        model = {
            "model": "sonnet",
            "ttft_s": {"n": n, "p50": ttft_p50, "p95": ttft_p50 * 2},
            "output_tokens_per_s": {"per_request": {"n": n, "p50": rate_p50}},
        }
        return {"models": [], "requests": {}, "client": {"models": [model]}}

    result = compare(summary(1.0, 40.0), summary(1.5, 30.0))
    verdicts = {(d.scope, d.metric): d.verdict for d in result.deltas}
    assert verdicts[("client sonnet", "p50_ttft_s")] == "regression"
    assert verdicts[("client sonnet", "p95_ttft_s")] == "regression"
    assert verdicts[("client sonnet", "p50_output_tokens_per_s")] == "regression"
    noise = compare(summary(1.0, 40.0, n=3), summary(1.5, 30.0, n=3))
    assert {d.verdict for d in noise.deltas if d.scope.startswith("client")} == {"noise"}
    one_side = compare(summary(1.0, 40.0), {"models": [], "requests": {}, "client": None})
    assert "client records are on one side only: the client view is not compared" in one_side.notes


def test_a_bundle_carries_its_client_records(
    session_files: tuple[Path, Path], tmp_path: Path
) -> None:
    log, _ = session_files
    session = Session(read_logs([str(log)]), clients=RECORDS)
    for dest in (tmp_path / "bundle", tmp_path / "bundle.tar.gz"):
        write_bundle(session, dest)
        assert read_bundle(dest).clients == RECORDS
    assert read_bundle(tmp_path / "bundle").notes == ()
    result = run_cli("report", "-i", str(tmp_path / "bundle"), *SLO, "-f", "json")
    assert json.loads(result.stdout)["client"] == EXPECTED_CLIENT


# ---------------------------------------------------------------- aggregate-only client files

LOCUST_STATS = """\
Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%
POST,/v1/chat/completions,120,3,1100,1234.5,800,4100,512,2.0,0.05,1100,1300,1400,1500,2000,2500,3500,4000,4100,4100,4100
"""
# llmperf's *_summary.json: LLMPerfResults.to_dict's flat keys (a shortened set), token counts'
# min/max as json.dump(default=str) writes numpy ints, and a --metadata key
LLMPERF_SUMMARY = {
    "version": "2023-08-31",
    "name": "claude-sonnet_550_150_summary",
    "model": "claude-sonnet",
    "mean_input_tokens": 550,
    "num_concurrent_requests": 2,
    "results_ttft_s_quantiles_p50": 0.25,
    "results_ttft_s_quantiles_p95": 0.61,
    "results_end_to_end_latency_s_quantiles_p50": 1.4,
    "results_end_to_end_latency_s_quantiles_p95": 2.6,
    "results_end_to_end_latency_s_quantiles_p99": 3.1,
    "results_end_to_end_latency_s_mean": 1.5,
    "results_end_to_end_latency_s_min": 0.9,
    "results_end_to_end_latency_s_max": 3.3,
    "results_number_output_tokens_min": "120",
    "results_number_output_tokens_max": "152",
    "results_num_requests_started": 40,
    "results_error_rate": 0.05,
    "results_number_errors": 2,
    "results_error_code_frequency": "{429: 2}",
    "results_num_completed_requests": 38,
    "results_num_completed_requests_per_min": 90.0,
    "run": "proxy-a",
    "timestamp": 1764496805,
}


def _response(e2e: float, ttft: float, code: int | None = None) -> dict[str, Any]:
    return _llmperf_response(e2e, ttft, code=code, msg="Service Unavailable" if code else "")


LLMPERF_RESPONSES = [_response(2.0, 0.2), _response(0, 0, 503), _response(5.0, 0.3)]
LLMPERF_RESPONSES.insert(1, _response(3.0, 0.4))

EXPECTED_AGGREGATES_MD = """\
| Tool    | Endpoint or model                           | Requests | Failures |   Mean |    p50 |    p95 |    p99 | TTFT p50 | TTFT p95 | Req/s |
| ------- | ------------------------------------------- | -------: | -------: | -----: | -----: | -----: | -----: | -------: | -------: | ----: |
| llmperf | claude-sonnet                               |       40 |        2 | 1.50 s | 1.40 s | 2.60 s | 3.10 s |   0.25 s |   0.61 s |  1.50 |
| llmperf | individual responses (no model in the file) |        4 |        1 | 3.33 s | 3.00 s | 4.80 s | 4.96 s |   0.30 s |   0.39 s |     – |
| locust  | POST /v1/chat/completions                   |      120 |        3 | 1.23 s | 1.10 s | 2.50 s | 4.00 s |        – |        – |  2.00 |

Aggregates only (llmperf's records carry no wall-clock time, model or request id; Locust writes no per-request records): not joined with the logs, no per-model split, percentiles as the tool computed them. llmperf's latency and TTFT figures are over its requests without an error code; those of its individual responses are computed here (linear quantiles, as its summary's).

"""
LOCUST_ONLY_MD = """\
| Tool   | Endpoint                  | Requests | Failures |   Mean |    p50 |    p95 |    p99 | Req/s |
| ------ | ------------------------- | -------: | -------: | -----: | -----: | -----: | -----: | ----: |
| locust | POST /v1/chat/completions |      120 |        3 | 1.23 s | 1.10 s | 2.50 s | 4.00 s |  2.00 |

Aggregates only (Locust writes no per-request records): not joined with the logs, no per-model split, percentiles as the tool computed them.

"""


def _aggregate(tool: str, name: str, method: str | None, counts: tuple[int, int]) -> dict[str, Any]:
    return {
        "tool": tool,
        "name": name,
        "method": method,
        "requests": counts[0],
        "failures": counts[1],
    }


EXPECTED_AGGREGATES_JSON = [
    _aggregate("llmperf", "claude-sonnet", None, (40, 2))
    | {"mean_s": 1.5, "p50_s": 1.4, "p95_s": 2.6, "p99_s": 3.1, "max_s": 3.3}
    | {"requests_per_s": 1.5, "ttft_p50_s": 0.25, "ttft_p95_s": 0.61},  # 90 per minute
    # mean 10/3 s; type 7: p95 at rank 1.9 = 3 + 0.9 × 2, p99 at 1.98; TTFT p95 0.3 + 0.9 × 0.1
    _aggregate("llmperf", "individual responses (no model in the file)", None, (4, 1))
    | {"mean_s": 3.333333, "p50_s": 3.0, "p95_s": 4.8, "p99_s": 4.96, "max_s": 5.0}
    | {"requests_per_s": None, "ttft_p50_s": 0.3, "ttft_p95_s": 0.39},
    _aggregate("locust", "/v1/chat/completions", "POST", (120, 3))
    | {"mean_s": 1.2345, "p50_s": 1.1, "p95_s": 2.5, "p99_s": 4.0, "max_s": 4.1}
    | {"requests_per_s": 2.0, "ttft_p50_s": None, "ttft_p95_s": None},
]


@pytest.fixture()
def aggregate_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    summary = tmp_path / "claude-sonnet_550_150_summary.json"
    summary.write_text(json.dumps(LLMPERF_SUMMARY, indent=4))  # as llmperf writes it
    responses = tmp_path / "claude-sonnet_550_150_individual_responses.json"
    responses.write_text(json.dumps(LLMPERF_RESPONSES, indent=4))
    locust = tmp_path / "run_stats.csv"
    locust.write_text(LOCUST_STATS)
    return summary, responses, locust


def _aggregates_md(text: str) -> str:
    section = text[text.index("## 4. Client view") : text.index("## 5. ")]
    return section[section.index("| Tool ") :]


def test_llmperf_and_locust_aggregates_in_markdown_and_json(
    session_files: tuple[Path, Path], aggregate_files: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    log, _ = session_files
    clients = [arg for path in aggregate_files for arg in ("--client", str(path))]
    out = tmp_path / "report.md"
    result = report(log, *clients, "--no-charts", "-o", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert _aggregates_md(text) == EXPECTED_AGGREGATES_MD
    # no per-request record: no match with the log to speak of ("0/0" before)
    section = text[text.index("## 4. Client view") : text.index("| Tool ")]
    assert "- **Client records:** none per request (llmperf, locust: aggregates only, below)" in (
        section
    )
    assert "Matched with the proxy" not in section and "no client sent" not in section
    summary, responses, _ = aggregate_files
    not_joined = (
        "llmperf writes no wall-clock time, model per request or request id, "
        "so nothing is joined with the proxy's requests"
    )
    notes = (
        f"{summary}: llmperf summary, aggregates only: {not_joined}",
        f"{responses}: llmperf individual responses, aggregated here: {not_joined}",
    )
    data_quality = text[text.index("Data quality") :]
    assert all(f"- {note.replace('_', chr(92) + '_')}\n" in data_quality for note in notes)
    as_json = json.loads(report(log, *clients, "-f", "json").stdout)
    assert as_json["client"]["tools"] == ["llmperf", "locust"]
    assert as_json["client"]["aggregates"] == EXPECTED_AGGREGATES_JSON
    assert set(notes) <= set(as_json["data_quality"]["notes"])


def test_a_locust_only_table_has_no_ttft_columns(
    session_files: tuple[Path, Path], aggregate_files: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    log, _ = session_files
    locust = aggregate_files[2]
    out = tmp_path / "report.md"
    result = report(log, "--client", str(locust), "--no-charts", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert _aggregates_md(out.read_text()) == LOCUST_ONLY_MD


def test_a_bad_llmperf_file_is_one_line_exit_2(
    session_files: tuple[Path, Path], tmp_path: Path
) -> None:
    log, _ = session_files
    bad = tmp_path / "x_individual_responses.json"
    bad.write_text(json.dumps([_response(2.0, 0.2), [1, 2]], indent=4))
    result = report(log, "--client", str(bad))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"claude-perf: error: {bad}: llmperf response 2 is not a JSON object"
    )
    counts = tmp_path / "x_summary.json"
    counts.write_text(json.dumps(LLMPERF_SUMMARY | {"results_number_errors": None}, indent=4))
    result = report(log, "--client", str(counts))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"claude-perf: error: {counts}: llmperf summary results_number_errors None is not a "
        "count (an integer)"
    )

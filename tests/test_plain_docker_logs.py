"""Real captures read as plain `docker logs` (no `-t`): the lines keep their order but lose the
engine's times, and the access lines of uvicorn, LiteLLM and claude-code-api carry none of their
own. Request and failure counts and error records left outside any request must stay those of
the `-t` form, which tests/test_capture_truth.py and the capture tests hold to what the clients
saw: an error record beside two untimed completions goes to the one that failed when only one
did, else to the next line's (a request logs its errors before its response line); to the one
before when the next had not started yet.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pytest

from claude_perf.analysis.pipeline import analyse_session
from claude_perf.config.schema import Config
from claude_perf.ingest.client_files import read_client_file
from claude_perf.ingest.files import read_logs
from claude_perf.ingest.session import Session
from claude_perf.report.build import context_of
from claude_perf.report.summary import build

CAPTURES = Path(__file__).resolve().parent.parent / "fixtures" / "captures"


def counts(path: Path) -> tuple[int, int, int, int, bool]:
    """Requests, failures, error records, those outside any request; whether the notes say
    that error records were placed by line order alone."""
    summary = build(analyse_session(Session(read_logs([str(path)])), Config()))
    requests, errors = summary["requests"], summary["errors"]
    by_order = any("by the lines' order alone" in n for n in summary["data_quality"]["notes"])
    return (
        requests["total"],
        requests["failed"],
        errors["records"],
        errors["orphan_records"],
        by_order,
    )


@pytest.mark.parametrize(
    "capture",
    [
        # before: a 200 beside a 500 took the 500's records (4 failures for 3)
        "wrapper-debug-concurrent",
        "wrapper-plain-concurrent",
        # before: a run after a 500, the next request not yet started, went to an earlier 200
        "wrapper-debug-sequential",
        # before: every error record outside any request
        "litellm-info-mixed",
        "ccapi-debug-load",
    ],
)
def test_plain_docker_logs_count_what_the_timed_form_counts(capture: str, tmp_path: Path) -> None:
    found = sorted((CAPTURES / capture).glob("docker-logs-t.txt*"))
    timed = found[0]
    raw = gzip.decompress(timed.read_bytes()) if timed.suffix == ".gz" else timed.read_bytes()
    plain = tmp_path / "docker-logs.txt"
    plain.write_bytes(b"".join(line.split(b" ", 1)[-1] for line in raw.splitlines(True)))
    assert counts(plain)[:4] == counts(timed)[:4]
    assert (counts(plain)[4], counts(timed)[4]) == (True, False)  # said where it applies


# Where the plain form still differs from the `-t` form, and by how much (requests, failures,
# error records, those outside any request): said in the README's input forms.
PLAIN_DIFFERS = {
    # a cut stream's traceback followed by two 422s without a start: given to the first 422,
    # which failed anyway (one failure fewer)
    "fuergaosi-debug": (0, -1, 0, 0),
    # an error record the `-t` form leaves outside any request is placed by line order
    "fuergaosi-info": (0, 0, 0, -1),
}


@pytest.mark.parametrize(
    "capture",
    [*sorted(p.parent.name for p in CAPTURES.glob("*/docker-logs-t.txt*")), "../capture"],
)
def test_every_capture_read_plain_counts_what_the_timed_form_counts(
    capture: str, tmp_path: Path
) -> None:
    timed = sorted((CAPTURES / capture).glob("docker-logs-t.txt*"))[0]
    raw = gzip.decompress(timed.read_bytes()) if timed.suffix == ".gz" else timed.read_bytes()
    plain = tmp_path / "docker-logs.txt"
    plain.write_bytes(b"".join(line.split(b" ", 1)[-1] for line in raw.splitlines(True)))
    delta = PLAIN_DIFFERS.get(capture, (0, 0, 0, 0))
    expected = tuple(n + d for n, d in zip(counts(timed)[:4], delta, strict=True))
    assert counts(plain)[:4] == expected


def _plain_copy(capture: str, tmp_path: Path) -> tuple[Path, Path]:
    timed = sorted((CAPTURES / capture).glob("docker-logs-t.txt*"))[0]
    raw = gzip.decompress(timed.read_bytes()) if timed.suffix == ".gz" else timed.read_bytes()
    plain = tmp_path / "docker-logs.txt"
    plain.write_bytes(b"".join(line.split(b" ", 1)[-1] for line in raw.splitlines(True)))
    return timed, plain


def _summary(path: Path) -> dict[str, Any]:
    """The JSON summary, with the scores the report gives (name: value)."""
    analysis = analyse_session(Session(read_logs([str(path)])), Config())
    scores = {s.name: s.value for s in context_of(analysis).scores}
    return {**build(analysis), "scores": scores}


@pytest.mark.parametrize(
    "capture", ["go-gin-release-c6", "go-gin-debug-c1", "oneapi-v0.6.10-c6", "newapi-c6"]
)
def test_gin_stamps_give_the_window_to_a_second_and_in_flight_as_a_range(
    capture: str, tmp_path: Path
) -> None:
    timed_path, plain_path = _plain_copy(capture, tmp_path)
    timed, plain = _summary(timed_path), _summary(plain_path)
    # before: no window, no rate (gin's `[GIN] 2026/12/01 - 03:13:24 |` stamp was not read)
    assert abs(plain["window"]["duration_s"] - timed["window"]["duration_s"]) <= 1.0
    assert timed["throughput"]["in_flight_range"] is None
    fewest, most = plain["throughput"]["in_flight_range"]
    # before: the stamps' one count, 14, 16 and 18 against 8, 7 and 7 on the c6 captures
    assert fewest <= timed["throughput"]["max_in_flight"] <= most
    assert plain["throughput"]["max_in_flight"] == fewest
    assert any(f"between {fewest} and {most}" in n for n in plain["data_quality"]["notes"])
    assert plain["scores"]["scalability"] is None
    # the figures the stamps do not touch stay the `-t` form's
    assert plain["requests"] == timed["requests"]
    assert plain["latency_s"] == timed["latency_s"]


@pytest.mark.parametrize("capture", ["go-gin-release-c6", "oneapi-v0.6.10-c6", "newapi-c6"])
def test_gin_stamps_let_the_client_records_join_without_engine_times(
    capture: str, tmp_path: Path
) -> None:
    # before: no line had a time, and none of the client's requests found its row
    _, plain = _plain_copy(capture, tmp_path)
    records = read_client_file(CAPTURES / capture / "client-records.jsonl").records
    view = analyse_session(Session(read_logs([str(plain)]), clients=records), Config()).client
    assert view is not None
    join = view.join
    # the tolerance is about the stamps' second (measured 0.96-1.23 s, against 1-4 ms with the
    # engine's times), and within it at least 9 in 10 of the client's requests find their row
    # (measured: 54, 59 and 59 of 60)
    assert join.tolerance_s is not None and 0.5 <= join.tolerance_s < 2.0
    assert len(join.pairs) >= 0.9 * len(records)


def test_stamps_finer_than_a_second_keep_one_in_flight_count(tmp_path: Path) -> None:
    _, plain_path = _plain_copy("ccapi-info-console-sequential", tmp_path)
    throughput = _summary(plain_path)["throughput"]
    assert throughput["in_flight_range"] is None
    assert throughput["in_flight_basis"] > 0

"""The real claude-code-openai-wrapper capture: our request rows must match what the client saw."""

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from claude_perf.analysis.pipeline import analyse
from claude_perf.analysis.table import CATEGORY_COLUMNS
from claude_perf.config.schema import Config
from claude_perf.ingest.files import read_logs
from claude_perf.parse.events import text_values
from claude_perf.report.summary import build

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CAPTURE = FIXTURES / "capture"
STANDIN = FIXTURES / "standin"


def client_view():
    rows = []
    for line in (CAPTURE / "client-view.txt").read_text().splitlines():
        match = re.match(r"### (.+?)\t-> HTTP (\d+) in ([\d.]+)s", line)
        assert match, line
        rows.append((match.group(1), int(match.group(2)), float(match.group(3))))
    return rows


@pytest.fixture(scope="module")
def capture():
    return analyse(read_logs([str(CAPTURE / "docker-logs-t.txt")]), Config())


def test_every_client_request_is_one_model_row_in_order(capture):
    table = capture.requests.table
    model = table[table["kind"] == "model"].reset_index(drop=True)
    view = client_view()
    assert len(model) == len(view) == 16
    assert [int(s) for s in model["status"]] == [status for _, status, _ in view]


def test_latency_matches_the_client_where_the_logs_can_tell(capture):
    table = capture.requests.table
    model = table[table["kind"] == "model"].reset_index(drop=True)
    for (label, _status, client_s), (_, row) in zip(client_view(), model.iterrows(), strict=True):
        if label == "stream sonnet":
            # uvicorn logs a streaming response's access line when it starts: unknown, not invented
            assert row["latency_s"] != row["latency_s"]  # NaN
            continue
        if row["latency_source"] is None or row["latency_source"] != row["latency_source"]:
            assert row["status"] in (401, 422, 429), label  # rejected before any start record
            continue
        # the client adds the network and HTTP overhead: a few ms more, never less
        assert client_s - 0.015 <= row["latency_s"] <= client_s, label


def test_outcomes_and_error_classes(capture):
    table = capture.requests.table
    model = table[table["kind"] == "model"].reset_index(drop=True)
    failed = dict(
        zip(
            [label for label, _, _ in client_view()],
            model["error_class"].astype(object).where(model["error_class"].notna(), None),
            strict=True,
        )
    )
    assert failed["invalid model"] == "routing"
    assert failed["bad key"] == "auth"
    assert failed["malformed"] == "validation"
    assert failed["cli auth fail"] == "cli"  # the wrapper logs only "exit code 1" for it
    assert failed["cli crash"] == "cli"
    assert failed["burst 3"] == "rate_limit"
    assert failed["chat sonnet"] is None


def test_summary_figures(capture):
    summary = build(capture)
    assert summary["lines"]["total"] == 108
    assert sum(summary["lines"]["by_kind"].values()) == 108
    assert summary["requests"] == {
        "total": 16,
        "succeeded": 10,
        "failed": 6,
        "success_rate": 0.625,
        "other_endpoints": 0,
    }
    assert summary["health"]["checks"] == 7
    assert summary["health"]["in_container"] == 6
    assert summary["health"]["external"] == 1
    assert summary["throughput"]["max_in_flight"] == 1
    assert summary["throughput"]["overlapped"] is False
    haiku = next(m for m in summary["models"] if m["model"] == "haiku")
    assert (haiku["requests"], haiku["succeeded"], haiku["failed"]) == (5, 4, 1)
    assert haiku["latency_s"]["too_few_to_rank"] is True
    assert summary["data_quality"]["latency_unknown"] == 1


def test_json_file_and_docker_timestamps_give_the_same_summary():
    a = build(analyse(read_logs([str(STANDIN / "docker-logs-t.txt")]), Config()))
    b = build(analyse(read_logs([str(STANDIN / "json-file.log")]), Config()))
    assert a["inputs"][0]["form"] == "docker-timestamps"
    assert b["inputs"][0]["form"] == "json-file"
    a.pop("inputs")
    b.pop("inputs")
    # The dialects are listed per source, by input path: the same dialects in both.
    assert list(a["data_quality"].pop("dialects").values()) == [["claude-code-openai-wrapper"]]
    assert list(b["data_quality"].pop("dialects").values()) == [["claude-code-openai-wrapper"]]
    assert a == b


def test_standin_session_matches_its_client_view():
    view = json.loads((STANDIN / "client-view.json").read_text())
    analysis = analyse(read_logs([str(STANDIN / "json-file.log")]), Config())
    table = analysis.requests.table
    model = table[table["kind"] == "model"]
    assert len(model) == len(view)
    assert sorted(int(s) for s in model["status"]) == sorted(v["status"] for v in view)
    summary = build(analysis)
    # No ids, and a streamed request and a 401 log no start line: any of the 9 completions up to
    # the last of those could be another's (the two overlapping ones, and each earlier one whose
    # start could own a later start-less completion); the 4 after it are the only possible ones.
    assert summary["data_quality"]["ambiguous_pairings"] == 9
    assert summary["throughput"]["max_in_flight"] == 2
    assert summary["errors"]["by_class"]["usage_limit"] == 1


def test_vectorised_error_classes_agree_with_the_per_row_rules():
    import numpy as np

    from claude_perf.analysis.error_classes import classify_error, classify_errors

    cases = [
        (401, None, True),
        (422, None, True),
        (429, None, True),
        (504, None, True),
        (200, "Claude AI usage limit reached|1795935600", True),
        (200, "Invalid API key · Please run /login", True),
        (200, "Request timed out after 150s", True),
        (200, "Command failed with exit code 1 (exit code: 1)", False),
        (200, "Command failed with exit code 1 (exit code: 1)", True),
        (500, "Command failed with exit code 1", True),
        (500, "Traceback: KeyError", True),
        (200, "something odd", True),
        (529, "Overloaded", True),
    ]
    status = np.array([c[0] for c in cases])
    texts = np.array([c[1] for c in cases], dtype=object)
    known = np.array([c[2] for c in cases])
    expected = [classify_error(s, [t] if t else [], k) for s, t, k in cases]
    assert list(classify_errors(status, texts, known)) == expected


def test_unknown_text_in_the_request_table_is_none_never_nan(capture):
    table = capture.requests.table
    for column in ("model", "family", "error_class", "error_message", "request_id"):
        # model, family and error_class are categoricals, error_message and request_id Arrow
        # strings (memory): text_values reads both with None for unknown, never NaN or NA.
        values = list(text_values(table[column]))
        assert None in values, column  # the capture has requests without each of these
        assert all(v is None or isinstance(v, str) for v in values), column
        if column in CATEGORY_COLUMNS:
            assert isinstance(table[column].dtype, pd.CategoricalDtype), column
        else:
            assert isinstance(table[column].dtype, pd.ArrowDtype), column
            assert [None if pd.isna(v) else v for v in table[column]] == values, column


def _outcomes(analysis):
    table = analysis.requests.table
    model = table[table["kind"] == "model"]
    classes = model["error_class"].astype(object).where(model["error_class"].notna(), None)
    return list(
        zip(
            model["status"].astype(int),
            model["outcome"].astype(str),
            classes,
            model["error_records"].astype(int),
            strict=True,
        )
    )


def test_the_logs_without_engine_times_give_each_request_its_own_errors(capture, tmp_path):
    # `docker logs` without -t: the access lines carry no time, the wrapper's records their own
    # stamps. The CLI failure after the 422 (its records at 08.591, the next request's start at
    # 08.353 between them) is the 200's after it, not the failed 422's before it.
    stamp = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z ")
    lines = (CAPTURE / "docker-logs-t.txt").read_text().splitlines(keepends=True)
    plain = tmp_path / "docker-logs.txt"
    plain.write_text("".join(stamp.sub("", line) for line in lines))
    untimed = analyse(read_logs([str(plain)]), Config())
    assert untimed.quality.lines_without_time == len(lines)
    assert _outcomes(untimed) == _outcomes(capture)
    by_label = dict(zip([label for label, _, _ in client_view()], _outcomes(untimed), strict=True))
    assert by_label["cli auth fail"] == (200, "failed", "cli", 2)
    assert by_label["malformed"] == (422, "failed", "validation", 2)


def test_without_engine_times_the_notes_say_why_latency_is_unknown(capture, tmp_path):
    stamp = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z ")
    plain = tmp_path / "docker-logs.txt"
    plain.write_text(
        "".join(stamp.sub("", line) for line in (CAPTURE / "docker-logs-t.txt").open())
    )
    untimed = analyse(read_logs([str(plain)]), Config())
    table = capture.requests.table
    ok = table[(table["kind"] == "model") & (table["outcome"] == "succeeded")]
    # each request the -t form times has its start stamped by the wrapper, its access line not
    timed_by_t = int(ok["latency_s"].notna().sum())
    assert untimed.quality.latency_unknown == len(ok)
    notes = untimed.quality.notes
    assert any(
        n.startswith(f"{timed_by_t} succeeded model request(s) have a start with a time but a")
        for n in notes
    )
    # the stream logs no start: the other reason, said apart
    assert any(
        n.startswith(f"{len(ok) - timed_by_t} succeeded model request(s) have no known latency")
        for n in notes
    )

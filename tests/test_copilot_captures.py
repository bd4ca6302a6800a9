"""Known answers on the real copilot-api captures (fixtures/captures/copilot-*; no Docker).

Each capture holds copilot-api's `docker logs -t` output and what the client saw
(``clients.jsonl``: ``claude-perf load`` on both routes and a few hand-made requests; made by
fixtures/captures/record_copilot.py against a fake Copilot API). The report must tell the
client's story: every request counted once, each status and failure the client saw (the
upstream's 500 and 429 passed on, a refused model's 400, a malformed body's 500), with the
`copilot-api` dialect at default logging and `copilot-api-verbose` with ``--verbose``; with
``--verbose``, requests one at a time, each model as the client asked it, every stream known as
one (its `-->` time a time to first byte, not a latency) and each model's p50 within
LATENCY_REL of the client's.

Before these dialects (the `hono` dialect alone) the same captures gave the right counts and
statuses, but no model at all with ``--verbose`` (copilot-verbose-sequential: its 24 model
requests, 7 models asked, all under "model not logged"), and every stream's `-->` time (3-6 ms)
counted as a latency: that capture's p50 0.305 s against the client's 0.806 s.
"""

from __future__ import annotations

import csv
import json
import statistics
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claude_perf.analysis.pipeline import analyse
from claude_perf.config.schema import Config
from claude_perf.ingest.files import combine, read_log
from tests.cli_support import run_cli

CAPTURES = Path(__file__).resolve().parent.parent / "fixtures" / "captures"
DEFAULT = ["copilot-default-sequential", "copilot-default-concurrent", "copilot-nocolor-concurrent"]
VERBOSE = ["copilot-verbose-sequential", "copilot-verbose-concurrent"]
SEQUENTIAL = ["copilot-default-sequential", "copilot-verbose-sequential"]
MODEL_PATHS = ("/v1/messages", "/v1/chat/completions")
# measured on copilot-verbose-sequential: Hono's times (whole ms, taken inside the server) are
# 0.1-1 % under the client's p50; whole-second lines (the opus) paired exactly when sequential
LATENCY_REL = 0.03


def clients(name: str) -> list[dict[str, Any]]:
    text = (CAPTURES / name / "clients.jsonl").read_text(encoding="utf-8")
    out = [json.loads(line) for line in text.splitlines()]
    for r in out:  # the recorder's hand-made request for a model the upstream refuses
        if r["id"].endswith("-unknown-model"):
            r["model_asked"] = "no-such-model"
    return out


@cache
def report(name: str) -> tuple[dict[str, Any], tuple[dict[str, str], ...]]:
    """The JSON summary and the per-request rows (--requests-csv) of a capture's log."""
    out = CAPTURES.parent.parent / ".pytest_cache" / f"{name}-requests.csv"
    out.parent.mkdir(exist_ok=True)
    log = str(CAPTURES / name / "docker-logs-t.txt")
    proc = run_cli("report", "-i", log, "-f", "json", "--requests-csv", str(out))
    assert proc.returncode == 0, proc.stderr
    with out.open(newline="", encoding="utf-8") as f:
        rows = tuple(csv.DictReader(f))
    return json.loads(proc.stdout), rows


@pytest.mark.parametrize("name", DEFAULT + VERBOSE)
def test_capture_files_are_there_and_small(name: str) -> None:
    for f in ["README.md", "clients.jsonl", "docker-logs-t.txt"]:
        assert 0 < (CAPTURES / name / f).stat().st_size < 400_000, f


@pytest.mark.parametrize("name", DEFAULT + VERBOSE)
def test_counts_statuses_and_failures_are_the_clients(name: str) -> None:
    s, rows = report(name)
    seen = clients(name)
    model = [r for r in seen if r["path"] in MODEL_PATHS]
    assert s["requests"]["total"] == len(model)
    assert s["requests"]["other_endpoints"] == len(seen) - len(model)
    assert s["requests"]["failed"] == sum(1 for r in seen if not r["ok"])
    assert Counter((r["path"], int(r["status"])) for r in rows) == Counter(
        (r["path"], r["status"]) for r in seen
    )
    assert s["health"]["checks"] == 0
    by_class = s["errors"]["by_class"]
    assert by_class["rate_limit"] == sum(1 for r in seen if r["status"] == 429)
    assert by_class["validation"] == sum(1 for r in seen if r["status"] == 400)


@pytest.mark.parametrize("name", DEFAULT + VERBOSE)
def test_the_copilot_dialect_reads_it(name: str) -> None:
    s, _ = report(name)
    want = "copilot-api-verbose" if name in VERBOSE else "copilot-api"
    assert list(s["data_quality"]["dialects"].values()) == [[want]]


@pytest.mark.parametrize("name", DEFAULT + VERBOSE)
def test_error_records_are_counted_and_given_to_no_request(name: str) -> None:
    # consola's ` ERROR  ` records come before or after their request's `-->` line (both seen
    # on one route): each counted, none attached (before the dialect read them the report said
    # "Error records in the log: 0"), and every failed request classed as without them.
    s, rows = report(name)
    lines = (CAPTURES / name / "docker-logs-t.txt").read_text(encoding="utf-8").splitlines()
    logged = sum(1 for line in lines if line.partition(" ")[2].startswith(" ERROR  "))
    assert logged > 0
    assert (s["errors"]["records"], s["errors"]["orphan_records"]) == (logged, logged)
    assert all(r["error_records"] == "0" and not r["error_message"] for r in rows)
    notes = [n for n in s["data_quality"]["notes"] if "error record" in n]
    assert len(notes) == 1 and notes[0].startswith(f"{logged} error record(s) belong to some")


@pytest.mark.parametrize("name", DEFAULT)
def test_default_logging_names_no_model(name: str) -> None:
    s, _ = report(name)
    assert [m["model"] for m in s["models"]] == [None]


@pytest.mark.parametrize("name", SEQUENTIAL)
def test_sequential_requests_one_by_one(name: str) -> None:
    # One at a time, the log's rows in time order are the client's requests in order: each
    # status exact, each sub-second model answer's time up to 10 ms under the client's
    # (Hono times it inside the server; measured: 0.03 ms over to 4.8 ms under, the client's
    # connection and read included); a stream's `-->` line comes as it starts, before the client's end.
    _, rows = report(name)
    seen = sorted(clients(name), key=lambda r: r["start_ns"])
    assert len(rows) == len(seen)
    diffs: list[float] = []
    for row, rec in zip(sorted(rows, key=lambda r: r["end"]), seen, strict=True):
        assert (row["path"], int(row["status"])) == (rec["path"], rec["status"]), rec["id"]
        whole_s = (rec["end_ns"] - rec["start_ns"]) / 1e9
        logged = float(row["latency_s"] or row["ttfb_s"])
        if rec.get("stream"):
            assert logged < whole_s, rec["id"]
        elif whole_s < 0.9 and rec["path"] in MODEL_PATHS:
            diffs.append(whole_s - logged)
    assert diffs and all(-0.002 < d < 0.010 for d in diffs)


def test_verbose_sequential_models_streams_and_latency_are_the_clients() -> None:
    s, rows = report("copilot-verbose-sequential")
    seen = [r for r in clients("copilot-verbose-sequential") if r["path"] in MODEL_PATHS]
    asked = Counter(r.get("model_asked") for r in seen)  # None: the malformed bodies
    assert {m["model"]: m["requests"] for m in s["models"]} == dict(asked)
    streams = [r for r in rows if r["stream"] == "True"]
    assert len(streams) == sum(1 for r in seen if r.get("stream"))
    # a stream's `-->` comes as it starts: a few ms, its time to the response head (a stream
    # the upstream refused with a 500 never started: its whole time is in its ttfb too)
    assert all(r["latency_s"] == "" for r in streams)
    assert all(float(r["ttfb_s"]) < 0.05 for r in streams if r["status"] == "200")
    for m in s["models"]:
        ok = [
            (r["end_ns"] - r["start_ns"]) / 1e9
            for r in seen
            if r.get("model_asked") == m["model"] and r["ok"] and not r.get("stream")
        ]
        if not ok:
            continue
        p50 = m["latency_s"]["p50"]
        assert abs(p50 - statistics.median(ok)) <= LATENCY_REL * statistics.median(ok), m


def test_verbose_concurrent_models_are_counted_and_sure_rows_are_the_clients() -> None:
    # Up to 4 in flight: the body lines name each model's request count right (each follows its
    # own `<--` line). A completion takes the oldest open start of its own route (hono's lines
    # name it on both); with another request of that route open the pairing is a guess, marked
    # inferred. A row called sure is a request the client saw: its model, its time (the
    # client's adds its own few ms).
    s, rows = report("copilot-verbose-concurrent")
    seen = [r for r in clients("copilot-verbose-concurrent") if r["path"] in MODEL_PATHS]
    assert {m["model"]: m["requests"] for m in s["models"]} == dict(
        Counter(r.get("model_asked") for r in seen)
    )
    timed = [r for r in rows if r["kind"] == "model" and r["latency_s"] and r["model"]]
    sure = [r for r in timed if r["ambiguous"] == "False"]
    assert len(sure) >= 4 and len(timed) - len(sure) >= 4  # both kinds are there

    def clients_own(row: dict[str, str]) -> bool:
        end_ns = int(pd.Timestamp(row["end"]).value)
        latency_ns = float(row["latency_s"]) * 1e9
        return any(
            r.get("model_asked") == row["model"]
            and abs(r["end_ns"] - end_ns) <= 30e6
            and 0 <= (r["end_ns"] - r["start_ns"]) - latency_ns <= 30e6
            for r in seen
        )

    assert [r for r in sure if not clients_own(r)] == []


def _plain_tokens(seen: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """Per model asked, the input and output tokens of its non-streamed answers (the client's)."""
    out: dict[str, tuple[int, int]] = {}
    for r in seen:
        if r["ok"] and not r.get("stream") and r.get("model_asked"):
            i, o = out.get(r["model_asked"], (0, 0))
            out[r["model_asked"]] = (i + r["input_tokens"], o + r["output_tokens"])
    return out


def test_verbose_sequential_tokens_of_plain_answers_are_the_clients() -> None:
    # Each non-streamed answer is logged whole (`Translated Anthropic response:`, `Non-streaming
    # response:`) right before its `-->` line; a stream's tokens are only in its events (not read).
    s, _ = report("copilot-verbose-sequential")
    want = _plain_tokens(clients("copilot-verbose-sequential"))
    got = {
        m["model"]: (m["tokens"]["input"], m["tokens"]["output"])
        for m in s["models"]
        if m["tokens"]
    }
    assert got == want
    assert all(m["usage"]["inferred"] == 0 for m in s["models"] if m["usage"])


def test_verbose_concurrent_tokens_add_up_and_sure_ones_are_the_clients() -> None:
    # With requests in flight each answer's tokens go to the completion logged right after them;
    # that completion's start (and model) is paired within its route, a guess while another of
    # the route was open, and an answer right before a completion passed over as a stream only
    # by such a guess may be that one's. In all they are the client's; a row whose figures are
    # called sure has an answer the client got for its model.
    s, rows = report("copilot-verbose-concurrent")
    seen = clients("copilot-verbose-concurrent")
    want = _plain_tokens(seen)
    with_tokens = [m for m in s["models"] if m["tokens"]]
    assert sum(m["tokens"]["input"] for m in with_tokens) == sum(i for i, _ in want.values())
    assert sum(m["tokens"]["output"] for m in with_tokens) == sum(o for _, o in want.values())
    sure = [r for r in rows if r["input_tokens"] and r["usage_inferred"] == "False"]
    assert sure and sum(m["usage"]["inferred"] for m in with_tokens) >= 5
    answers = {(r.get("model_asked"), r.get("input_tokens"), r.get("output_tokens")) for r in seen}
    assert [
        r
        for r in sure
        if (r["model"], int(float(r["input_tokens"])), int(float(r["output_tokens"])))
        not in answers
    ] == []


# --------------------------------------------------------------------------- properties


@cache
def _blocks(name: str) -> tuple[tuple[str, ...], ...]:
    """The log cut before each `<--` line: the start-up lines, then one block per request
    (one at a time: a request's lines all come before the next one's `<--`)."""
    out: list[list[str]] = [[]]
    for line in (CAPTURES / name / "docker-logs-t.txt").read_text(encoding="utf-8").splitlines():
        if line.split(" ", 1)[1].startswith("<-- "):
            out.append([])
        out[-1].append(line)
    return tuple(tuple(b) for b in out)


def _read(lines: list[str]) -> Any:
    table, info, count = read_log("copilot.log", ("\n".join(lines) + "\n").encode())
    return analyse(combine([table], [info], [count]), Config()).requests.table


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_subset_of_requests_is_read_whole(data: st.DataObject) -> None:
    # Keep any subset of the requests (all their lines): each kept one is counted once, with
    # its path and status, and (with --verbose) the model of its own body line.
    name = data.draw(st.sampled_from(SEQUENTIAL))
    blocks = _blocks(name)
    seen = sorted(clients(name), key=lambda r: r["start_ns"])
    kept = sorted(data.draw(st.sets(st.integers(1, len(blocks) - 1), max_size=len(blocks) - 1)))
    table = _read([line for i in [0, *kept] for line in blocks[i]])
    want = [seen[i - 1] for i in kept]
    assert len(table) == len(want)
    got = sorted(zip(table["path"].astype(str), table["status"].astype(int), strict=True))
    assert got == sorted((r["path"], r["status"]) for r in want)
    if name == "copilot-verbose-sequential":
        models = Counter(m for m in table["model"].astype(object) if isinstance(m, str))
        assert models == Counter(r["model_asked"] for r in want if r.get("model_asked"))


def test_consolas_basic_reporter_reads_the_same(tmp_path: Path) -> None:
    # Under CI=true or a test runner consola writes `[info] …` and `[debug] …` for `ℹ …` and
    # `⚙ …` (consola 3's BasicReporter; checked with its package here): the same summary.
    name = "copilot-verbose-sequential"
    text = (CAPTURES / name / "docker-logs-t.txt").read_text(encoding="utf-8")
    basic = []
    for line in text.splitlines():
        stamp, _, message = line.partition(" ")
        for icon, level in (("ℹ ", "[info] "), ("⚙ ", "[debug] ")):
            if message.startswith(icon):
                message = level + message[len(icon) :]
        basic.append(f"{stamp} {message}")
    path = tmp_path / "basic.txt"
    path.write_text("\n".join(basic) + "\n", encoding="utf-8")
    proc = run_cli("report", "-i", str(path), "-f", "json")
    assert proc.returncode == 0, proc.stderr
    got, want = json.loads(proc.stdout), report(name)[0]
    assert got["models"] == want["models"] and got["requests"] == want["requests"]
    assert list(got["data_quality"]["dialects"].values()) == [["copilot-api-verbose"]]

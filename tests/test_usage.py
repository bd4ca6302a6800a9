"""Server-side usage from the proxy's own logs: tokens, cost and CLI overhead per request and model.

Known answers: the wrapper-debug captures (each ``ResultMessage`` line, given to the client
request in flight when it was logged, sums per model asked to exact figures), crafted JSON
events, and crafted wrapper-debug logs whose figures are distinct per request (a record given
twice would show twice).
"""

from __future__ import annotations

import ast
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claude_perf.analysis.pipeline import analyse
from claude_perf.analysis.usage import link_usage
from claude_perf.config.load import config_from_mapping
from claude_perf.config.schema import Config
from claude_perf.errors import ConfigError
from claude_perf.ingest.files import read_logs
from claude_perf.report.summary import build

CAPTURES = Path(__file__).resolve().parent.parent / "fixtures" / "captures"
RESULT = re.compile(
    r"^\S+ (?P<asctime>\S+ \S+) - .* Raw SDK message: ResultMessage\(.*duration_ms=(?P<ms>\d+), "
    r"duration_api_ms=(?P<api>\d+), .*total_cost_usd=(?P<cost>[0-9.e-]+), usage=(?P<usage>\{.*?\}\}),"
)


def when(stamp: str) -> float:
    """RFC 3339 with up to nanoseconds → epoch seconds (microseconds kept)."""
    head, _, frac = stamp.rstrip("Z").partition(".")
    base = datetime.fromisoformat(head + "+00:00")
    return base.timestamp() + float("0." + (frac or "0"))


def result_lines(name: str) -> list[dict[str, Any]]:
    """Every ResultMessage of a capture: its own time and figures, read independently."""
    out = []
    for line in (CAPTURES / name / "docker-logs-t.txt").read_text().splitlines():
        m = RESULT.match(line)
        if m:
            usage = ast.literal_eval(m["usage"])
            out.append(
                {
                    # the app's own time: the engine stamps stderr late by up to ~60 ms
                    "t": datetime.strptime(m["asctime"] + "000", "%Y-%m-%d %H:%M:%S,%f")
                    .replace(tzinfo=UTC)
                    .timestamp(),
                    "input": usage["input_tokens"],
                    "output": usage["output_tokens"],
                    "cache_read": usage["cache_read_input_tokens"],
                    "cache_creation": usage["cache_creation_input_tokens"],
                    "cost": float(m["cost"]),
                    "overhead_s": (int(m["ms"]) - int(m["api"])) / 1000,
                }
            )
    return out


def summary_of(path: Path | str, config: Config | None = None) -> dict[str, Any]:
    return build(analyse(read_logs([str(path)]), config or Config()))


def models_by_name(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["model"]: m for m in summary["models"]}


# ------------------------------------------------------------------ the sequential capture


def test_sequential_capture_sums_per_model_are_the_result_lines_of_its_requests() -> None:
    # Each ResultMessage lies inside exactly one client request (sent one after another): the
    # request's model asked is the known owner, whatever the analysis does (a streaming
    # response ends with its CLI run: its ResultMessage lies inside it too).
    name = "wrapper-debug-sequential"
    view = json.loads((CAPTURES / name / "client-view.json").read_text())
    expected: dict[str, dict[str, float]] = {}
    results = result_lines(name)
    assert len(results) == 18
    for r in results:
        # the last request sent before it (the client waited for each answer)
        owner = [v for v in view if when(v["sent_at"]) <= r["t"]][-1]
        assert r["t"] <= when(owner["ended_at"])
        sums = expected.setdefault(owner["model"], dict.fromkeys(("input", "output", "cost"), 0))
        sums.setdefault("cache_read", 0)
        for key in ("input", "output", "cache_read", "cost"):
            sums[key] += r[key]
    models = models_by_name(summary_of(CAPTURES / name / "docker-logs-t.txt"))
    for model, sums in expected.items():
        got = models[model]
        assert got["tokens"]["input"] == sums["input"], model
        assert got["tokens"]["output"] == sums["output"], model
        assert got["tokens"]["cache_read"] == sums["cache_read"], model
        assert got["tokens"]["cache_creation"] == 0, model
        assert got["cost_usd"] == pytest.approx(sums["cost"], abs=1e-6), model
        assert got["usage"]["inferred"] == 0, model
    # the stand-in's CLI spends exactly 40 ms around its API call
    assert models["sonnet"]["cli_overhead_s"] == {"n": 3, "mean": 0.04, "p50": 0.04, "p95": 0.04}
    # a model whose requests never reached the CLI carries no usage: null, never 0
    assert set(models) - set(expected) == set()
    total_out = sum(m["tokens"]["output"] for m in models.values() if m["tokens"])
    assert total_out == sum(r["output"] for r in results)


def test_sequential_capture_rates_are_output_tokens_over_api_time() -> None:
    analysis = analyse(
        read_logs([str(CAPTURES / "wrapper-debug-sequential" / "docker-logs-t.txt")]), Config()
    )
    table = analysis.requests.table
    first = table[table["model"] == "sonnet"].iloc[0]
    # ResultMessage(duration_ms=906, duration_api_ms=866, ... 'output_tokens': 7)
    assert first["output_tokens"] == 7
    assert first["cost_usd"] == pytest.approx(0.003993, abs=1e-9)
    assert first["cli_overhead_s"] == pytest.approx(0.040)
    assert first["output_tokens_per_s"] == pytest.approx(7 / 0.866)
    assert not first["usage_inferred"]


# ------------------------------------------------------------------ the concurrent capture


def test_concurrent_capture_attachments_fit_the_client_request_or_are_marked_inferred() -> None:
    # The price of each model asked, from the sequential capture (one figure per model there),
    # and each logged request's client request from the client's own times: a non-streaming
    # one ends when the client's answer did, a streaming one starts when it was sent (the
    # nearest streaming one: a burst sends several at once). (Not
    # the table's model: in a burst of starts the body lines can name the wrong one.)
    seq = analyse(
        read_logs([str(CAPTURES / "wrapper-debug-sequential" / "docker-logs-t.txt")]), Config()
    ).requests.table
    costs: dict[str, set[float]] = {}
    for model, cost in zip(seq["model"], seq["cost_usd"], strict=True):
        if cost == cost:
            costs.setdefault(model, set()).add(cost)
    name = "wrapper-debug-concurrent"
    clients = json.loads((CAPTURES / name / "client-view.json").read_text())
    analysis = analyse(read_logs([str(CAPTURES / name / "docker-logs-t.txt")]), Config())
    table = analysis.requests.table
    table = table[(table["kind"] == "model") & table["cost_usd"].notna()]
    fits = []
    for _, request in table.iterrows():
        stream = request["stream"] is True
        at = (request["start"] if stream else request["end"]).timestamp()
        key = "sent_at" if stream else "ended_at"
        alike = [c for c in clients if c["stream"] == stream]
        client = min(alike, key=lambda c: abs(when(c[key]) - at))
        assert abs(when(client[key]) - at) < 0.05
        fits.append(request["cost_usd"] in costs[client["model"]])
    misfits = table[~np.array(fits)]
    assert misfits["usage_inferred"].all()  # every wrong one says it may be wrong
    # Measured: 37 of 38 fit. A stream and a chat whose start lines were stamped in the same
    # millisecond cannot be told apart by their duration records: their pairing is inferred;
    # the chat's figures sit on a row with the stream's start (marked inferred), and the
    # stream's figures find no request (counted as unattached, never given twice).
    assert (len(table), sum(fits), len(misfits)) == (38, 37, 1)
    # every record given once or counted as unattached
    results = result_lines(name)
    assert analysis.requests.usage_records == len(results) == 39
    assert len(table) + analysis.requests.usage_unattached == len(results)
    assert analysis.requests.usage_unattached == 1


# ------------------------------------------------------------------ crafted JSON events


def json_event(t: int, event: str, rid: str, **fields: Any) -> str:
    stamp = f"2026-11-30T10:00:{t:02d}.000000000Z"
    body = {"ts": stamp, "event": event, "requestId": rid, **fields}
    return f"{stamp} {json.dumps(body)}"


def test_json_events_usage_is_read_from_completions_by_id(tmp_path: Path) -> None:
    usage_a = {"input_tokens": 12, "output_tokens": 340, "cache_read_input_tokens": 1000,
               "cache_creation_input_tokens": 55}  # fmt: skip
    lines = [
        json_event(0, "request.start", "r-1", model="opus"),
        json_event(1, "request.start", "r-2", model="opus"),
        json_event(2, "request.start", "r-3", model="haiku"),
        json_event(3, "request.start", "r-4", model="sonnet"),
        # flat keys, a usage object, and a completion without any
        json_event(
            4,
            "request.complete",
            "r-2",
            model="opus",
            durationMs=3000,
            input_tokens=3,
            output_tokens=7,
            total_cost_usd=0.000123,
        ),
        json_event(
            5,
            "request.complete",
            "r-1",
            model="opus",
            durationMs=5000,
            usage=usage_a,
            cost_usd=0.0421,
        ),
        json_event(6, "request.complete", "r-3", model="haiku", durationMs=4000),
        json_event(
            7,
            "request.complete",
            "r-4",
            model="sonnet",
            durationMs=4000,
            usage={"input_tokens": 1, "output_tokens": 2},
        ),
    ]
    path = tmp_path / "events.log"
    path.write_text("\n".join(lines) + "\n")
    models = models_by_name(summary_of(path))
    assert models["opus"]["tokens"] == {
        "input": 15, "output": 347, "cache_read": 1000, "cache_creation": 55,
    }  # fmt: skip
    assert models["opus"]["cost_usd"] == pytest.approx(0.042223, abs=1e-9)
    assert models["opus"]["usage"] == {"requests": 2, "inferred": 0}
    # output tokens per second over each request's latency (no API time in these events)
    assert models["opus"]["output_tokens_per_s"]["overall"] == pytest.approx(347 / 8, abs=1e-4)
    assert models["haiku"]["tokens"] is None and models["haiku"]["cost_usd"] is None
    # tokens logged, cost not: the cost is unknown, not 0
    assert models["sonnet"]["tokens"]["output"] == 2 and models["sonnet"]["cost_usd"] is None
    assert models["sonnet"]["tokens"]["cache_read"] is None


def test_logs_without_usage_say_so_in_json_and_markdown(tmp_path: Path) -> None:
    path = CAPTURES / "maxproxy-plain-sequential" / "docker-logs-t.txt"
    summary = summary_of(path)
    assert all(m["tokens"] is None and m["cost_usd"] is None for m in summary["models"])
    assert all(m["cli_overhead_s"] is None for m in summary["models"])
    from tests.cli_support import run_cli

    done = run_cli("report", "-i", str(path), "--no-charts")
    assert done.returncode == 0, done.stderr
    assert "Server-side tokens and cost: not in these logs." in done.stdout


def test_markdown_shows_the_usage_table_with_api_equivalent_cost() -> None:
    from tests.cli_support import run_cli

    path = CAPTURES / "wrapper-debug-sequential" / "docker-logs-t.txt"
    done = run_cli("report", "-i", str(path), "--no-charts")
    assert done.returncode == 0, done.stderr
    row = next(x for x in done.stdout.splitlines() if x.startswith("| sonnet ") and "0.01" in x)
    cells = [c.strip() for c in row.strip("|").split("|")]
    # model, with usage, input, output, cache read, cache write, cost, tok/s, overhead p50, p95
    assert cells[:7] == ["sonnet", "4", "10", "29", "38,823", "0", "0.011979"]
    assert cells[8:10] == ["0.04 s", "0.04 s"]
    assert "API-equiv" in done.stdout and "not a bill" in done.stdout


# ------------------------------------------------------------------ crafted wrapper-debug logs


def wrapper_debug_log(requests: list[tuple[float, float, int]]) -> str:
    """A wrapper DEBUG log: per request (start s, CLI run s, output tokens) an Incoming line,
    its body, its ResultMessage when the run ends and its Response + access lines 10 ms later."""
    t0 = datetime(2026, 11, 30, 12, 0, 0)
    events: list[tuple[float, str]] = []
    for start, run, out in requests:
        cli_start, end = start + 0.1, start + 0.1 + run
        events.append((start, "🔍 [unknown] Incoming request: POST http://h/v1/chat/completions"))
        events.append((start + 0.001, "🔍 Request body: {"))
        events.append((start + 0.0011, '  "model": "sonnet",'))
        ms = round(run * 1000)
        events.append(
            (
                end,
                f"Raw SDK message: ResultMessage(subtype='success', duration_ms={ms}, "
                f"duration_api_ms={ms - 40}, is_error=False, num_turns=1, session_id='s', "
                f"total_cost_usd={out / 1e6}, usage={{'input_tokens': 2, "
                f"'cache_creation_input_tokens': 0, 'cache_read_input_tokens': 9, "
                f"'output_tokens': {out}}}, result='x', structured_output=None)",
            )
        )
        took = (end + 0.01 - start) * 1000
        events.append((end + 0.01, f"🔍 Response: 200 in {took:.2f}ms"))
        events.append((end + 0.0101, "ACCESS"))
        del cli_start
    lines = []
    for at, text in sorted(events, key=lambda e: e[0]):
        stamp = t0 + timedelta(seconds=at)
        engine = stamp.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"
        if text == "ACCESS":
            lines.append(
                f'{engine} INFO:     1.2.3.4:5 - "POST /v1/chat/completions HTTP/1.1" 200 OK'
            )
        elif text.startswith("  "):
            lines.append(f"{engine} {text}")
        else:
            head = stamp.strftime("%Y-%m-%d %H:%M:%S,") + f"{stamp.microsecond // 1000:03d}"
            level = "DEBUG"
            logger = "src.claude_cli" if text.startswith("Raw") else "src.main"
            lines.append(f"{engine} {head} - {logger} - {level} - {text}")
    return "\n".join(lines) + "\n"


requests_st = st.lists(
    st.tuples(
        st.floats(0, 20, allow_nan=False).map(lambda x: round(x, 3)),
        st.floats(0.2, 4, allow_nan=False).map(lambda x: round(x, 3)),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=40, deadline=None)
@given(requests_st)
def test_a_result_message_never_goes_to_two_requests(tmp_path_factory: Any, plan: list) -> None:
    # Distinct output tokens per request: a record given twice would show its figure twice.
    requests = [(start, run, 100 + i) for i, (start, run) in enumerate(plan)]
    path = tmp_path_factory.mktemp("wd") / "wrapper.log"
    path.write_text(wrapper_debug_log(requests))
    table = analyse(read_logs([str(path)]), Config()).requests.table
    outs = table["output_tokens"].dropna().tolist()
    assert len(outs) == len(set(outs))
    assert set(outs) <= {float(out) for _, _, out in requests}
    overlapping = any(
        a != b and s1 <= s2 < s1 + 0.1 + r1 + 0.011
        for a, (s1, r1, _) in enumerate(requests)
        for b, (s2, _, _) in enumerate(requests)
    )
    if not overlapping:  # one at a time: every record, to its own request, not inferred
        assert sorted(outs) == [float(out) for _, _, out in requests]
        assert not table["usage_inferred"].any()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 5_000)), max_size=30),
    st.lists(st.integers(0, 15_000), max_size=30),
    st.integers(0, 2**31),
)
def test_link_usage_gives_each_request_at_most_one_record(
    requests: list[tuple[int, int]], record_ms: list[int], seed: int
) -> None:
    # events: each request's start and completion (some streaming, some never completed),
    # then the records; times in ms, CLI durations at random
    rng = np.random.default_rng(seed)
    n_q, n_r = len(requests), len(record_ms)
    times = [s for s, _ in requests] + [s + d for s, d in requests] + record_ms
    ts = np.array(times, dtype=np.int64) * 1_000_000
    n = len(ts)
    starts, ends = np.arange(n_q), np.arange(n_q, 2 * n_q)
    partner = np.full(n, -1, dtype=np.int64)
    completed = rng.random(n_q) < 0.8
    partner[starts[completed]], partner[ends[completed]] = ends[completed], starts[completed]
    early = np.zeros(n, dtype=bool)
    early[ends] = rng.random(n_q) < 0.3
    cli_ms = np.full(n, np.nan)
    records = np.arange(2 * n_q, n)
    cli_ms[records] = rng.integers(0, 3000, n_r)
    links = link_usage(ts, records, cli_ms, starts, ends[completed], partner, early)
    given_to = links.end[links.end >= 0].tolist()
    assert len(given_to) == len(set(given_to))
    assert set(given_to) <= set(ends[completed].tolist())


# ------------------------------------------------------------------ the dialect language


def dialect_with(line: dict[str, Any]) -> dict[str, Any]:
    return {"dialects": [{"name": "mine", "lines": [{"regex": "done", **line}]}]}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            {"role": "end", "fields": ["tok=(?P<tokens>\\d+)"]},
            "config: dialects[0].lines[0]: unknown field group(s) ['tokens'] in 'tok=(?P<tokens>\\d+)'; "
            "allowed: input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, "
            "cost_usd, cli_duration_ms, cli_api_duration_ms",
        ),
        (
            {"role": "start", "fields": ["out=(?P<output_tokens>\\d+)"]},
            "config: dialects[0].lines[0]: 'fields' are read on lines of role end or usage, not start",
        ),
        (
            {"role": "usage", "fields": ["out=(\\d+)"]},
            "config: dialects[0].lines[0]: fields regex 'out=(\\d+)' names no group; allowed: "
            "input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, cost_usd, "
            "cli_duration_ms, cli_api_duration_ms",
        ),
        (
            {"role": "usage", "fields": "out=(?P<output_tokens>\\d+)"},
            "config: dialects[0].lines[0].fields must be a list of strings, not the string "
            "'out=(?P<output_tokens>\\d+)'",
        ),
    ],
)
def test_fields_are_validated_like_every_other_key(line: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_mapping(dialect_with(line))
    assert str(info.value) == message


def test_a_users_dialect_reads_its_own_usage_lines(tmp_path: Path) -> None:
    config = config_from_mapping(
        {
            "dialects": [
                {
                    "name": "my-proxy",
                    "detect": ["\\[my-proxy\\] "],
                    "lines": [
                        {"regex": "\\[my-proxy\\] begin (?P<request_id>\\S+) (?P<model>\\S+)",
                         "role": "start"},
                        {"regex": "\\[my-proxy\\] done (?P<request_id>\\S+) (?P<status>\\d{3})",
                         "role": "end"},
                        {"regex": "\\[my-proxy\\] usage (?P<request_id>\\S+)", "role": "usage",
                         "fields": ["out=(?P<output_tokens>\\d+)", "in=(?P<input_tokens>\\d+)",
                                    "usd=(?P<cost_usd>[0-9.]+)"]},
                    ],
                }
            ]
        }
    )  # fmt: skip
    lines = [
        "2026-11-30T10:00:00.000000000Z [my-proxy] begin a opus",
        "2026-11-30T10:00:00.100000000Z [my-proxy] begin b opus",
        "2026-11-30T10:00:01.000000000Z [my-proxy] usage b usd=0.5 in=4 out=40",
        "2026-11-30T10:00:01.000000000Z [my-proxy] usage a out=30 in=3 usd=None",
        "2026-11-30T10:00:02.000000000Z [my-proxy] done a 200",
        "2026-11-30T10:00:02.500000000Z [my-proxy] done b 200",
    ]
    path = tmp_path / "mine.log"
    path.write_text("\n".join(lines) + "\n")
    models = models_by_name(summary_of(path, config))
    assert models["opus"]["tokens"]["output"] == 70
    assert models["opus"]["tokens"]["input"] == 7
    assert models["opus"]["tokens"]["cache_read"] is None
    assert models["opus"]["cost_usd"] == 0.5  # a's cost is None: unknown, summed over b only


def test_requests_csv_writes_token_counts_as_integers(tmp_path: Path) -> None:
    import csv

    from claude_perf.cli.commands import write_requests_csv

    analysis = analyse(
        read_logs([str(CAPTURES / "wrapper-debug-sequential" / "docker-logs-t.txt")]), Config()
    )
    path = write_requests_csv(analysis.requests.table, tmp_path / "requests.csv")
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    cells = [r["output_tokens"] for r in rows if r["output_tokens"]]
    assert cells and all(re.fullmatch(r"\d+", c) for c in cells), cells[:3]
    assert sum(map(int, cells)) == sum(
        int(v) for v in analysis.requests.table["output_tokens"].dropna()
    )

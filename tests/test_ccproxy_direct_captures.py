"""ccproxy-api in its DIRECT API mode (claude_api plugin): the report against what the client saw,
on real captures (no Docker needed).

``fixtures/captures/ccproxy-direct-*``: the real ccproxy-api 0.2.10 (PyPI) forwarding
``/claude/v1/...`` to the fake Anthropic API of fixtures/captures/anthropic_upstream.py, in
Docker; console and JSON logging, INFO and DEBUG, the access_log plugin on (its event; its
Combined lines to stdout) and off; sequential (this repo's recorder: both routes, three models,
streams, upstream 500/429/529/400, two bodies refused 422) and 4 in flight (`claude-perf load`).
Made by fixtures/captures/record_ccproxy.py; each client record names its request's logged id.

Known answers: request, failure and health-check counts exact, but for the answers the log
cannot tell (`claude-perf load`'s non-streamed requests, answered 200 with a bare
``data: [DONE]``: 20 per load capture); error classes by status; each latency the client's less
1-58 ms; below DEBUG no model and no tokens for any request (the access_log plugin's zeros and
empty model are not read); at DEBUG every model asked and every plain answer's tokens exact,
per-model p50 within 5%; a stream's tokens never.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter

import pytest

from claude_perf.ingest.client_records import ClientRecord
from claude_perf.report.summary import build
from tests.test_ccproxy_captures import CAPTURES, analysis, kind, logged_id, records, rows_by_id

SEQUENTIAL = [
    "ccproxy-direct-console-sequential",
    "ccproxy-direct-json-sequential",
    "ccproxy-direct-debug-sequential",
    "ccproxy-direct-jsondebug-sequential",
    "ccproxy-direct-accesslog-sequential",
]
CONCURRENT = ["ccproxy-direct-console-concurrent", "ccproxy-direct-json-concurrent"]
NAMES = SEQUENTIAL + CONCURRENT
DEBUG = ["ccproxy-direct-debug-sequential", "ccproxy-direct-jsondebug-sequential"]
# The client's time less the logged duration_ms: its connection and reading, and on the OpenAI
# route's 429 the error's conversion after the line is logged (measured 1.0-58.3 ms).
MAX_CLIENT_EXTRA_S = 0.075
# What ccproxy-api 0.2.10 answers a non-streamed request from a client that also accepts SSE.
BARE_DONE = "data: [DONE]"


def untold(r: ClientRecord) -> bool:
    """A failure the log cannot tell: 200 with a bare ``data: [DONE]`` (see the load
    captures' README), logged as a 200 success."""
    return r.status == 200 and not r.ok and BARE_DONE in (r.error or "")


def is_nan(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


@pytest.mark.parametrize("name", NAMES)
def test_every_request_is_one_row_of_its_kind(name: str) -> None:
    rows = rows_by_id(name)
    client = records(name)
    assert sorted(rows) == sorted(logged_id(r) for r in client)
    for r in client:
        assert rows[logged_id(r)]["kind"] == kind(r), r.id
    summary = build(analysis(name))
    assert summary["requests"]["total"] == sum(kind(r) == "model" for r in client)
    assert summary["health"]["checks"] == sum(kind(r) == "health" for r in client)
    assert summary["requests"]["other_endpoints"] == sum(kind(r) == "other" for r in client)
    assert summary["data_quality"]["dialects"] == {
        str(CAPTURES / name / "docker-logs-t.txt"): ["ccproxy-api"]
    }


@pytest.mark.parametrize("name", NAMES)
def test_outcomes_are_the_clients_but_the_bare_done_answers(name: str) -> None:
    rows = rows_by_id(name)
    n_untold = 0
    for r in records(name):
        row = rows[logged_id(r)]
        if untold(r):
            assert (row["outcome"], row["status"]) == ("succeeded", 200), r.id
            n_untold += 1
            continue
        assert (row["outcome"] == "succeeded") == r.ok, r.id
        assert row["status"] == r.status, r.id
    # every non-streamed request of the load run, none of the recorder's own
    assert n_untold == (20 if name in CONCURRENT else 0)
    summary = build(analysis(name))
    client_failed = sum(not r.ok for r in records(name) if kind(r) == "model")
    assert summary["requests"]["failed"] == client_failed - n_untold


@pytest.mark.parametrize("name", NAMES)
def test_upstream_failures_are_classed_by_the_status_the_client_got(name: str) -> None:
    rows = rows_by_id(name)
    expected = {500: "server", 529: "server", 429: "rate_limit", 400: "validation"}
    expected[422] = "validation"
    for r in records(name):
        if kind(r) == "model" and r.status is not None and r.status >= 400:
            assert rows[logged_id(r)]["error_class"] == expected[r.status], r.id
    by_class = build(analysis(name))["errors"]["by_class"]
    if name in CONCURRENT:  # the tail: an upstream 500, a 429 and a streamed 529
        assert by_class == {"rate_limit": 1, "server": 2}
    else:  # 500, 529 (streamed), 500 (streamed); 429; 400 and two 422s
        assert by_class == {"validation": 3, "rate_limit": 1, "server": 3}


@pytest.mark.parametrize("name", NAMES)
def test_each_latency_is_the_clients_less_its_connection(name: str) -> None:
    rows = rows_by_id(name)
    for r in records(name):
        row = rows[logged_id(r)]
        extra = r.latency_s - row["latency_s"]
        assert 0 <= extra <= MAX_CLIENT_EXTRA_S, (r.id, r.latency_s, row["latency_s"])
        assert row["latency_source"] == "explicit"


@pytest.mark.parametrize("name", [n for n in NAMES if n not in DEBUG])
def test_below_debug_no_model_and_no_tokens_are_logged(name: str) -> None:
    # Direct mode logs no plugin_request; the access_log plugin's `model=` is empty and its
    # tokens 0 whatever the answer: read as "not logged", never as a model or as 0 tokens.
    rows = rows_by_id(name)
    for r in records(name):
        if kind(r) != "model":
            continue
        row = rows[logged_id(r)]
        assert is_nan(row["model"]), (r.id, row["model"])
        assert is_nan(row["output_tokens"]) and is_nan(row["input_tokens"]), r.id
    models = build(analysis(name))["models"]
    assert [m["model"] for m in models] == [None]


@pytest.mark.parametrize("name", DEBUG)
def test_at_debug_every_model_asked_is_named(name: str) -> None:
    rows = rows_by_id(name)
    for r in records(name):
        if kind(r) != "model":
            continue
        model = rows[logged_id(r)]["model"]
        if r.model_asked is not None:
            assert model == r.model_asked, r.id
        elif r.status == 422 and r.path == "/claude/v1/chat/completions":
            assert model == "x", r.id  # the malformed body's own "model": "x"
        else:  # no model in the body: refused 422, its "model: Field required" is no model
            assert is_nan(model), (r.id, model)


@pytest.mark.parametrize("name", DEBUG)
def test_at_debug_per_model_p50_is_the_clients(name: str) -> None:
    rows = rows_by_id(name)
    by_model: dict[str, list[tuple[float, float]]] = {}
    for r in records(name):
        if kind(r) == "model" and r.ok:
            row = rows[logged_id(r)]
            by_model.setdefault(str(r.model_asked), []).append((r.latency_s, row["latency_s"]))
    assert len(by_model) == 3
    for model, pairs in by_model.items():
        client = statistics.median(c for c, _ in pairs)
        logged = statistics.median(s for _, s in pairs)
        assert logged == pytest.approx(client, rel=0.05), model


@pytest.mark.parametrize("name", DEBUG)
def test_at_debug_plain_answers_tokens_are_the_upstreams(name: str) -> None:
    rows = rows_by_id(name)
    plain = 0
    for r in records(name):
        if kind(r) != "model" or not r.ok:
            continue
        row = rows[logged_id(r)]
        if r.stream:  # a stream's usage is logged at no level
            assert is_nan(row["output_tokens"]), r.id
            continue
        assert (row["output_tokens"], row["input_tokens"]) == (r.output_tokens, r.input_tokens)
        plain += 1
    assert plain == 8


@pytest.mark.parametrize("name", NAMES)
def test_generic_readers_do_not_count_a_request_twice(name: str) -> None:
    # One row per id the client-side completion lines carry, whatever else the lines hold: the
    # upstream call's own request_started / request_completed / sse_connection_* under the same
    # id, the access_log event, DEBUG's request_start / request_success, Combined lines.
    text = (CAPTURES / name / "docker-logs-t.txt").read_text()
    text = re.sub(r"\x1b\[[0-9;?]*[ -/]*[@-~]", "", text)
    end = re.compile(r"\b(?:request_completed|sse_connection_ended)\b")
    client = re.compile(r'\borigin(?:=|": ")client\b')
    rid = re.compile(r'\brequest_id(?:=|": ")([\w-]+)')
    lines = [line for line in text.splitlines() if end.search(line)]
    upstream = [line for line in lines if not client.search(line)]
    assert upstream  # the upstream calls are logged too
    ids = Counter(rid.findall(line)[0] for line in lines if client.search(line))
    assert set(ids.values()) == {1}
    assert len(analysis(name).requests.table) == len(ids)


def test_the_access_log_plugin_lines_are_in_the_captures() -> None:
    # Its event (on the app's log) only for streams that ended well, with tokens 0 and no
    # model; its Combined lines written to stdout the same requests, no duration.
    def count(name: str, pattern: str) -> int:
        text = (CAPTURES / name / "docker-logs-t.txt").read_text()
        return len(re.findall(pattern, re.sub(r"\x1b\[[0-9;?]*[ -/]*[@-~]", "", text)))

    event = r"\] access_log +\[ccproxy\.plugins\.access_log\.hook\]|\"event\": \"access_log\""
    streams_ok = {name: sum(bool(r.stream and r.ok) for r in records(name)) for name in SEQUENTIAL}
    for name in SEQUENTIAL:
        expected = 0 if name == "ccproxy-direct-jsondebug-sequential" else streams_ok[name]
        assert count(name, event) == expected, name
    combined = r'\] "POST /claude/v1/[a-z/]+ HTTP/1\.1" 200 - "-" "-"'
    assert (
        count("ccproxy-direct-accesslog-sequential", combined)
        == streams_ok["ccproxy-direct-accesslog-sequential"]
    )

"""Portkey's `/log/stream` feed saved to a file (ingest/log_stream.py, the `portkey-log-stream`
dialect): known answers on the real captures (fixtures/captures/portkey-*/log-stream.sse, the
feed as the gateway 1.15.2 sent it) against what their clients saw, and the SSE reading itself.

The gateway's console logs no request (tests/test_portkey_captures.py); its feed has one event
per request that reached a provider. Before this reader the feed was unread: a report on the
file counted no request at all.
"""

from __future__ import annotations

import csv
import json
import statistics
from collections import Counter
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claude_perf.ingest.log_stream import log_stream_lines
from tests.cli_support import run_cli

CAPTURES = Path(__file__).resolve().parent.parent / "fixtures" / "captures"
NAMES = ["portkey-sequential", "portkey-concurrent"]
# The client's requests the gateway answered without a provider (its header checks' 400s, a
# body it could not read): not in the feed (build/start-server.js: only /v1/ requests with
# request options are sent).
NO_PROVIDER = ("no provider header", "unknown provider", "malformed json")
# The feed's duration runs from the request's arrival to its response, in whole ms, inside the
# gateway; the client's adds the connection's round trip: p50 within this of the client's.
LATENCY_REL = 0.05


def clients(name: str) -> list[dict[str, Any]]:
    text = (CAPTURES / name / "clients.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def reached(name: str) -> list[dict[str, Any]]:
    """The client's requests that reached a provider (the feed's)."""
    return [r for r in clients(name) if not r["id"].startswith(NO_PROVIDER)]


@cache
def report(name: str, *extra: str) -> dict[str, Any]:
    feed = str(CAPTURES / name / "log-stream.sse")
    proc = run_cli("report", "-i", feed, *extra, "-f", "json")
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout))


@pytest.mark.parametrize("name", NAMES)
def test_every_request_that_reached_a_provider_is_counted_once(name: str) -> None:
    s = report(name)
    want = reached(name)
    assert len(want) < len(clients(name))  # (the capture has requests that reached none)
    assert s["requests"]["total"] == len(want)
    assert s["requests"]["failed"] == sum(1 for r in want if not r["ok"])
    assert list(s["data_quality"]["dialects"].values()) == [["portkey-log-stream"]]
    got = Counter((m["model"], m["requests"]) for m in s["models"])
    assert got == Counter(Counter(r["model_asked"] for r in want).items())


@pytest.mark.parametrize("name", NAMES)
def test_failures_are_classed_by_what_the_provider_answered(name: str) -> None:
    # 429: back off; an upstream's 500 or 529 (overloaded, by its status alone: as
    # tests/test_ccproxy_direct_captures.py), or an upstream that could not be reached: the
    # server side, whatever the model (gpt-4o is no Claude model, which alone said routing).
    s = report(name)
    want = Counter(
        "rate_limit" if r["status"] == 429 else "server" for r in reached(name) if not r["ok"]
    )
    assert s["errors"]["by_class"] == dict(want)


@pytest.mark.parametrize("name", NAMES)
def test_latency_is_the_clients_and_streams_have_a_time_to_first_byte_only(name: str) -> None:
    s = report(name)
    by_model = {m["model"]: m for m in s["models"]}
    for model in {r["model_asked"] for r in reached(name)}:
        plain = [r for r in reached(name) if r["model_asked"] == model and r["ok"]]
        plain = [r for r in plain if not r["stream"]]
        latency = by_model[model].get("latency_s") or {}
        assert latency.get("n", 0) == len(plain), model  # streams have no latency here
        if plain:
            client_p50 = statistics.median((r["end_ns"] - r["start_ns"]) / 1e9 for r in plain)
            assert latency["p50"] == pytest.approx(client_p50, rel=LATENCY_REL), model


@pytest.mark.parametrize("name", NAMES)
def test_each_request_is_placed_at_its_clients_time_and_joined_to_it(
    name: str, tmp_path: Path
) -> None:
    # Each line is stamped at its attempt's end (createdAt + executionTime): a client record of
    # the same status and model ended then (a stream's line: while its stream began, before
    # its first chunk), and the client join
    # pairs every request the feed holds (read at createdAt, a request's start, as an end, every
    # request was one duration early and the join paired 14 of 25, some wrongly).
    csv_path = tmp_path / "requests.csv"
    feed = str(CAPTURES / name / "log-stream.sse")
    client_file = str(CAPTURES / name / "clients.jsonl")
    proc = run_cli(
        *("report", "-i", feed, "--client", client_file, "-f", "json"),
        *("--requests-csv", str(csv_path)),
    )
    assert proc.returncode == 0, proc.stderr
    joined = json.loads(proc.stdout)["client"]
    assert (joined["matched"], joined["unmatched_client"], joined["unmatched_server"]) == (
        len(reached(name)),
        len(clients(name)) - len(reached(name)),
        0,
    )
    with csv_path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))

    slack_ns = 20e6  # (20 ms: the client's round trip, the gateway's own time)
    for row in rows:
        at = datetime.fromisoformat(row["end"].replace("Z", "+00:00"))
        line_ns = int(at.timestamp() * 1e9)
        if row["stream"] == "True":  # its line: as its stream began, before the first chunk
            near = [
                r
                for r in reached(name)
                if r["stream"] and r["start_ns"] - slack_ns < line_ns < r["first_byte_ns"]
            ]
        else:
            near = [r for r in reached(name) if abs(r["end_ns"] - line_ns) < slack_ns]
        assert (int(row["status"]), row["model"]) in {(r["status"], r["model_asked"]) for r in near}


def test_the_gateways_console_beside_its_feed_keeps_each_apart() -> None:
    # Both files of a session: the feed's requests, the console's errors (the failures the
    # gateway made itself: outside any request, as the console alone gives them).
    name = "portkey-sequential"
    console = str(CAPTURES / name / "docker-logs-t.txt")
    s = report(name, "-i", console)
    alone = report(name)
    proc = run_cli("report", "-i", console, "-f", "json")
    console_errors = json.loads(proc.stdout)["errors"]["records"]
    assert s["requests"] == alone["requests"]
    assert s["errors"]["orphan_records"] == console_errors > 0
    # (each failed record of the feed is its own request's error record)
    assert s["errors"]["records"] == console_errors + alone["requests"]["failed"]
    found = sorted(d for ds in s["data_quality"]["dialects"].values() for d in ds)
    assert found == ["portkey-gateway", "portkey-log-stream"]


def _feed(events: list[str], newline: str = "\n", space: str = " ") -> bytes:
    head = f"event: connected{newline}data: 1796123115706{newline}{newline}"
    body = "".join(f"event:{space}log{newline}data: {e}{newline}{newline}" for e in events)
    return (head + body).encode()


def _event(created: str, execution_ms: int, status: int = 200, **body: Any) -> str:
    option = {
        "providerOptions": {"provider": "anthropic", "rubeusURL": "messages"},
        "finalUntransformedRequest": {"body": {"model": "claude-x", **body}},
        "createdAt": created,
        "executionTime": execution_ms,
        "response": {"usage": {"input_tokens": 3, "output_tokens": 5}},
    }
    record = {"time": "x", "method": "POST", "status": status, "duration": execution_ms + 2}
    return json.dumps({**record, "requestOptions": [option]})


def test_an_event_becomes_one_line_at_its_attempts_end() -> None:
    out = log_stream_lines(_feed([_event("2026-12-01T11:05:15.728Z", 330)], "\r\n"))
    assert out is not None
    text, notes = out
    stamp, _, record = text.decode().rstrip("\n").partition(" ")
    assert stamp == "2026-12-01T11:05:16.058000000Z"
    assert json.loads(record) == {
        "portkey-log-stream": 1,
        "method": "POST",
        "path": "/v1/messages",
        "status": 200,
        "duration_ms": 332.0,
        "model": "claude-x",
        "stream": None,
        "provider": "anthropic",
        "attempts": 1,
        "input_tokens": 3,
        "output_tokens": 5,
        "cache_read_tokens": None,
        "cache_creation_tokens": None,
        "error": None,
        "upstream_failed": False,
        "seq": 1,
    }
    assert notes == ["Portkey /log/stream feed: 1 request log event(s)"]


def test_events_without_a_time_or_not_json_are_counted_and_left_out() -> None:
    events = [_event("2026-12-01T11:05:15.728Z", 330), "{not json", '{"status": 200}', "[1]"]
    out = log_stream_lines(_feed(events))
    assert out is not None
    text, notes = out
    assert text.count(b"\n") == 1
    assert notes[1:] == [
        "2 /log/stream event(s) were not JSON objects: left out",
        "1 /log/stream event(s) had no provider attempt with a time (createdAt): left out",
    ]


def test_odd_values_never_lose_or_break_a_line(tmp_path: Path) -> None:
    # JSON's NaN and Infinity, an impossible instant, a lowercase method, a model with a quote
    # and a backslash, a boolean status: each such event is a line the dialect still reads, or
    # counted and left out when it has no time; never a traceback. (The NaN and the Infinity
    # events are alike to the ns: two requests, not one line twice.)
    good = json.loads(_event("2026-12-01T11:05:15.728Z", 330))
    option = good["requestOptions"][0]
    odd = [
        {
            **good,
            "method": "post",
            "status": True,
            "requestOptions": [
                {**option, "finalUntransformedRequest": {"body": {"model": 'a"b\\c'}}}
            ],
        },
        {**good, "requestOptions": [{**option, "executionTime": float("nan")}]},
        {**good, "requestOptions": [{**option, "createdAt": "2026-13-40T00:00:00Z"}]},
        {**good, "requestOptions": "none"},
        {**good, "requestOptions": [{**option, "executionTime": float("inf")}]},
    ]
    feed = _feed([json.dumps(e) for e in odd])  # (NaN and Infinity: as JavaScript never writes)
    out = log_stream_lines(feed)
    assert out is not None
    text, notes = out
    records = [json.loads(line.split(" ", 1)[1]) for line in text.decode().splitlines()]
    assert len(records) == 3
    renamed = [r for r in records if r["model"] != "claude-x"]
    assert [(r["method"], r["status"], r["model"]) for r in renamed] == [("POST", None, "abc")]
    assert notes[1:] == [
        "2 /log/stream event(s) had no provider attempt with a time (createdAt): left out"
    ]
    path = tmp_path / "feed.sse"
    path.write_bytes(feed)
    proc = run_cli("report", "-i", str(path), "-f", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["requests"]["total"] == 3


def test_other_inputs_are_not_a_feed() -> None:
    assert log_stream_lines(b"2026-12-01T11:05:16.000000000Z event: log\n") is None
    assert log_stream_lines(b"event: connected\ndata: 1\n\n") is None  # no log event


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.integers(0, 10_000), min_size=1, max_size=12),
    st.sampled_from(["\n", "\r\n"]),
    st.booleans(),
    st.sampled_from(["", " "]),
)
def test_any_feed_gives_one_line_per_event_in_time_order(
    offsets_ms: list[int], newline: str, split_data: bool, space: str
) -> None:
    events = [
        _event(f"2026-12-01T11:{m // 60000:02d}:{m // 1000 % 60:02d}.{m % 1000:03d}Z", 7)
        for m in offsets_ms
    ]
    if split_data:  # SSE lets one event's data span several data: lines (joined with newlines)
        events = [e.replace(', "status"', f'{newline}data: , "status"', 1) for e in events]
    out = log_stream_lines(_feed(events, newline, space))
    assert out is not None
    stamps = [line.split(" ", 1)[0] for line in out[0].decode().splitlines()]
    assert len(stamps) == len(offsets_ms)
    assert stamps == sorted(stamps)

"""Real captures of Go servers' default request loggers against what the client saw.

fixtures/captures/go-*: the real gin 1.8.1 and Echo 4.2.1 (Debian's packages) serving a small
Anthropic-Messages-shaped server (tests/standin_go/main.go) in a FROM scratch container, driven by
`claude-perf load` (client-records.jsonl). Both loggers write a request's line when its handler
has returned, with its whole time (streams included): every successful request's logged latency
must sit just inside the client's (the client's also holds the connection and the bytes'
transit on this machine: under 50 ms), and the counts must be the client's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from claude_perf.analysis.pipeline import Analysis, analyse
from claude_perf.config.schema import Config
from claude_perf.ingest.files import read_logs

CAPTURES = Path(__file__).resolve().parent.parent / "fixtures" / "captures"
NAMES = ["go-gin-debug-c1", "go-gin-release-c6", "go-echo-default-c6"]
HEALTH_LINE = re.compile(r'(?:\| GET +"/health"|"method":"GET","uri":"/health")')


def records(name: str) -> list[dict]:
    lines = (CAPTURES / name / "client-records.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def analysis(name: str) -> Analysis:
    return analyse(read_logs([str(CAPTURES / name / "docker-logs-t.txt")]), Config())


@pytest.mark.parametrize("name", NAMES)
def test_counts_are_the_clients(name: str) -> None:
    table = analysis(name).requests.table
    model = table[table["kind"] == "model"]
    seen = records(name)
    assert len(model) == len(seen)
    assert int((model["outcome"] == "failed").sum()) == sum(not r["ok"] for r in seen) > 0
    log = (CAPTURES / name / "docker-logs-t.txt").read_text(encoding="utf-8")
    assert int((table["kind"] == "health").sum()) == len(HEALTH_LINE.findall(log)) >= 3


@pytest.mark.parametrize("name", NAMES)
def test_each_logged_latency_sits_just_inside_the_clients(name: str) -> None:
    table = analysis(name).requests.table
    ok = table[(table["kind"] == "model") & (table["outcome"] == "succeeded")]
    logged = sorted(ok["latency_s"].tolist())
    seen = sorted((r["end_ns"] - r["start_ns"]) / 1e9 for r in records(name) if r["ok"])
    assert len(logged) == len(seen)
    gaps_s = [client - server for client, server in zip(seen, logged, strict=True)]
    assert min(gaps_s) > 0 and max(gaps_s) < 0.05, gaps_s
    assert any(r.get("stream") for r in records(name))  # streams are among them, whole


def test_echo_lines_carry_the_clients_request_ids() -> None:
    a = analysis("go-echo-default-c6")
    table = a.requests.table
    by_id = {r["id"]: r for r in records("go-echo-default-c6")}
    model = table[table["kind"] == "model"]
    assert set(model["request_id"]) == set(by_id)
    for row in model.itertuples():
        seen = by_id[row.request_id]
        assert row.status == seen["status"]
        if seen["ok"]:
            client_s = (seen["end_ns"] - seen["start_ns"]) / 1e9
            assert 0 < client_s - row.latency_s < 0.05
    assert a.quality.dialects == {
        str(CAPTURES / "go-echo-default-c6" / "docker-logs-t.txt"): ("echo",)
    }
    assert not any("carry no unit" in note for note in a.quality.notes)  # the dialect said ns


def test_gin_debug_mode_start_up_banner_is_a_start_not_a_restart() -> None:
    a = analysis("go-gin-debug-c1")
    log = str(CAPTURES / "go-gin-debug-c1" / "docker-logs-t.txt")
    assert a.quality.dialects[log] == ("gin",)
    assert a.startups_logged and not any(a.restarts_seen.values())

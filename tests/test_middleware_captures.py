"""A FastAPI proxy whose logging middleware and uvicorn's access logger both log every response
(fixtures/captures/middleware-*: real uvicorn, FastAPI and httpx on the real engine): each
request counted once (analysis/echoes.py), exactly as many as the client sent, every record
joined to its row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from claude_perf.analysis.pipeline import Analysis, analyse
from claude_perf.config.schema import Config
from claude_perf.ingest.client_files import read_client_file
from claude_perf.ingest.files import read_logs
from claude_perf.ingest.session import Session
from tests.docker_support import engine_or_skip

CAPTURES = Path(__file__).parent.parent / "fixtures" / "captures"
NAMES = ("middleware-kv-concurrent", "middleware-plain-sequential")


def analysed(folder: Path) -> tuple[Analysis, list[dict]]:
    from claude_perf.analysis.pipeline import analyse_session

    logs = read_logs([str(folder / "docker-logs-t.txt")])
    clients = read_client_file(folder / "client-records.jsonl").records
    records = [json.loads(x) for x in (folder / "client-records.jsonl").read_text().splitlines()]
    return analyse_session(Session(logs, clients=clients), Config()), records


def assert_exact(a: Analysis, records: list[dict]) -> None:
    table = a.requests.table
    model = table[table["kind"] == "model"]
    sent = [r for r in records if r["path"] == "/v1/messages"]
    health = [r for r in records if r["path"] == "/health"]
    assert len(model) == len(sent)
    assert int((model["outcome"] == "failed").sum()) == sum(not r["ok"] for r in sent)
    assert sorted(model["status"].astype(int)) == sorted(r["status"] for r in sent)
    assert int((table["kind"] == "health").sum()) == len(health)
    assert a.quality.echoes_merged == len(records)  # every response logged twice
    assert a.client is not None
    join = a.client.join
    assert (len(join.pairs), len(join.unmatched_client), len(join.unmatched_server)) == (
        len(records),
        0,
        0,
    )


@pytest.mark.parametrize("name", NAMES)
def test_each_request_counts_once_and_joins_the_clients(name: str) -> None:
    a, records = analysed(CAPTURES / name)
    assert_exact(a, records)
    # the middleware's time is the latency (explicit) of every succeeded request
    model = a.requests.table[a.requests.table["kind"] == "model"]
    ok = model[model["outcome"] == "succeeded"]
    assert set(ok["latency_source"]) == {"explicit"}
    assert any("logged twice" in note for note in a.quality.notes)


@pytest.mark.parametrize("name", NAMES)
def test_without_the_echo_rule_every_request_would_count_twice(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the captures hold: each response's two lines (the rule is needed, not decorative)."""
    import claude_perf.analysis.echoes as echoes

    monkeypatch.setattr(echoes, "ECHO_SHARE", float("inf"))
    a, records = analysed(CAPTURES / name)
    assert len(a.requests.table) == 2 * len(records)


def test_live_middleware_proxy_counts_once(tmp_path: Path) -> None:
    """The kv capture made now on the real engine (record_middleware.py into a temporary
    folder): the same exactness as the committed one."""
    engine_or_skip()
    import sys

    sys.path.insert(0, str(CAPTURES.parent.parent))
    from fixtures.captures.record_middleware import CAPTURES as PLANS
    from fixtures.captures.record_middleware import record

    folder = record(PLANS["middleware-kv-concurrent"], tmp_path / "capture")
    a, records = analysed(folder)
    assert_exact(a, records)


def test_the_logs_alone_give_the_same_rows() -> None:
    """analyse (the lines alone, no client records) gives the rows the client-joined run gave."""
    joined, records = analysed(CAPTURES / NAMES[0])
    alone = analyse(read_logs([str(CAPTURES / NAMES[0] / "docker-logs-t.txt")]), Config())
    assert alone.quality.echoes_merged == joined.quality.echoes_merged == len(records)
    columns = ["kind", "status", "latency_s", "model"]
    assert alone.requests.table[columns].equals(joined.requests.table[columns])

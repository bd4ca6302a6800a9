"""The join of client records with the proxy's request rows, and the client figures per model.

Known answers on crafted sessions (a clock offset, requests missing on each side, ids), a property
test that nothing is matched twice, and the real captures' client views joined with their logs.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claude_perf.analysis.client_join import join_clients
from claude_perf.analysis.client_view import client_view, is_good, itl_of
from claude_perf.analysis.pipeline import analyse_session
from claude_perf.config.schema import Config, Slo
from claude_perf.ingest.client_files import rfc3339_ns
from claude_perf.ingest.client_records import ClientRecord
from claude_perf.ingest.files import read_logs
from claude_perf.ingest.session import Session

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = ROOT / "fixtures" / "captures"
T0 = 1_764_496_800_000_000_000  # 2025-11-30T10:00:00Z
S = 1_000_000_000
MS = 1_000_000
CHAT = "/v1/chat/completions"


def rows_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A request table with the columns the join and the client view read."""
    defaults = {
        "kind": "model",
        "path": CHAT,
        "status": 200,
        "request_id": None,
        "stream": False,
        "outcome": "succeeded",
        "ambiguous": False,
    }
    full = [{**defaults, **r} for r in rows]
    frame = pd.DataFrame(
        {
            "kind": pd.Series([r["kind"] for r in full], dtype=object),
            "start": pd.to_datetime([r["start"] for r in full], unit="ns", utc=True),
            "end": pd.to_datetime([r["end"] for r in full], unit="ns", utc=True),
            "path": pd.Series([r["path"] for r in full], dtype=object),
            "status": pd.array([r["status"] for r in full], dtype="Int16"),
            "request_id": pd.Series([r["request_id"] for r in full], dtype=object),
            "stream": pd.Series([r["stream"] for r in full], dtype=object),
            "outcome": pd.Series([r["outcome"] for r in full], dtype=object),
            "ambiguous": [r["ambiguous"] for r in full],
        }
    )
    latency = (frame["end"] - frame["start"]).dt.total_seconds()
    frame["latency_s"] = latency.where(frame["stream"] != True)  # noqa: E712
    frame["ttfb_s"] = latency.where(frame["stream"] == True)  # noqa: E712
    return frame


def record(n: int, start_ns: int, latency_ns: int, **extra: Any) -> ClientRecord:
    values: dict[str, Any] = {
        "id": f"c-{n}",
        "tool": "test",
        "start_ns": start_ns,
        "end_ns": start_ns + latency_ns,
        "path": CHAT,
        "model_asked": "sonnet",
        "status": 200,
        "ok": True,
    }
    values.update(extra)
    return ClientRecord(**values)


# ---------------------------------------------------------------- the join


def test_time_join_finds_the_clock_offset_and_what_is_missing_on_each_side() -> None:
    # The client's clock is 7.25 s ahead of the engine's; the proxy logs each request 5 ms after
    # the client sent it and ends it 3 ms before the client read its end.
    ahead = 7_250 * MS
    served = [(0, 1_000), (2_000, 800), (2_400, 1_900), (6_000, 500)]  # (start ms, latency ms)
    records = [
        record(i, T0 + ahead + (s - 5) * MS, (lat + 8) * MS) for i, (s, lat) in enumerate(served)
    ]
    records.append(record(9, T0 + ahead + 4_000 * MS, 900 * MS))  # the logs lost it
    refused = {"status": None, "ok": False, "error_class": "connect"}
    records.append(record(10, T0 + ahead + 4_500 * MS, 1 * MS, **refused))
    rows = [{"start": T0 + s * MS, "end": T0 + (s + lat) * MS} for s, lat in served]
    rows.insert(2, {"start": T0 + 3_000 * MS, "end": T0 + 3_100 * MS})  # nobody sent it
    rows.append({"start": T0 - 60 * S, "end": T0 - 59 * S})  # before the session
    joined = join_clients(records, rows_table(rows), Config())
    assert joined.pairs == ((0, 0), (1, 1), (2, 3), (3, 4))
    assert joined.unmatched_client == (4, 5)
    assert joined.unmatched_server == (2,)
    assert joined.outside_window == 1
    assert joined.by_id == 0
    # Midpoints: the log's is 1 ms after the client's (5 ms late start, 3 ms early end).
    assert joined.clock_offset_s == pytest.approx(-7.249, abs=1e-9)
    assert joined.tolerance_s == pytest.approx(0.001)  # the floor: every pair agrees exactly


def test_request_ids_win_over_time_and_status_must_agree() -> None:
    records = [
        record(0, T0, 1 * S, id="req-b"),
        record(1, T0 + 10 * MS, 1 * S, server_request_id="req-a"),
        record(2, T0 + 20 * MS, 1 * S, status=500, ok=False, error_class="http_5xx"),
    ]
    rows: list[dict[str, Any]] = [
        {"start": T0 + 15 * MS, "end": T0 + 1 * S, "request_id": "req-a"},
        {"start": T0 + 2 * MS, "end": T0 + 1 * S, "request_id": "req-b"},
        {"start": T0 + 21 * MS, "end": T0 + 1 * S, "status": 200},
    ]
    joined = join_clients(records, rows_table(rows), Config())
    assert joined.pairs == ((0, 1), (1, 0))
    assert joined.by_id == 2
    assert joined.unmatched_client == (2,)  # a 500 is not the log's 200
    assert joined.unmatched_server == (2,)


def test_a_streamed_row_logged_as_the_answer_began_is_set_at_the_first_byte() -> None:
    # Two overlapping streamed requests; the log's end of each is the client's first byte.
    records = [
        record(0, T0, 3 * S, stream=True, first_byte_ns=T0 + 100 * MS),
        record(1, T0 + 50 * MS, 3 * S, stream=True, first_byte_ns=T0 + 2 * S),
    ]
    rows = [
        {"start": T0 + 52 * MS, "end": T0 + 2 * S - 1 * MS, "stream": True},
        {"start": T0 + 2 * MS, "end": T0 + 99 * MS, "stream": True},
    ]
    joined = join_clients(records, rows_table(rows), Config())
    assert joined.pairs == ((0, 1), (1, 0))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 20_000), st.integers(1, 5_000), st.booleans()),
        min_size=1,
        max_size=25,
    ),
    st.lists(st.tuples(st.integers(0, 20_000), st.integers(1, 5_000)), max_size=25),
    st.integers(-100_000, 100_000),
)
def test_the_join_never_matches_anything_twice(
    clients: list[tuple[int, int, bool]], logged: list[tuple[int, int]], offset_ms: int
) -> None:
    records = [
        record(i, T0 + (s + offset_ms) * MS, lat * MS, status=200 if ok else 500, ok=ok)
        for i, (s, lat, ok) in enumerate(clients)
    ]
    rows = [{"start": T0 + s * MS, "end": T0 + (s + lat) * MS} for s, lat in logged]
    joined = join_clients(records, rows_table(rows) if rows else rows_table([]), Config())
    mine = [i for i, _ in joined.pairs]
    theirs = [j for _, j in joined.pairs]
    assert len(set(mine)) == len(mine) and len(set(theirs)) == len(theirs)
    assert all(records[i].status == 200 for i in mine)  # every logged row here is a 200
    assert sorted(mine + list(joined.unmatched_client)) == list(range(len(records)))
    assert not set(theirs) & set(joined.unmatched_server)
    assert len(theirs) + len(joined.unmatched_server) + joined.outside_window == len(rows)


# ---------------------------------------------------------------- the figures


def test_client_figures_per_model_known_answers() -> None:
    records = [
        record(0, T0, 1 * S, output_tokens=50, input_tokens=10, cost_usd=0.01),
        record(1, T0 + 1 * S, 2 * S, output_tokens=40, input_tokens=10, cache_read_tokens=7),
        record(
            2,
            T0 + 2 * S,
            4 * S,
            stream=True,
            first_token_ns=T0 + 2 * S + 500 * MS,
            chunk_gaps_s=(0.1, 0.3),
            output_tokens=100,
        ),
        record(3, T0 + 3 * S, 3 * S, status=500, ok=False, error_class="http_5xx"),
        record(
            4,
            T0,
            1 * S,
            model_asked="haiku",
            stream=True,
            first_token_ns=T0 + 200 * MS,
            output_tokens=11,
        ),
    ]
    rows = [
        {"start": T0 + 10 * MS, "end": T0 + 990 * MS},
        {"start": T0 + 1 * S + 10 * MS, "end": T0 + 2 * S + 990 * MS},
    ]
    config = replace(Config(), slo=Slo(ttft_s=1.0, latency_s=3.5))
    view = client_view(records, (), rows_table(rows), config)
    sonnet, haiku = view.models
    assert (sonnet.model, sonnet.requests, sonnet.succeeded, sonnet.failed) == ("sonnet", 4, 3, 1)
    assert sonnet.latency_s is not None
    assert (sonnet.latency_s.n, sonnet.latency_s.p50, sonnet.latency_s.mean) == (
        3,
        2.0,
        pytest.approx(7 / 3),
    )
    assert sonnet.ttft_s is not None and (sonnet.ttft_s.n, sonnet.ttft_s.p50) == (1, 0.5)
    assert sonnet.itl_s is not None and sonnet.itl_s.p50 == pytest.approx(0.2)  # mean chunk gap
    assert sonnet.output_tokens_per_s is not None
    assert sonnet.output_tokens_per_s.p50 == pytest.approx(25.0)  # 50/1, 40/2, 100/4
    assert sonnet.output_tokens_per_s_overall == pytest.approx(190 / 6)  # T0 .. T0+6 s
    assert (sonnet.tokens.input, sonnet.tokens.output, sonnet.tokens.cache_read) == (20, 190, 7)
    assert (sonnet.tokens.cache_creation, sonnet.cost_usd) == (None, 0.01)
    # good: #0 (latency 1 s stands in for TTFT: 1 ≤ 1) and #1 (2 s ≤ 3.5, TTFT = latency 2 > 1: no)
    assert sonnet.goodput is not None and (sonnet.goodput.good, sonnet.goodput.share) == (1, 0.25)
    assert sonnet.server.matched == 2
    assert sonnet.server.latency_s is not None and sonnet.server.latency_s.p50 == pytest.approx(
        1.48
    )
    assert sonnet.server.difference_p50_s == pytest.approx(0.02)
    assert haiku.itl_s is not None and haiku.itl_s.p50 == pytest.approx(0.08)  # 0.8 s / 10
    assert view.error_classes == (("http_5xx", 1),)
    assert view.goodput is not None and view.goodput.good == 2  # haiku's one too


def test_an_objective_a_record_cannot_show_is_not_met() -> None:
    slo = Slo(itl_s=0.05)
    assert not is_good(record(0, T0, 1 * S), slo)  # no tokens, no chunks: ITL unknown
    assert itl_of(record(0, T0, 1 * S, first_token_ns=T0 + 1, output_tokens=1)) is None
    assert not is_good(record(0, T0, 1 * S, ok=False, status=500), Slo())


# ---------------------------------------------------------------- real captures


def capture_records(name: str, shift_ns: int = 0) -> tuple[ClientRecord, ...]:
    """A capture's client-view.json as ClientRecords (two recorders, two key spellings)."""
    out = []
    for i, e in enumerate(json.loads((CAPTURES / name / "client-view.json").read_text())):

        def ns(*keys: str, e: dict[str, Any] = e) -> int | None:
            value = next((e[k] for k in keys if e.get(k)), None)
            return None if value is None else rfc3339_ns(value, name) + shift_ns

        first_content = ns("first_content_at", "first_body_at")
        out.append(
            ClientRecord(
                id=f"{name}-{i}",
                tool="capture",
                start_ns=ns("sent_at") or 0,
                end_ns=ns("end_at", "ended_at") or 0,
                method=e["method"],
                path=e["path"],
                model_asked=e["model"],
                stream=e["stream"],
                first_byte_ns=ns("first_byte_at"),
                first_token_ns=first_content if e["stream"] else None,
                status=e["status"],
                ok=e["status"] == 200 and not e.get("error"),
            )
        )
    return tuple(out)


@pytest.mark.parametrize("shift_s", [0.0, -3600.0])
def test_real_maxproxy_capture_joins_every_logged_request(shift_s: float) -> None:
    # claude-max-api-proxy without DEBUG logs no health check: the client's 4 /health requests
    # stay alone; its 17 chat requests (one a 500) each meet their CLI run.
    name = "maxproxy-plain-sequential"
    records = capture_records(name, round(shift_s * S))
    logs = read_logs([str(CAPTURES / name / "docker-logs-t.txt")])
    view = analyse_session(Session(logs, clients=records), Config()).client
    assert view is not None
    join = view.join
    assert (len(join.pairs), len(join.unmatched_client), len(join.unmatched_server)) == (17, 4, 0)
    assert {records[i].path for i in join.unmatched_client} == {"/health"}
    assert join.clock_offset_s == pytest.approx(-shift_s, abs=0.05)
    assert view.error_classes == (("http_5xx", 1),)  # no class given: from its status, 500
    haiku = next(m for m in view.models if m.model == "claude-haiku-4")
    # stand-in haiku: 0.3 s to its last token, plus the CLI's start; the log sees a little less
    assert haiku.latency_s is not None and haiku.server.latency_s is not None
    assert 0.3 < haiku.server.latency_s.p50 < haiku.latency_s.p50 < 0.5


def test_real_wrapper_capture_under_concurrency() -> None:
    # 40 concurrent chat requests; the engine's HEALTHCHECK probes (3 in the window, 1 before
    # it) are logged requests no client sent.
    name = "wrapper-debug-concurrent"
    records = capture_records(name)
    logs = read_logs([str(CAPTURES / name / "docker-logs-t.txt")])
    view = analyse_session(Session(logs, clients=records), Config()).client
    assert view is not None
    join = view.join
    assert (len(join.pairs), len(join.unmatched_client), len(join.unmatched_server)) == (40, 0, 3)
    assert join.outside_window == 1
    table = analyse_session(Session(logs), Config()).requests.table
    assert set(table["kind"].iloc[list(join.unmatched_server)]) == {"health"}

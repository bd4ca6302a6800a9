"""The join on the shapes real proxies log under concurrency (issue 11).

Two `claude-perf load` sessions kept from the live tests (fixtures/joins/*: the real
claude-max-api-proxy and the wrapper stand-in in plain mode, 8 requests at concurrency 2) must
join every record with the row of its own request; crafted logs of the same shapes check what
the join concludes when a side truly lacks a request, and a property test that nothing is
matched twice whatever the rows' shapes.

The shapes: with no request ids the log's start and end lines are paired by order, which is a
guess while another request is open (``ambiguous``); claude-max-api-proxy logs a streamed answer
when it ends, the wrapper's access line comes as the answer begins (no start line for streams);
docker -t stamps lines late in bursts (tens of ms).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claude_perf.analysis.client_join import join_clients
from claude_perf.analysis.client_view import client_view
from claude_perf.analysis.pipeline import analyse_session
from claude_perf.config.schema import Config
from claude_perf.ingest.client_files import read_client_file
from claude_perf.ingest.client_records import ClientRecord
from claude_perf.ingest.files import read_logs
from claude_perf.ingest.session import Session
from tests.test_client_join import MS, T0, S, record, rows_table

JOINS = Path(__file__).resolve().parent.parent / "fixtures" / "joins"


@pytest.mark.parametrize(
    ("name", "at_first_byte"),
    [("load-maxproxy-concurrent", False), ("load-wrapper-plain-concurrent", True)],
)
def test_load_sessions_join_every_record_with_its_own_row(name: str, at_first_byte: bool) -> None:
    records = read_client_file(JOINS / name / "records.jsonl").records
    logs = read_logs([str(JOINS / name / "docker-logs-t.txt")])
    table = analyse_session(Session(logs), Config()).requests.table
    view = analyse_session(Session(logs, clients=records), Config()).client
    assert view is not None
    join = view.join
    assert (len(records), len(join.pairs), join.unmatched_client) == (8, 8, ())
    # Each record's row is the one whose end line is nearest to the instant it stands for: the
    # end (claude-max-api-proxy), or the first byte of a streamed answer (the wrapper).
    ends = table["end"].astype("int64").to_numpy()
    for i, j in join.pairs:
        r = records[i]
        instant = r.first_byte_ns if at_first_byte and r.stream else r.end_ns
        assert instant is not None
        nearest = min(range(len(ends)), key=lambda k: abs(int(ends[k]) - instant))
        assert j == nearest, (i, j, nearest)
        assert abs(int(ends[j]) - instant) < 50 * MS
    # One kernel clock: the offset is the lines' stamping, milliseconds.
    assert join.clock_offset_s is not None and abs(join.clock_offset_s) < 0.01
    # What no client sent is the engine's HEALTHCHECK probes (the wrapper logs them), nothing else.
    assert set(table["kind"].iloc[list(join.unmatched_server)]) <= {"health"}
    for model in view.models:
        assert model.server.matched == model.requests
        assert model.latency_s is not None
        if model.server.latency_s is not None:
            # each server latency is its own request's (start lines paired again): none is
            # longer than the client's longest (the log's own pairing gave haiku 3.17 s)
            assert model.server.latency_s.max <= model.latency_s.max


def closed_loop(slots: int, latencies_ms: list[int]) -> list[tuple[int, int]]:
    """(start, end) ms of requests sent by ``slots`` clients, each sending its next as the last ends."""
    free_at = [i * 5 for i in range(slots)]
    out = []
    for latency in latencies_ms:
        k = min(range(slots), key=lambda s: free_at[s])
        start = free_at[k]
        out.append((start, start + latency))
        free_at[k] = start + latency + 1
    return out


def fifo_rows(spans: list[tuple[int, int]], late_ms: dict[int, int]) -> list[dict[str, Any]]:
    """Rows as a log without ids pairs them: the k-th start line with the k-th end line, a guess
    (``ambiguous``) once another request is open; end line k stamped ``late_ms[k]`` late."""
    starts = sorted(s + 2 for s, _ in spans)
    ends = sorted(e - 1 + late_ms.get(k, 0) for k, (_, e) in enumerate(spans))
    return [
        {"start": T0 + s * MS, "end": T0 + e * MS, "ambiguous": True}
        for s, e in zip(starts, ends, strict=True)
    ]


def test_a_log_paired_by_order_under_concurrency_joins_by_its_end_lines() -> None:
    # Two closed-loop clients, 2.6 s and 3.6 s answers alternating: the order-paired rows give
    # request 5's start to request 6's end (and back); the last end line is stamped 26 ms late.
    spans = closed_loop(2, [2_600, 3_600] * 4)
    records = [record(i, T0 + s * MS, (e - s) * MS) for i, (s, e) in enumerate(spans)]
    rows = fifo_rows(spans, {7: 26})
    joined = join_clients(records, rows_table(rows), Config())
    assert joined.unmatched_client == () and joined.unmatched_server == ()
    by_end = {
        i: min(range(len(rows)), key=lambda k: abs(rows[k]["end"] - r.end_ns))
        for i, r in enumerate(records)
    }
    assert dict(joined.pairs) == by_end


def test_server_latency_of_order_paired_rows_takes_each_requests_own_start_line() -> None:
    # The same closed loop, haiku 2.6 s and sonnet 3.6 s: the log's order pairing gives some
    # rows a neighbour's start; the client view pairs the start lines again with the clients'
    # starts, so each server latency is the request's own: 3 ms less than the client's (the
    # start line 2 ms late, the end line 1 ms early).
    spans = closed_loop(2, [2_600, 3_600] * 4)
    records = [
        record(i, T0 + s * MS, (e - s) * MS, model_asked="haiku" if i % 2 == 0 else "sonnet")
        for i, (s, e) in enumerate(spans)
    ]
    table = rows_table(fifo_rows(spans, {}))
    assert sorted(table["latency_s"].round(3)) != [2.597] * 4 + [3.597] * 4  # the log's guess
    view = client_view(records, (), table, Config())
    assert len(view.join.pairs) == 8
    for model in view.models:
        assert model.server.latency_s is not None and model.latency_s is not None
        assert model.server.latency_s.n == 4
        assert model.server.latency_s.p50 == pytest.approx(model.latency_s.p50 - 0.003, abs=1e-9)
        assert model.server.latency_s.max == pytest.approx(model.latency_s.max - 0.003, abs=1e-9)
        assert model.server.difference_p50_s == pytest.approx(0.003, abs=1e-9)
        assert model.server.inferred == 4  # still marked: the pairing is ours, not the log's


def test_end_lines_alone_leave_each_side_what_it_truly_lacks() -> None:
    # Sequential requests, one streamed (logged as it began, no start line); the log lost
    # request 2, and holds one request no client sent, between two of the client's requests.
    spans = [(0, 1_000), (1_500, 2_500), (3_000, 4_000), (4_500, 5_500)]
    records = [record(i, T0 + s * MS, (e - s) * MS) for i, (s, e) in enumerate(spans)]
    records[1] = record(1, T0 + 1_500 * MS, 1_000 * MS, stream=True, first_byte_ns=T0 + 1_600 * MS)
    rows: list[dict[str, Any]] = [
        {"start": None, "end": T0 + 999 * MS},
        {"start": None, "end": T0 + 1_601 * MS},  # the streamed one, at its first byte
        {"start": None, "end": T0 + 2_800 * MS},  # nobody sent it
        {"start": None, "end": T0 + 5_499 * MS},
    ]
    joined = join_clients(records, rows_table(rows), Config())
    assert joined.pairs == ((0, 0), (1, 1), (3, 3))
    assert joined.unmatched_client == (2,)
    assert joined.unmatched_server == (2,)


def test_an_end_line_cannot_come_before_its_request_started() -> None:
    # The log lost request 2; the row left alone ends after request 1 and before request 2
    # began: it is nobody's (of these clients) and request 2 stays alone.
    records = [record(i, T0 + 2 * i * S, 1 * S) for i in range(5)]
    ends_ms = [999, 2_999, 3_500, 6_999, 8_999]
    rows: list[dict[str, Any]] = [{"start": None, "end": T0 + e * MS} for e in ends_ms]
    joined = join_clients(records, rows_table(rows), Config())
    assert joined.pairs == ((0, 0), (1, 1), (3, 3), (4, 4))
    assert joined.unmatched_client == (2,) and joined.unmatched_server == (2,)
    assert joined.clock_offset_s == pytest.approx(-0.001)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 20_000), st.integers(1, 5_000), st.booleans(), st.booleans()),
        min_size=1,
        max_size=20,
    ),
    st.lists(
        st.tuples(st.integers(0, 20_000), st.integers(0, 5_000), st.sampled_from("fap")),
        max_size=20,
    ),
)
def test_no_row_is_matched_twice_whatever_its_shape(
    clients: list[tuple[int, int, bool, bool]], logged: list[tuple[int, int, str]]
) -> None:
    # Rows: f = start and end its own, a = order-paired (ambiguous), p = an end line alone.
    records: list[ClientRecord] = []
    for i, (s, lat, stream, ok) in enumerate(clients):
        extra: dict[str, Any] = {"status": 200 if ok else 500, "ok": ok, "stream": stream}
        if stream:
            extra["first_byte_ns"] = T0 + (s + lat // 3) * MS
        records.append(record(i, T0 + s * MS, lat * MS, **extra))
    rows = [
        {
            "start": None if shape == "p" else T0 + s * MS,
            "end": T0 + (s + lat) * MS,
            "ambiguous": shape == "a",
        }
        for s, lat, shape in logged
    ]
    joined = join_clients(records, rows_table(rows), Config())
    mine = [i for i, _ in joined.pairs]
    theirs = [j for _, j in joined.pairs]
    assert len(set(mine)) == len(mine) and len(set(theirs)) == len(theirs)
    assert all(records[i].status == 200 for i in mine)
    assert sorted(mine + list(joined.unmatched_client)) == list(range(len(records)))
    assert not set(theirs) & set(joined.unmatched_server)
    assert len(theirs) + len(joined.unmatched_server) + joined.outside_window == len(rows)

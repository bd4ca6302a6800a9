"""A store window read chunk by chunk (store/pending.StoredLines) gives what the whole read gives.

Issue 13: ``report --since`` reads the store in bounded memory. Chunks are forced small here
(CLAUDE_PERF_CHUNK_BYTES) so that a few thousand stored lines take many chunks, across several
containers whose lines interleave, tie in time, repeat each other, and arrive out of order
(blocks overlapping in time, a second collect from before the cursor).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from claude_perf.analysis.pipeline import analyse_session
from claude_perf.config.schema import Config
from claude_perf.ingest import chunks
from claude_perf.ingest.chunks import ChunkTally
from claude_perf.ingest.files import read_logs
from claude_perf.store.db import Store
from claude_perf.store.pending import StoredLines
from claude_perf.store.read import load_session
from claude_perf.store.window import iter_lines

try:
    from benchmarks.gen_log import generate
except ModuleNotFoundError:  # plain `pytest` puts tests/, not the repo root, on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks.gen_log import generate

from test_chunked import assert_same

from tests.cli_support import run_cli

T0 = 1_764_377_445_000_000_000


def facts(name: str) -> dict[str, object]:
    return {"id": name * 8, "name": name, "image": "img", "config": {}}


def fill(path: Path, rows_by_name: dict[str, list[tuple[int, str, str]]], seed: int) -> None:
    """Each container's rows in batches of random size and order, some sent twice."""
    rng = random.Random(seed)
    with Store(path) as store:
        for name, rows in rows_by_name.items():
            key = store.save_container(facts(name))
            batches, at = [], 0
            while at < len(rows):
                size = rng.randint(1, 400)
                batches.append(rows[at : at + size])
                at += size
            rng.shuffle(batches)  # blocks overlap in time and arrive out of order
            for batch in batches:
                store.add_lines(key, batch, 0)
            for batch in batches[:3]:  # fetched again: nothing is stored twice
                assert store.add_lines(key, batch, 0) == 0


def generated_rows(tmp_path: Path, n_lines: int, seed: int) -> list[tuple[int, str, str]]:
    log = tmp_path / "proxy.log"
    generate(log, n_lines=n_lines, seed=seed)
    table = read_logs([str(log)]).table
    ts = table.column("ts").cast(pa.int64()).to_pylist()
    streams = [s or "stdout" for s in table.column("stream").to_pylist()]
    return list(zip(ts, streams, table.column("text").to_pylist(), strict=True))


def test_a_generated_log_over_three_containers_in_many_chunks_equals_the_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = generated_rows(tmp_path, 20_000, seed=11)
    # One proxy's log, cut into three replicas' logs: requests stay within one container.
    by_name: dict[str, list[tuple[int, str, str]]] = {"a": [], "b": [], "c": []}
    for i, row in enumerate(rows):
        by_name["abc"[(i // 500) % 3]].append(row)
    path = tmp_path / "s.db"
    fill(path, by_name, seed=3)
    monkeypatch.setenv(chunks.CHUNK_BYTES_ENV, str(48 << 10))
    chunked = load_session(path, chunked=True)
    assert isinstance(chunked.logs.pending, StoredLines)
    whole = load_session(path)
    assert whole.logs.pending is None and whole.logs.table.num_rows == len(rows)
    taken: list[int] = []
    original = StoredLines.chunks

    def counted(self: StoredLines, *args: object) -> object:
        for chunk in original(self, *args):  # type: ignore[arg-type]
            taken.append(chunk.table.num_rows)
            yield chunk

    monkeypatch.setattr(StoredLines, "chunks", counted)
    split_analysis = analyse_session(chunked, Config())
    assert len(taken) > 20 and sum(taken) % len(rows) == 0  # (a second pass: dialects)
    whole_analysis = analyse_session(whole, Config())
    assert_same(whole_analysis, split_analysis)
    assert whole_analysis.requests.table.shape[0] > 2_000
    # A chunked read keeps of the times only the line count and the window (ChunkTally.times).
    split_ts = split_analysis.logs.table.column("ts")
    whole_ts = whole_analysis.logs.table.column("ts")
    assert len(split_ts) == len(whole_ts)
    assert pc.min_max(split_ts).as_py() == pc.min_max(whole_ts).as_py()


def _last_time_change(table: pa.Table) -> int | None:
    """A cut as the parse room makes one: between two lines of different times."""
    ts = table.column("ts").cast(pa.int64()).to_pylist()
    for at in range(len(ts) - 1, 0, -1):
        if ts[at] != ts[at - 1]:
            return at
    return None


@pytest.mark.parametrize("seed", range(6))
def test_ties_duplicates_and_overlaps_chunk_into_the_whole_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    rng = random.Random(seed)
    by_name: dict[str, list[tuple[int, str, str]]] = {}
    for name in "xyz"[: 1 + seed % 3]:
        # few distinct times: many ties within and across containers, and texts that repeat
        # (same time and text in two containers, or on two streams, is a duplicate line)
        rows = {
            (T0 + rng.randint(0, 300), rng.choice(["stdout", "stderr"]), f"t{rng.randint(0, 5)}")
            for _ in range(rng.randint(0, 1500))
        }
        by_name[name] = sorted(rows, key=lambda _: rng.random())
    path = tmp_path / "s.db"
    fill(path, by_name, seed=seed)
    with Store(path) as store:
        keys = tuple(int(c["_key"]) for c in store.containers())
    source = StoredLines(path, keys, tuple(f"store:{k}" for k in keys), T0 + 20, None, 2_000)
    whole = source.read_whole()
    tally = ChunkTally()
    parts = list(source.chunks(_last_time_change, tally))
    assert len(parts) > 1 or whole.table.num_rows < 200
    got = pa.concat_tables([p.table for p in parts]) if parts else whole.table.slice(0, 0)
    assert [p.first_row for p in parts] == [
        sum(q.table.num_rows for q in parts[:i]) for i in range(len(parts))
    ]
    assert got.to_pydict() == whole.table.to_pydict()
    lines = source.lines(tally)
    assert lines.duplicate_lines == whole.duplicate_lines
    assert whole.duplicate_lines > 0 or whole.table.num_rows < 200
    assert lines.total == whole.total
    assert lines.inputs == whole.inputs and lines.sources == whole.sources
    assert lines.notes == whole.notes


def test_read_order_is_time_then_stream_then_text_within_a_window(tmp_path: Path) -> None:
    rows = [(T0 + 5, "stdout", "b"), (T0 + 5, "stderr", "z"), (T0 + 1, "stdout", "a")]
    rows += [(T0 + 5, "stdout", "a"), (T0 + 9, "stdout", "late"), (T0, "stdout", "early")]
    with Store(tmp_path / "s.db") as store:
        key = store.save_container(facts("p"))
        store.add_lines(key, rows[:3], 0)
        store.add_lines(key, rows[3:], 0)
        got = []
        for table in iter_lines(store, key, T0 + 1, T0 + 5, min_rows=1):
            got += zip(
                *(table.column(c).to_pylist() for c in ("ts", "stream", "text")), strict=True
            )
    assert got == [
        (T0 + 1, "stdout", "a"),
        (T0 + 5, "stderr", "z"),
        (T0 + 5, "stdout", "a"),
        (T0 + 5, "stdout", "b"),
    ]


def test_report_since_reads_a_large_window_in_chunks_with_the_same_summary(
    tmp_path: Path,
) -> None:
    """The CLI: `report --since` of a window over the chunk size gives the JSON summary of the
    whole read (a chunk size over the window's)."""
    rows = generated_rows(tmp_path, 6_000, seed=2)
    path = tmp_path / "s.db"
    fill(path, {"a": rows[::2], "b": rows[1::2]}, seed=1)
    summaries, stages = {}, {}
    for chunk_bytes in (16 << 10, 1 << 30):
        out = tmp_path / f"summary-{chunk_bytes}.json"
        staged = tmp_path / f"stages-{chunk_bytes}.json"
        result = run_cli(
            *("report", "--since", "2000-01-01T00:00:00Z", "--store", str(path)),
            *("-f", "json", "-o", str(out)),
            env={chunks.CHUNK_BYTES_ENV: str(chunk_bytes), "CLAUDE_PERF_STAGES": str(staged)},
        )
        assert result.returncode in (0, 3), result.stderr
        summaries[chunk_bytes] = json.loads(out.read_text())
        stages[chunk_bytes] = [s["stage"] for s in json.loads(staged.read_text())]
    assert "read+classify chunks" in stages[16 << 10] and "classify" in stages[1 << 30]
    assert summaries[16 << 10] == summaries[1 << 30]
    assert summaries[16 << 10]["lines"]["total"] == len(rows)

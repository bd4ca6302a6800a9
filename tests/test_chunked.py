"""A large file read and classified chunk by chunk gives exactly what the whole-file read gives.

Issue 13: memory must not grow with the log's lines, and chunked reading must not change any
result. Chunks are forced tiny here (a few hundred bytes to a few KB) so that small logs take
many chunks: every rule that looks across lines (continuations, duplicates, dialect detection
over the whole file's sample, bare-unit inference, row numbers) is then exercised at a cut.
"""

from __future__ import annotations

import gzip
import sys
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claude_perf.analysis.pipeline import Analysis, analyse_session
from claude_perf.config.schema import Config, Limits
from claude_perf.errors import InputError
from claude_perf.ingest import chunks
from claude_perf.ingest.chunks import ChunkTally
from claude_perf.ingest.files import LogLines, read_logs
from claude_perf.ingest.session import Session
from claude_perf.parse import chunked as parse_chunked
from claude_perf.parse import dialect_match
from claude_perf.parse.classify import classify
from claude_perf.report import summary as summary_mod

try:
    from benchmarks.gen_log import generate
except ModuleNotFoundError:  # plain `pytest` puts tests/, not the repo root, on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks.gen_log import generate

T0_NS = 1_764_377_445_000_000_000  # 2026-11-29T00:50:45Z

BODIES = [
    "2026-11-29 00:50:49,378 - claude_agent_sdk._internal.query - ERROR - Fatal error: exit code 1",
    "Error output: Check stderr output for details",
    "    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)",
    "Traceback (most recent call last):",
    "2026-11-29 00:50:48,791 - src.main - INFO - Chat completion: session_id=None, total_messages=2",
    'INFO:     172.17.0.1:50264 - "POST /v1/chat/completions HTTP/1.1" 200 OK',
    'INFO:     127.0.0.1:50270 - "GET /health HTTP/1.1" 200 OK',
    "request done model=sonnet duration=1.20s status=200 request_id=r-7",
    '{"event":"request.start","requestId":"r-9","model":"opus"}',
    '{"level":"error","event":"request.complete","requestId":"r-9","status":500}',
    '{"event":"done","duration":850}',  # a bare duration: its unit is inferred over all entries
    "[Subprocess] Process spawned with PID: 4242",  # claude-max-api-proxy's dialect
    "[Subprocess] Process closed with code: 0",
    "caf\xe9 au lait",  # becomes invalid UTF-8 below
    "something else entirely",
    "",
    # the wrapper's DEBUG middleware: a start and a duration line, each with the proxy's stamp
    "2026-11-29 00:50:48,898 - src.main - DEBUG - 🔍 [unknown] Incoming request: POST "
    "http://127.0.0.1:8000/v1/chat/completions",
    "2026-11-29 00:50:49,712 - src.main - DEBUG - 🔍 Response: 200 in 811.37ms",
]
GAPS_NS = [0, 1_000_000, 5_000_000, 6_000_000, 250_000_000, 10**9]


def as_written(text: str) -> bytes:
    """A line's bytes: latin-1 where it can be (``café`` becomes invalid UTF-8, as a proxy
    printing raw bytes would write it), else UTF-8 (the wrapper's 🔍 lines)."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def docker_log(bodies: list[str], gaps_ns: list[int]) -> bytes:
    """`docker logs -t` bytes: each body after the given gap from the line before (latin-1
    bodies become invalid UTF-8, as a proxy printing raw bytes would write them)."""
    lines, now = [], T0_NS
    for body, gap in zip(bodies, gaps_ns, strict=True):
        now += gap
        seconds, nanos = divmod(now, 1_000_000_000)
        stamp = pd.Timestamp(seconds, unit="s", tz="UTC").strftime("%Y-%m-%dT%H:%M:%S")
        lines.append(as_written(f"{stamp}.{nanos:09d}Z {body}"))
    return b"\n".join(lines) + b"\n"


def analyse_both(
    path: Path, chunk_bytes: int, limits: Limits | None = None
) -> tuple[Analysis, Analysis]:
    """(the whole-file analysis, the chunked one) of one file."""
    whole = analyse_session(Session(read_logs([str(path)], limits)), Config())
    pending = chunks.pending_lines([str(path)], chunk_bytes, limits)
    assert pending is not None and pending.pending is not None
    return whole, analyse_session(Session(pending), Config())


def assert_same(whole: Analysis, split: Analysis) -> None:
    pd.testing.assert_frame_equal(split.entries.events, whole.entries.events)
    assert split.entries.kind_counts == whole.entries.kind_counts
    assert split.entries.dialects == whole.entries.dialects
    assert split.entries.notes == whole.entries.notes
    pd.testing.assert_frame_equal(split.requests.table, whole.requests.table)
    assert split.quality == whole.quality
    assert split.logs.total == whole.logs.total
    assert split.logs.inputs == whole.logs.inputs
    assert summary_mod.build(split) == summary_mod.build(whole)


def test_generated_log_in_many_chunks_equals_the_whole(tmp_path: Path) -> None:
    path = tmp_path / "proxy.log"
    generate(path, n_lines=30_000, seed=5)
    passes: list[int] = []
    original = parse_chunked._pass

    def counted(*args: object) -> object:
        passes.append(1)
        return original(*args)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(parse_chunked, "_pass", counted)
        whole, split = analyse_both(path, 64 << 10)  # about 60 chunks
    assert_same(whole, split)
    assert len(passes) == 1  # the dialects were all found in the first chunk
    assert split.logs.table.column_names == ["ts"]  # the text is gone
    assert whole.requests.table.shape[0] > 5_000


def test_entries_given_up_to_the_assembly_change_nothing(tmp_path: Path) -> None:
    """keep_events=False (the report command): the assembly drops the entries' columns as it
    decodes them; the requests, the data quality and the summary are those of a kept run."""
    path = tmp_path / "proxy.log"
    generate(path, n_lines=20_000, seed=7)

    def run(keep_events: bool) -> Analysis:
        pending = chunks.pending_lines([str(path)], 64 << 10)
        assert pending is not None
        return analyse_session(Session(pending), Config(), keep_events=keep_events)

    kept, given_up = run(True), run(False)
    pd.testing.assert_frame_equal(given_up.requests.table, kept.requests.table)
    assert given_up.quality == kept.quality
    assert summary_mod.build(given_up) == summary_mod.build(kept)
    assert given_up.entries.kind_counts == kept.entries.kind_counts
    assert len(kept.entries.events) > 10_000
    assert len(given_up.entries.events) == 0
    assert list(given_up.entries.events.columns) == list(kept.entries.events.columns)


def test_several_sources_given_up_to_the_assembly_change_nothing(tmp_path: Path) -> None:
    """With several sources (replicas) the given-up events are split by source column by column
    and each source's dropped as it is assembled: the same requests, quality and summary."""
    paths = [tmp_path / f"replica-{i}.log" for i in range(3)]
    for seed, path in enumerate(paths):
        generate(path, n_lines=6_000, seed=11 + seed)

    def run(keep_events: bool) -> Analysis:
        return analyse_session(
            Session(read_logs([str(p) for p in paths])), Config(), keep_events=keep_events
        )

    kept, given_up = run(True), run(False)
    assert kept.requests.table["source"].nunique() == 3
    pd.testing.assert_frame_equal(given_up.requests.table, kept.requests.table)
    assert given_up.quality == kept.quality
    assert summary_mod.build(given_up) == summary_mod.build(kept)


CAPTURES = Path(__file__).resolve().parents[1] / "fixtures" / "captures"


@pytest.mark.parametrize(
    "capture",
    [
        # where a chunk without a duration line lost its starts' own stamps (they were read
        # only where the part held a duration line): eight requests changed start
        "wrapper-debug-concurrent",
        "maxproxy-debug-concurrent",
        "copilot-verbose-concurrent",
        "ccr-info-concurrent",
    ],
)
def test_a_real_capture_in_small_chunks_equals_the_whole(capture: str) -> None:
    path = CAPTURES / capture / "docker-logs-t.txt"
    for chunk_bytes in (1_500, 5_000):
        whole, split = analyse_both(path, chunk_bytes)
        assert_same(whole, split)


def test_starts_carry_their_own_stamps_where_a_dialect_logs_duration_records(
    tmp_path: Path,
) -> None:
    """The same in every part of an input, whatever lines that part holds: where a dialect in
    use has duration records (the wrapper's DEBUG middleware), every start's stamp is read,
    also in a part without a duration line; elsewhere none (they would serve nothing)."""
    debug_start, duration = BODIES[-2], BODIES[-1]  # "Incoming request", "Response: ... in"
    path = tmp_path / "debug.log"

    def stamps(bodies: list[str]) -> list[float]:
        path.write_bytes(docker_log(bodies, [10_000_000] * len(bodies)))
        events = classify(read_logs([str(path)]).table, Config()).events
        if "app_s" not in events.columns:
            return []
        return events[events["role"] == "start"]["app_s"].dropna().round(3).tolist()

    # 2026-11-29 00:50:48,898 (app_timezone UTC), each start's own
    assert stamps([debug_start, BODIES[5], debug_start, duration]) == [1795913448.898] * 2
    assert stamps([debug_start, BODIES[5], debug_start, BODIES[5]]) == [1795913448.898] * 2
    plain_start = BODIES[4]  # the wrapper's "Chat completion:" start, no duration records
    assert stamps([plain_start, BODIES[5], plain_start, BODIES[5]]) == []


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pairs=st.lists(
        st.tuples(st.sampled_from(BODIES), st.sampled_from(GAPS_NS)), min_size=2, max_size=120
    ),
    chunk_bytes=st.integers(min_value=64, max_value=4_000),
    head_lines=st.sampled_from([1, 3, 10_000]),
)
def test_any_mix_in_any_chunks_equals_the_whole(
    tmp_path_factory: pytest.TempPathFactory,
    pairs: list[tuple[str, int]],
    chunk_bytes: int,
    head_lines: int,
) -> None:
    """Continuations, duplicates (gap 0, same body), invalid UTF-8, bare units, and a dialect
    found only in a later chunk (a small detection head makes the stride matter)."""
    path = tmp_path_factory.mktemp("mix") / "docker.log"
    path.write_bytes(docker_log([b for b, _ in pairs], [g for _, g in pairs]))
    if path.stat().st_size <= chunk_bytes:
        chunk_bytes = max(1, path.stat().st_size - 1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dialect_match, "DETECT_HEAD_LINES", head_lines)
        whole, split = analyse_both(path, chunk_bytes)
    assert_same(whole, split)


def test_a_dialect_first_seen_in_a_later_chunk_classifies_the_file_again(tmp_path: Path) -> None:
    bodies = [BODIES[5]] * 200 + [BODIES[11], BODIES[12]] * 20
    path = tmp_path / "late.log"
    path.write_bytes(docker_log(bodies, [10_000_000] * len(bodies)))
    passes: list[object] = []
    original = parse_chunked._pass

    def counted(*args: object) -> object:
        result = original(*args)  # type: ignore[arg-type]
        passes.append(result[0])
        return result

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dialect_match, "DETECT_HEAD_LINES", 1)
        patch.setattr(parse_chunked, "_pass", counted)
        whole, split = analyse_both(path, 2_000)
    assert_same(whole, split)
    assert len(passes) == 2 and passes[0] is not None  # the second pass used the final set
    assert "claude-max-api-proxy" in split.entries.dialects[0]
    assert split.entries.events["role"].eq("start").sum() == 20


@pytest.mark.parametrize(
    "shuffle",
    [
        pytest.param(lambda lines: [lines[1], lines[0], *lines[2:]], id="out-of-order"),
        pytest.param(lambda lines: [*lines[:50], b"no time here", *lines[50:]], id="untimed"),
    ],
)
def test_a_file_the_whole_read_would_reorder_is_read_whole(tmp_path: Path, shuffle) -> None:
    bodies = [BODIES[4], BODIES[5]] * 60
    data = docker_log(bodies, [10_000_000] * len(bodies))
    path = tmp_path / "odd.log"
    path.write_bytes(b"\n".join(shuffle(data.split(b"\n")[:-1])) + b"\n")
    whole, split = analyse_both(path, 1_000)
    assert_same(whole, split)
    assert split.logs.table.column_names != ["ts"]  # the whole-file path's table


def long_lines_log(long_at: list[int], n: int = 200) -> bytes:
    """A docker log of ``n`` lines, the ones at ``long_at`` an error record 700-1,900 bytes long
    (a request body or a stack trace printed on one line)."""
    bodies = [BODIES[4 + i % 3] for i in range(n)]
    for k, i in enumerate(long_at):
        bodies[i] = BODIES[0] + " " + "x" * (700 + 300 * k)
    return docker_log(bodies, [10_000_000] * n)


@pytest.mark.parametrize("chunk_bytes", [2_500, 4_000, 9_000])
def test_lines_over_the_cap_are_cut_and_counted_once_as_the_whole_read_does(
    tmp_path: Path, chunk_bytes: int
) -> None:
    path = tmp_path / "long.log"
    path.write_bytes(long_lines_log([3, 40, 41, 90, 150]))
    whole, split = analyse_both(path, chunk_bytes, Limits(max_line_bytes=500))
    assert_same(whole, split)
    assert split.logs.table.column_names == ["ts"]  # read in chunks
    note = f"{path}: 5 line(s) longer than 500 bytes were cut to that length"
    assert (
        [n for n in split.logs.notes if n.startswith(note)]
        == [n for n in whole.logs.notes if n.startswith(note)]
        != []
    )
    assert split.entries.events["message"].str.len().max() < 500


def test_a_line_longer_than_the_cap_and_a_chunk_sends_the_file_to_the_whole_read(
    tmp_path: Path,
) -> None:
    path = tmp_path / "long.log"
    path.write_bytes(long_lines_log([100, 101, 102, 103, 104, 105, 106]))  # up to 2,500 bytes
    limits = Limits(max_line_bytes=600)
    whole, split = analyse_both(path, 1_500, limits)
    assert_same(whole, split)
    assert split.logs.table.column_names != ["ts"]  # the whole-file path's table
    assert any("7 line(s) longer than 600 bytes" in n for n in split.logs.notes)
    # and the whole read holds the file to max_input_bytes
    small = Limits(max_line_bytes=600, max_input_bytes=path.stat().st_size - 1)
    pending = chunks.pending_lines([str(path)], 1_500, small)
    assert pending is not None
    with pytest.raises(InputError, match=r"holds more than .* \[limits\] max_input_bytes"):
        analyse_session(Session(pending), Config())


def test_a_file_read_in_chunks_is_not_held_to_max_input_bytes(tmp_path: Path) -> None:
    """Chunks hold one chunk whatever the file's size: the cap on what an input makes the tool
    hold does not refuse it (a file read whole is refused: test_bounded)."""
    path = tmp_path / "big.log"
    path.write_bytes(long_lines_log([], n=400))
    limits = Limits(max_input_bytes=path.stat().st_size // 4)
    with pytest.raises(InputError):
        read_logs([str(path)], limits)
    pending = chunks.pending_lines([str(path)], 2_000, limits)
    assert pending is not None
    split = analyse_session(Session(pending), Config())
    assert split.logs.total == 400


def test_a_pending_source_that_cannot_give_chunks_is_read_through_its_own_read_whole(
    tmp_path: Path,
) -> None:
    # A store-backed source (report --since) offers chunks(), lines() and read_whole(): the
    # whole read of a file that cannot be chunked goes through its read_whole, never a path.
    data = docker_log([BODIES[4], BODIES[5]] * 60, [10_000_000] * 120)
    path = tmp_path / "odd.log"
    lines = data.split(b"\n")[:-1]
    path.write_bytes(b"\n".join([lines[1], lines[0], *lines[2:]]) + b"\n")
    found = chunks.chunked_file([str(path)], 1_000)
    assert found is not None
    chunked: chunks.ChunkedFile = found
    read: list[int] = []

    class StoreLike:  # no ``path``: only the three methods of the protocol
        def chunks(self, cut: chunks.Cut, tally: ChunkTally) -> Iterator[chunks.LineChunk]:
            return chunked.chunks(cut, tally)

        def lines(self, tally: ChunkTally, notes: Sequence[str] = ()) -> LogLines:
            return chunked.lines(tally, notes)

        def read_whole(self) -> LogLines:
            read.append(1)
            return chunked.read_whole()

    pending = chunks.pending_lines([str(path)], 1_000)
    assert pending is not None
    split = analyse_session(Session(replace(pending, pending=StoreLike())), Config())
    whole = analyse_session(Session(read_logs([str(path)])), Config())
    assert read == [1]
    assert_same(whole, split)


def test_a_chunk_with_no_place_to_cut_is_read_with_the_next(tmp_path: Path) -> None:
    # A long traceback, its lines 1 ms apart: no cut inside it, whatever the chunk size.
    bodies = [BODIES[4], BODIES[0]] + [BODIES[2]] * 300 + [BODIES[5]] * 10
    path = tmp_path / "trace.log"
    path.write_bytes(docker_log(bodies, [10_000_000, 10_000_000] + [1_000_000] * 310))
    whole, split = analyse_both(path, 500)
    assert_same(whole, split)
    assert split.entries.kind_counts["continuation"] == 300  # all under the one error record


def test_which_inputs_are_read_in_chunks(tmp_path: Path) -> None:
    data = docker_log([BODIES[5]] * 100, [10_000_000] * 100)
    big = tmp_path / "big.log"
    big.write_bytes(data)
    assert chunks.pending_lines([str(big)], 1_000) is not None
    assert chunks.pending_lines([str(big)], len(data)) is None  # not larger than a chunk
    assert chunks.pending_lines([str(big), str(big)], 1_000) is None  # several inputs: merged
    assert chunks.pending_lines(["-"], 1_000) is None
    packed = tmp_path / "big.log.gz"
    packed.write_bytes(gzip.compress(data))
    assert chunks.pending_lines([str(packed)], 100) is None
    plain = tmp_path / "plain.log"
    plain.write_bytes(b"INFO: hello\n" * 500)
    assert chunks.pending_lines([str(plain)], 1_000) is None  # no engine times to cut at
    assert chunks.pending_lines([str(tmp_path / "missing.log")], 1_000) is None


def test_the_report_reads_large_files_in_chunks_with_the_same_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from claude_perf.cli.commands import ReportOptions, report

    path = tmp_path / "proxy.log"
    generate(path, n_lines=8_000, seed=9)
    options = ReportOptions(config=Config(), inputs=(str(path),), format="json")
    monkeypatch.setenv(chunks.CHUNK_BYTES_ENV, str(1 << 30))
    whole = report(options).summary
    monkeypatch.setenv(chunks.CHUNK_BYTES_ENV, "50000")
    seen: list[bool] = []
    original = parse_chunked.classify_pending

    def spy(logs, config):  # type: ignore[no-untyped-def]
        seen.append(True)
        return original(logs, config)

    monkeypatch.setattr("claude_perf.analysis.pipeline.classify_pending", spy)
    split = report(replace(options)).summary
    assert seen == [True]
    assert split == whole


def test_the_tally_keeps_the_line_count_and_the_window_of_the_times(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ChunkTally keeps no time per line: the "ts" column it gives has a row per kept line,
    the earliest and latest time first and nulls after (one small array, sliced)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ts_type = pa.timestamp("ns", tz="UTC")
    monkeypatch.setattr(chunks, "_NULL_PIECE_ROWS", 4)
    tally = ChunkTally()
    assert tally.times().to_pylist() == []
    tally.add_times(pa.array([None, None], ts_type))  # no time yet: counted only
    tally.add_times(pa.chunked_array([pa.array([30, None, 10], ts_type)]))
    tally.add_times(pa.array([50, 40, None, None, None, None], ts_type))
    times = tally.times()
    assert (tally.kept, tally.first_ns, tally.last_ns) == (11, 10, 50)
    assert len(times) == 11 and times.null_count == 9 and times.type == ts_type
    assert pc.min_max(times)["min"].value == 10 and pc.min_max(times)["max"].value == 50
    assert [len(c) for c in times.chunks] == [2, 4, 4, 1]  # the nulls: slices of one piece
    one = ChunkTally()
    one.add_times(pa.array([7], ts_type))
    assert one.times().cast(pa.int64()).to_pylist() == [7]


def halves(table: object) -> int | None:
    """A cut for the tests below: the next chunk starts half-way through this one."""
    rows = table.num_rows  # type: ignore[attr-defined]
    return rows // 2 or None


def test_a_file_cut_shorter_while_it_is_read_is_one_input_error(tmp_path: Path) -> None:
    # logrotate's copytruncate empties the file under the reader: an error naming the file,
    # never a SIGBUS (a mapped chunk) nor a report silently missing the rest of the lines.
    path = tmp_path / "proxy.log"
    data = docker_log([BODIES[5]] * 200, [10_000_000] * 200)
    path.write_bytes(data)
    chunked = chunks.chunked_file([str(path)], 2_000)
    assert chunked is not None
    read = chunked.chunks(halves, ChunkTally())
    assert next(read).table.num_rows > 0
    path.write_bytes(data[: len(data) // 3])  # (open for writing cuts it first)
    with pytest.raises(InputError, match=r"proxy\.log: the file got shorter while"):
        list(read)


def test_the_chunk_buffer_is_reused_unless_a_view_of_it_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow as pa

    path = tmp_path / "proxy.log"
    path.write_bytes(docker_log([BODIES[5]] * 200, [10_000_000] * 200))
    buffers: list[int] = []
    original_of = chunks._Window.of

    def of(*args: object) -> object:
        window = original_of(*args)  # type: ignore[arg-type]
        if window is not None:
            buffers.append(id(window.buffer))
        return window

    monkeypatch.setattr(chunks._Window, "of", staticmethod(of))
    whole = chunks.ChunkedFile(str(path), path.stat().st_size, 2_000)
    rows = sum(chunk.table.num_rows for chunk in whole.chunks(halves, ChunkTally()))
    assert rows == 200 and len(buffers) > 3
    assert len(set(buffers)) == 1  # one buffer, read into again and again

    kept: list[object] = []
    original_read_log = chunks.read_log

    def keeping(path: str, data: memoryview) -> object:
        kept.append(pa.py_buffer(data))  # as a zero-copy array of the chunk's bytes would
        return original_read_log(path, data)

    monkeypatch.setattr(chunks, "read_log", keeping)
    buffers.clear()
    rows = sum(chunk.table.num_rows for chunk in whole.chunks(halves, ChunkTally()))
    assert rows == 200
    assert len(set(buffers)) == len(buffers)  # a held buffer is never written over
    assert [bytes(view)[:30] for view in kept[:1]] == [path.read_bytes()[:30]]

    # Lines over the cap are read from a cut copy: a view held of that copy holds no buffer.
    kept.clear()
    buffers.clear()
    capped = chunks.ChunkedFile(
        str(path), path.stat().st_size, 2_000, limits=Limits(max_line_bytes=60)
    )
    rows = sum(chunk.table.num_rows for chunk in capped.chunks(halves, ChunkTally()))
    assert rows == 200 and len(kept) > 3
    assert len(set(buffers)) == 1

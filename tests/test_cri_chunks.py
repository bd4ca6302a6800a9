"""A large CRI log file (containerd, CRI-O, Podman's k8s-file; Kubernetes' /var/log/pods) read
chunk by chunk gives exactly what the whole-file read gives.

A line the runtime split into partial (``P``) records is one row, and stdout and stderr parts
interleave, so a chunk may end only where no partial run of either stream is open. Chunks are
forced tiny (a few hundred bytes to a few KB) so that small files take many chunks and runs
cross the places the chunks would end.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claude_perf.ingest import chunks
from claude_perf.ingest.chunks import ChunkTally
from claude_perf.ingest.engine_times import TS_BODY
from claude_perf.ingest.files import FORM_CRI, read_log, read_logs
from claude_perf.parse import dialect_match
from tests.test_chunked import BODIES, T0_NS, analyse_both, as_written, assert_same
from tests.test_cri_form import as_cri


def stamp(ns: int, trim: bool = False) -> str:
    """RFC 3339 with nanoseconds; ``trim``: Go's RFC3339Nano, trailing zeros dropped (as
    containerd and CRI-O write it)."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    head = pd.Timestamp(seconds, unit="s", tz="UTC").strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{nanos:09d}".rstrip("0") if trim else f"{nanos:09d}"
    return f"{head}.{frac}Z" if frac else f"{head}Z"


def records(ns: int, stream: str, body: str, part_chars: int, trim: bool) -> list[bytes]:
    """One line as CRI records: parts of ``part_chars`` characters (0: whole), P then a last F;
    each part a nanosecond after the one before (the row keeps the first part's time)."""
    step = part_chars or max(len(body), 1)
    parts = [body[i : i + step] for i in range(0, len(body), step)] or [""]
    out = []
    for k, part in enumerate(parts):
        tag = "F" if k == len(parts) - 1 else "P"
        out.append(as_written(f"{stamp(ns + k, trim)} {stream} {tag} {part}"))
    return out


def cri_log(lines: list[tuple[str, int, str, int, bool]], trim: bool, open_end: bool) -> bytes:
    """CRI bytes of (body, gap from the line before, stream, part size, interleaved with the
    next line) lines. An interleaved line's records alternate with the next line's (when that
    one is on the other stream, as a runtime writes two streams at once). ``open_end``: the
    last record a ``P`` (the file cut in the middle of a long line)."""
    out: list[bytes] = []
    now = T0_NS
    held: list[bytes] | None = None
    held_stream = ""
    for body, gap, stream, part_chars, interleave in lines:
        now += gap
        mine = records(now, stream, body, part_chars, trim)
        if held is not None and held_stream != stream:
            for k in range(max(len(held), len(mine))):
                out += held[k : k + 1] + mine[k : k + 1]
            held = None
            continue
        if held is not None:
            out += held
            held = None
        if interleave:
            held, held_stream = mine, stream
        else:
            out += mine
    out += held or []
    if open_end:
        out.append(f"{stamp(now + 1_000_000, trim)} stdout P the start of a".encode())
    return b"\n".join(out) + b"\n"


def chunk_texts(path: Path, chunk_bytes: int) -> list[list[str]]:
    """The rows' texts of each chunk, cut before the last row whose time differs from the row
    before it (the one rule of the parse side's cuts the ingest relies on: no duplicate pair
    across a cut), wherever the runs are."""

    def anywhere(table: pa.Table) -> int | None:
        ts = table.column("ts").cast(pa.int64()).to_numpy()
        new = np.flatnonzero(ts[1:] != ts[:-1]) + 1
        return int(new[-1]) if len(new) else None

    found = chunks.chunked_file([str(path)], chunk_bytes)
    assert found is not None and found.form == FORM_CRI
    return [c.table.column("text").to_pylist() for c in found.chunks(anywhere, ChunkTally())]


def test_runs_crossing_the_chunk_ends_are_never_split(tmp_path: Path) -> None:
    """A stdout line in 20 parts, stderr lines between its parts: whatever the chunk size,
    every chunk holds whole lines, and the chunks' lines are the whole read's."""
    long_line = "x" * 200
    lines = [
        *[(BODIES[5], 10_000_000, "stdout", 0, False)] * 5,
        (long_line, 10_000_000, "stdout", 10, True),
        ("an error line", 10_000_000, "stderr", 0, False),
        *[(BODIES[5], 10_000_000, "stdout", 0, False)] * 5,
    ]
    data = cri_log(lines, trim=False, open_end=False)
    # the stderr record sits between the first and the second part of the long line
    assert data.count(b" stderr F an error line") == 1
    path = tmp_path / "0.log"
    path.write_bytes(data)
    whole = read_logs([str(path)]).table.column("text").to_pylist()
    assert whole[5:7] == [long_line, "an error line"]
    for chunk_bytes in (100, 300, 700, 1_500):
        parts = chunk_texts(path, chunk_bytes)
        assert len(parts) > 2
        assert [text for part in parts for text in part] == whole


def test_a_large_cri_file_is_read_in_chunks_with_the_whole_reads_analysis(
    tmp_path: Path,
) -> None:
    lines = [(body, 10_000_000, "stdout", 7 * (i % 3), i % 5 == 0) for i, body in enumerate(BODIES)]
    lines += [
        (b, 10_000_000, "stderr" if i % 2 else "stdout", 9, True) for i, b in enumerate(BODIES)
    ]
    path = tmp_path / "0.log"
    path.write_bytes(cri_log(lines * 6, trim=True, open_end=False))
    whole, split = analyse_both(path, 800)
    assert_same(whole, split)
    assert split.logs.table.column_names == ["ts"]  # read in chunks, not whole
    assert split.logs.inputs[0].form == FORM_CRI
    assert split.logs.partial_merged == whole.logs.partial_merged > 100
    assert split.requests.table.shape[0] > 10


def test_a_cri_file_with_a_line_out_of_the_form_is_read_whole(tmp_path: Path) -> None:
    data = cri_log([(BODIES[5], 10_000_000, "stdout", 0, False)] * 60, trim=False, open_end=False)
    records_ = data.split(b"\n")[:-1]
    path = tmp_path / "0.log"
    path.write_bytes(b"\n".join([*records_[:30], b"no time here", *records_[30:]]) + b"\n")
    whole, split = analyse_both(path, 500)
    assert_same(whole, split)
    assert split.logs.table.column_names != ["ts"]  # the whole-file path's table


def test_a_partial_run_longer_than_a_chunk_is_read_with_the_next(tmp_path: Path) -> None:
    lines = [
        *[(BODIES[5], 10_000_000, "stdout", 0, False)] * 10,
        ("y" * 3_000, 10_000_000, "stdout", 50, False),  # 60 records, about 5 KB
        *[(BODIES[5], 10_000_000, "stdout", 0, False)] * 10,
    ]
    path = tmp_path / "0.log"
    path.write_bytes(cri_log(lines, trim=False, open_end=False))
    whole, split = analyse_both(path, 400)
    assert_same(whole, split)
    assert split.logs.table.column_names == ["ts"]
    assert split.logs.partial_merged == 59


LINE = st.tuples(
    st.sampled_from(BODIES),
    st.sampled_from([0, 1_000_000, 5_000_000, 6_000_000, 250_000_000, 10**9]),
    st.sampled_from(["stdout", "stderr"]),
    st.sampled_from([0, 0, 1, 4, 13, 40]),
    st.booleans(),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.lists(LINE, min_size=2, max_size=100),
    chunk_bytes=st.integers(min_value=64, max_value=4_000),
    trim=st.booleans(),
    open_end=st.booleans(),
    head_lines=st.sampled_from([1, 3, 10_000]),
)
def test_any_cri_records_in_any_chunks_equal_the_whole(
    tmp_path_factory: pytest.TempPathFactory,
    lines: list[tuple[str, int, str, int, bool]],
    chunk_bytes: int,
    trim: bool,
    open_end: bool,
    head_lines: int,
) -> None:
    """Runs of parts of both streams, interleaved, crossing chunk ends; continuations,
    duplicates (gap 0, same body), invalid UTF-8, a file ending inside a run; a dialect found
    only in a later chunk (a small detection head)."""
    path = tmp_path_factory.mktemp("cri") / "0.log"
    path.write_bytes(cri_log(lines, trim, open_end))
    if path.stat().st_size <= chunk_bytes:
        chunk_bytes = max(1, path.stat().st_size - 1)
    # each line whole again, in the order of its first record
    written = [as_written(body).decode("utf-8", "replace") for body, *_ in lines]
    assert read_log(str(path))[0].column("text").to_pylist() == [
        *written,
        *(["the start of a"] if open_end else []),
    ]
    whole_rows = read_logs([str(path)]).table.column("text").to_pylist()
    assert [t for part in chunk_texts(path, chunk_bytes) for t in part] == whole_rows
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dialect_match, "DETECT_HEAD_LINES", head_lines)
        whole, split = analyse_both(path, chunk_bytes)
    assert_same(whole, split)
    assert split.logs.table.column_names == ["ts"]  # every record in the form: chunked


@pytest.mark.parametrize("part_chars", [60, 0], ids=["cut", "whole"])
def test_a_capture_as_cri_records_in_chunks_equals_its_whole_read(
    tmp_path: Path, part_chars: int
) -> None:
    capture = Path(__file__).parent.parent / "fixtures/captures/wrapper-debug-concurrent"
    cri = tmp_path / "0.log"
    cri.write_bytes(as_cri((capture / "docker-logs-t.txt").read_bytes(), part_chars))
    for chunk_bytes in (3_000, 60_000):
        whole, split = analyse_both(cri, chunk_bytes)
        assert_same(whole, split)
    assert split.logs.table.column_names == ["ts"]
    assert split.logs.partial_merged == whole.logs.partial_merged


def reference_rows(lines: list[str]) -> list[tuple[str | None, str | None, str]]:
    """CRI records read the plain way, one Python object at a time: (time, stream, text) rows,
    a P record joined with the next records of its stream, the row at its first record."""
    form = re.compile(rf"^({TS_BODY}) (stdout|stderr) ([FP]) ?(.*)$", re.ASCII | re.DOTALL)
    rows: list[list[str | None]] = []
    open_row: dict[str, int] = {}
    for line in lines:
        found = form.match(line)
        if found is None:
            rows.append([None, None, line])
            continue
        ts, stream, tag, text = found.groups()
        if stream in open_row:
            rows[open_row[stream]][2] += text  # type: ignore[operator]
        else:
            rows.append([ts, stream, text])
            open_row[stream] = len(rows) - 1
        if tag == "F":
            open_row.pop(stream, None)
    return [(r[0], r[1], r[2] or "") for r in rows]


RECORD = st.one_of(
    st.tuples(
        st.sampled_from(
            [
                "2026-11-30T17:38:10.564819952Z",
                "2026-11-30T17:38:10Z",
                "2026-11-30T17:38:10.5+05:00",
            ]
        ),
        st.sampled_from(["stdout", "stderr", "stdin"]),
        st.sampled_from(["F", "P", "X"]),
        st.sampled_from([" ", "", "  "]),
        st.text(alphabet=st.sampled_from("ab é€\t{}\r"), max_size=8),
    ).map(lambda r: "{} {} {}{}{}".format(*r).rstrip("\r")),
    st.text(alphabet=st.sampled_from("2026-T:Z ab é\t"), max_size=40).map(lambda t: t.rstrip("\r")),
)


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(RECORD, max_size=30), skip=st.integers(0, 2))
def test_records_are_read_as_the_plain_reading_reads_them(lines: list[str], skip: int) -> None:
    """Heads matched apart from the text, the text gathered past them, parts joined per stream
    without a Python object per record: what a plain reading, record by record, gives (the
    lines given as a slice of a larger array too)."""
    import pyarrow.compute as pc

    from claude_perf.ingest.engine_times import rfc3339_times
    from claude_perf.ingest.runtime_records import cri_runs

    array = pa.array(["x"] * skip + lines, pa.large_string()).slice(skip)
    table, merged, runs = cri_runs(array)
    want = reference_rows(lines)
    want_ts = rfc3339_times(pa.array([r[0] for r in want], pa.string()))
    assert table.column("text").to_pylist() == [r[2] for r in want]
    assert table.column("stream").to_pylist() == [r[1] for r in want]
    assert pc.equal(table.column("ts"), want_ts).to_pylist() == [
        None if r[0] is None else True for r in want
    ]
    assert merged == len(lines) - len(want)
    assert len(runs.row_first) == len(want) and len(runs.closed) == len(lines) + 1


def test_lines_out_of_the_form_shorter_than_the_usual_head_are_kept_whole() -> None:
    """Most records' heads 29 bytes, with no text; many lines out of the form, shorter than
    that (pyarrow's binary_slice without an end failed on such an array)."""
    from claude_perf.ingest.runtime_records import cri_table

    lines = (
        ["2026-11-30T17:38:10Z stdout F"] * 60 + ["x"] * 50 + ["2026-11-30T17:38:10Z stderr F ab"]
    )
    table, merged, _ = cri_table(pa.array(lines, pa.large_string()))
    assert table.column("text").to_pylist() == [""] * 60 + ["x"] * 50 + ["ab"]
    assert table.column("stream").to_pylist() == ["stdout"] * 60 + [None] * 50 + ["stderr"]
    assert table.column("ts").null_count == 50 and merged == 0

"""Container runtimes' own log records: Docker's json-file driver files and the CRI form
(containerd, CRI-O, Podman's k8s-file driver), each a line split into parts the runtime marks,
joined again here (json-file: ``_merge_partials``; CRI: ``_joined``, by offsets, with where
each line's records lie for a reader that cuts the file in chunks: ``CriRuns``)."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from claude_perf.ingest.engine_times import TS_BODY, rfc3339_times

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa


def json_file_table(
    data: bytes | bytearray | memoryview, lines: pa.Array
) -> tuple[pa.Table, int, int]:
    """Parse json-file lines with Arrow's JSON reader, falling back line by line on bad JSON."""
    import pyarrow as pa
    import pyarrow.json as pj

    schema = pa.schema([("log", pa.large_string()), ("stream", pa.string()), ("time", pa.string())])
    longest = 0
    if len(lines):
        import pyarrow.compute as pc

        longest = int(pc.max(pc.binary_length(lines)).as_py() or 0)
    try:
        table = pj.read_json(
            io.BytesIO(data),
            read_options=pj.ReadOptions(block_size=max(1 << 20, longest + 2)),
            parse_options=pj.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="ignore"
            ),
        )
        if table.num_rows != len(lines):  # blank lines are skipped by the reader
            raise pa.ArrowInvalid("row count differs from line count")
        logs, streams, times = (table.column(c).to_pylist() for c in ("log", "stream", "time"))
        broken = 0
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        logs, streams, times, broken = _json_file_slow(lines.to_pylist())
    return _merge_partials(logs, streams, times, broken)


def _json_file_slow(
    raw_lines: list[str],
) -> tuple[list[str | None], list[str | None], list[str | None], int]:
    logs: list[str | None] = []
    streams: list[str | None] = []
    times: list[str | None] = []
    broken = 0
    for raw in raw_lines:
        try:
            obj = json.loads(raw)
            if not isinstance(obj, dict) or not isinstance(obj.get("log"), str):
                raise ValueError("not a json-file record")
            logs.append(obj["log"])
            streams.append(obj.get("stream") if isinstance(obj.get("stream"), str) else None)
            times.append(obj.get("time") if isinstance(obj.get("time"), str) else None)
        except ValueError:
            broken += 1  # kept as its raw text, without a time: counted, never dropped
            logs.append(raw + "\n")
            streams.append(None)
            times.append(None)
    return logs, streams, times, broken


def _merge_partials(
    logs: list[str | None], streams: list[str | None], times: list[str | None], broken: int
) -> tuple[pa.Table, int, int]:
    """Join json-file partial records (no trailing newline: lines over 16 KiB) into one line."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out_logs: list[str] = []
    out_streams: list[str | None] = []
    out_times: list[str | None] = []
    pending: dict[str | None, int] = {}
    merged = 0
    for log, stream, time in zip(logs, streams, times, strict=True):
        text = log or ""
        complete = text.endswith("\n")
        if stream in pending:
            index = pending[stream]
            out_logs[index] += text
            merged += 1
            if complete:
                del pending[stream]
            continue
        out_logs.append(text)
        out_streams.append(stream)
        out_times.append(time)
        if not complete and stream is not None:
            pending[stream] = len(out_logs) - 1
    texts = pc.utf8_rtrim(pa.array(out_logs, type=pa.large_string()), characters="\r\n")
    time_array = pa.array(out_times, type=pa.string())
    valid = pc.match_substring_regex(time_array, rf"^{TS_BODY}$")
    time_array = pc.if_else(pc.fill_null(valid, False), time_array, pa.scalar(None, pa.string()))
    ts = rfc3339_times(time_array)
    table = pa.table({"ts": ts, "stream": pa.array(out_streams, pa.string()), "text": texts})
    return table, merged, broken


def cri_table(lines: pa.Array) -> tuple[pa.Table, int, int]:
    """CRI records (``TIME STREAM F|P TEXT``) as lines: a partial record (``P``) joined with
    the records of its stream that continue it. A line not in the form keeps its whole text,
    without a time (counted nowhere else: the plain reading of such a line)."""
    table, merged, _ = cri_runs(lines)
    return table, merged, 0


@dataclass(frozen=True)
class CriRuns:
    """Where the lines of CRI records that make each row of ``cri_table`` lie, for a reader
    that cuts the records in chunks (ingest/chunks.py).

    ``row_first``: the record (line) each row starts at (int64, one per row, increasing).
    ``closed``: before which records no partial run is open in any stream (bool, one more than
    the records: the last is after the last record). Records may be cut in two only there:
    elsewhere a ``P`` run would be split from its end, which may come after other records
    (stdout and stderr parts interleave).
    """

    row_first: np.ndarray
    closed: np.ndarray


def cri_runs(lines: pa.Array) -> tuple[pa.Table, int, CriRuns]:
    """``cri_table``'s table and joined-record count, with where its rows' records lie.

    The records' heads (their first bytes) are matched, not the whole records: the text is
    then the record's bytes after its head, gathered in one copy (_after_heads). Matching the
    whole record with its text as a group made the text three times over (the match, the
    choice between it and the raw line, the trimmed copy): at 3M lines the report's peak was
    about 130 MB above the same lines in docker form."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    lines = lines.cast(pa.large_string())
    heads = pc.binary_slice(lines.view(pa.large_binary()), 0, _HEAD_BYTES)
    parts = pc.extract_regex(heads, _CRI_HEAD)
    del heads
    valid = parts.is_valid()
    found = np.asarray(valid.to_numpy(zero_copy_only=False), dtype=bool)

    head_bytes = np.where(
        found,
        np.asarray(pc.binary_length(parts.field("ts")).to_numpy(), dtype=np.int64)
        + np.asarray(pc.binary_length(parts.field("gap")).to_numpy(), dtype=np.int64)
        + 9,  # the spaces around the stream, the stream (6) and the tag
        0,
    )
    texts = _after_heads(lines, head_bytes)
    # (a struct's child holds values where the struct is null: the nulls are put back)
    none = pa.scalar(None, pa.large_binary())
    streams = pc.if_else(valid, parts.field("stream"), none).cast(pa.string())
    times = pc.if_else(valid, parts.field("ts"), none).cast(pa.string())
    partial = found & np.asarray(
        pc.equal(parts.field("tag"), b"P").to_numpy(zero_copy_only=False), dtype=bool
    )
    del parts, valid
    n = len(lines)
    if not partial.any():
        # no partial record (the usual file): a line per record
        table = pa.table({"ts": rfc3339_times(times), "stream": streams, "text": texts})
        return table, 0, CriRuns(np.arange(n, dtype=np.int64), np.ones(n + 1, dtype=bool))
    return _joined(texts, streams, partial, times)


# A record's head: its time (github.com/kubernetes/cri-api: RFC 3339 with nanoseconds), its
# stream, F (full) or P (partial: the next record of the stream continues the line), and the
# one space before the text (absent when the text is empty). At most 35 + 10 bytes.
_CRI_HEAD = rf"^(?P<ts>{TS_BODY}) (?P<stream>stdout|stderr) (?P<tag>[FP])(?P<gap> ?)"
_HEAD_BYTES = 48


def _after_heads(lines: pa.Array, head_bytes: np.ndarray) -> pa.Array:
    """Each line without its first ``head_bytes`` bytes (0: the whole line). The lines whose
    head has the most common length (nearly all: a runtime writes one layout, the time's
    trailing zeros aside) are sliced at once; the others by the length of theirs, and put in
    their places. (A head is ASCII, so each text stays valid UTF-8.)"""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    raw = lines.view(pa.large_binary())
    lengths, counts = np.unique(head_bytes, return_counts=True)
    usual = int(lengths[np.argmax(counts)]) if len(lengths) else 0
    # An explicit end: without one, pyarrow 26's binary_slice fails ("Negative buffer resize")
    # when lines shorter than the start are many.
    end = int(pc.max(pc.binary_length(raw)).as_py() or 0) + 1
    texts = pc.binary_slice(raw, usual, end)
    other = np.flatnonzero(head_bytes != usual)
    if len(other):
        # the other lines' texts, by head length, then in the order of their rows
        order = np.argsort(head_bytes[other], kind="stable")
        rows = other[order]
        bounds = np.flatnonzero(np.diff(head_bytes[rows])) + 1
        pieces = [
            pc.binary_slice(raw.take(pa.array(group)), int(head_bytes[group[0]]), end)
            for group in np.split(rows, bounds)
        ]
        theirs = pa.concat_arrays(pieces).take(pa.array(np.argsort(order, kind="stable")))
        mask = np.zeros(len(head_bytes), dtype=bool)
        mask[other] = True
        texts = pc.replace_with_mask(texts, pa.array(mask), theirs)
    return texts.view(pa.large_string())


def _joined(
    texts: pa.Array, streams: pa.Array, partial: np.ndarray, times: pa.Array
) -> tuple[pa.Table, int, CriRuns]:
    """Records joined into lines as _merge_partials joins them, without a Python object per
    record: a record continues a row when the last record of its stream before it was a
    ``P`` (a record of no stream, not in the form, is a row of its own). The records' texts
    are put in row order (each row's in the order written) and each row is the span of them
    between two offsets. The parts hold no line end (the lines were trimmed), so the joined
    text needs no trimming either."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(texts)
    index = np.arange(n, dtype=np.int64)
    open_before = np.zeros((2, n + 1), dtype=bool)  # per stream, before each record
    continues = np.zeros(n, dtype=bool)
    own: list[np.ndarray] = []  # per stream, its records
    for k, name in enumerate(("stdout", "stderr")):
        mine = pc.fill_null(pc.equal(streams, name), False).to_numpy(zero_copy_only=False)
        mine = np.asarray(mine, dtype=bool)
        # the last record of the stream at or before each record (-1: none yet)
        last = np.maximum.accumulate(np.where(mine, index, -1))
        open_before[k, 1:] = (last >= 0) & partial[np.maximum(last, 0)]
        continues |= mine & open_before[k, :-1]
        own.append(np.flatnonzero(mine))
    row_first = np.flatnonzero(~continues)
    rows = len(row_first)
    row_of = np.cumsum(~continues) - 1  # right for the records that start a row
    for records in own:  # a continuing record: the row its run started
        starts = ~continues[records]
        run = np.cumsum(starts) - 1
        row_of[records] = row_of[records[starts]][run]
    order = np.argsort(row_of, kind="stable")
    joined = texts.cast(pa.large_string()).take(pa.array(order))
    offsets = np.frombuffer(joined.buffers()[1], np.int64, n + 1, joined.offset * 8)
    bounds = np.concatenate([[0], np.cumsum(np.bincount(row_of, minlength=rows))])
    data = joined.buffers()[2] or pa.py_buffer(b"")  # (no buffer when every text is empty)
    text = pa.LargeStringArray.from_buffers(
        rows, pa.py_buffer(np.ascontiguousarray(offsets[bounds])), data
    )
    firsts = pa.array(row_first)
    table = pa.table(
        {
            "ts": rfc3339_times(times.take(firsts)),
            "stream": streams.take(firsts),
            "text": text,
        }
    )
    runs = CriRuns(row_first, ~(open_before[0] | open_before[1]))
    return table, n - rows, runs

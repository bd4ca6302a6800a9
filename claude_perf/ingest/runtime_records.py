"""Container runtimes' own log records: Docker's json-file driver files and the CRI form
(containerd, CRI-O, Podman's k8s-file driver), each a line split into parts the runtime marks,
joined again here (``_merge_partials``)."""

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
    """``cri_table``'s table and joined-record count, with where its rows' records lie."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = pc.extract_regex(
        lines, rf"^(?P<ts>{TS_BODY}) (?P<stream>stdout|stderr) (?P<tag>[FP]) ?(?P<text>(?s:.*))$"
    )
    found = parts.is_valid()
    texts = pc.if_else(found, parts.field("text").cast(pa.large_string()), lines)
    tags = pc.if_else(found, parts.field("tag"), pa.scalar("F"))
    streams = pc.if_else(found, parts.field("stream"), pa.scalar(None, pa.string()))
    times = pc.if_else(found, parts.field("ts"), pa.scalar(None, pa.string()))
    n = len(lines)
    if not pc.any(pc.equal(tags, "P")).as_py():
        # no partial record (the usual file): no Python object per line. 1.2M lines: a Python
        # list per column was ~3x the memory of the same lines in `docker logs -t` form.
        texts = pc.utf8_rtrim(texts, characters="\r\n")
        table = pa.table({"ts": rfc3339_times(times), "stream": streams, "text": texts})
        return table, 0, CriRuns(np.arange(n, dtype=np.int64), np.ones(n + 1, dtype=bool))
    runs = _runs(streams, tags)
    logs = [
        t if tag == "P" else t + "\n"
        for t, tag in zip(texts.to_pylist(), tags.to_pylist(), strict=True)
    ]
    table, merged, _ = _merge_partials(logs, streams.to_pylist(), times.to_pylist(), 0)
    return table, merged, runs


def _runs(streams: pa.Array, tags: pa.Array) -> CriRuns:
    """CriRuns of records with these streams (null: not a CRI record, never joined) and tags,
    as _merge_partials joins them: a record continues a row when the last record of its stream
    before it was a ``P``."""
    import numpy as np
    import pyarrow.compute as pc

    n = len(streams)
    partial = np.asarray(pc.equal(tags, "P").to_numpy(zero_copy_only=False), dtype=bool)
    index = np.arange(n, dtype=np.int64)
    open_before = np.zeros((2, n + 1), dtype=bool)  # per stream, before each record
    continues = np.zeros(n, dtype=bool)
    for k, name in enumerate(("stdout", "stderr")):
        mine = pc.fill_null(pc.equal(streams, name), False).to_numpy(zero_copy_only=False)
        mine = np.asarray(mine, dtype=bool)
        # the last record of the stream at or before each record (-1: none yet)
        last = np.maximum.accumulate(np.where(mine, index, -1)) if n else index
        open_after = (last >= 0) & partial[np.maximum(last, 0)]
        open_before[k, 1:] = open_after
        continues |= mine & open_before[k, :-1]
    return CriRuns(np.flatnonzero(~continues), ~(open_before[0] | open_before[1]))

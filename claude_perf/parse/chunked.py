"""A large log file classified chunk by chunk: the entries of the whole file, in bounded memory.

ingest/chunks.py reads the file a chunk at a time; this module says where a chunk may end (a
line no record continues across: classify.safe_cuts, the rule the two-core split already uses)
and classifies each chunk as ``classify`` would classify the whole, so that the result is the
same (tests/test_chunked.py holds them equal):

- dialects: each chunk's share of the detection sample (the first DETECT_HEAD_LINES lines and
  every DETECT_STRIDE-th line of the whole file) adds to what was found; a chunk is classified
  with the dialects found up to and including it. When a later chunk finds one more, the file
  is classified again with the final set (a second read; in practice a proxy's dialect shows in
  its first lines);
- row numbers are the whole file's; bare duration units are decided once, over all entries;
- a file the whole read would reorder (ingest/chunks.NotChunkableError) is read whole.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from claude_perf.config.load import dialects_for
from claude_perf.config.schema import Config
from claude_perf.ingest.chunks import ChunkTally, Cut, LineChunk, NotChunkableError
from claude_perf.ingest.files import LogLines
from claude_perf.parse import dialect_match
from claude_perf.parse.classify import (
    _merge_parts,
    classify,
    classify_parts,
    classify_with,
    safe_cuts,
)
from claude_perf.parse.dialect_match import active_of, detect_found
from claude_perf.parse.entries import Entries, shift_rows
from claude_perf.parse.units import infer_bare_units
from claude_perf.runtime.memory import release_unused

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from claude_perf.config.dialect import Dialect

CUT_SEARCH_LINES = 20_000  # how far back from a chunk's end a place to cut is looked for first


class PendingLines(Protocol):
    """What ``LogLines.pending`` offers (ingest/chunks.ChunkedFile; a store-backed source for
    ``report --since`` offers the same three methods)."""

    def chunks(self, cut: Cut, tally: ChunkTally) -> Iterator[LineChunk]: ...

    def lines(self, tally: ChunkTally, notes: Sequence[str] = ()) -> LogLines: ...

    def read_whole(self) -> LogLines: ...


def classify_pending(logs: LogLines, config: Config) -> tuple[Entries, LogLines]:
    """The entries of lines read chunk by chunk (``logs.pending``: see PendingLines), and their
    LogLines (times only: the text is gone, as the whole-file pipeline drops it after
    classification)."""
    chunked: PendingLines = logs.pending
    dialects = dialects_for(config.dialects)
    try:
        found, entries, tally = _pass(chunked, config, dialects, None)
        if found is not None:  # a later chunk found a dialect an earlier one lacked
            del entries, tally
            release_unused()
            _, entries, tally = _pass(chunked, config, dialects, found)
    except NotChunkableError:
        whole = chunked.read_whole()
        whole = replace(whole, notes=(*whole.notes, *logs.notes))
        entries = classify(whole.table, config)
        return entries, replace(whole, table=whole.table.drop_columns(["text"]))
    return entries, chunked.lines(tally, logs.notes)


def _pass(
    chunked: PendingLines,
    config: Config,
    dialects: Sequence[Dialect],
    fixed: dict[int, set[str]] | None,
) -> tuple[dict[int, set[str]] | None, Entries, ChunkTally]:
    """One read of the file: (the final dialects found when a chunk was classified without
    one of them, else None; the entries; the tally). ``fixed``: the dialects to use throughout."""
    import numpy as np

    found: dict[int, set[str]] = {s: set(n) for s, n in (fixed or {}).items()}
    used: list[dict[int, set[str]]] = []
    parts: list[Entries] = []
    starts: list[int] = []
    tally = ChunkTally()
    for chunk in chunked.chunks(_last_cut, tally):
        table = chunk.table
        source = np.asarray(table.column("source").to_numpy(), dtype=np.int32)
        if fixed is None:
            rows = _sample_rows(chunk.first_row, table.num_rows)
            for s, names in detect_found(table.column("text"), source, dialects, rows).items():
                found.setdefault(s, set()).update(names)
        used.append({s: set(n) for s, n in found.items()})
        for part, start in classify_parts(table, config, active_of(found, dialects)):
            parts.append(part)
            starts.append(chunk.first_row + start)
        del table, chunk
        release_unused()
    active = active_of(found, dialects)
    if not parts:
        entries = classify_with(_empty_lines(), config, active)
    else:
        entries = _merge_parts(parts, starts) if len(parts) > 1 else _shifted(parts[0], starts[0])
    del parts
    entries = replace(infer_bare_units(entries), dialects=active.names())
    stale = any(u != found for u in used) and fixed is None
    return (found if stale else None), entries, tally


def _shifted(entries: Entries, start: int) -> Entries:
    shift_rows(entries.events, start)
    return entries


def _sample_rows(first_row: int, n: int) -> np.ndarray:
    """The chunk's rows in the whole file's detection sample (dialect_match._sample_rows, one
    source): its first DETECT_HEAD_LINES lines and every DETECT_STRIDE-th line."""
    import numpy as np

    rows = np.arange(n, dtype=np.int64)
    whole = rows + first_row
    # Read at call time, as dialect_match's own sample does (tests make the head small).
    head, stride = dialect_match.DETECT_HEAD_LINES, dialect_match.DETECT_STRIDE
    return rows[(whole < head) | (whole % stride == 0)]


def _last_cut(lines: pa.Table) -> int | None:
    """The last row of the chunk the next chunk may start at (None: none in this chunk)."""
    n = lines.num_rows
    first = max(1, n - CUT_SEARCH_LINES)
    while True:
        safe = safe_cuts(lines, first, n)
        if len(safe):
            return int(safe[-1])
        if first <= 1:
            return None
        first = max(1, first - 4 * CUT_SEARCH_LINES)


def _empty_lines() -> pa.Table:
    import pyarrow as pa

    return pa.table(
        {
            "ts": pa.array([], pa.timestamp("ns", tz="UTC")),
            "stream": pa.array([], pa.string()),
            "text": pa.array([], pa.large_string()),
            "source": pa.array([], pa.int32()),
        }
    )

"""Large log files read chunk by chunk, so that the lines never stand in memory all at once.

Issue 13: at ten million lines the lines' bytes alone (about 1.3 GB) exceed the 600 MB the
report may use, while what the analysis keeps of them is far smaller (one row per request-
relevant line). One uncompressed ``docker logs -t`` or CRI-form file larger than a chunk is
therefore read ``chunk_bytes`` at a time (``CLAUDE_PERF_CHUNK_BYTES`` overrides the default, for
tests) and each chunk is handed on as the table of lines ``combine`` would have made of it; the
caller classifies it and lets it go. Where a chunk ends is the caller's to say (``cut``: the
parse room knows which lines no record continues across); the lines after the cut are read again
at the start of the next chunk. In a CRI file a line the runtime split into partial (``P``)
records is one row, and stdout's and stderr's parts interleave: the rows whose records run past
the last place where no partial run is open are left for the next chunk before ``cut`` sees the
rows, and a cut is moved back to a row before which every run is closed (_cri_chunk).

The result must equal the whole-file read, so anything the whole-file read would reorder makes
the file ``NotChunkable`` (the caller then reads it whole): a line without an engine time
(those are sorted to the end) or a time earlier than the line before it (the whole read sorts).
Exact duplicates (same time and text) are dropped within a chunk as ``combine`` drops them; a
cut goes between lines of different times, so no duplicate pair crosses one. Other inputs —
several files, stdin, gzip, json-file, plain output, files smaller than a chunk — are read whole.

``[limits]``: a line longer than ``max_line_bytes`` is cut to it in each chunk, counted once and
noted, as the whole read does (ingest/bounded.py); a line longer than the cap and a chunk (no
newline in the window) makes the file NotChunkable, and the whole read, which cuts it as it
streams, then holds ``max_input_bytes``. A file read in chunks is not held to
``max_input_bytes``: that cap is on what an input makes the tool hold, and the chunks hold one
chunk whatever the file's size.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from io import BufferedReader
from pathlib import Path
from typing import TYPE_CHECKING

from claude_perf.config.schema import Limits
from claude_perf.errors import InputError
from claude_perf.ingest.bounded import cap_lines, has_long_line
from claude_perf.ingest.compose import is_swarm
from claude_perf.ingest.files import (
    FORM_CRI,
    FORM_DOCKER,
    InputInfo,
    LogLines,
    _split_lines,
    combine,
    duplicates_note,
    read_log,
    sniff_form,
)
from claude_perf.ingest.runtime_records import cri_runs

if TYPE_CHECKING:
    import pyarrow as pa

# About 266,000 126-byte lines: still above classify.PARALLEL_MIN_LINES, so both cores split each
# chunk. Measured against 64 MiB (whole-process runs, 7 alternating pairs, 1M generated lines):
# peak 361 against 443 MiB, CPU ratio 0.99, wall 1.00; at 3M the classification's peak went
# from 646 to 502 MB (a chunk's text and the classifier's temporaries are about 5x its bytes).
CHUNK_BYTES = 32 << 20
CHUNK_BYTES_ENV = "CLAUDE_PERF_CHUNK_BYTES"

# cut(lines of the chunk, with "ts" and "text") → the row the next chunk starts at (0 < row <
# num_rows), or None when no line of this chunk may start one.
Cut = Callable[["pa.Table"], "int | None"]


class NotChunkableError(Exception):
    """The file holds lines the whole-file read would reorder: read it whole instead."""


def chunk_bytes() -> int:
    """The chunk size: CLAUDE_PERF_CHUNK_BYTES when set (a positive integer), else CHUNK_BYTES."""
    value = os.environ.get(CHUNK_BYTES_ENV, "")
    return int(value) if value.isdigit() and int(value) > 0 else CHUNK_BYTES


@dataclass(frozen=True)
class LineChunk:
    """One chunk's lines as ``combine`` makes them (ts, stream, text, seq, source), and the
    whole input's row number of its first line."""

    table: pa.Table
    first_row: int


@dataclass
class ChunkTally:
    """What the chunks read so far add up to (the whole-file LogLines' counts)."""

    lines: int = 0  # input lines, duplicates included
    # The whole read, finding invalid UTF-8 anywhere, counts every line holding U+FFFD after
    # the repair (files._utf8_lines): the lines holding one, and whether any byte was invalid.
    replaced: int = 0
    any_invalid: bool = False
    duplicates: int = 0
    partial_merged: int = 0  # CRI records joined to the line they continue (runtime_records)
    lines_cut: int = 0  # lines longer than [limits] max_line_bytes, cut to it
    # Of the lines' times only what the analysis reads after classifying: how many lines were
    # kept (duplicates counted once) and the earliest and latest time (the window). Keeping
    # every chunk's "ts" column instead held 8 bytes a line to the end (80 MB at 10M lines).
    kept: int = 0
    first_ns: int | None = None
    last_ns: int | None = None

    @property
    def invalid_utf8(self) -> int:
        return self.replaced if self.any_invalid else 0

    def add_times(self, ts: pa.Array | pa.ChunkedArray) -> None:
        """Count a chunk's kept lines and widen the window by its times (``ts``: its column)."""
        import pyarrow.compute as pc

        self.kept += len(ts)
        if len(ts) == ts.null_count:
            return
        bounds = pc.min_max(ts)
        low, high = bounds["min"].value, bounds["max"].value
        self.first_ns = low if self.first_ns is None else min(self.first_ns, low)
        self.last_ns = high if self.last_ns is None else max(self.last_ns, high)

    def times(self) -> pa.ChunkedArray:
        """A "ts" column for the LogLines of a chunked read: as many rows as lines were kept,
        the first two the earliest and latest time, the others null. What reads it after the
        classification (the window, the line count) gets what the whole column gave; the
        nulls are slices of one small array, so it costs no memory per line."""
        import pyarrow as pa

        ts_type = pa.timestamp("ns", tz="UTC")
        known = [] if self.first_ns is None else [self.first_ns, self.last_ns][: self.kept]
        parts = [pa.array(known, ts_type)]
        rest = self.kept - len(known)
        if rest:
            piece = pa.nulls(min(rest, _NULL_PIECE_ROWS), ts_type)
            parts += [piece] * (rest // len(piece))
            if rest % len(piece):
                parts.append(piece.slice(0, rest % len(piece)))
        return pa.chunked_array(parts, ts_type)


_NULL_PIECE_ROWS = 1 << 18  # 2 MiB of nulls, repeated


@dataclass(frozen=True)
class ChunkedFile:
    """One large docker-timestamps or CRI file, to be read chunk by chunk."""

    path: str
    size_bytes: int
    chunk_bytes: int
    form: str = FORM_DOCKER
    limits: Limits = field(default_factory=Limits)

    def chunks(self, cut: Cut, tally: ChunkTally) -> Iterator[LineChunk]:
        """The file's lines, chunk after chunk, cut where ``cut`` says (see the module doc).

        Each chunk is the file's bytes from where the last one was cut, read into one buffer
        reused from chunk to chunk (see _Window)."""
        rows = 0
        last_ns: int | None = None
        try:
            fh = Path(self.path).open("rb")  # noqa: SIM115 - a generator holds it across yields
        except OSError as exc:
            raise InputError(f"{self.path}: cannot read ({exc.strerror or exc})") from exc
        with fh:
            start, size = 0, self.chunk_bytes  # the next chunk: its first byte, its length
            spare: bytearray | None = None
            while True:
                window = _Window.of(fh, start, size, spare, self.size_bytes)
                if window is None:
                    return
                cap = self.limits.max_line_bytes
                read = window.read(self.path, cut, self.form, cap)
                spare = window.spare()
                if read is None:  # no whole line, or no place to cut: a larger window
                    if window.size > cap and window.buffer.find(b"\n", 0, window.size) < 0:
                        raise NotChunkableError(f"{self.path}: a line longer than {cap} bytes")
                    size += self.chunk_bytes
                    continue
                table, info, counts, kept_bytes, replaced = read
                if window.capped:  # (the lines cut in the kept part only: the rest comes again)
                    kept = bytes(memoryview(window.buffer)[:kept_bytes])
                    tally.lines_cut += cap_lines(kept, self.limits).lines_cut
                    del kept
                if info.form != self.form:
                    raise NotChunkableError(f"{self.path}: a chunk is not {self.form}")
                start, size = start + kept_bytes, self.chunk_bytes
                tally.any_invalid |= counts["invalid_utf8"] > 0
                tally.replaced += replaced
                last_ns = _check_order(table, last_ns, self.path)
                merged = combine([table], [info], [counts])
                tally.lines += table.num_rows
                del table
                tally.duplicates += merged.duplicate_lines
                tally.partial_merged += merged.partial_merged
                tally.add_times(merged.table.column("ts"))
                yield LineChunk(merged.table, rows)
                rows += merged.table.num_rows
                if window.last:
                    return

    def read_whole(self) -> LogLines:
        """The file read whole, as read_logs reads it (for a file the chunks cannot give as the
        whole read would: NotChunkableError). A store-backed source offers its own."""
        from claude_perf.ingest.files import read_logs

        return read_logs([self.path], self.limits)

    def lines(self, tally: ChunkTally, notes: Sequence[str] = ()) -> LogLines:
        """The LogLines a whole read would have made, but with the times only (the text has
        been classified chunk by chunk and is gone, as the pipeline drops it anyway)."""
        import pyarrow as pa

        from claude_perf.ingest.sources import source_name

        own: list[str] = []
        if tally.lines_cut:  # (the whole read's note, first as there: ingest/bounded.py)
            own.append(
                f"{self.path}: {tally.lines_cut} line(s) longer than "
                f"{self.limits.max_line_bytes} bytes were cut to that length "
                "([limits] max_line_bytes)"
            )
        if tally.invalid_utf8:
            own.append(
                f"{self.path}: {tally.invalid_utf8} line(s) were not valid UTF-8 "
                "(bad bytes replaced)"
            )
        info = InputInfo(self.path, self.form, tally.lines, self.size_bytes, tuple(own))
        times = tally.times()
        if tally.duplicates:
            own.append(duplicates_note(tally.duplicates))
        return LogLines(
            table=pa.table({"ts": times}),
            inputs=(info,),
            invalid_utf8_lines=tally.invalid_utf8,
            partial_merged=tally.partial_merged,
            duplicate_lines=tally.duplicates,
            notes=(*own, *notes),
            sources=(source_name(self.path),),
        )


_REPLACEMENT = "\ufffd".encode()


class _Window:
    """The file's bytes [start, start + size) (fewer at its end), read into a buffer of ours.

    The buffer is reused from chunk to chunk unless something still holds a view of it (then
    the next chunk gets a new one), so it is zeroed and faulted in once. A mapping of the file
    (mmap, the way before) saved the copy from the page cache, but a file cut shorter while it
    was read (logrotate's copytruncate) ended the process with SIGBUS and no message; a read
    that comes back short is an InputError instead. Measured against the mapping on the 1M-
    line bench log (whole-process report, alternating pairs): see the README's performance
    section.
    """

    def __init__(self, buffer: bytearray, size: int, last: bool) -> None:
        self.buffer, self.size, self.last = buffer, size, last
        self.held = False  # something kept a view of the buffer: the next chunk needs a new one
        self.capped = False  # a line was longer than max_line_bytes: read from a cut copy

    @staticmethod
    def of(
        fh: BufferedReader, start: int, size: int, spare: bytearray | None, least_bytes: int
    ) -> _Window | None:
        """The window, or None when the file has no byte from ``start`` on. ``spare`` is the
        last window's buffer when it may be written over; a file now shorter than
        ``least_bytes`` (its size when the reading began) was cut: InputError."""
        file_size = os.fstat(fh.fileno()).st_size
        if file_size < least_bytes:
            raise _cut_error(fh.name)
        size = min(size, file_size - start)
        if size <= 0:
            return None
        buffer = spare if spare is not None and len(spare) >= size else bytearray(size)
        got = 0
        with memoryview(buffer) as view:
            while got < size:  # (one read stops at 2 GiB on Linux)
                step = os.preadv(fh.fileno(), [view[got:size]], start + got)
                if step == 0:
                    break
                got += step
        if got < size:
            raise _cut_error(fh.name)
        return _Window(buffer, size, start + size >= file_size)

    def spare(self) -> bytearray | None:
        """The buffer, for the next chunk to read into, unless a view of it is still held."""
        return None if self.held else self.buffer

    def read(
        self, path: str, cut: Cut, form: str, line_cap: int
    ) -> tuple[pa.Table, InputInfo, dict[str, int], int, int] | None:
        """(the table of the chunk's lines up to the cut, its info and counts, the bytes kept,
        how many kept lines hold U+FFFD), or None when the window holds no whole line or no
        place to cut (the caller takes a larger one). Lines over ``line_cap`` bytes are read
        cut to it (from a copy: ``capped``); the bytes kept count the file's own bytes."""
        buffer = self.buffer
        end = self.size if self.last else buffer.rfind(b"\n", 0, self.size) + 1
        if end <= 0:
            return None
        whole = memoryview(buffer)
        raw = whole[:end]
        self.capped = has_long_line(buffer, end, line_cap)
        # (the cut copy is the arrays' own bytes: only views of the buffer keep it from reuse)
        data = (
            memoryview(cap_lines(bytes(raw), Limits(max_line_bytes=line_cap)).data)
            if self.capped
            else raw
        )
        try:
            if form == FORM_CRI:
                # (U+FFFD is searched for only where the bytes hold one: a fast byte search)
                fffd = buffer.find(_REPLACEMENT, 0, end) >= 0
                got = _cri_chunk(path, data, raw, cut, self.last, fffd)
            else:
                got = _docker_chunk(path, data, raw, cut, self.last)
        finally:
            for view in (raw, whole):
                try:
                    view.release()
                except BufferError:  # an array still holds the bytes: not to be written over
                    self.held = True
        if got is None:
            return None
        table, info, counts, kept_end, replaced_in = got
        if form == FORM_CRI:
            return table, info, counts, kept_end, replaced_in
        # (0xEF leads U+FFFD: where no byte is one, a one-byte search said so fast.)
        replaced = counts["invalid_utf8"] > 0 or (
            buffer.find(b"\xef", 0, kept_end) >= 0 and buffer.find(_REPLACEMENT, 0, kept_end) >= 0
        )
        return table, info, counts, kept_end, _replaced_lines(table) if replaced else 0


_Chunk = tuple["pa.Table", InputInfo, dict[str, int], int, int]


def _docker_chunk(
    path: str, data: memoryview, raw: memoryview, cut: Cut, last: bool
) -> _Chunk | None:
    """A docker-timestamps window's lines up to the cut (a line is a row): (table, info,
    counts, the bytes of ``raw`` kept, 0: U+FFFD is counted by the caller, on the rows).
    ``data``: ``raw``, the window's bytes, or a copy with its long lines cut (as many lines)."""
    table, info, counts = read_log(path, data)
    at = None if last else cut(table)
    if not last and at is None:
        return None
    kept_end = len(raw)
    if at is not None:
        kept_end = _line_start(raw, len(raw), table.num_rows - at)
        table = table.slice(0, at)
    return table, info, counts, kept_end, 0


def _cri_chunk(
    path: str, data: memoryview, raw: memoryview, cut: Cut, last: bool, fffd: bool
) -> _Chunk | None:
    """A CRI window's lines up to a cut that splits no partial run (a row is a line the
    runtime may have written as several records: runtime_records.CriRuns): (table, info,
    counts, the bytes kept, how many kept records hold U+FFFD, as the whole read counts them;
    ``fffd``: whether the window's bytes hold one).

    The rows of records after the last place where every run is closed may lack their end (in
    the next window): they are left out before ``cut`` sees the rows, and a cut it chooses
    where a run is open (a stderr record amid a stdout run) is moved back to the row before
    which every run is closed, and ``cut`` asked again about the rows before that."""
    import numpy as np
    import pyarrow.compute as pc

    end = len(raw)  # (``data``: as _docker_chunk's)
    lines, invalid = _split_lines(data)
    table, merged, runs = cri_runs(lines)
    records = len(lines)
    kept_records = records
    if not last:
        closed_rows = np.flatnonzero(runs.closed[runs.row_first])  # rows a cut may precede
        # the rows whose records all come before the last place every run is closed
        complete = int(np.searchsorted(runs.row_first, np.flatnonzero(runs.closed)[-1]))
        at: int | None = complete
        while at is not None:
            at = cut(table.slice(0, at)) if at > 1 else None
            if at is None or runs.closed[runs.row_first[at]]:
                break
            # the last row at or before ``at`` that a cut may precede; the rows up to it
            at = int(closed_rows[np.searchsorted(closed_rows, at, side="right") - 1]) + 1
        if at is None:
            return None
        kept_records = int(runs.row_first[at])
        table = table.slice(0, at)
    kept_end = end if kept_records == records else _line_start(raw, end, records - kept_records)
    # the whole read counts the records holding U+FFFD (files._utf8_lines), not the rows;
    # ``fffd``: the window's bytes hold one
    replaced = 0
    if invalid or fffd:
        found = pc.match_substring(lines.slice(0, kept_records), "\ufffd")
        replaced = int(pc.sum(found).as_py() or 0)
    # each record joined to the one before it is one row less
    counts = {"invalid_utf8": invalid, "partial_merged": kept_records - table.num_rows}
    counts["broken_json"] = 0
    del lines, merged
    return table, InputInfo(path, FORM_CRI, table.num_rows, end), counts, kept_end, replaced


def _cut_error(path: str) -> InputError:
    return InputError(
        f"{path}: the file got shorter while it was read (cut by log rotation?); "
        "report on a copy of it"
    )


def _line_start(data: bytes | bytearray | memoryview, end: int, lines_after: int) -> int:
    """Where the last ``lines_after`` lines of data[:end] (which ends with a newline) start.

    Only the tail is searched (the cut is near the chunk's end): a window that grows until it
    holds that many line ends and one more.
    """
    import numpy as np

    window = min(end, 256 * (lines_after + 1) + 4096)
    while True:
        tail = np.frombuffer(data, np.uint8, window, end - window)
        newlines = np.flatnonzero(tail == 10)
        if len(newlines) > lines_after:
            return end - window + int(newlines[-lines_after - 1]) + 1
        if window == end:
            return 0  # every line of the data is after the cut (not reached: cut > 0)
        window = min(end, window * 4)


def _replaced_lines(table: pa.Table) -> int:
    """Lines whose text holds U+FFFD (a replaced invalid byte, or one the log really held)."""
    import pyarrow.compute as pc

    return int(pc.sum(pc.match_substring(table.column("text"), "\ufffd")).as_py() or 0)


def _check_order(table: pa.Table, last_ns: int | None, path: str) -> int | None:
    """The chunk's last time; NotChunkableError where the whole read would reorder lines."""
    import numpy as np
    import pyarrow as pa

    ts = table.column("ts")
    if ts.null_count:
        raise NotChunkableError(f"{path}: a line without an engine time")
    if not len(ts):
        return last_ns
    values = np.asarray(ts.cast(pa.int64()).to_numpy(), dtype=np.int64)
    if (last_ns is not None and values[0] < last_ns) or bool(np.any(values[1:] < values[:-1])):
        raise NotChunkableError(f"{path}: lines out of time order")
    return int(values[-1])


def chunked_file(
    paths: Sequence[str], size: int | None = None, limits: Limits | None = None
) -> ChunkedFile | None:
    """The one input as a ChunkedFile when it is worth and fit for chunked reading, else None."""
    if len(paths) != 1 or paths[0] == "-":
        return None
    path = Path(paths[0])
    limit = size or chunk_bytes()
    try:
        if not path.is_file() or path.stat().st_size <= limit:
            return None
        with path.open("rb") as fh:
            head = fh.read(1 << 20)
    except OSError:
        return None  # the whole read says what is wrong, in its own words
    form = sniff_form(head)
    if head[:2] == b"\x1f\x8b" or form not in (FORM_DOCKER, FORM_CRI) or is_swarm(head):
        return None  # (a swarm service's log is split per task first: ingest/prefixed.py)
    return ChunkedFile(paths[0], path.stat().st_size, limit, form, limits or Limits())


def pending_lines(
    paths: Sequence[str], size: int | None = None, limits: Limits | None = None
) -> LogLines | None:
    """LogLines to be read by the analysis chunk by chunk (``pending``), or None (read whole)."""
    import pyarrow as pa

    chunked = chunked_file(paths, size, limits)
    if chunked is None:
        return None
    empty = pa.table({"ts": pa.array([], pa.timestamp("ns", tz="UTC"))})
    return LogLines(table=empty, pending=chunked)

"""A store window read chunk by chunk: ``report --since`` in bounded memory (issue 13).

``StoredLines`` is what ``LogLines.pending`` holds for lines still in the store, with the same
protocol as ingest/chunks.ChunkedFile: ``chunks(cut, tally)`` gives the window's lines as the
tables ``combine`` makes (ts, stream, text, seq, source), chunk after chunk, cut where the parse
room says; ``lines(tally, notes)`` the LogLines the whole read would have made (times only);
``read_whole()`` the whole read itself.

The whole read (``read_whole``) puts every chosen container's lines in the store's read order
(store/window.iter_lines) and merges them with ``combine``: by engine time, then container, then
position. Chunks take the same order a stretch of time at a time: the containers' lines are
read ahead in turn, always the one read least far in time, until a chunk's worth is held; every
line earlier than the least far container's last line read is then final (nothing still in the
store comes before it), and those lines are merged with ``combine`` as the whole read merges
them. Each line keeps its position in its own container (``seq``) as the whole read numbers it,
and exact duplicates meet within one chunk (a duplicate has the same time; a chunk ends between
two times), so every chunk is a stretch of the whole read's table.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from claude_perf.ingest.chunks import ChunkTally, Cut, LineChunk
from claude_perf.ingest.files import InputInfo, LogLines, combine, duplicates_note
from claude_perf.store.blocks import STAMP_BYTES, rows_table
from claude_perf.store.db import Store
from claude_perf.store.window import iter_lines

if TYPE_CHECKING:
    import pyarrow as pa

FORM_STORE = "store"
_NO_COUNTS = {"invalid_utf8": 0, "partial_merged": 0, "broken_json": 0}
_COLUMNS = ["ts", "stream", "text", "seq", "source"]
# A container is read ahead ``chunk_bytes // READ_STEP_DIVISOR`` lines at a time (about a 30th
# of a chunk's lines for lines of ~128 bytes; the default chunk: 8,192 lines): what the other
# containers hold beyond the chunk's end stays small.
READ_STEP_DIVISOR = 4096


def _numbered(table: pa.Table, first_seq: int) -> pa.Table:
    """The table with each line's position in its container's window (``gseq``)."""
    import numpy as np
    import pyarrow as pa

    seq = np.arange(first_seq, first_seq + table.num_rows, dtype=np.int64)
    return table.append_column("gseq", pa.array(seq))


def _text_chars(table: pa.Table) -> int:
    import pyarrow.compute as pc

    return int(pc.sum(pc.utf8_length(table.column("text"))).as_py() or 0)


class _Reader:
    """One container's lines of the window, read ahead in the store's read order."""

    def __init__(self, tables: Iterator[pa.Table]) -> None:
        self.tables = tables
        self.held: pa.Table = _numbered(rows_table([]), 0)  # read, not handed on yet
        self.done = False
        self.lines = 0  # lines read, for the whole read's InputInfo
        self.chars = 0

    def read_more(self) -> None:
        import pyarrow as pa

        table = next(self.tables, None)
        if table is None:
            self.done = True
            return
        numbered = _numbered(table, self.lines)
        self.lines += table.num_rows
        self.chars += _text_chars(table)
        self.held = pa.concat_tables([self.held, numbered]) if self.held.num_rows else numbered

    def last_ns(self) -> int:
        """The time of the last line read (every line still in the store is at or after it)."""
        return int(self.held.column("ts")[-1].as_py())

    def take_before(self, limit_ns: int | None) -> pa.Table:
        """The held lines before ``limit_ns`` (all when None), no longer held."""
        import numpy as np

        if limit_ns is None:
            at = self.held.num_rows
        else:
            ts = np.asarray(self.held.column("ts").to_numpy(), dtype=np.int64)
            at = int(np.searchsorted(ts, limit_ns, side="left"))
        taken, rest = self.held.slice(0, at), self.held.slice(at)
        # A slice keeps its whole table's buffers alive: the rest (usually a few lines) is
        # copied, so the lines taken are freed once their chunk has been classified.
        self.held = rest.take(np.arange(rest.num_rows)) if at else rest
        return taken

    def give_back(self, table: pa.Table) -> None:
        """Lines taken but not handed on (after the chunk's cut): held again, first."""
        import pyarrow as pa

        self.held = pa.concat_tables([table, self.held]).combine_chunks()


@dataclass(frozen=True)
class StoredLines:
    """The chosen containers' lines of a store window, not read yet (``LogLines.pending``)."""

    path: Path
    keys: tuple[int, ...]  # the chosen containers, in the order the whole read merges them
    labels: tuple[str, ...]  # their source names
    since_ns: int | None
    until_ns: int | None
    chunk_bytes: int
    # Per container (lines, characters) read by the last pass of ``chunks``, for ``lines``.
    read: dict[int, tuple[int, int]] = field(default_factory=dict, compare=False)

    def _infos(self, counted: bool) -> list[InputInfo]:
        return [
            InputInfo(label, FORM_STORE, *(self.read.get(i, (0, 0)) if counted else (0, 0)))
            for i, label in enumerate(self.labels)
        ]

    def read_whole(self) -> LogLines:
        """Every line of the window at once, as load_session reads a small window."""
        import pyarrow as pa

        tables, infos = [], []
        with Store(self.path, create=False) as store:
            for key, label in zip(self.keys, self.labels, strict=True):
                parts = list(iter_lines(store, key, self.since_ns, self.until_ns))
                table = pa.concat_tables(parts) if parts else rows_table([])
                del parts
                tables.append(_timestamped(table))
                infos.append(InputInfo(label, FORM_STORE, table.num_rows, _text_chars(table)))
        return combine(tables, infos, [_NO_COUNTS] * len(tables))

    def chunks(self, cut: Cut, tally: ChunkTally) -> Iterator[LineChunk]:
        """The window's lines, chunk after chunk, cut where ``cut`` says (see the module doc)."""
        with Store(self.path, create=False) as store:
            # Read ahead in steps well under a chunk, so the containers' lines held beyond the
            # chunk's end stay a small part of it.
            step = max(1, self.chunk_bytes // READ_STEP_DIVISOR)
            readers = [
                _Reader(iter_lines(store, key, self.since_ns, self.until_ns, step))
                for key in self.keys
            ]
            infos = self._infos(counted=False)
            first_row, want = 0, self.chunk_bytes
            while True:
                limit_ns = _read_ahead(readers, want)
                parts = [r.take_before(limit_ns) for r in readers]
                table, duplicates = _merged(parts, infos)
                del parts  # (merged: the readers' old buffers go)
                tally.lines += duplicates
                tally.duplicates += duplicates
                at = None if limit_ns is None else cut(table) if table.num_rows > 1 else None
                if limit_ns is not None and at is None:
                    _give_back(readers, table)  # no place to cut: read further, then again
                    want += self.chunk_bytes  # as a file's chunk takes the next one with it
                    continue
                if at is not None:
                    _give_back(readers, table.slice(at))
                    table = table.slice(0, at)
                want = self.chunk_bytes
                if table.num_rows:
                    tally.lines += table.num_rows
                    tally.add_times(table.column("ts"))
                    yield LineChunk(table.drop_columns(["part"]), first_row)
                    first_row += table.num_rows
                if limit_ns is None:
                    break
            for i, r in enumerate(readers):
                self.read[i] = (r.lines, r.chars)

    def lines(self, tally: ChunkTally, notes: Sequence[str] = ()) -> LogLines:
        """The LogLines the whole read would have made, with the times only (the text has been
        classified chunk by chunk and is gone, as the pipeline drops it anyway)."""
        import pyarrow as pa

        times = tally.times()
        own: list[str] = []
        if tally.duplicates:
            own.append(duplicates_note(tally.duplicates))
        return LogLines(
            table=pa.table({"ts": times}),
            inputs=tuple(self._infos(counted=True)),
            duplicate_lines=tally.duplicates,
            notes=(*own, *notes),
            sources=tuple(dict.fromkeys(_source_names(self.labels))),
        )


def _source_names(labels: Sequence[str]) -> list[str]:
    from claude_perf.ingest.sources import source_name

    return [source_name(label) for label in labels]


def _read_ahead(readers: Sequence[_Reader], want_bytes: int) -> int | None:
    """Read until about ``want_bytes`` of text are held, always from the container read least
    far in time; the time before which every held line is final (None: all are)."""
    while True:
        for r in readers:
            while not r.held.num_rows and not r.done:
                r.read_more()
        live = [r for r in readers if not r.done]
        if not live:
            return None
        held = sum(_file_bytes(r.held) for r in readers)
        behind = min(live, key=_Reader.last_ns)
        if held >= want_bytes:
            return behind.last_ns()
        behind.read_more()


def _file_bytes(table: pa.Table) -> int:
    """The lines' size as a ``docker logs -t`` file: a chunk of the store holds as many lines as
    a chunk of the same bytes read from a file (the classifier's memory goes by lines)."""
    import pyarrow.compute as pc

    text = table.column("text")
    return int(pc.sum(pc.binary_length(text)).as_py() or 0) + STAMP_BYTES * table.num_rows


def _timestamped(table: pa.Table) -> pa.Table:
    import pyarrow as pa

    return table.set_column(0, "ts", table.column("ts").cast(pa.timestamp("ns", tz="UTC")))


def _merged(parts: Sequence[pa.Table], infos: Sequence[InputInfo]) -> tuple[pa.Table, int]:
    """The parts merged as ``combine`` merges the whole read, with each line's own ``seq`` and
    the index of its part (``part``, for handing lines back)."""
    import numpy as np
    import pyarrow as pa

    tables = [
        _timestamped(p).append_column("part", pa.array(np.full(p.num_rows, i, np.int32)))
        for i, p in enumerate(parts)
    ]
    merged = combine(tables, infos, [_NO_COUNTS] * len(parts))
    table = merged.table.drop_columns(["seq"])
    table = table.rename_columns(["seq" if n == "gseq" else n for n in table.column_names])
    return table.select([*_COLUMNS, "part"]), merged.duplicate_lines


def _give_back(readers: Sequence[_Reader], table: pa.Table) -> None:
    """Lines of a merged chunk handed back to their containers' readers."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not table.num_rows:
        return
    back = table.set_column(0, "ts", table.column("ts").cast(pa.int64()))
    back = back.rename_columns(["gseq" if n == "seq" else n for n in back.column_names])
    for index, reader in enumerate(readers):
        mine = back.filter(pc.equal(back.column("part"), index))
        if mine.num_rows:
            reader.give_back(mine.select(["ts", "stream", "text", "gseq"]))

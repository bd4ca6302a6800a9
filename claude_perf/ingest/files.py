"""Input edge: saved container logs (three forms, plain or gzip) into one Arrow table of lines.

Forms, detected per file from its first lines:
- ``docker-timestamps``: ``docker logs --timestamps`` output (RFC 3339 time, a space, the line);
- ``json-file``: Docker's json-file driver (``{"log": ..., "stream": ..., "time": ...}`` per line);
- ``cri``: the CRI log format of containerd, CRI-O and Podman's k8s-file driver
  (``TIME stdout|stderr F|P TEXT``; ``P`` is a part of a line the next record continues), as in
  Kubernetes' /var/log/pods files;
- ``plain``: process output without engine timestamps (the application's own time is used later).

Every input line is kept (nothing is dropped here); invalid UTF-8 is replaced and counted.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from claude_perf.config.schema import Limits
from claude_perf.durations import NAT_NS
from claude_perf.ingest.bounded import read_bounded
from claude_perf.ingest.engine_times import FIXED_PREFIX, TS_BODY, fixed_layout_times, rfc3339_times
from claude_perf.ingest.runtime_records import cri_table, json_file_table
from claude_perf.ingest.sources import source_name
from claude_perf.runtime.memory import release_unused
from claude_perf.runtime.parallel import parallel_map

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

# A log's bytes: read whole (bytes) or a chunk read into a buffer (bytearray: ingest/chunks.py).
Bytes = bytes | bytearray | memoryview

FORM_DOCKER = "docker-timestamps"
FORM_JSON_FILE = "json-file"
FORM_CRI = "cri"
FORM_PLAIN = "plain"

_DOCKER_TS_RE = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d) ")
_JSON_FILE_RE = re.compile(rb'^\{.*"log"\s*:.*"time"\s*:', re.DOTALL)
# github.com/kubernetes/cri-api: "<RFC 3339 nano time> <stream> <tag> <log>", tag F (full) or
# P (partial: the runtime split a long line, the next record of the stream continues it).
_CRI_RE = re.compile(rb"^\d{4}-\d\d-\d\dT\S+ (?:stdout|stderr) [FP](?: |$)")
_SNIFF_LINES = 50


@dataclass(frozen=True)
class InputInfo:
    """What was read from one input, for the data-quality section."""

    path: str
    form: str
    lines: int
    bytes: int
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class LogLines:
    """All input lines in time order: columns ``ts`` (UTC, null when unknown), ``stream``, ``text``.

    ``seq`` keeps each line's position in its input so that lines with equal or unknown times
    keep their original order.
    """

    table: pa.Table
    inputs: tuple[InputInfo, ...] = ()
    invalid_utf8_lines: int = 0
    partial_merged: int = 0
    broken_json_lines: int = 0
    duplicate_lines: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)
    # The sources the table's ``source`` column indexes: one container's log (rotated json-file
    # parts joined, see source_name) or one input file. Nothing pairs across sources.
    sources: tuple[str, ...] = ()
    # A large file not read yet: the analysis reads and classifies it chunk by chunk
    # (ingest/chunks.py, a ChunkedFile); ``table`` is then empty until it has.
    pending: Any = None

    @property
    def total(self) -> int:
        """Every input line, duplicates included (a line ends at a newline or at end of file)."""
        return self.table.num_rows + self.duplicate_lines


def sniff_form(data: Bytes) -> str:
    """Decide the form from the first non-empty lines (the majority wins, junk tolerated)."""
    docker = json_file = cri = seen = 0
    for raw in io.BytesIO(data[: 1 << 20]):
        line = raw.strip(b"\r\n")
        if not line.strip():
            continue
        seen += 1
        if _CRI_RE.match(line):
            cri += 1
        elif _DOCKER_TS_RE.match(line):
            docker += 1
        elif _JSON_FILE_RE.match(line):
            json_file += 1
        if seen >= _SNIFF_LINES:
            break
    if seen == 0:
        return FORM_PLAIN
    if json_file * 2 > seen:
        return FORM_JSON_FILE
    if cri * 2 > seen:
        return FORM_CRI
    if docker * 2 > seen:
        return FORM_DOCKER
    return FORM_PLAIN


def _line_offsets(data: Bytes) -> np.ndarray:
    """Where each line starts, then the end of the data (int64, one more than the lines).

    A line ends after each newline, or at the end of the data when it does not end in one.
    """
    import numpy as np

    buf = np.frombuffer(data, dtype=np.uint8)
    # In 1 MiB pieces, on both cores: each comparison's mask then stays in cache.
    step = 1 << 20

    def next_line_starts(first: int) -> np.ndarray:  # one past each newline
        return np.flatnonzero(buf[first : first + step] == 10) + (first + 1)

    pieces = parallel_map(next_line_starts, range(0, len(buf), step))
    offsets = np.concatenate([np.zeros(1, np.int64), *pieces, np.full(1, len(data), np.int64)])
    if len(offsets) > 1 and offsets[-1] == offsets[-2]:
        offsets = offsets[:-1]  # the data ends with a newline: no empty last line
    return offsets


def _utf8_lines(data: Bytes) -> tuple[Bytes, np.ndarray, pa.Array, int]:
    """Lines as a large_string array over ``data`` (no copy, line ends kept), with their offsets.

    Invalid UTF-8 is replaced first (the data returned is then a repaired copy) and the lines
    holding a replacement character are counted.
    """
    import pyarrow as pa

    offsets = _line_offsets(data)
    count = len(offsets) - 1
    array = pa.LargeStringArray.from_buffers(
        count, pa.py_buffer(offsets), pa.py_buffer(data), None, 0
    )
    try:
        # Halves on both cores; a character never spans lines, so halves validate alone.
        half = count // 2
        parallel_map(lambda part: part.validate(full=True), [array[:half], array[half:]])
    except pa.ArrowInvalid:
        fixed = str(data, "utf-8", "replace")  # (data may be a view of a mapped file)
        invalid = sum(1 for line in fixed.split("\n") if "\ufffd" in line)
        repaired = fixed.encode("utf-8")
        del fixed
        return *_utf8_lines(repaired)[:3], invalid
    return data, offsets, array, 0


def _split_lines(data: Bytes, trim: bool = True) -> tuple[pa.Array, int]:
    """Split bytes at newlines into a large_string array without copying; repair bad UTF-8.

    With ``trim=False`` each element keeps its line end (a copy saved when the caller slices).
    """
    import pyarrow.compute as pc

    _, _, array, invalid = _utf8_lines(data)
    return (pc.utf8_rtrim(array, characters="\r\n") if trim else array), invalid


def _docker_table(data: Bytes, offsets: np.ndarray, lines: pa.Array) -> pa.Table:
    """Split ``TIME TEXT\n`` lines (line ends kept) into a time column and a text column.

    Lines in `docker logs -t`'s fixed layout (nearly all of them) are parsed with numpy at fixed
    byte positions and their text is one byte slice; any other line (other time layouts or
    offsets, no time, a "\r\n" end, a last line without newline) takes the general regex way.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if not len(lines):
        return _docker_table_general(lines).add_column(1, "stream", pa.nulls(0, pa.string()))
    raw = lines.view(pa.large_binary())
    # The text slice needs none of the checks: copy it on the other core meanwhile. Lines that
    # turn out not to be in the fixed layout get their text replaced below.
    text, (fixed, ts_ns) = parallel_map(
        lambda job: job(),
        [
            lambda: pc.binary_slice(raw, FIXED_PREFIX, -1),
            lambda: fixed_layout_times(data, offsets, raw),
        ],
    )
    other = ~fixed
    if other.all():  # none in the fixed layout (times with offsets, say): no merging needed
        del text
        return _docker_table_general(lines).add_column(
            1, "stream", pa.nulls(len(lines), pa.string())
        )
    ts_null = None
    if other.any():
        rest = _docker_table_general(lines.filter(pa.array(other)))
        rows = np.flatnonzero(other)
        rest_ts = rest.column("ts")
        ts_ns[rows] = rest_ts.cast(pa.int64()).fill_null(0).to_numpy()
        if rest_ts.null_count:
            ts_null = np.zeros(len(lines), dtype=bool)
            ts_null[rows] = rest_ts.is_null().to_numpy(zero_copy_only=False)
        rest_text = rest.column("text").combine_chunks().view(pa.large_binary())
        text = pc.replace_with_mask(text, pa.array(other), rest_text)
    ts = pa.array(ts_ns, type=pa.timestamp("ns", tz="UTC"), mask=ts_null)
    stream = pa.nulls(len(lines), pa.string())
    return pa.table({"ts": ts, "stream": stream, "text": text.view(pa.large_string())})


def _docker_table_general(lines: pa.Array) -> pa.Table:
    """Any docker-timestamps lines (line ends kept): RFC 3339 times of any precision or offset.

    A line whose time does not parse keeps its whole text, with no time.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    trimmed = pc.utf8_rtrim(lines, characters="\r\n")
    parts = pc.extract_regex(trimmed, rf"^(?P<ts>{TS_BODY}) (?P<text>(?s:.*))$")
    ts_text = pc.if_else(
        parts.is_valid(),
        parts.field("ts").cast(pa.large_string()),
        pa.scalar(None, pa.large_string()),
    )
    ts = rfc3339_times(ts_text)
    text = pc.if_else(ts.is_valid(), parts.field("text").cast(pa.large_string()), trimmed)
    return pa.table({"ts": ts, "text": text})


def read_log(
    path: str, data: Bytes | None = None, limits: Limits | None = None
) -> tuple[pa.Table, InputInfo, dict[str, int]]:
    """Read one log input into a table of lines, with what was learnt about it."""
    import pyarrow as pa

    notes: list[str] = []
    size = None
    if data is None:
        read = read_bounded(path, limits)
        data, notes, size = read.data, list(read.notes), read.bytes_read
        del read
    form = sniff_form(data)
    counts = {"invalid_utf8": 0, "partial_merged": 0, "broken_json": 0}
    if form == FORM_DOCKER:
        # The docker reader looks at the bytes at each line's offsets, so it takes them all.
        repaired, offsets, lines, invalid = _utf8_lines(data)
        table = _docker_table(repaired, offsets, lines)
        del repaired, offsets
    else:
        lines, invalid = _split_lines(data)
        if form == FORM_JSON_FILE:
            table, counts["partial_merged"], counts["broken_json"] = json_file_table(data, lines)
        elif form == FORM_CRI:
            table, counts["partial_merged"], _ = cri_table(lines)
        else:
            table = pa.table(
                {
                    "ts": pa.nulls(len(lines), pa.timestamp("ns", tz="UTC")),
                    "stream": pa.nulls(len(lines), pa.string()),
                    "text": lines,
                }
            )
    counts["invalid_utf8"] = invalid
    if invalid:
        notes.append(f"{path}: {invalid} line(s) were not valid UTF-8 (bad bytes replaced)")
    if counts["broken_json"]:
        notes.append(f"{path}: {counts['broken_json']} line(s) were not valid json-file records")
    # (the input's bytes, its cut lines' whole length included: a read in chunks says the same)
    info = InputInfo(path, form, table.num_rows, size or len(data), tuple(notes))
    del data, lines
    release_unused()  # the raw bytes and the line array (~220 MB at 1M)
    return table, info, counts


def duplicates_note(count: int) -> str:
    """The data-quality note for exact duplicates, however the lines were read."""
    return f"{count} duplicate line(s) (same time and text) were counted once"


def combine(
    tables: Sequence[pa.Table], infos: Sequence[InputInfo], counts: Sequence[dict[str, int]]
) -> LogLines:
    """Merge inputs in time order (stable), dropping exact duplicates of timestamped lines."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    names = list(dict.fromkeys(source_name(info.path) for info in infos))
    parts = []
    for index, (table, info) in enumerate(zip(tables, infos, strict=True)):
        seq = pa.array(np.arange(table.num_rows, dtype=np.int64))
        src = pa.array(np.full(table.num_rows, names.index(source_name(info.path)), np.int32))
        part = table.append_column("seq", seq).append_column("source", src)
        parts.append(
            part.append_column("input", pa.array(np.full(table.num_rows, index, np.int32)))
        )
    if parts:
        table = pa.concat_tables(parts)
    else:
        table = pa.table(
            {
                "ts": pa.array([], pa.timestamp("ns", tz="UTC")),
                "stream": pa.array([], pa.string()),
                "text": pa.array([], pa.large_string()),
                "seq": pa.array([], pa.int64()),
                "source": pa.array([], pa.int32()),
                "input": pa.array([], pa.int32()),
            }
        )
    if table.num_rows and (len(tables) > 1 or not _is_sorted(table)):
        # Lines without a time keep their place relative to their own input: sort by
        # (time, input, position), with unknown times last.
        order = pc.sort_indices(
            table,
            sort_keys=[
                ("ts", "ascending", "at_end"),
                ("input", "ascending", "at_end"),
                ("seq", "ascending", "at_end"),
            ],
        )
        table = table.take(order)
    table = table.drop_columns(["input"])
    duplicates = 0
    if table.num_rows > 1:
        # A duplicate equals the line before it (after sorting) in time and text; texts are
        # compared only where times tie, which real engine timestamps almost never do.
        nat = NAT_NS
        ts_ns = np.asarray(
            table.column("ts").cast(pa.int64()).fill_null(nat).to_numpy(), dtype=np.int64
        )
        tie = np.flatnonzero((ts_ns[1:] == ts_ns[:-1]) & (ts_ns[1:] != nat)) + 1
        duplicate = np.zeros(table.num_rows, dtype=bool)
        if len(tie):
            text = table.column("text")
            same = pc.equal(text.take(pa.array(tie)), text.take(pa.array(tie - 1)))
            duplicate[tie[np.asarray(same.to_numpy(zero_copy_only=False), dtype=bool)]] = True
        duplicates = int(duplicate.sum())
        if duplicates:
            table = table.filter(pa.array(~duplicate))
    notes = [note for info in infos for note in info.notes]
    if duplicates:
        notes.append(duplicates_note(duplicates))
    return LogLines(
        table=table,
        inputs=tuple(infos),
        invalid_utf8_lines=sum(c["invalid_utf8"] for c in counts),
        partial_merged=sum(c["partial_merged"] for c in counts),
        broken_json_lines=sum(c["broken_json"] for c in counts),
        duplicate_lines=duplicates,
        notes=tuple(notes),
        sources=tuple(names),
    )


def _is_sorted(table: pa.Table) -> bool:
    import numpy as np
    import pyarrow as pa

    ts = table.column("ts")
    if ts.null_count == len(ts):
        return True
    if ts.null_count:
        return False
    values = ts.cast(pa.int64()).to_numpy()
    return bool(np.all(values[1:] >= values[:-1]))


def read_logs(paths: Sequence[str], limits: Limits | None = None) -> LogLines:
    """Read and merge several log inputs, each within the ``[limits]`` caps (`kubectl logs
    --prefix`, `docker compose logs`, `docker service logs` output: one input per source)."""
    from claude_perf.ingest.prefixed import input_parts

    tables, infos, counts = [], [], []
    for path in paths:
        read = read_bounded(path, limits)
        size, cut = read.bytes_read, read.lines_cut
        parts = input_parts(path, read.data, list(read.notes))
        del read  # (the generator holds the bytes until it has split them)
        for name, data, notes in parts:
            table, info, count = read_log(name, data, limits)
            if cut and name == path:  # (the input's own bytes, its cut lines' whole length)
                info = replace(info, bytes=size)
            del data  # the raw bytes go once the input's parts are read (input_parts yields)
            tables.append(table)
            infos.append(replace(info, notes=(*notes, *info.notes)) if notes else info)
            counts.append(count)
        release_unused()
    return combine(tables, infos, counts)

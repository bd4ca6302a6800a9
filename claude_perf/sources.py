"""Input edge: saved container logs (three forms, plain or gzip) into one Arrow table of lines.

Forms, detected per file from its first lines:
- ``docker-timestamps``: ``docker logs --timestamps`` output (RFC 3339 time, a space, the line);
- ``json-file``: Docker's json-file driver (``{"log": ..., "stream": ..., "time": ...}`` per line);
- ``plain``: process output without engine timestamps (the application's own time is used later).

Every input line is kept (nothing is dropped here); invalid UTF-8 is replaced and counted.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import sys
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from claude_perf.durations import NAT_NS
from claude_perf.errors import InputError
from claude_perf.kernels import kernel, release_unused

if TYPE_CHECKING:
    import pyarrow as pa

FORM_DOCKER = "docker-timestamps"
FORM_JSON_FILE = "json-file"
FORM_PLAIN = "plain"

_DOCKER_TS_RE = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d) ")
_TS_BODY = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)"
_JSON_FILE_RE = re.compile(rb'^\{.*"log"\s*:.*"time"\s*:', re.DOTALL)
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

    @property
    def total(self) -> int:
        """Every input line, duplicates included (a line ends at a newline or at end of file)."""
        return self.table.num_rows + self.duplicate_lines


def read_bytes(path: str) -> tuple[bytes, list[str]]:
    """Read a path (``-`` is stdin), transparently gunzipping; raise InputError for bad paths."""
    notes: list[str] = []
    if path == "-":
        data = sys.stdin.buffer.read()
    else:
        p = Path(path)
        if not p.exists():
            raise InputError(f"{path}: no such file")
        if p.is_dir():
            raise InputError(
                f"{path}: is a directory; give a log file, or a session folder with manifest.json"
            )
        try:
            data = p.read_bytes()
        except PermissionError as exc:
            raise InputError(f"{path}: permission denied") from exc
        except OSError as exc:
            raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if data[:2] == b"\x1f\x8b":
        data, note = _gunzip(data)
        if note:
            notes.append(f"{path}: {note}")
    return data, notes


def _gunzip(data: bytes) -> tuple[bytes, str | None]:
    try:
        return gzip.decompress(data), None
    except (OSError, EOFError, zlib.error):
        # A truncated or damaged archive: keep what decompresses rather than lose the whole file.
        inflater = zlib.decompressobj(wbits=47)
        try:
            partial = inflater.decompress(data)
        except zlib.error:
            partial = b""
        return partial, "gzip stream is truncated or damaged; read what could be decompressed"


def sniff_form(data: bytes) -> str:
    """Decide the form from the first non-empty lines (the majority wins, junk tolerated)."""
    docker = json_file = seen = 0
    for raw in io.BytesIO(data[: 1 << 20]):
        line = raw.strip(b"\r\n")
        if not line.strip():
            continue
        seen += 1
        if _DOCKER_TS_RE.match(line):
            docker += 1
        elif _JSON_FILE_RE.match(line):
            json_file += 1
        if seen >= _SNIFF_LINES:
            break
    if seen == 0:
        return FORM_PLAIN
    if json_file * 2 > seen:
        return FORM_JSON_FILE
    if docker * 2 > seen:
        return FORM_DOCKER
    return FORM_PLAIN


def _split_lines(data: bytes, trim: bool = True) -> tuple[pa.Array, int]:
    """Split bytes at newlines into a large_string array without copying; repair bad UTF-8.

    With ``trim=False`` each element keeps its line end (a copy saved when the caller slices).
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    invalid = 0
    if not data:
        return pa.array([], type=pa.large_string()), 0
    buf = np.frombuffer(data, dtype=np.uint8)
    # In 4 MiB pieces: the comparison's mask then stays in cache (6× faster than in one go).
    step = 1 << 22
    newlines = np.concatenate(
        [np.flatnonzero(buf[i : i + step] == 10) + i for i in range(0, len(buf), step)]
    )
    offsets = np.empty(len(newlines) + 2, dtype=np.int64)
    offsets[0] = 0
    offsets[1 : len(newlines) + 1] = newlines + 1
    offsets[-1] = len(data)
    if offsets[-1] == offsets[-2]:  # the data ends with a newline: no empty last line
        offsets = offsets[:-1]
    count = len(offsets) - 1
    array = pa.LargeStringArray.from_buffers(
        count, pa.py_buffer(offsets), pa.py_buffer(data), None, 0
    )
    try:
        array.validate(full=True)
    except pa.ArrowInvalid:
        fixed = data.decode("utf-8", errors="replace")
        invalid = sum(1 for line in fixed.split("\n") if "\ufffd" in line)
        return _split_lines(fixed.encode("utf-8"), trim)[0], invalid
    return (pc.utf8_rtrim(array, characters="\r\n") if trim else array), invalid


def _docker_table(lines: pa.Array) -> pa.Table:
    """Split ``TIME TEXT\n`` lines (line ends kept) into a time column and a text column.

    `docker logs -t` prints times in a fixed 30-character layout (nanoseconds, "Z"), so the
    common case is two byte slices; other layouts (trimmed fractions, offsets) take a regex.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    raw = lines.view(pa.large_binary())
    fixed = kernel(pc.match_substring_regex, lines, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z ")
    newline_ended = pc.ends_with(lines, "\n")
    simple = pc.all(fixed).as_py() and pc.all(newline_ended).as_py()
    if simple and not pc.any(pc.ends_with(lines, "\r\n")).as_py():
        # The common case: one byte slice per column, no regex, no trim.
        # (not split across threads: joining the halves would copy the text once more)
        ts_text = pc.binary_slice(raw, 0, 30).view(pa.large_string())
        text = pc.binary_slice(raw, 31, -1).view(pa.large_string())
    else:
        trimmed = pc.utf8_rtrim(lines, characters="\r\n")
        parts = pc.extract_regex(trimmed, rf"^(?P<ts>{_TS_BODY}) (?P<text>(?s:.*))$")
        ok = parts.is_valid()
        ts_text = pc.if_else(
            ok, parts.field("ts").cast(pa.large_string()), pa.scalar(None, pa.large_string())
        )
        text = pc.if_else(ok, parts.field("text").cast(pa.large_string()), trimmed)
    ts = pc.cast(ts_text, pa.timestamp("ns", tz="UTC"))
    stream = pa.nulls(len(lines), pa.string())
    return pa.table({"ts": ts, "stream": stream, "text": text})


def _json_file_table(data: bytes, lines: pa.Array) -> tuple[pa.Table, int, int]:
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
    valid = pc.match_substring_regex(time_array, rf"^{_TS_BODY}$")
    time_array = pc.if_else(pc.fill_null(valid, False), time_array, pa.scalar(None, pa.string()))
    ts = pc.cast(time_array, pa.timestamp("ns", tz="UTC"))
    table = pa.table({"ts": ts, "stream": pa.array(out_streams, pa.string()), "text": texts})
    return table, merged, broken


def read_log(path: str, data: bytes | None = None) -> tuple[pa.Table, InputInfo, dict[str, int]]:
    """Read one log input into a table of lines, with what was learnt about it."""
    import pyarrow as pa

    notes: list[str] = []
    if data is None:
        data, notes = read_bytes(path)
    form = sniff_form(data)
    lines, invalid = _split_lines(data, trim=form != FORM_DOCKER)
    counts = {"invalid_utf8": invalid, "partial_merged": 0, "broken_json": 0}
    if form == FORM_DOCKER:
        table = _docker_table(lines)
    elif form == FORM_JSON_FILE:
        table, counts["partial_merged"], counts["broken_json"] = _json_file_table(data, lines)
    else:
        table = pa.table(
            {
                "ts": pa.nulls(len(lines), pa.timestamp("ns", tz="UTC")),
                "stream": pa.nulls(len(lines), pa.string()),
                "text": lines,
            }
        )
    if invalid:
        notes.append(f"{path}: {invalid} line(s) were not valid UTF-8 (bad bytes replaced)")
    if counts["broken_json"]:
        notes.append(f"{path}: {counts['broken_json']} line(s) were not valid json-file records")
    info = InputInfo(path, form, table.num_rows, len(data), tuple(notes))
    del data, lines
    release_unused()  # the raw bytes and the line array (~220 MB at 1M)
    return table, info, counts


def combine(
    tables: Sequence[pa.Table], infos: Sequence[InputInfo], counts: Sequence[dict[str, int]]
) -> LogLines:
    """Merge inputs in time order (stable), dropping exact duplicates of timestamped lines."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = []
    for index, table in enumerate(tables):
        seq = pa.array(np.arange(table.num_rows, dtype=np.int64))
        src = pa.array(np.full(table.num_rows, index, dtype=np.int32))
        parts.append(table.append_column("seq", seq).append_column("source", src))
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
            }
        )
    if table.num_rows and (len(tables) > 1 or not _is_sorted(table)):
        # Lines without a time keep their place relative to their own input: sort by
        # (time, input, position), with unknown times last.
        order = pc.sort_indices(
            table,
            sort_keys=[
                ("ts", "ascending", "at_end"),
                ("source", "ascending", "at_end"),
                ("seq", "ascending", "at_end"),
            ],
        )
        table = table.take(order)
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
        notes.append(f"{duplicates} duplicate line(s) (same time and text) were counted once")
    return LogLines(
        table=table,
        inputs=tuple(infos),
        invalid_utf8_lines=sum(c["invalid_utf8"] for c in counts),
        partial_merged=sum(c["partial_merged"] for c in counts),
        broken_json_lines=sum(c["broken_json"] for c in counts),
        duplicate_lines=duplicates,
        notes=tuple(notes),
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


def read_logs(paths: Sequence[str]) -> LogLines:
    """Read and merge several log inputs."""
    tables, infos, counts = [], [], []
    for path in paths:
        table, info, count = read_log(path)
        tables.append(table)
        infos.append(info)
        counts.append(count)
    return combine(tables, infos, counts)

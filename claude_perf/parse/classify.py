"""Lines → entries: classify every line by format and extract request facts, vectorised with Arrow.

Formats recognised per line (real proxies mix several in one stream):
``access`` (uvicorn access lines), ``leveled`` (Python logging ``asctime - name - level - msg``,
uvicorn's ``LEVEL:  msg``, logging's default ``LEVEL:name:msg``), ``continuation`` (tracebacks and
``Error output:`` lines belonging to the record above), ``json`` (structlog, pino, event logs),
``kv`` (``key=value`` messages), ``pattern`` (the user's configured formats), ``blank`` and
``other``
(nothing matched; counted as unparsed, never dropped).

Each line that says something about a request becomes an *entry* with a role: ``start``, ``end``,
``error``, ``model`` (names the model only), ``health``. Regexes run on the few lines that can
match (cheap literal pre-filters first), because Arrow's RE2 kernels cost per byte scanned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from claude_perf.config.schema import Config
from claude_perf.durations import NAT_NS
from claude_perf.runtime.parallel import kernel as _kernel
from claude_perf.runtime.parallel import release_unused

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

KINDS = ("access", "leveled", "continuation", "json", "kv", "pattern", "blank", "other")
K_ACCESS, K_LEVELED, K_CONT, K_JSON, K_KV, K_PATTERN, K_BLANK, K_OTHER = range(len(KINDS))

_ANSI = r"\x1b\[[0-9;?]*[ -/]*[@-~]"
_ACCESS = (
    r'^INFO:\s+(?P<client>\S+):(?P<port>\d+) - "(?P<method>[A-Z]+) (?P<path>[^ "?]*)[^ "]*'
    r' HTTP/[\d.]+" (?P<status>\d{3})'
)
# The request part of an _ACCESS line, after its `` - "`` (see _access_fields).
_ACCESS_REQUEST = r'^(?P<method>[A-Z]+) (?P<path>[^ "?]*)[^ "]* HTTP/[\d.]+" (?P<status>\d{3})'
_MORGAN = (
    r"^(?:(?P<client>[\d.:a-f\[\]]+) - \S+ )?(?P<method>GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) "
    r"(?P<path>/[^ ?]*)\S* (?P<status>\d{3}) (?P<duration>\d+(?:\.\d+)?) ms"
)
_MORGAN_PREFIX = r"^(?:[\d.:a-f\[\]]+ - \S+ )?[A-Z]{3,7} /"
# Leveled formats are matched on their head only: the message is searched in the whole line
# later, which saves copying every message out (the single most expensive step at 1M lines).
_PYLOG = (
    r"^(?P<asctime>\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[,.]\d+)?) - (?P<logger>\S+) - "
    r"(?P<level>[A-Z]+) - "
)
# The same head in its usual layout (asctime with milliseconds): checked by one anchored match
# over the lines; logger and level are then read from the distinct remainders only.
_PYLOG_FIXED_HEAD = r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d[,.]\d{3} - "
_PYLOG_TAIL = r"^(?P<logger>\S+) - (?P<level>[A-Z]+) - "
_UVICORN = r"^(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL):(?:\s+|(?P<logger>[\w.]+):)"
_FIELD_MODEL = (
    r"(?i)(?:\"model\"\s*:\s*\"|\bmodel[=:]\s*['\"]?|\bmodel ')(?P<v>[A-Za-z0-9][\w.\-:/@\[\]]*)"
)
_FIELD_STATUS = (
    r"(?i)(?:\"(?:status|statusCode|status_code)\"\s*:\s*\"?|\b(?:status|status_code)[=:]\s*)"
    r"(?P<v>[1-5]\d\d)\b"
)
# _FIELD_STATUS with ``\d`` for ``[1-5]``: the regex run on message shapes (see _Templates).
_FIELD_STATUS_SHAPE = (
    r"(?i)(?:\"(?:status|statusCode|status_code)\"\s*:\s*\"?|\b(?:status|status_code)[=:]\s*)"
    r"(?P<v>\d\d\d)\b"
)
_FIELD_DURATION = (
    r"(?i)(?P<k>duration_?ms|elapsed_?ms|latency_?ms|response_?time(?:_?ms)?|took|duration|"
    r"elapsed|latency)\"?\s*[=:]?\s*\"?(?P<v>\d+(?:\.\d+)?)\s*(?P<u>ms|us|µs|s|sec|secs|seconds)?\b"
)
_FIELD_PROSE_DURATION = r"\b(?:in|after) (?P<v>\d+(?:\.\d+)?) ?(?P<u>ms|us|µs|s|sec|seconds)\b"
_FIELD_REQUEST_ID = (
    r"(?i)(?:\"(?:request_?id|req_?id|correlation_?id)\"\s*:\s*\"?|"
    r"\b(?:request_?id|req_?id|rid|correlation_?id)[=:]\s*['\"]?)(?P<v>[\w\-.:]+)"
)
_FIELD_METHOD_PATH = r"\b(?P<method>GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (?P<path>/[^\s\"?]*)"
_FIELD_JSON_PATH = r"\"(?:path|url|route|endpoint)\"\s*:\s*\"(?P<path>/[^\"?]*)"
_FIELD_JSON_METHOD = r"\"method\"\s*:\s*\"(?P<method>[A-Z]+)\""
_FIELD_JSON_LEVEL = r"(?i)\"(?:level|severity|lvl|levelname)\"\s*:\s*\"?(?P<v>[A-Za-z]+|\d+)"
_FIELD_JSON_TIME = r"\"(?:timestamp|time|ts|@timestamp|asctime)\"\s*:\s*\"?(?P<v>[^\",}]+)"
_START_WORDS = (
    r"(?i)(?:request[._ ]?(?:start(?:ed)?|received|begin)\b|incoming request|"
    r"(?:^|- )chat completion:|processing request|started request)"
)
_END_WORDS = (
    r"(?i)(?:request[._ ]?(?:complete[d]?|finish(?:ed)?|end(?:ed)?|done)\b|response[._ ]sent|"
    r"completed request|request finished)"
)
_ERROR_LEVELS = ("ERROR", "CRITICAL", "FATAL", "ERR", "EMERG", "ALERT", "CRIT")
_CONTINUATION_GAP_NS = 5_000_000  # lines printed within 5 ms of a record belong to it

_DURATION_SCALE = {"ms": 1e-3, "us": 1e-6, "µs": 1e-6, "s": 1.0, "sec": 1.0, "secs": 1.0}


@dataclass(frozen=True)
class Entries:
    """The classified lines: per-kind counts and one row per request-relevant entry.

    ``events`` columns: row, ts (UTC, NaT when unknown), ts_source, kind, role, level, logger,
    method, path, status, client, model, duration_s, request_id, message (error rows only).
    """

    kind_counts: dict[str, int]
    events: pd.DataFrame
    app_time_lines: int
    no_time_lines: int


def _same(n: int, value: Any) -> np.ndarray:
    """An object array of n references to one value (np.full would copy a string per row)."""
    import numpy as np

    out = np.empty(n, dtype=object)
    out.fill(value)
    return out


def _np_bool(array: Any) -> np.ndarray:
    import numpy as np
    import pyarrow.compute as pc

    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=bool)


def _extract(text: pa.Array, mask: np.ndarray, regex: str) -> tuple[np.ndarray, Any]:
    """Run extract_regex on the masked rows; return (row indices that matched, struct values)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = np.flatnonzero(mask)
    if len(rows) == 0:
        return rows, None
    sub = text if len(rows) == len(text) else text.take(pa.array(rows))
    parts = _kernel(pc.extract_regex, sub, regex)
    ok = _np_bool(parts.is_valid())
    if ok.all():
        return rows, parts
    return rows[ok], parts.filter(pa.array(ok))


def _field(parts: Any, name: str) -> np.ndarray:
    """A struct field as an object array, empty strings (unmatched optional groups) as None."""

    return _field_values(parts.field(name))


def _field_values(values: Any) -> np.ndarray:
    """A string array as an object array, empty strings as None (see _field)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    values = pc.if_else(pc.equal(values, ""), pa.scalar(None, values.type), values)
    # Dictionary-encode first: fields repeat (paths, clients, models), so only the distinct
    # values become Python objects and the rest is an integer gather.
    encoded = pc.dictionary_encode(values)
    uniques = np.asarray([*encoded.dictionary.to_pylist(), None], dtype=object)
    codes = encoded.indices.fill_null(len(uniques) - 1).to_numpy(zero_copy_only=False)
    return uniques[codes]


def _access_fields(text: pa.Array, rows: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """uvicorn access lines among ``rows``: (the rows that are, their client/method/path/status).

    Exactly what _ACCESS finds on each line, but cheaper: RE2 only *matches* fast (a DFA); taking
    groups out runs its slow engines, per byte. So _ACCESS only matches, the line is cut at its
    first `` - "`` (the client holds no spaces, so that is where the regex puts it), and the
    groups are taken from the pieces: the request part repeats (a few dozen distinct per proxy)
    and is parsed once per distinct value; the client is the head without ``INFO:``, white space
    and ``:PORT``.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(rows) == 0:
        return rows, {}
    lines = text.take(pa.array(rows))
    matched = _np_bool(_kernel(pc.match_substring_regex, lines, _ACCESS))
    rows = rows[matched]
    pieces = pc.split_pattern(lines.filter(pa.array(matched)), ' - "', max_splits=1)
    del lines
    request = pc.dictionary_encode(pc.list_element(pieces, 1))
    parts = pc.extract_regex(request.dictionary, _ACCESS_REQUEST)
    codes = np.asarray(request.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    fields = {name: _field(parts, name)[codes] for name in ("method", "path")}
    fields["status"] = _status_codes(parts.field("status"))[codes]
    # "INFO:" + white space (RE2's \s) + client + ":" + port → client
    head = pc.replace_substring_regex(pc.list_element(pieces, 0), r":\d+$", "", max_replacements=1)
    client = pc.utf8_ltrim(pc.utf8_slice_codeunits(head, 5), characters=" \t\n\f\r")
    fields["client"] = _field_values(client)
    return rows, fields


def _status_codes(values: Any) -> np.ndarray:
    """HTTP status strings → float codes (NaN unless exactly three digits), without Python objects.

    Kept as floats in ``_Columns`` (NaN = unknown) and made ``Int16`` once, for the frame.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    ok = pc.fill_null(pc.match_substring_regex(values, r"^\d{3}$"), False)
    numbers = pc.cast(pc.if_else(ok, values, pa.scalar(None, values.type)), pa.float64())
    return np.asarray(numbers.to_numpy(zero_copy_only=False), dtype=float)


class _Columns:
    """Sparse per-line facts as (rows, values) chunks; the first chunk to set a row wins."""

    NAMES = (
        "level",
        "logger",
        "method",
        "path",
        "status",
        "client",
        "model",
        "duration_s",
        "request_id",
        "role",
        "app_time",
    )

    def __init__(self, n_lines: int) -> None:
        self.n_lines = n_lines
        self.chunks: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {n: [] for n in self.NAMES}

    def add(self, name: str, rows: np.ndarray, values: np.ndarray) -> None:
        import numpy as np

        if len(rows) == 0:
            return
        keep = values != None if values.dtype == object else ~np.isnan(values)  # noqa: E711
        if not keep.all():
            rows, values = rows[keep], values[keep]
        self.chunks[name].append((rows, values))

    def mask(self, name: str) -> np.ndarray:
        """Lines that have a value for this column (a mask: cheaper than np.unique of rows)."""
        import numpy as np

        out = np.zeros(self.n_lines, dtype=bool)
        for rows, _ in self.chunks[name]:
            out[rows] = True
        return out

    def rows(self, name: str) -> np.ndarray:
        import numpy as np

        return np.flatnonzero(self.mask(name))

    NUMERIC = ("duration_s", "status")  # float columns, NaN = unknown

    def positions(self, at: np.ndarray) -> np.ndarray:
        """Line row → position in ``at`` (-1 where absent): one map for every gather."""
        import numpy as np

        where = np.full(self.n_lines, -1, dtype=np.int64)
        where[at] = np.arange(len(at))
        return where

    def gather(
        self, name: str, at: np.ndarray, fill: Any = None, where: np.ndarray | None = None
    ) -> np.ndarray:
        """Values at the given rows (fill where no chunk set one); ``where`` from positions(at)."""
        import numpy as np

        if name in self.NUMERIC:
            out = np.full(len(at), np.nan, dtype=float)
        else:
            out = np.full(len(at), fill, dtype=object)
        if len(at) == 0:
            return out
        if where is None:
            where = self.positions(at)
        # Later chunks first, so that earlier (more specific) chunks overwrite them.
        for rows, values in reversed(self.chunks[name]):
            pos = where[rows]
            inside = pos >= 0
            out[pos[inside]] = values[inside]
        return out


def _has_escape_byte(text: pa.Array) -> bool:
    """Whether any line holds an ESC byte (ANSI colours), by scanning the data buffer in pieces."""
    import numpy as np

    data = text.buffers()[2]
    if data is None:
        return False
    buf = np.frombuffer(data, dtype=np.uint8)
    step = 1 << 22
    return any(bool((buf[i : i + step] == 27).any()) for i in range(0, len(buf), step))


# Python logging's asctime head, ``2026-11-29 00:50:46,892 - `` (26 bytes), position by position.
_HEAD_BYTES = 26
_HEAD_DIGITS = (0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22)
_HEAD_FIXED = (
    *((4, b"-"), (7, b"-"), (10, b" T"), (13, b":"), (16, b":"), (19, b",.")),
    *((23, b" "), (24, b"-"), (25, b" ")),
)


def _pylog_heads(text: pa.Array, unassigned: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows among ``unassigned`` that start like ``\\d{4}-`` (leveled candidates), and those of
    them whose first 26 bytes are exactly _PYLOG_FIXED_HEAD.

    Instead of two regex passes over every line: the first 26 bytes of every line long enough are
    cut into one contiguous block (Arrow's binary_slice), which numpy then reads as a matrix of
    one row per line and tests column by column.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    empty = np.zeros(0, dtype=np.int64)
    if len(text) == 0:
        return empty, empty
    heads = pc.binary_slice(text.view(pa.large_binary()), 0, _HEAD_BYTES)
    lengths = np.asarray(pc.binary_length(heads).to_numpy(zero_copy_only=False))
    full = unassigned & (lengths == _HEAD_BYTES)
    rows = np.flatnonzero(full)
    if len(rows):
        block = heads.filter(pa.array(full))
        first = int(np.frombuffer(block.buffers()[1], dtype=np.int64)[block.offset])
        matrix = np.frombuffer(block.buffers()[2], dtype=np.uint8)[
            first : first + len(rows) * _HEAD_BYTES
        ].reshape(len(rows), _HEAD_BYTES)
        is_digit = (matrix[:, list(_HEAD_DIGITS)] - np.uint8(48)) < 10  # wraps below "0"
        starts_like = is_digit[:, :4].all(axis=1) & (matrix[:, 4] == ord("-"))
        fixed = starts_like & is_digit.all(axis=1)
        for position, allowed in _HEAD_FIXED:
            column = matrix[:, position]
            fixed &= np.logical_or.reduce([column == byte for byte in allowed])  # (np.isin sorts)
        long_candidates, fixed_rows = rows[starts_like], rows[fixed]
    else:
        long_candidates, fixed_rows = empty, empty
    # Lines of 5 to 25 bytes can only be candidates: the regex on those few.
    short = np.flatnonzero(unassigned & (lengths >= 5) & (lengths < _HEAD_BYTES))
    if len(short):
        hit = _np_bool(pc.match_substring_regex(heads.take(pa.array(short)), rb"^\d{4}-"))
        long_candidates = np.sort(np.concatenate([long_candidates, short[hit]]))
    return long_candidates, fixed_rows


def _parse_times(values: np.ndarray, timezone: str) -> np.ndarray:
    """Application timestamps (ISO-ish strings or epoch numbers) → UTC nanoseconds (NaT if bad).

    Times with a zone (``Z``, ``+02:00``) are converted; times without one (Python's asctime)
    are taken in ``timezone``. A log may mix both, so they are parsed as two groups.
    """
    import numpy as np
    import pandas as pd

    series = pd.Series(values, dtype="object").astype("str").str.replace(",", ".", regex=False)
    nat = NAT_NS
    out = np.full(len(series), nat, dtype=np.int64)
    zoned = series.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True).to_numpy(dtype=bool)

    def fill(mask: np.ndarray, parsed: pd.Series) -> None:
        stamps = parsed.astype("datetime64[ns, UTC]")
        known = stamps.notna().to_numpy()
        ns = stamps.to_numpy(dtype="datetime64[ns]").view(np.int64)
        rows = np.flatnonzero(mask)
        out[rows[known]] = ns[known]

    if zoned.any():
        fill(zoned, pd.to_datetime(series[zoned], errors="coerce", format="ISO8601", utc=True))
    naive = ~zoned
    if naive.any():
        parsed = pd.to_datetime(series[naive], errors="coerce", format="ISO8601")
        # The zone name was checked when the configuration was read (config.schema.time_zone).
        local = parsed.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
        fill(naive, local.dt.tz_convert("UTC"))
    # Epoch numbers (pino's milliseconds, or seconds) where nothing else parsed.
    numeric = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    epoch = (out == nat) & ~np.isnan(numeric)
    if epoch.any():
        seconds = np.where(numeric[epoch] < 1e11, numeric[epoch], numeric[epoch] / 1000.0)
        fill(epoch, pd.Series(pd.to_datetime(seconds, unit="s", utc=True, errors="coerce")))
    return out


PARALLEL_MIN_LINES = 200_000  # below this, splitting costs more than it saves
_SPLIT_SEARCH_LINES = 10_000  # how far past the middle a safe place to cut is looked for
_NOT_PLAIN = [b"", b" ", b"\t", b"\n", b"\r", b"\f", b"\v"]  # first bytes a cut avoids


def classify(lines: pa.Table, config: Config) -> Entries:
    """Classify every line and extract the entries that say something about requests.

    Large inputs are cut in two at a line that cannot continue the one before it (see
    _cut_points), and the halves are classified on both cores at once; every rule but the
    continuation rule looks at one line only, so the result is the same as in one piece.
    """
    from itertools import pairwise

    from claude_perf.runtime.parallel import WORKERS, parallel_map

    spans = list(pairwise(_cut_points(lines, WORKERS)))
    if len(spans) < 2:
        return _classify_part(lines, config)
    parts = parallel_map(
        lambda span: _classify_part(lines.slice(span[0], span[1] - span[0]), config), spans
    )
    return _merge_parts(parts, [start for start, _ in spans])


def _cut_points(lines: pa.Table, parts: int) -> list[int]:
    """Row bounds [0, ..., n] of the parts to classify separately (just [0, n]: one part).

    A cut goes before a line that cannot be a continuation: it has an engine time, more than
    _CONTINUATION_GAP_NS after the line before (also timed), and does not start with white
    space. Continuations (and the error messages that gather them) then never cross a cut.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = lines.num_rows
    if parts < 2 or n < PARALLEL_MIN_LINES:
        return [0, n]
    nat = NAT_NS
    ts_ns = np.asarray(
        lines.column("ts").cast(pa.int64()).fill_null(nat).to_numpy(), dtype=np.int64
    )
    column = lines.column("text")
    cuts = [0]
    for k in range(1, parts):
        window = np.arange(k * n // parts, min(n, k * n // parts + _SPLIT_SEARCH_LINES))
        window = window[window > cuts[-1]]
        if not len(window):
            continue
        gap_ns = ts_ns[window] - ts_ns[window - 1]
        timed = (
            (ts_ns[window] != nat) & (ts_ns[window - 1] != nat) & (gap_ns > _CONTINUATION_GAP_NS)
        )
        texts = column.slice(int(window[0]), len(window)).combine_chunks()
        first = pc.binary_slice(texts.cast(pa.large_binary()), 0, 1)  # b"" for an empty line
        plain = ~_np_bool(pc.is_in(first, value_set=pa.array(_NOT_PLAIN, pa.large_binary())))
        safe = np.flatnonzero(timed & plain)
        if len(safe):
            cuts.append(int(window[safe[0]]))
    cuts.append(n)
    return cuts


def _merge_parts(parts: list[Entries], starts: list[int]) -> Entries:
    """One Entries from the parts' (their rows shifted to whole-input line numbers)."""
    import pandas as pd

    for part, start in zip(parts, starts, strict=True):
        part.events["row"] += start
    # Column by column, each taken out of the parts as it is joined: the parts' columns are
    # freed one at a time instead of both whole frames standing beside the joined one.
    columns = {
        name: pd.concat([part.events.pop(name) for part in parts], ignore_index=True)
        for name in list(parts[0].events.columns)
    }
    return Entries(
        kind_counts={name: sum(p.kind_counts[name] for p in parts) for name in KINDS},
        events=pd.DataFrame(columns, copy=False),
        app_time_lines=sum(p.app_time_lines for p in parts),
        no_time_lines=sum(p.no_time_lines for p in parts),
    )


def _classify_part(lines: pa.Table, config: Config) -> Entries:
    """classify() of one part of the input, in one piece."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = lines.num_rows
    column = lines.column("text")
    if not n:
        text = pa.array([], pa.large_string())
    elif column.num_chunks == 1:
        text = column.chunk(0)  # combine_chunks would copy even a single chunk (97 MB at 1M lines)
    else:
        text = column.combine_chunks()
    del column
    if not pa.types.is_large_string(text.type):  # the byte-offset helpers read int64 offsets
        text = text.cast(pa.large_string())
    if n and _has_escape_byte(text):
        text = pc.replace_substring_regex(text, _ANSI, "")
    nat = NAT_NS
    ts_ns = np.asarray(
        lines.column("ts").cast(pa.int64()).fill_null(nat).to_numpy(), dtype=np.int64
    )
    kind = np.full(n, K_OTHER, dtype=np.int8)
    unassigned = np.ones(n, dtype=bool)
    cols = _Columns(n)
    message_rows = np.zeros(n, dtype=bool)  # whole lines that get the field extractors
    # Leveled lines searched through their distinct remainders: (rows, code per row, remainders)
    shared: tuple[np.ndarray, np.ndarray, pa.Array] | None = None

    def claim(rows: np.ndarray, code: int) -> None:
        kind[rows] = code
        unassigned[rows] = False

    def test(fn: Any, *args: Any) -> np.ndarray:
        """fn over the lines not yet classified (a subset when that is cheaper)."""
        if not n:
            return unassigned.copy()
        rows = np.flatnonzero(unassigned)
        if len(rows) > n // 2:
            return _np_bool(_kernel(fn, text, *args)) & unassigned
        out = np.zeros(n, dtype=bool)
        if len(rows):
            out[rows[_np_bool(_kernel(fn, text.take(pa.array(rows)), *args))]] = True
        return out

    # 1. The user's patterns take precedence over built-in formats.
    for pattern in config.patterns:
        rows, parts = _extract(text, unassigned, pattern.regex)
        if parts is None or len(rows) == 0:
            continue
        claim(rows, K_PATTERN)
        names = {f.name for f in parts.type}
        for name in ("level", "model", "method", "path", "request_id", "client"):
            if name in names:
                cols.add(name, rows, _field(parts, name))
        if "status" in names:
            cols.add("status", rows, _status_codes(parts.field("status")))
        if "duration" in names:
            durations = _durations(_field(parts, "duration"), pattern.duration_unit)
            cols.add("duration_s", rows, durations)
        no_time = ts_ns[rows] == nat
        if "ts" in names and no_time.any():
            cols.add("app_time", rows[no_time], _field(parts.filter(pa.array(no_time)), "ts"))
        cols.add("role", rows, _same(len(rows), pattern.role))
        message_rows[rows] = True

    # 2. Blank lines.
    if n:
        blank = test(pc.utf8_is_space) | (_np_bool(pc.equal(text, "")) & unassigned)
        claim(np.flatnonzero(blank), K_BLANK)

    # 3. uvicorn access lines (the only completion record of many Python proxies).
    rows, fields = _access_fields(text, np.flatnonzero(test(pc.starts_with, "INFO:")))
    if len(rows):
        claim(rows, K_ACCESS)
        for name, values in fields.items():
            cols.add(name, rows, values)
        cols.add("role", rows, _same(len(rows), "end"))

    # 4. Leveled lines: Python logging with asctime, uvicorn's own lines, logging's default.
    # The common asctime layout (23 characters, then " - ") is checked byte by byte and cut off;
    # what follows repeats (a few dozen distinct messages per proxy), so the logger and level,
    # and later the message fields, are read once per distinct tail.
    candidates, fixed_rows = _pylog_heads(text, unassigned)
    if len(candidates):
        if len(fixed_rows):
            # The head is ASCII (checked byte by byte), so cutting after its 26 bytes is a
            # character boundary; the tails are cut straight out of the lines (one copy).
            tails = _slices(
                text,
                fixed_rows,
                np.full(len(fixed_rows), _HEAD_BYTES, dtype=np.int64),
                _line_lengths(text, fixed_rows) - _HEAD_BYTES,
                np.ones(len(fixed_rows), dtype=bool),
            )
            encoded = pc.dictionary_encode(tails)
            tails = encoded.dictionary
            codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
            del encoded
            head = pc.extract_regex(tails, _PYLOG_TAIL)
            tail_ok = _np_bool(head.is_valid())
            line_ok = tail_ok[codes]
            rows = fixed_rows[line_ok]
            if len(rows):
                codes = codes[line_ok]
                claim(rows, K_LEVELED)
                level_u = np.full(len(tails), None, dtype=object)
                logger_u = np.full(len(tails), None, dtype=object)
                valid_head = head.filter(pa.array(tail_ok))
                level_u[tail_ok] = _field(valid_head, "level")
                logger_u[tail_ok] = _field(valid_head, "logger")
                cols.add("level", rows, level_u[codes])
                cols.add("logger", rows, logger_u[codes])
                no_time = ts_ns[rows] == nat
                if no_time.any():
                    heads = text.take(pa.array(rows[no_time])).view(pa.large_binary())
                    stamps = pc.binary_slice(heads, 0, 23).view(pa.large_string())
                    cols.add("app_time", rows[no_time], _field_values(stamps))
                shared = (rows, codes, tails)
        rest = np.zeros(n, dtype=bool)
        rest[candidates] = True
        rest[fixed_rows] = False
        rows, parts = _extract(text, rest, _PYLOG)
        if parts is not None and len(rows):
            claim(rows, K_LEVELED)
            cols.add("level", rows, _field(parts, "level"))
            cols.add("logger", rows, _field(parts, "logger"))
            no_time = ts_ns[rows] == nat
            if no_time.any():
                cols.add(
                    "app_time", rows[no_time], _field(parts.filter(pa.array(no_time)), "asctime")
                )
            message_rows[rows] = True
        release_unused()
    rows, parts = _extract(text, test(pc.match_substring_regex, r"^[A-Z]{4,8}:"), _UVICORN)
    if parts is not None and len(rows):
        claim(rows, K_LEVELED)
        cols.add("level", rows, _field(parts, "level"))
        loggers = _field(parts, "logger")
        loggers = loggers.copy()
        loggers[loggers == None] = "uvicorn"  # noqa: E711  (one shared object, unlike np.where)
        cols.add("logger", rows, loggers)
        message_rows[rows] = True

    # 4b. Node access lines (morgan's "dev" format: method, url, status, time in ms). No
    # leveled line can match it (their heads are not an address then " - "), so it comes
    # after them, to run over fewer lines.
    rows, parts = _extract(text, test(pc.match_substring_regex, _MORGAN_PREFIX), _MORGAN)
    if parts is not None and len(rows):
        claim(rows, K_ACCESS)
        for name in ("client", "method", "path"):
            cols.add(name, rows, _field(parts, name))
        cols.add("status", rows, _status_codes(parts.field("status")))
        cols.add("duration_s", rows, _durations(_field(parts, "duration"), "ms"))
        cols.add("role", rows, _same(len(rows), "end"))

    # 5. JSON lines (complete objects only; a truncated object stays `other`).
    json_like = test(pc.starts_with, "{")
    if json_like.any():
        candidates = np.flatnonzero(json_like)
        trimmed = pc.utf8_rtrim_whitespace(text.take(pa.array(candidates)))
        closed = _np_bool(pc.ends_with(trimmed, "}"))
        json_like[:] = False
        json_like[candidates[closed]] = True
    claim(np.flatnonzero(json_like), K_JSON)
    message_rows |= json_like  # their fields are read with the other messages' (below)

    # 6. key=value lines among the rest.
    kv = test(pc.match_substring_regex, r"\b[A-Za-z_]\w*=\S")
    claim(np.flatnonzero(kv), K_KV)
    message_rows |= kv

    # 7. Continuation lines: unmatched lines printed right after a leveled record.
    other = unassigned & (kind == K_OTHER)
    if other.any():
        _mark_continuations(text, kind, ts_ns, other, nat)

    # Message text of leveled lines, JSON, kv and pattern lines gets the field extractors.
    message_text, expand = _message_text(text, message_rows, shared)
    # The application's time matters only without the engine's.
    _extract_fields(message_text, expand, cols, json_like, json_like & (ts_ns == nat))
    del message_text
    release_unused()

    events = _events_frame(text, kind, ts_ns, cols, config)
    counts = np.bincount(kind, minlength=len(KINDS)) if n else np.zeros(len(KINDS), dtype=int)
    app_time_lines = int((events["ts_source"] == "app").sum()) if len(events) else 0
    return Entries(
        kind_counts={name: int(counts[i]) for i, name in enumerate(KINDS)},
        events=events,
        app_time_lines=app_time_lines,
        no_time_lines=int((ts_ns == nat).sum()),
    )


def _mark_continuations(
    text: pa.Array, kind: np.ndarray, ts_ns: np.ndarray, other: np.ndarray, nat: int
) -> None:
    """Unmatched lines within 5 ms of (or indented under) a leveled record belong to it."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(kind)
    rows = np.flatnonzero(other)
    indent = np.zeros(n, dtype=bool)
    indent[rows] = _np_bool(pc.match_substring_regex(text.take(pa.array(rows)), r"^\s"))
    gap_ok = np.zeros(n, dtype=bool)
    gap_ok[1:] = (
        (ts_ns[1:] != nat) & (ts_ns[:-1] != nat) & (ts_ns[1:] - ts_ns[:-1] <= _CONTINUATION_GAP_NS)
    )
    candidate = other & (indent | gap_ok | (ts_ns == nat))
    head = pd.Series(np.where(candidate, np.nan, kind.astype(float))).ffill().shift(1)
    kind[candidate & (head.to_numpy() == K_LEVELED)] = K_CONT


def _message_text(
    text: pa.Array,
    message_rows: np.ndarray,
    shared: tuple[np.ndarray, np.ndarray, pa.Array] | None,
) -> tuple[pa.Array, Any]:
    """The texts to search for fields, and how to turn their positions into line rows.

    The distinct leveled remainders (``shared``) come first, then the whole lines in
    ``message_rows``. The returned function maps (positions, values) in the searched texts to
    (line rows, values), a distinct remainder standing for every line that ends with it.
    """
    import numpy as np
    import pyarrow as pa

    rows = np.flatnonzero(message_rows)
    whole = text if len(rows) == len(text) else text.take(pa.array(rows))
    if shared is None:

        def direct(positions: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return rows[positions], values

        return whole, direct
    shared_rows, codes, tails = shared
    k = len(tails)
    texts = pa.concat_arrays([tails.cast(pa.large_string()), whole.cast(pa.large_string())])

    def expand(positions: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        split = int(np.searchsorted(positions, k))
        lookup = np.full(k, -1, dtype=np.int64)
        lookup[positions[:split]] = np.arange(split)
        chosen = lookup[codes]
        hit = chosen >= 0
        return (
            np.concatenate([shared_rows[hit], rows[positions[split:] - k]]),
            np.concatenate([values[:split][chosen[hit]], values[split:]]),
        )

    return texts, expand


class _Templates:
    """Message texts grouped by their shape: each ASCII digit read as ``0``.

    Log messages repeat but for their numbers (times, ids, durations), so the shapes are few
    (hundreds per proxy log, against hundreds of thousands of lines). A regex in which every
    character class holds either all ASCII digits or none (``\\d``, ``\\w``, ``[^"]``, ``[0-9a-z]``)
    cannot tell ``0`` from another digit, so it matches a shape exactly where it matches each of
    its texts, at the same byte positions (the shapes keep every byte length). Such regexes run
    once per shape; values are then cut out of the real texts at those positions.
    """

    def __init__(self, messages: pa.Array) -> None:
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        self.messages = messages.cast(pa.large_string())
        validity, offsets, data = self.messages.buffers()
        digit_to_zero = np.arange(256, dtype=np.uint8)
        digit_to_zero[ord("1") : ord("9") + 1] = ord("0")
        shapes_data = digit_to_zero[np.frombuffer(data, dtype=np.uint8)] if data else b""
        shapes = pa.Array.from_buffers(
            pa.large_string(),
            len(self.messages),
            [validity, offsets, pa.py_buffer(shapes_data)],
            offset=self.messages.offset,
        )
        encoded = pc.dictionary_encode(shapes)
        self.shapes = encoded.dictionary
        self.codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)

    def matching(self, fn: Any, *args: Any, **kwargs: Any) -> np.ndarray:
        """Per message: whether fn (a match kernel) is true of its shape."""
        return _np_bool(fn(self.shapes, *args, **kwargs))[self.codes]

    def extract(self, regex: str, names: tuple[str, ...]) -> tuple[np.ndarray, dict[str, pa.Array]]:
        """(positions of messages the regex matches, the named groups' text in each).

        A group that took no part in a match is null.
        """
        import numpy as np
        import pyarrow.compute as pc

        spans = pc.extract_regex_span(self.shapes, regex)
        positions = np.flatnonzero(_np_bool(spans.is_valid())[self.codes])
        codes = self.codes[positions]
        values = {}
        for name in names:
            pairs = spans.field(name)  # [start, length] per shape; null: the group took no part
            bounds = pairs.values.to_numpy(zero_copy_only=False)  # (.values ignores the offset)
            at = (pairs.offset + codes) * 2
            starts, lengths = bounds[at], bounds[at + 1]
            took_part = _np_bool(pairs.is_valid())[codes]
            values[name] = _slices(self.messages, positions, starts, lengths, took_part)
        return positions, values


def _line_lengths(texts: pa.Array, rows: np.ndarray) -> np.ndarray:
    """Byte length of the texts at rows, from the offsets (large_string)."""
    import numpy as np

    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int64)[texts.offset :]
    return offsets[rows + 1] - offsets[rows]


def _slices(
    texts: pa.Array,
    positions: np.ndarray,
    starts: np.ndarray,
    lengths: np.ndarray,
    valid: np.ndarray,
) -> pa.Array:
    """``texts[p][s : s + n]`` for each (p, s, n) (null where not valid), in one string array.

    The positions ascend, so the slices lie in order in the texts' data: an array whose even
    values are the slices and odd values the bytes between them shares that data, and taking its
    even values copies the slices alone.
    """
    import numpy as np
    import pyarrow as pa

    m = len(positions)
    if m == 0:
        return pa.array([], pa.large_string())
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int64)[texts.offset :]
    begin = offsets[positions] + np.where(valid, starts, 0)
    bounds = np.empty(2 * m, dtype=np.int64)
    bounds[0::2] = begin
    bounds[1::2] = begin + np.where(valid, lengths, 0)
    spread = pa.Array.from_buffers(
        pa.large_binary(), 2 * m - 1, [None, pa.py_buffer(bounds), texts.buffers()[2]]
    )
    taken = spread.take(pa.array(np.arange(0, 2 * m - 1, 2)))
    cut = pa.Array.from_buffers(
        pa.large_string(), m, [pa.array(valid).buffers()[1], *taken.buffers()[1:]]
    )
    return cut


def _extract_fields(
    messages: pa.Array,
    expand: Any,
    cols: _Columns,
    json_lines: np.ndarray,
    json_untimed: np.ndarray,
) -> None:
    """Model, status, duration, request id, method/path and start/end words from message text;
    level, path, method and (in ``json_untimed`` lines) time from the ``json_lines``' keys.

    ``expand`` maps (positions in ``messages``, values) to (line rows, values). Every regex here
    runs on the messages' shapes (see _Templates), which is why none may name a digit other
    than through ``\\d`` or a class holding all ten; the status regex, which must (``[1-5]``),
    runs on the shapes with ``\\d`` there, and its digits are checked in the real text.
    """
    import numpy as np
    import pyarrow.compute as pc

    if len(messages) == 0:
        return
    shapes = _Templates(messages)

    def add(name: str, positions: np.ndarray, values: np.ndarray) -> None:
        cols.add(name, *expand(positions, values))

    def add_json(name: str, regex: str, group: str, lines: np.ndarray, convert: Any) -> None:
        positions, got = shapes.extract(regex, (group,))
        rows, values = expand(positions, convert(got[group]))
        keep = lines[rows]
        cols.add(name, rows[keep], values[keep])

    # JSON keys first: for JSON lines they win over the same facts read from free text.
    add_json("level", _FIELD_JSON_LEVEL, "v", json_lines, _json_levels)
    add_json("app_time", _FIELD_JSON_TIME, "v", json_untimed, _field_values)
    add_json("path", _FIELD_JSON_PATH, "path", json_lines, _field_values)
    add_json("method", _FIELD_JSON_METHOD, "method", json_lines, _field_values)
    positions, got = shapes.extract(_FIELD_MODEL, ("v",))
    add("model", positions, _field_values(got["v"]))
    positions, got = shapes.extract(_FIELD_STATUS_SHAPE, ("v",))
    status = _status_codes(got["v"])
    first_digit_ok = np.isin(status // 100, [1, 2, 3, 4, 5])
    add("status", positions[first_digit_ok], status[first_digit_ok])
    if not first_digit_ok.all():
        # The shape's first three-digit status is not an HTTP one (e.g. 600): the real regex
        # decides, on those messages only.
        retry = np.zeros(len(messages), dtype=bool)
        retry[positions[~first_digit_ok]] = True
        rows, parts = _extract(shapes.messages, retry, _FIELD_STATUS)
        if parts is not None:
            add("status", rows, _status_codes(parts.field("v")))
    positions, got = shapes.extract(_FIELD_DURATION, ("k", "v", "u"))
    if len(positions):
        keys = np.char.lower(_field_values(got["k"]).astype(str))
        units = _field_values(got["u"]).astype(str)
        # A unit in the key (duration_ms, durationMs, responseTime of pino-http) wins; a bare
        # number after a plain key is taken as seconds, the unit of Python's time.monotonic().
        key_ms = np.char.endswith(keys, "ms") | np.isin(keys, ["responsetime", "response_time"])
        units = np.where(units == "None", np.where(key_ms, "ms", "s"), units)
        add("duration_s", positions, _durations_with_units(got["v"], units))
    positions, got = shapes.extract(_FIELD_PROSE_DURATION, ("v", "u"))
    if len(positions):
        add("duration_s", positions, _durations_with_units(got["v"], _field_values(got["u"])))
    positions, got = shapes.extract(_FIELD_REQUEST_ID, ("v",))
    add("request_id", positions, _field_values(got["v"]))
    positions, got = shapes.extract(_FIELD_METHOD_PATH, ("method", "path"))
    add("method", positions, _field_values(got["method"]))
    add("path", positions, _field_values(got["path"]))
    end = shapes.matching(pc.match_substring_regex, _END_WORDS)
    start = shapes.matching(pc.match_substring_regex, _START_WORDS) & ~end
    add("role", np.flatnonzero(end), _same(int(end.sum()), "end"))
    add("role", np.flatnonzero(start), _same(int(start.sum()), "start"))


def _durations(values: np.ndarray, default_unit: str) -> np.ndarray:
    """Parse '5.91s', '986.00ms', '859' (default unit) into seconds."""
    import re

    import numpy as np

    out = np.full(len(values), np.nan)
    pattern = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|us|µs|s|sec|secs|seconds)?\s*")
    for i, value in enumerate(values.tolist()):
        match = pattern.fullmatch(str(value))
        if match:
            unit = match.group(2) or default_unit
            out[i] = float(match.group(1)) * _DURATION_SCALE.get(unit, 1.0)
    return out


def _durations_with_units(values: pa.Array, units: np.ndarray) -> np.ndarray:
    """Numbers (an Arrow string array of digits and a dot) times their units' scale, seconds."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    numbers = np.asarray(pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
    scale = np.array([_DURATION_SCALE.get(str(u), 1.0) for u in units.tolist()])
    return numbers * scale


def _json_levels(levels: pa.Array) -> np.ndarray:
    """pino's numeric levels (30 info, 40 warn, 50 error, 60 fatal) → names; names upper-cased."""
    import numpy as np

    values = _field_values(levels)

    numeric = {"10": "TRACE", "20": "DEBUG", "30": "INFO", "40": "WARNING", "50": "ERROR"}
    names = {"warn": "WARNING", "err": "ERROR", "60": "FATAL"}
    # Once per distinct value: equal names then share one string object (less memory).
    names_of = {
        v: numeric.get(str(v)) or names.get(str(v).lower()) or str(v).upper()
        for v in set(values.tolist())
    }
    out = np.empty(len(values), dtype=object)
    out[:] = [names_of[v] for v in values.tolist()]
    return out


def _events_frame(
    text: pa.Array,
    kind: np.ndarray,
    ts_ns: np.ndarray,
    cols: _Columns,
    config: Config,
) -> pd.DataFrame:
    """The entries that matter for requests, one row per line, as a DataFrame."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    nat = NAT_NS
    level_rows = cols.rows("level")
    # Levels repeat: test each distinct one (np.isin on objects compares every row to each).
    level_codes, distinct_levels = pd.factorize(cols.gather("level", level_rows))
    error_level = np.isin(np.asarray(distinct_levels, dtype=object), _ERROR_LEVELS)
    error_mask = np.zeros(len(kind), dtype=bool)
    error_mask[level_rows[error_level[level_codes] & (level_codes >= 0)]] = True
    wanted = cols.mask("status") & (kind != K_LEVELED)
    wanted |= error_mask
    for name in ("role", "model", "duration_s", "request_id"):
        wanted |= cols.mask(name)
    rows = np.flatnonzero(wanted)
    # Columns are built first and put together once, without copies (copy=False also keeps
    # pandas from consolidating the object columns into one block, a copy of all of them).
    data: dict[str, Any] = {"row": rows}
    where = cols.positions(rows)
    for name in ("level", "logger", "method", "path", "client", "model", "request_id", "role"):
        data[name] = cols.gather(name, rows, where=where)
    status = cols.gather("status", rows, where=where)
    data["status"] = pd.array(status, dtype="Int16")
    data["duration_s"] = cols.gather("duration_s", rows, where=where)
    data["kind"] = pd.Categorical.from_codes(kind[rows], categories=list(KINDS))
    # Roles: errors by level; a line with status and duration that is not an access line ends a
    # request; a line naming only a model is a model record.
    # (Assigned in place, not by np.where: each label is then one shared string object.)
    role = data["role"]
    is_error = error_mask[rows]
    explicit_end = ~np.isnan(status) & ~np.isnan(data["duration_s"])
    unset = role == None  # noqa: E711
    role[unset & explicit_end] = "end"
    unset = role == None  # noqa: E711
    role[unset & is_error] = "error"
    unset = role == None  # noqa: E711
    has_model = data["model"] != None  # noqa: E711
    role[unset & has_model] = "model"
    role[unset & ~has_model] = "info"
    data["is_error"] = is_error
    # Time: the engine's timestamp, else the application's own; never invented.
    engine_ts = ts_ns[rows]
    app_ts = np.full(len(rows), nat, dtype=np.int64)
    need_app = engine_ts == nat
    if need_app.any():
        app_raw = cols.gather("app_time", rows, where=where)
        need_app &= app_raw != None  # noqa: E711
        if need_app.any():
            app_ts[need_app] = _parse_times(app_raw[need_app], config.app_timezone)
    chosen = np.where(engine_ts != nat, engine_ts, app_ts)
    stamps = pd.Series(chosen.view("datetime64[ns]")).where(chosen != nat)
    data["ts"] = stamps.dt.tz_localize("UTC").array
    source_code = np.where(engine_ts != nat, 0, np.where(app_ts != nat, 1, 2))
    data["ts_source"] = np.array(["engine", "app", "none"], dtype=object)[source_code]
    # Error messages (with their continuation lines) for classification and examples.
    messages = np.full(len(rows), None, dtype=object)
    error_positions = np.flatnonzero(is_error)
    if len(error_positions):
        # Each error record with up to 20 continuation lines after it, fetched in one take.
        wanted_rows = rows[error_positions]
        owner = np.repeat(np.arange(len(wanted_rows)), 21)
        candidate = np.repeat(wanted_rows, 21) + np.tile(np.arange(21), len(wanted_rows))
        inside = candidate < len(kind)
        is_cont = np.zeros(len(candidate), dtype=bool)
        is_cont[inside] = kind[candidate[inside]] == K_CONT
        steps = is_cont.reshape(-1, 21)
        steps[:, 0] = True  # the record itself
        keep = np.cumprod(steps, axis=1).astype(bool).ravel()
        texts = text.take(pa.array(candidate[keep])).to_pylist()
        joined: dict[int, list[str]] = {}
        for who, line in zip(owner[keep].tolist(), texts, strict=True):
            joined.setdefault(who, []).append(line)
        for who, parts in joined.items():
            messages[error_positions[who]] = "\n".join(parts)
    data["message"] = messages
    # object dtype keeps None for "unknown" (pandas 3 would infer str and turn it into NaN)
    columns = {
        name: pd.Series(values, dtype=object, copy=False)
        if isinstance(values, np.ndarray) and values.dtype == object
        else values
        for name, values in data.items()
    }
    return pd.DataFrame(columns, copy=False)

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

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from claude_perf.config.dialect import dialects_for
from claude_perf.config.schema import Config
from claude_perf.durations import NAT_NS
from claude_perf.parse.columns import _Columns
from claude_perf.parse.dialect_match import ActiveDialects, DialectMarks, apply_dialects, detect
from claude_perf.parse.shapes import _Templates
from claude_perf.parse.text import (  # noqa: F401
    _DURATION_SCALE,
    _durations,
    _durations_with_units,
    _extract,
    _field,
    _field_values,
    _has_escape_byte,
    _line_lengths,
    _np_bool,
    _same,
    _slices,
    _status_codes,
)
from claude_perf.parse.times import _parse_times
from claude_perf.parse.units import infer_bare_units
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
_FIELD_JSON_PATH = r"\"(?:path|url|uri|route|endpoint)\"\s*:\s*\"(?P<path>/[^\"?]*)"
_FIELD_JSON_METHOD = r"\"method\"\s*:\s*\"(?P<method>[A-Z]+)\""
_FIELD_JSON_LEVEL = r"(?i)\"(?:level|severity|lvl|levelname)\"\s*:\s*\"?(?P<v>[A-Za-z]+|\d+)"
_FIELD_JSON_TIME = r"\"(?:timestamp|time|ts|@timestamp|asctime)\"\s*:\s*\"?(?P<v>[^\",}]+)"
_START_WORDS = (
    r"(?i)(?:request[._ ]?(?:start(?:ed)?|received|begin)\b|incoming request|"
    r"processing request|started request)"
)
_END_WORDS = (
    r"(?i)(?:request[._ ]?(?:complete[d]?|finish(?:ed)?|end(?:ed)?|done)\b|response[._ ]sent|"
    r"completed request|request finished)"
)
_ERROR_LEVELS = ("ERROR", "CRITICAL", "FATAL", "ERR", "EMERG", "ALERT", "CRIT")
_CONTINUATION_GAP_NS = 5_000_000  # lines printed within 5 ms of a record belong to it


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
    # source id → the dialects found in it (see parse/dialect_match.py)
    dialects: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # what the classifier had to infer, for the data-quality section


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

    source = _source_ids(lines)
    active = detect(lines.column("text"), source, dialects_for(config.dialects))
    spans = list(pairwise(_cut_points(lines, WORKERS)))
    if len(spans) < 2:
        entries = _classify_part(lines, config, active)
    else:
        parts = parallel_map(
            lambda span: _classify_part(lines.slice(span[0], span[1] - span[0]), config, active),
            spans,
        )
        entries = _merge_parts(parts, [start for start, _ in spans])
    return replace(infer_bare_units(entries), dialects=active.names())


def _source_ids(lines: pa.Table) -> np.ndarray:
    """Each line's source (input file or container) as a small integer; 0 when not recorded."""
    import numpy as np

    if "source" not in lines.column_names:
        return np.zeros(lines.num_rows, dtype=np.int32)
    return np.asarray(lines.column("source").to_numpy(), dtype=np.int32)


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


def _classify_part(lines: pa.Table, config: Config, active: ActiveDialects) -> Entries:
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
    # 4a. The dialects found in each source: their lines' roles and fields win over the
    # generic readings below, and lines no generic format knows become `pattern` lines.
    source = _source_ids(lines)
    skip = (kind == K_PATTERN) | (kind == K_ACCESS) | (kind == K_BLANK)
    marks = apply_dialects(text, source, ts_ns == nat, cols, active, skip, shared)

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
    kind[marks.matched & (kind == K_OTHER)] = K_PATTERN
    _extract_fields(message_text, expand, cols, json_like, json_like & (ts_ns == nat), marks)
    del message_text
    release_unused()

    events = _events_frame(text, kind, ts_ns, cols, config, source, marks)
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


def _extract_fields(
    messages: pa.Array,
    expand: Any,
    cols: _Columns,
    json_lines: np.ndarray,
    json_untimed: np.ndarray,
    marks: DialectMarks | None = None,
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
        bare = (units == "None") & ~key_ms  # no unit anywhere: see parse/units.py
        units = np.where(units == "None", np.where(key_ms, "ms", "s"), units)
        add("duration_s", positions, _durations_with_units(got["v"], units))
        add("duration_bare", positions[bare], np.ones(int(bare.sum())))
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
    # Where a source's dialect declares its own starts or ends, these words mean nothing there.
    rows, values = expand(np.flatnonzero(end), _same(int(end.sum()), "end"))
    keep = ~marks.no_generic_end[rows] if marks else np.ones(len(rows), dtype=bool)
    cols.add("role", rows[keep], values[keep])
    rows, values = expand(np.flatnonzero(start), _same(int(start.sum()), "start"))
    keep = ~marks.no_generic_start[rows] if marks else np.ones(len(rows), dtype=bool)
    cols.add("role", rows[keep], values[keep])


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
    source: np.ndarray,
    marks: DialectMarks,
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
    error_mask |= marks.error  # a dialect's error lines and lines of role "error"
    role_rows = cols.rows("role")
    error_mask[role_rows[cols.gather("role", role_rows) == "error"]] = True
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
    data["duration_bare"] = cols.gather("duration_bare", rows, where=where)
    data["exit_code"] = cols.gather("exit_code", rows, where=where)
    data["alone"] = cols.gather("alone", rows, where=where) == 1.0
    data["stream"] = cols.gather("stream", rows, where=where)
    data["source"] = source[rows]
    data["kind"] = pd.Categorical.from_codes(kind[rows], categories=list(KINDS))
    # Roles: errors by level; a line with status and duration that is not an access line ends a
    # request; a line naming only a model is a model record.
    # (Assigned in place, not by np.where: each label is then one shared string object.)
    role = data["role"]
    is_error = error_mask[rows]
    # A status and a duration make a completion only on a line that names its request (method,
    # path or id): `upstream call status=200 duration=3.9s` is the proxy's own call upstream.
    names_request = (data["method"] != None) | (data["path"] != None)  # noqa: E711
    names_request |= data["request_id"] != None  # noqa: E711
    explicit_end = ~np.isnan(status) & ~np.isnan(data["duration_s"]) & names_request
    explicit_end &= ~marks.no_generic_end[rows]
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

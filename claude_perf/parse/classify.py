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

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from claude_perf.config.load import dialects_for
from claude_perf.config.schema import Config
from claude_perf.durations import NAT_NS
from claude_perf.parse.columns import _Columns
from claude_perf.parse.dialect_match import ActiveDialects, apply_dialects, detect
from claude_perf.parse.entries import Entries
from claude_perf.parse.events import _events_frame
from claude_perf.parse.fields import _extract_fields, _message_text
from claude_perf.parse.formats import (
    _ANSI,
    _CONTINUATION_GAP_NS,
    _MORGAN,
    _MORGAN_PREFIX,
    _PYLOG,
    _PYLOG_TAIL,
    _UVICORN,
    K_ACCESS,
    K_BLANK,
    K_CONT,
    K_JSON,
    K_KV,
    K_LEVELED,
    K_OTHER,
    K_PATTERN,
    KINDS,
)
from claude_perf.parse.heads import (
    _HEAD_BYTES,
    _access_fields,
    _pylog_heads,
)
from claude_perf.parse.text import (
    _durations,
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
from claude_perf.parse.units import infer_bare_units
from claude_perf.runtime.parallel import kernel as _kernel
from claude_perf.runtime.parallel import release_unused

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa


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

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

from claude_perf.config import Config

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
_MORGAN = (
    r"^(?:(?P<client>[\d.:a-f\[\]]+) - \S+ )?(?P<method>GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) "
    r"(?P<path>/[^ ?]*)\S* (?P<status>\d{3}) (?P<duration>\d+(?:\.\d+)?) ms"
)
_PYLOG = (
    r"^(?P<asctime>\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[,.]\d+)?) - (?P<logger>\S+) - "
    r"(?P<level>[A-Z]+) - (?P<message>(?s:.*))$"
)
_UVICORN = (
    r"^(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL):(?:\s+|(?P<logger>[\w.]+):)"
    r"(?P<message>(?s:.*))$"
)
_FIELD_MODEL = (
    r"(?i)(?:\"model\"\s*:\s*\"|\bmodel[=:]\s*['\"]?|\bmodel ')(?P<v>[A-Za-z0-9][\w.\-:/@\[\]]*)"
)
_FIELD_STATUS = (
    r"(?i)(?:\"(?:status|statusCode|status_code)\"\s*:\s*\"?|\b(?:status|status_code)[=:]\s*)"
    r"(?P<v>[1-5]\d\d)\b"
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
    r"^chat completion:|processing request|started request)"
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
    sub = text.take(pa.array(rows))
    parts = pc.extract_regex(sub, regex)
    ok = _np_bool(parts.is_valid())
    return rows[ok], parts.filter(pa.array(ok))


def _field(parts: Any, name: str) -> np.ndarray:
    import numpy as np

    values = parts.field(name).to_numpy(zero_copy_only=False)
    return np.asarray(values, dtype=object)


def _contains(text: pa.Array, mask: np.ndarray, literal: str, ignore_case: bool = False) -> Any:
    """Literal pre-filter: rows in mask whose text contains the literal."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = np.flatnonzero(mask)
    out = np.zeros(len(mask), dtype=bool)
    if len(rows):
        hit = pc.match_substring(text.take(pa.array(rows)), literal, ignore_case=ignore_case)
        out[rows[_np_bool(hit)]] = True
    return out


def _parse_times(values: np.ndarray, timezone: str) -> np.ndarray:
    """Application timestamps (ISO-ish strings or epoch numbers) → UTC nanoseconds (NaT if bad)."""
    import numpy as np
    import pandas as pd

    series = pd.Series(values, dtype="object").astype("str")
    numeric = pd.to_numeric(series, errors="coerce")
    out = pd.to_datetime(
        series.str.replace(",", ".", regex=False), errors="coerce", format="ISO8601", utc=False
    )
    if getattr(out.dt, "tz", None) is None:
        try:
            out = out.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
        except Exception:  # an unknown zone name: fall back to UTC rather than fail the run
            out = out.dt.tz_localize("UTC")
    out = out.dt.tz_convert("UTC")
    epoch = numeric.notna() & out.isna()
    if epoch.any():
        seconds = numeric[epoch].where(numeric[epoch] < 1e11, numeric[epoch] / 1000.0)
        out = out.copy()
        out[epoch] = pd.to_datetime(seconds, unit="s", utc=True, errors="coerce")
    return np.asarray(out.dt.tz_convert("UTC").astype("datetime64[ns, UTC]").array.asi8)


def classify(lines: pa.Table, config: Config) -> Entries:
    """Classify every line and extract the entries that say something about requests."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    n = lines.num_rows
    text = lines.column("text").combine_chunks() if n else pa.array([], pa.large_string())
    if n and _np_bool(pc.match_substring(text, "\x1b[")).any():
        text = pc.replace_substring_regex(text, _ANSI, "")
    ts_col = lines.column("ts")
    ts_ns = np.asarray(
        ts_col.cast(pa.int64()).fill_null(np.iinfo(np.int64).min).to_numpy(), dtype=np.int64
    )
    nat = np.iinfo(np.int64).min
    kind = np.full(n, K_OTHER, dtype=np.int8)
    unassigned = np.ones(n, dtype=bool)

    # Column builders for entries, filled sparsely by row index.
    cols: dict[str, dict[int, Any]] = {
        name: {}
        for name in (
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
    }
    message_rows = np.zeros(n, dtype=bool)  # rows whose (message) text gets field extraction

    # 1. The user's patterns take precedence over built-in formats.
    for pattern in config.patterns:
        rows, parts = _extract(text, unassigned, pattern.regex)
        if parts is None or len(rows) == 0:
            continue
        kind[rows] = K_PATTERN
        unassigned[rows] = False
        names = {f.name for f in parts.type}
        for name in ("level", "model", "method", "path", "request_id", "client"):
            if name in names:
                _fill(cols[name], rows, _field(parts, name))
        if "status" in names:
            _fill(cols["status"], rows, _field(parts, "status"))
        if "duration" in names:
            _fill(
                cols["duration_s"],
                rows,
                _durations(_field(parts, "duration"), pattern.duration_unit),
            )
        if "ts" in names:
            _fill(cols["app_time"], rows, _field(parts, "ts"))
        _fill(cols["role"], rows, np.full(len(rows), pattern.role, dtype=object))

    # 2. Blank lines.
    if n:
        blank = _np_bool(pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(text)), 0)) & unassigned
        kind[blank] = K_BLANK
        unassigned &= ~blank

    # 3. uvicorn access lines (the only completion record of many Python proxies).
    info_prefix = _np_bool(pc.starts_with(text, "INFO:")) & unassigned if n else unassigned
    rows, parts = _extract(text, info_prefix, _ACCESS)
    if parts is not None and len(rows):
        kind[rows] = K_ACCESS
        unassigned[rows] = False
        for name in ("client", "method", "path", "status"):
            _fill(cols[name], rows, _field(parts, name))
        _fill(cols["role"], rows, np.full(len(rows), "end", dtype=object))

    # 3b. Node access lines (morgan's "dev"/"short" formats: method, url, status, time in ms).
    verb_start = (
        _np_bool(pc.match_substring_regex(text, r"^(?:[\d.:a-f\[\]]+ - \S+ )?[A-Z]{3,7} /"))
        & unassigned
        if n
        else unassigned
    )
    rows, parts = _extract(text, verb_start, _MORGAN)
    if parts is not None and len(rows):
        kind[rows] = K_ACCESS
        unassigned[rows] = False
        for name in ("client", "method", "path", "status"):
            _fill(cols[name], rows, _field(parts, name))
        _fill(cols["duration_s"], rows, _durations(_field(parts, "duration"), "ms"))
        _fill(cols["role"], rows, np.full(len(rows), "end", dtype=object))

    # 4. Leveled lines: Python logging with asctime, uvicorn's own lines, logging's default.
    digit_start = (
        _np_bool(pc.match_substring_regex(text, r"^\d{4}-")) & unassigned if n else unassigned
    )
    rows, parts = _extract(text, digit_start, _PYLOG)
    message_parts: list[tuple[np.ndarray, Any]] = []
    if parts is not None and len(rows):
        kind[rows] = K_LEVELED
        unassigned[rows] = False
        _fill(cols["level"], rows, _field(parts, "level"))
        _fill(cols["logger"], rows, _field(parts, "logger"))
        _fill(cols["app_time"], rows, _field(parts, "asctime"))
        message_parts.append((rows, parts.field("message")))
    upper_start = (
        _np_bool(pc.match_substring_regex(text, r"^[A-Z]{4,8}:")) & unassigned if n else unassigned
    )
    rows, parts = _extract(text, upper_start, _UVICORN)
    if parts is not None and len(rows):
        kind[rows] = K_LEVELED
        unassigned[rows] = False
        _fill(cols["level"], rows, _field(parts, "level"))
        loggers = _field(parts, "logger")
        _fill(cols["logger"], rows, np.where(loggers == "", "uvicorn", loggers))
        message_parts.append((rows, parts.field("message")))

    # 5. JSON lines (complete objects only; a truncated object stays `other`).
    if n:
        json_like = (
            _np_bool(pc.starts_with(text, "{"))
            & _np_bool(pc.ends_with(pc.utf8_rtrim_whitespace(text), "}"))
            & unassigned
        )
    else:
        json_like = unassigned
    kind[json_like] = K_JSON
    unassigned &= ~json_like
    rows, parts = _extract(text, json_like, _FIELD_JSON_LEVEL)
    if parts is not None and len(rows):
        _fill(cols["level"], rows, _json_levels(_field(parts, "v")))
    rows, parts = _extract(text, json_like, _FIELD_JSON_TIME)
    if parts is not None and len(rows):
        _fill(cols["app_time"], rows, _field(parts, "v"))
    for regex in (_FIELD_JSON_PATH, _FIELD_JSON_METHOD):
        rows, parts = _extract(text, json_like, regex)
        if parts is not None and len(rows):
            for name in ("path", "method"):
                if name in {f.name for f in parts.type}:
                    _fill(cols[name], rows, _field(parts, name))
    message_rows |= json_like

    # 6. key=value lines among the rest.
    if n:
        kv = _np_bool(pc.match_substring_regex(text, r"\b[A-Za-z_]\w*=\S")) & unassigned
    else:
        kv = unassigned
    kind[kv] = K_KV
    unassigned &= ~kv
    message_rows |= kv | (kind == K_PATTERN)

    # 7. Continuation lines: unmatched lines printed right after a leveled record.
    other = unassigned & (kind == K_OTHER)
    if other.any():
        indent = _np_bool(pc.match_substring_regex(text, r"^\s")) if n else other
        gap_ok = np.zeros(n, dtype=bool)
        gap_ok[1:] = (
            (ts_ns[1:] != nat)
            & (ts_ns[:-1] != nat)
            & (ts_ns[1:] - ts_ns[:-1] <= _CONTINUATION_GAP_NS)
        )
        unknown_time = ts_ns == nat
        candidate = other & (indent | gap_ok | unknown_time)
        head_kind = pd.Series(np.where(candidate, -1, kind)).replace(-1, np.nan).ffill().shift(1)
        continuation = candidate & (head_kind.to_numpy() == K_LEVELED)
        kind[continuation] = K_CONT

    # Message text of leveled lines, JSON, kv and pattern lines gets the field extractors.
    message_text, message_index = _message_text(text, message_rows, message_parts, n)
    _extract_fields(message_text, message_index, cols)

    events = _events_frame(lines, text, kind, ts_ns, cols, config)
    counts = np.bincount(kind, minlength=len(KINDS))
    app_time_lines = int(((ts_ns == nat) & events_has_app_time(events, n)).sum()) if n else 0
    return Entries(
        kind_counts={name: int(counts[i]) for i, name in enumerate(KINDS)},
        events=events,
        app_time_lines=app_time_lines,
        no_time_lines=int((ts_ns == nat).sum()),
    )


def events_has_app_time(events: pd.DataFrame, n: int) -> np.ndarray:
    import numpy as np

    out = np.zeros(n, dtype=bool)
    if len(events):
        rows = events.loc[events["ts_source"] == "app", "row"].to_numpy()
        out[rows] = True
    return out


def _fill(column: dict[int, Any], rows: np.ndarray, values: np.ndarray) -> None:
    """Set values for rows, keeping earlier (more specific) values and skipping empty strings."""
    for row, value in zip(rows.tolist(), values.tolist(), strict=True):
        if value is None or value == "" or row in column:
            continue
        column[row] = value


def _message_text(
    text: pa.Array, message_rows: np.ndarray, parts: list[tuple[np.ndarray, Any]], n: int
) -> tuple[pa.Array, np.ndarray]:
    """The text to search for fields: a record's message part, or the whole line."""
    import numpy as np
    import pyarrow as pa

    index_parts = [np.flatnonzero(message_rows)]
    arrays = [text.take(pa.array(index_parts[0])) if len(index_parts[0]) else None]
    for rows, messages in parts:
        index_parts.append(rows)
        arrays.append(messages.cast(pa.large_string()))
    index = np.concatenate(index_parts) if index_parts else np.zeros(0, dtype=np.int64)
    chunks = [a for a in arrays if a is not None and len(a)]
    merged = pa.concat_arrays(chunks) if chunks else pa.array([], pa.large_string())
    return merged, index


def _extract_fields(messages: pa.Array, index: np.ndarray, cols: dict[str, dict[int, Any]]) -> None:
    """Model, status, duration, request id, method/path and start/end words from message text."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(messages) == 0:
        return
    everything = np.ones(len(messages), dtype=bool)

    def run(prefilter: np.ndarray, regex: str) -> tuple[np.ndarray, Any]:
        rows, parts = _extract(messages, prefilter, regex)
        return index[rows], parts

    rows, parts = run(_contains(messages, everything, "model", ignore_case=True), _FIELD_MODEL)
    if parts is not None:
        _fill(cols["model"], rows, _field(parts, "v"))
    rows, parts = run(_contains(messages, everything, "status", ignore_case=True), _FIELD_STATUS)
    if parts is not None:
        _fill(cols["status"], rows, _field(parts, "v"))
    keyed = np.zeros(len(messages), dtype=bool)
    for word in ("duration", "elapsed", "latency", "took", "response"):
        keyed |= _contains(messages, everything, word, ignore_case=True)
    rows, parts = run(keyed, _FIELD_DURATION)
    if parts is not None:
        keys = np.char.lower(_field(parts, "k").astype(str))
        units = _field(parts, "u").astype(str)
        # A unit in the key (duration_ms, durationMs, responseTime of pino-http) wins; a bare
        # number after a plain key is taken as seconds, the unit of Python's time.monotonic().
        key_ms = np.char.endswith(keys, "ms") | (keys == "responsetime") | (keys == "response_time")
        units = np.where(units == "", np.where(key_ms, "ms", "s"), units)
        _fill(cols["duration_s"], rows, _durations_with_units(_field(parts, "v"), units))
    prose = _np_bool(pc.match_substring_regex(messages, r"\b(?:in|after) \d"))
    rows, parts = run(prose, _FIELD_PROSE_DURATION)
    if parts is not None:
        _fill(
            cols["duration_s"], rows, _durations_with_units(_field(parts, "v"), _field(parts, "u"))
        )
    idish = _contains(messages, everything, "id", ignore_case=True)
    rows, parts = run(idish, _FIELD_REQUEST_ID)
    if parts is not None:
        _fill(cols["request_id"], rows, _field(parts, "v"))
    slash = _contains(messages, everything, " /")
    rows, parts = run(slash, _FIELD_METHOD_PATH)
    if parts is not None:
        _fill(cols["method"], rows, _field(parts, "method"))
        _fill(cols["path"], rows, _field(parts, "path"))
    start = _np_bool(pc.match_substring_regex(messages, _START_WORDS))
    end = _np_bool(pc.match_substring_regex(messages, _END_WORDS))
    roles = np.where(end, "end", np.where(start, "start", ""))
    hit = np.flatnonzero(roles != "")
    _fill(cols["role"], index[hit], roles[hit].astype(object))
    del pa


def _durations(values: np.ndarray, default_unit: str) -> np.ndarray:
    """Parse '5.91s', '986.00ms', '859' (default unit) into seconds."""
    import re

    import numpy as np

    out = np.full(len(values), np.nan)
    for i, value in enumerate(values.tolist()):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|us|µs|s|sec|secs|seconds)?\s*", str(value))
        if match:
            unit = match.group(2) or default_unit
            out[i] = float(match.group(1)) * _DURATION_SCALE.get(unit, 1.0)
    return out


def _durations_with_units(values: np.ndarray, units: np.ndarray) -> np.ndarray:
    import numpy as np

    numbers = np.asarray(values, dtype=float)
    scale = np.array([_DURATION_SCALE.get(str(u), 1.0) for u in units.tolist()])
    return numbers * scale


def _json_levels(values: np.ndarray) -> np.ndarray:
    """pino's numeric levels (30 info, 40 warn, 50 error, 60 fatal) → names; names upper-cased."""
    import numpy as np

    numeric = {
        "10": "TRACE",
        "20": "DEBUG",
        "30": "INFO",
        "40": "WARNING",
        "50": "ERROR",
        "60": "FATAL",
    }
    names = {"warn": "WARNING", "err": "ERROR"}
    out = []
    for value in values.tolist():
        text = str(value)
        out.append(numeric.get(text) or names.get(text.lower()) or text.upper())
    return np.asarray(out, dtype=object)


def _events_frame(
    lines: pa.Table,
    text: pa.Array,
    kind: np.ndarray,
    ts_ns: np.ndarray,
    cols: dict[str, dict[int, Any]],
    config: Config,
) -> pd.DataFrame:
    """Assemble the entries that matter for requests into a DataFrame, one row per line."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    nat = np.iinfo(np.int64).min
    levels = cols["level"]
    error_rows = {r for r, level in levels.items() if str(level).upper() in _ERROR_LEVELS}
    keys = set(cols["role"]) | set(cols["model"]) | set(cols["duration_s"])
    keys |= set(cols["request_id"]) | error_rows
    keys |= {r for r in cols["status"] if kind[r] != K_LEVELED}
    rows = np.array(sorted(keys), dtype=np.int64)
    frame = pd.DataFrame({"row": rows})
    for name in ("level", "logger", "method", "path", "client", "model", "request_id", "role"):
        values = cols[name]
        frame[name] = pd.array([values.get(r) for r in rows.tolist()], dtype="str")
    status = cols["status"]
    frame["status"] = pd.array(
        [int(status[r]) if r in status else None for r in rows.tolist()], dtype="Int16"
    )
    duration = cols["duration_s"]
    frame["duration_s"] = np.array([duration.get(r, np.nan) for r in rows.tolist()], dtype=float)
    frame["kind"] = pd.Categorical.from_codes(kind[rows], categories=list(KINDS))
    # Roles: errors by level; a line with status and duration that is not an access line ends a
    # request; a line naming only a model is a model record.
    role = frame["role"].astype(object).where(frame["role"].notna(), None)
    is_error = frame["row"].isin(error_rows).to_numpy()
    explicit_end = frame["status"].notna().to_numpy() & ~np.isnan(frame["duration_s"].to_numpy())
    role_values = role.to_numpy(dtype=object)
    role_values = np.where((role_values == None) & explicit_end, "end", role_values)  # noqa: E711
    role_values = np.where((role_values == None) & is_error, "error", role_values)  # noqa: E711
    has_model = frame["model"].notna().to_numpy()
    role_values = np.where((role_values == None) & has_model, "model", role_values)  # noqa: E711
    role_values = np.where(role_values == None, "info", role_values)  # noqa: E711
    frame["role"] = pd.array(role_values.astype(str), dtype="str")
    frame["is_error"] = is_error
    # Time: the engine's timestamp, else the application's own; never invented.
    engine_ts = ts_ns[rows]
    app_raw = np.array([cols["app_time"].get(r) for r in rows.tolist()], dtype=object)
    app_ts = np.full(len(rows), nat, dtype=np.int64)
    need_app = (engine_ts == nat) & (app_raw != None)  # noqa: E711
    if need_app.any():
        app_ts[need_app] = _parse_times(app_raw[need_app], config.app_timezone)
    chosen = np.where(engine_ts != nat, engine_ts, app_ts)
    frame["ts"] = pd.to_datetime(
        np.where(chosen == nat, np.datetime64("NaT"), chosen.view("datetime64[ns]")), utc=True
    )
    frame["ts_source"] = np.where(
        engine_ts != nat, "engine", np.where(app_ts != nat, "app", "none")
    )
    # Error messages (with their continuation lines) for classification and examples.
    messages = np.full(len(rows), None, dtype=object)
    error_positions = np.flatnonzero(is_error | (frame["role"].to_numpy() == "end"))
    if len(error_positions):
        wanted = rows[error_positions]
        texts = text.take(pa.array(wanted)).to_pylist()
        for pos, row, line in zip(error_positions.tolist(), wanted.tolist(), texts, strict=True):
            if is_error[pos]:
                following: list[int] = []
                nxt = row + 1
                while nxt < len(kind) and kind[nxt] == K_CONT and len(following) < 20:
                    following.append(nxt)
                    nxt += 1
                if following:
                    line = "\n".join([line, *text.take(pa.array(following)).to_pylist()])
            messages[pos] = line
    frame["message"] = pd.array(messages, dtype="str")
    return frame

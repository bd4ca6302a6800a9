"""Facts read from message text (model, status, duration, ids, start/end words), per shape."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from claude_perf.parse.columns import Coded, _Columns
from claude_perf.parse.dialect_match import DialectMarks
from claude_perf.parse.formats import (
    _END_WORDS,
    _FAILED_START_WORDS,
    _FIELD_DURATION,
    _FIELD_JSON_LEVEL,
    _FIELD_JSON_METHOD,
    _FIELD_JSON_PATH,
    _FIELD_JSON_TIME,
    _FIELD_KV_LEVEL,
    _FIELD_KV_TIME,
    _FIELD_METHOD_PATH,
    _FIELD_MODEL,
    _FIELD_PROSE_DURATION,
    _FIELD_REQUEST_ID,
    _FIELD_STATUS,
    _FIELD_STATUS_SHAPE,
    _REQUEST_LINE,
    _START_WORDS,
)
from claude_perf.parse.shapes import _Templates
from claude_perf.parse.text import (
    _coded,
    _durations,
    _durations_with_units,
    _extract,
    _field_values,
    _np_bool,
    _status_codes,
)

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa


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

    def expand(positions: np.ndarray, values: Any) -> tuple[np.ndarray, Any]:
        split = int(np.searchsorted(positions, k))
        lookup = np.full(k, -1, dtype=np.int64)
        lookup[positions[:split]] = np.arange(split)
        chosen = lookup[codes]
        hit = chosen >= 0
        line_rows = np.concatenate([shared_rows[hit], rows[positions[split:] - k]])
        if isinstance(values, Coded):  # codes expanded, the labels as they are
            line_codes = np.concatenate([values.codes[:split][chosen[hit]], values.codes[split:]])
            return line_rows, Coded(line_codes, values.labels)
        return line_rows, np.concatenate([values[:split][chosen[hit]], values[split:]])

    return texts, expand


def _extract_fields(
    messages: pa.Array,
    expand: Any,
    cols: _Columns,
    json_lines: np.ndarray,
    json_untimed: np.ndarray,
    marks: DialectMarks | None = None,
    kv_lines: np.ndarray | None = None,
    kv_untimed: np.ndarray | None = None,
) -> None:
    """Model, status, duration, request id, method/path and start/end words from message text;
    level, path, method and (in ``json_untimed`` lines) time from the ``json_lines``' keys.

    ``expand`` maps (positions in ``messages``, values) to (line rows, values). Every regex here
    runs on the messages' shapes (see _Templates), which is why none may name a digit other
    than through ``\\d`` or a class holding all ten; the status regex, which must (``[1-5]``),
    runs on the shapes with ``\\d`` there, and its digits are checked in the real text.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(messages) == 0:
        return
    shapes = _Templates(messages)

    def add(name: str, positions: np.ndarray, values: np.ndarray | Coded) -> None:
        cols.add(name, *expand(positions, values))

    def add_json(name: str, regex: str, group: str, lines: np.ndarray, convert: Any) -> None:
        positions, got = shapes.extract(regex, (group,))
        rows, values = expand(positions, convert(got[group]))
        keep = lines[rows]
        cols.add(name, rows[keep], values[keep])

    # JSON keys first: for JSON lines they win over the same facts read from free text.
    add_json("level", _FIELD_JSON_LEVEL, "v", json_lines, _json_levels)
    if kv_lines is not None and kv_lines.any():  # logrus' `level=error`, slog's `level=ERROR`
        add_json("level", _FIELD_KV_LEVEL, "v", kv_lines, _json_levels)
        if kv_untimed is not None and kv_untimed.any():
            add_json("app_time", _FIELD_KV_TIME, "v", kv_untimed, _field_values)
    add_json("app_time", _FIELD_JSON_TIME, "v", json_untimed, _field_values)
    add_json("path", _FIELD_JSON_PATH, "path", json_lines, _coded)
    add_json("method", _FIELD_JSON_METHOD, "method", json_lines, _coded)
    positions, got = shapes.extract(_FIELD_MODEL, ("v",))
    rows, values = expand(positions, _coded(got["v"]))
    keep = ~marks.no_generic_model[rows] if marks else np.ones(len(rows), dtype=bool)
    cols.add("model", rows[keep], values[keep])
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
    positions, got = shapes.extract(_FIELD_DURATION, ("k", "v", "u", "g"))
    if len(positions):
        # A unit after the number wins, then one in the key (duration_ms, elapsed_us, pino-http's
        # responseTime); a bare number after a plain key is read from its magnitude later
        # (parse/units.py). Keys and units repeat: each distinct one is looked at once (their
        # codes, no object per line).
        keys = _coded(got["k"])
        key_scale = np.array([_key_scale(k) for k in _lowered(keys)] + [np.nan])[keys.codes]
        units = _coded(got["u"])
        go = _np_bool(got["g"].is_valid())
        seconds = _durations_with_units(
            got["v"], units, np.where(np.isnan(key_scale), 1.0, key_scale)
        )
        if go.any():  # Go's 1m2.5s: few (a minute or more), parsed one by one
            seconds[go] = _durations(np.asarray(got["g"].filter(go).to_pylist(), dtype=object), "s")
        bare = (units.codes < 0) & np.isnan(key_scale) & ~go
        add("duration_s", positions, seconds)
        add("duration_bare", positions[bare], np.ones(int(bare.sum())))
    positions, got = shapes.extract(_FIELD_PROSE_DURATION, ("v", "u"))
    if len(positions):
        add("duration_s", positions, _durations_with_units(got["v"], _coded(got["u"])))
    positions, got = shapes.extract(_FIELD_REQUEST_ID, ("v",))
    add("request_id", positions, _coded(got["v"]))
    positions, got = shapes.extract(_FIELD_METHOD_PATH, ("method", "path"))
    add("method", positions, _coded(got["method"]))
    add("path", positions, _coded(got["path"]))
    # A request line and its status (aiohttp's access log, `INFO:app:POST /v1 200 0.8s`): a
    # completion, with its status (a keyed one, added first, wins) and its time when it has one.
    positions, got = shapes.extract(_REQUEST_LINE, ("status", "duration", "unit"))
    status = _status_codes(got["status"])
    http = np.isin(status // 100, [1, 2, 3, 4, 5])
    add("status", positions[http], status[http])
    timed = http & _np_bool(got["duration"].is_valid())
    if timed.any():
        mask = pa.array(timed)
        seconds = _durations_with_units(
            got["duration"].filter(mask), _coded(got["unit"].filter(mask))
        )
        add("duration_s", positions[timed], seconds)
    positions = positions[http]
    request_line = np.zeros(len(messages), dtype=bool)
    request_line[positions] = True
    end = shapes.matching(pc.match_substring_regex, _END_WORDS) | request_line
    start = shapes.matching(pc.match_substring_regex, _START_WORDS) & ~end
    if start.any():
        start &= ~shapes.matching(pc.match_substring_regex, _FAILED_START_WORDS)
    # Where a source's dialect declares its own starts or ends, these words mean nothing there.
    rows, values = expand(np.flatnonzero(end), Coded.constant(int(end.sum()), "end"))
    keep = ~marks.no_generic_end[rows] if marks else np.ones(len(rows), dtype=bool)
    cols.add("role", rows[keep], values[keep])
    rows, values = expand(np.flatnonzero(start), Coded.constant(int(start.sum()), "start"))
    keep = ~marks.no_generic_start[rows] if marks else np.ones(len(rows), dtype=bool)
    cols.add("role", rows[keep], values[keep])


# Units a key names at its end (lower-cased): ``duration_ms``, ``durationMs``, ``elapsed_us``,
# ``latency_ns``, ``took_s``; seconds only after an underscore or spelt (``durations`` is no unit).
_KEY_UNIT_SCALES = (
    (("milliseconds", "millis", "ms"), 1e-3),
    (("microseconds", "micros", "us", "µs", "μs"), 1e-6),
    (("nanoseconds", "nanos", "ns"), 1e-9),
    (("seconds", "secs", "sec", "_s"), 1.0),
)


def _key_scale(key: str) -> float:
    """Seconds per unit of a duration key's number (NaN: the key names no unit).

    ``responseTime`` is pino-http's (and fastify's) response time, in milliseconds; the snake
    ``response_time`` is seconds: LiteLLM's StandardLoggingPayload (docs.litellm.ai, "logging
    spec": "response_time | float | Total response time") and nginx JSON formats' usual
    ``"response_time": $upstream_response_time`` (nginx: seconds with millisecond resolution).
    """
    for ends, scale in _KEY_UNIT_SCALES:
        if key.endswith(ends):
            return scale
    if key == "responsetime":
        return 1e-3
    if key == "response_time":
        return 1.0
    return float("nan")


def _lowered(coded: Coded) -> list[str]:
    return [str(label).lower() for label in coded.labels.to_pylist()]


def _json_levels(levels: pa.Array) -> Coded:
    """pino's numeric levels (30 info, 40 warn, 50 error, 60 fatal) → names; names upper-cased."""
    import pyarrow as pa

    coded = _coded(levels)
    numeric = {"10": "TRACE", "20": "DEBUG", "30": "INFO", "40": "WARNING", "50": "ERROR"}
    names = {"warn": "WARNING", "err": "ERROR", "60": "FATAL"}
    # Once per distinct value (the codes stay as they are).
    named = [numeric.get(v) or names.get(v.lower()) or v.upper() for v in coded.labels.to_pylist()]
    return Coded(coded.codes, pa.array(named, pa.string()))

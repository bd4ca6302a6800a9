"""Arrow and numpy helpers over a column of log lines: masks, regex extraction, fields, slices."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from claude_perf.parse.columns import Coded, _Columns
from claude_perf.parse.formats import _HEAD_STAMP
from claude_perf.runtime.parallel import kernel as _kernel

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa


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
    import pyarrow.compute as pc

    # Dictionary-encode first: fields repeat (paths, clients, models), so only the distinct
    # values become Python objects and the rest is an integer gather. The empty string is made
    # None among the distinct values, not over the column (an if_else copied every string):
    # 1.6 against 1.9 ms for 130,000 values of 31 distinct (a part's paths).
    encoded = pc.dictionary_encode(values)
    distinct = [value or None for value in encoded.dictionary.to_pylist()]
    uniques = np.asarray([*distinct, None], dtype=object)
    codes = encoded.indices.fill_null(len(uniques) - 1).to_numpy(zero_copy_only=False)
    return uniques[codes]


def _coded(values: Any) -> Coded:
    """A string array as codes into its distinct values, null and empty strings unknown (-1):
    what _field_values gives, without an object per value (see columns.Coded)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(values)
    distinct = encoded.dictionary
    lookup = np.arange(len(distinct) + 1, dtype=np.int32)
    lookup[-1] = -1  # a null value
    if len(distinct):
        empty = np.flatnonzero(_np_bool(pc.equal(pc.binary_length(distinct), 0)))
        lookup[empty] = -1
    codes = encoded.indices.fill_null(len(distinct)).to_numpy(zero_copy_only=False)
    return Coded(lookup[codes], distinct if len(distinct) else pa.array([], pa.string()))


def _status_codes(values: Any) -> np.ndarray:
    """HTTP status strings → float codes (NaN unless exactly three digits), without Python objects.

    Kept as floats in ``_Columns`` (NaN = unknown) and made ``Int16`` once, for the frame.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    # Statuses repeat (a few dozen distinct): each distinct one is checked and converted once
    # (1.7 against 3.7 ms for 130,000 values).
    encoded = pc.dictionary_encode(values)
    distinct = encoded.dictionary
    ok = pc.fill_null(pc.match_substring_regex(distinct, r"^\d{3}$"), False)
    numbers = pc.cast(pc.if_else(ok, distinct, pa.scalar(None, distinct.type)), pa.float64())
    table = np.append(np.asarray(numbers.to_numpy(zero_copy_only=False), dtype=float), np.nan)
    codes = encoded.indices.fill_null(len(distinct)).to_numpy(zero_copy_only=False)
    return table[codes]


def _has_escape_byte(text: pa.Array) -> bool:
    """Whether any line holds an ESC byte (ANSI colours).

    Only the array's own bytes are looked at (the two cores' parts of a chunk share its data
    buffer, which each part scanned whole), with the C library's memchr where there is one.
    Measured on one core, the first 500k lines of the generated 1M log as a slice of all its
    lines: 1.2 against 4.9 ms (best of 5); a part of a 32 MB chunk saves about 1 ms.
    """
    import numpy as np

    data = text.buffers()[2]
    if data is None or not len(text):
        return False
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)
    first, end = int(offsets[text.offset]), int(offsets[text.offset + len(text)])
    return _find_byte(data, first, end, 27)


def _find_byte(data: pa.Buffer, first: int, end: int, byte: int) -> bool:
    """Whether ``byte`` occurs in data[first:end]: memchr (runtime.memory.holds_byte), else
    numpy in 4 MiB pieces (about 2 GB/s, a comparison's mask per piece)."""
    import numpy as np

    from claude_perf.runtime.memory import holds_byte

    found = holds_byte(data.address + first, end - first, byte)
    if found is not None:
        return found
    buf = np.frombuffer(data, dtype=np.uint8)[first:end]
    step = 1 << 22
    return any(bool((buf[i : i + step] == byte).any()) for i in range(0, len(buf), step))


def _line_lengths(texts: pa.Array, rows: np.ndarray) -> np.ndarray:
    """Byte length of the texts at rows, from the offsets (large_string)."""
    import numpy as np

    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int64)[texts.offset :]
    return offsets[rows + 1] - offsets[rows]


def _first_bytes(texts: pa.Array) -> np.ndarray:
    """Each text's first byte (int16), -1 for an empty (or null) text: one numpy gather at the
    offsets, for tests that can only be true of texts starting with given bytes (see
    steps._Part.test)."""
    import numpy as np

    n = len(texts)
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int64)[texts.offset : texts.offset + n + 1]
    out = np.full(n, -1, dtype=np.int16)
    data = texts.buffers()[2]
    nonempty = np.flatnonzero(offsets[1:] > offsets[:-1])
    if len(nonempty) and data is not None:
        out[nonempty] = np.frombuffer(data, dtype=np.uint8)[offsets[nonempty]]
    return out


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


_DURATION_SCALE = {
    "ns": 1e-9,
    "ms": 1e-3,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,  # (U+03BC, Greek mu: tower-http's spelling; µ above is U+00B5, the micro sign)
    "s": 1.0,
    "sec": 1.0,
    "secs": 1.0,
    "seconds": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_DURATION_RE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|us|µs|μs|ns|s|sec|secs|seconds)?\s*")
# Go's time.Duration as it prints (String()): "1m20s", "2h0m0s", "1.5s", "850ns" (gin, logrus).
_GO_DURATION_RE = re.compile(r"\s*((?:\d+(?:\.\d+)?(?:h|ms|m|s|us|µs|μs|ns))+)\s*")
_GO_PART_RE = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|μs|ns)")


def _durations(values: np.ndarray, default_unit: str) -> np.ndarray:
    """Parse '5.91s', '986.00ms', '859' (default unit), Go's '1m20s' into seconds."""
    import numpy as np

    out = np.full(len(values), np.nan)
    for i, value in enumerate(values.tolist()):
        text = str(value)
        if "," in text:  # thousands commas (koa-logger's humanize-number: "1,234ms")
            text = text.replace(",", "")
        match = _DURATION_RE.fullmatch(text)
        if match:
            unit = match.group(2) or default_unit
            out[i] = float(match.group(1)) * _DURATION_SCALE.get(unit, 1.0)
        elif (go := _GO_DURATION_RE.fullmatch(text)) is not None:
            parts = _GO_PART_RE.findall(go.group(1))
            out[i] = sum(float(number) * _DURATION_SCALE[unit] for number, unit in parts)
    return out


def _durations_with_units(
    values: pa.Array, units: Coded, no_unit_scale: np.ndarray | float = 1.0
) -> np.ndarray:
    """Numbers (an Arrow string array of digits and a dot) times their units' scale, seconds;
    ``no_unit_scale`` where a number has none (per value, or one for all)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    numbers = np.asarray(pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
    # Units repeat (a handful of distinct ones): look each up once, not once per line.
    labels = units.labels.to_pylist()
    # (lower-cased: the field regexes ignore case, "850MS" is milliseconds too)
    scale = np.array([_DURATION_SCALE.get(str(u).lower(), 1.0) for u in labels] + [np.nan])
    scale = scale[units.codes]
    return numbers * np.where(units.codes < 0, no_unit_scale, scale)


def read_head_stamps(text: pa.Array, rows: np.ndarray, cols: _Columns) -> None:
    """These lines' own head stamps (formats._HEAD_STAMP: Python logging's asctime, ISO 8601,
    Go's log package's `2026/12/01 10:00:00`, gin's `[GIN] 2026/12/01 - 10:00:00`, read as
    2026-12-01 10:00:00) as their ``app_time``, for lines the engine gave no time (`docker logs`
    without -t); a line without one has none."""
    import numpy as np

    if not len(rows):
        return
    mask = np.zeros(len(text), dtype=bool)
    mask[rows] = True
    stamped, stamps = _extract(text, mask, _HEAD_STAMP)
    if stamps is not None and len(stamped):
        cols.add("app_time", stamped, _field_values(dashed_dates(stamps.field("at"))))


def dashed_dates(stamps: Any) -> Any:
    """Head stamps as ISO 8601 reads them: Go's `2026/12/01 10:00:00` and gin's `2026/12/01 -
    10:00:00` as `2026-12-01 10:00:00` (an Arrow string array in and out)."""
    import pyarrow.compute as pc

    return pc.replace_substring(pc.replace_substring(stamps, " - ", " "), "/", "-")

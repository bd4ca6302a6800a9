"""The engines' times: `docker logs -t` lines' read at fixed byte positions (``fixed_layout_times``,
the fast seam), and any RFC 3339 time the general way (``rfc3339_times``, ``TS_BODY``).

`docker logs -t` prints every time in Go's RFC3339NanoFixed layout, so nearly every line's time
sits at the same byte offsets. Here numpy reads the first 32 bytes of every line as one
(lines, 32) array: a line is in the layout when each byte lies between two templates, and its
time is the date converted once per minute of log plus eleven multiply-adds for its seconds and
nanoseconds. Lines not in the layout are left to ``claude_perf.ingest.files``'s general regex
way (which Arrow parses).

Measured gain, kept because it still shows: reading a generated 1M-line `docker logs -t` file
(126 MB) into its table, whole process, medians on a 2-core machine, 1M lines. Against the
times parsed the plain Arrow way (slice the 30-byte time, check its "." and "Z ", cast to
timestamp; any other line the general way), 9 paired runs: wall 1.20 s against 1.68 s (median
ratio of the pairs 0.74), CPU 0.64 s against 1.04 s, peak memory 392 against 489 MiB. Against
the general regex way for every line, 5 paired runs: wall 0.65 s against 1.68 s (0.47), CPU
0.59 s against 1.21 s, peak memory 393 against 762 MiB.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

# `docker logs -t` prints every time in Go's RFC3339NanoFixed layout, then a space:
# "2026-11-29T00:50:45.792168672Z ". A line is in that layout when each byte of its first 31
# lies between the two templates below (tens of minutes and seconds at most 5, so that only
# hours, days and months need checking by value); the 32nd byte (text or newline) is free.
_FIXED_LOW = b"0000-00-00T00:00:00.000000000Z \x00"
_FIXED_HIGH = b"9999-19-39T29:59:59.999999999Z \xff"
FIXED_PREFIX = 31
_BLOCK = 32  # bytes looked at per line: the prefix and one more, so rows are 8-byte aligned
# Years whose every instant fits int64 nanoseconds (1677-09-21 .. 2262-04-11) with a margin;
# others go the general way, where Arrow decides.
_FIRST_YEAR, _LAST_YEAR = 1678, 2261
_NS_PER_S = 1_000_000_000


def fixed_layout_times(
    data: bytes | bytearray | memoryview, offsets: np.ndarray, raw: pa.Array
) -> tuple[np.ndarray, np.ndarray]:
    """Which lines are in the fixed layout, and their times in ns (garbage for the others)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    count = len(raw)
    # A fixed line holds the prefix, its text and a newline with no "\r" before it (text and
    # line end are then one slice), so at least _BLOCK bytes; the others go the general way.
    long_enough = np.diff(offsets) >= _BLOCK
    fixed = long_enough.copy()
    if count and data[-1:] != b"\n":  # (a memoryview, a mapped file's, has no endswith)
        fixed[-1] = False
    if _holds_byte(data, 13):  # memchr: cheap when, as usual, there is no "\r"
        buf = np.frombuffer(data, dtype=np.uint8)
        fixed &= buf[np.maximum(offsets[1:] - 2, 0)] != 13

    # The first 32 bytes of every line as rows of a (lines, 32) array; short lines are padded
    # with zeros, which the layout refuses.
    block_array = pc.binary_slice(raw, 0, _BLOCK)
    if not long_enough.all():
        padding = pa.scalar(bytes(_BLOCK), pa.large_binary())
        block_array = pc.if_else(pa.array(long_enough), block_array, padding)
    _, block_offsets, values = block_array.buffers()
    assert np.frombuffer(block_offsets, np.int64)[block_array.offset] == 0  # rows start at 0
    block = np.frombuffer(values, dtype=np.uint8, count=count * _BLOCK).reshape(count, _BLOCK)

    fixed &= _rows_in_layout(block)
    ts_ns, valid = _block_times_ns(block)
    fixed &= valid
    return fixed, ts_ns


def _holds_byte(data: bytes | bytearray | memoryview, byte: int) -> bool:
    """Whether ``byte`` occurs in data: ``in`` (memchr) for bytes; for a memoryview (where
    ``in`` would compare the bytes with its items, ints: always False) the C library's memchr
    (runtime.memory.holds_byte), else numpy."""
    import numpy as np

    from claude_perf.runtime.memory import holds_byte

    if not isinstance(data, memoryview):
        return bytes((byte,)) in data
    buf = np.frombuffer(data, dtype=np.uint8)
    found = holds_byte(buf.ctypes.data, len(buf), byte) if len(buf) else False
    return bool((buf == byte).any()) if found is None else found


def _rows_in_layout(block: np.ndarray) -> np.ndarray:
    """Whether each row's bytes lie between _FIXED_LOW and _FIXED_HIGH."""
    import numpy as np

    low = np.frombuffer(_FIXED_LOW, dtype=np.uint8)
    span = np.frombuffer(_FIXED_HIGH, dtype=np.uint8) - low
    in_layout = np.ones(len(block), dtype=bool)
    # In pieces that stay in cache, into buffers allocated once (fresh temporaries per piece
    # cost more than the arithmetic). byte - low wraps around below low (uint8), so a single
    # comparison with the span checks both bounds.
    step = 1 << 14
    offset = np.empty((step, _BLOCK), dtype=np.uint8)
    inside = np.empty((step, _BLOCK), dtype=bool)
    for first in range(0, len(block), step):
        rows = block[first : first + step]
        np.subtract(rows, low, out=offset[: len(rows)])
        np.less_equal(offset[: len(rows)], span, out=inside[: len(rows)])
        if not inside[: len(rows)].all():  # rare: only then is a per-row answer worked out
            in_layout[first : first + step] = inside[: len(rows)].all(axis=1)
    return in_layout


def _block_times_ns(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Times (ns since the epoch) of rows in the fixed layout, and whether each is a real date.

    The date, hour and minute (the first 16 bytes) are converted once per run of lines that
    share them; a row's own work is its seconds and nanoseconds.
    """
    import numpy as np

    count = len(block)
    words = block.view("<u8")  # each row's 32 bytes as 4 integers; the first two hold the minute
    new_minute = np.ones(count, dtype=bool)
    np.not_equal(words[1:, 0], words[:-1, 0], out=new_minute[1:])
    new_minute[1:] |= words[1:, 1] != words[:-1, 1]
    firsts = np.flatnonzero(new_minute)
    heads = block[firsts]
    year, month, day = _digits(heads, 0, 4), _digits(heads, 5, 7), _digits(heads, 8, 10)
    hour, minute = _digits(heads, 11, 13), _digits(heads, 14, 16)
    day_number = _days_from_civil(year, month, day)
    next_month_first = _days_from_civil(year + (month == 12), month % 12 + 1, np.ones_like(day))
    real = (
        (year >= _FIRST_YEAR)
        & (year <= _LAST_YEAR)
        & (month >= 1)
        & (month <= 12)
        & (day >= 1)
        & (day_number < next_month_first)  # no 30 February
        & (hour <= 23)
    )
    minute_ns = ((day_number * 24 + hour) * 60 + minute) * 60 * _NS_PER_S
    run_lengths = np.diff(np.append(firsts, count))
    ts_ns = np.repeat(minute_ns, run_lengths)
    _add_second_ns(block, ts_ns)
    return ts_ns, np.repeat(real, run_lengths)


def _add_second_ns(block: np.ndarray, ts_ns: np.ndarray) -> None:
    """Add each row's nanoseconds into the minute to ts_ns: "SS.nnnnnnnnn" (bytes 17..28) read
    as one 11-digit number."""
    import numpy as np

    columns = [17, 18, *range(20, 29)]  # byte 19 is the "."
    # In pieces that stay in cache, into one buffer: eleven multiply-adds per row.
    step = 1 << 14
    value = np.empty(step, dtype=np.int64)
    for first in range(0, len(block), step):
        rows = block[first : first + step]
        piece = value[: len(rows)]
        piece[:] = rows[:, columns[0]]
        for column in columns[1:]:
            piece *= 10
            piece += rows[:, column]
        ts_ns[first : first + step] += piece
    # Each byte added is its digit plus ord("0"): take the zeros out once at the end.
    ts_ns -= ord("0") * int("1" * len(columns))


def _digits(rows: np.ndarray, first: int, stop: int) -> np.ndarray:
    """The decimal number written in ASCII digits at byte columns first..stop-1 (int64)."""
    import numpy as np

    value = rows[:, first].astype(np.int64)
    for column in range(first + 1, stop):
        value *= 10
        value += rows[:, column]
    # Each byte added is its digit plus ord("0"): take the zeros out once at the end.
    return value - ord("0") * int("1" * (stop - first))


def _days_from_civil(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (int64 arrays, month 1..12).

    Howard Hinnant's days_from_civil, "chrono-Compatible Low-Level Date Algorithms",
    https://howardhinnant.github.io/date_algorithms.html#days_from_civil ; numpy's floor
    division makes the era right for negative years without the original's adjustment.
    """
    year = year - (month <= 2)  # years start in March, so that leap days end them
    era = year // 400
    year_of_era = year - era * 400  # [0, 399]
    day_of_year = (153 * ((month + 9) % 12) + 2) // 5 + day - 1  # [0, 365], from 1 March
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


# An RFC 3339 time as engines write it: any sub-second precision, Z or an offset.
TS_BODY = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)"


def rfc3339_times(times: pa.Array) -> pa.Array:
    """RFC 3339 strings (or nulls) as timestamp[ns, UTC]; a string in that shape that is no
    instant Arrow can hold (month 13, 30 February, year 0, after 2262) becomes null.

    Arrow's cast fails the whole array for one such string, so the failing part is found by
    halving; the usual array, with none, costs one cast.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    ts_type = pa.timestamp("ns", tz="UTC")
    try:
        return pc.cast(times, ts_type)
    except pa.ArrowInvalid:
        if len(times) == 1:
            return pa.nulls(1, ts_type)
        half = len(times) // 2
        return pa.concat_arrays([rfc3339_times(times[:half]), rfc3339_times(times[half:])])

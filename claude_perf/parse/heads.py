"""First looks at whole lines: uvicorn access lines, the asctime head of Python logging (seams)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from claude_perf.parse.columns import Coded
from claude_perf.parse.formats import _ACCESS_REQUEST
from claude_perf.parse.text import (
    _coded,
    _line_lengths,
    _np_bool,
    _slices,
    _status_codes,
)

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa


def _access_fields(text: pa.Array, rows: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """uvicorn access lines among ``rows``: (the rows that are, their client/method/path/status).

    Exactly what _ACCESS finds on each line, but without running it over the lines: a line is
    cut at its first `` - "`` (nothing _ACCESS puts before that separator can hold it: white
    space, then a client and port without spaces), and the two pieces are tested apart, each
    where it repeats. The request part (a few dozen distinct per proxy) is parsed once per
    distinct value (_ACCESS_REQUEST); the head, ``INFO:`` + white space + client + ``:PORT``,
    is matched once per shape (_ACCESS_HEAD on parse/shapes._Templates: digits read as 0, a few
    dozen shapes against one head per line), which also gives the client's place in the head.

    Measured on one core, 500,000 lines of the generated 1M log (130,727 ``INFO:`` lines):
    27 against 53 ms, medians of 7 (the _ACCESS match over every line and the ``:PORT`` regex
    replacement were 14 and 17 ms of the 53).
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from claude_perf.parse.shapes import _Templates

    if len(rows) == 0:
        return rows, {}
    lines = text.take(pa.array(rows))
    cut = np.asarray(pc.find_substring(lines, _ACCESS_SEPARATOR).to_numpy(), dtype=np.int64)
    # The lines holding the separator are cut from this copy where they are (no second copy
    # of them: 18.8 against 20.7 ms per 130k lines, best of 9, medians of 3 runs).
    at = np.flatnonzero(cut >= 0)
    rows, cut = rows[at], cut[at]
    m = len(rows)
    if m == 0:
        return rows, {}
    everywhere, sizes = np.ones(m, dtype=bool), _line_lengths(lines, at)
    head = _slices(lines, at, np.zeros(m, dtype=np.int64), cut, everywhere)
    after = cut + len(_ACCESS_SEPARATOR)
    request = pc.dictionary_encode(_slices(lines, at, after, sizes - after, everywhere))
    del lines
    parts = pc.extract_regex(request.dictionary, _ACCESS_REQUEST)
    request_ok = np.append(_np_bool(parts.is_valid()), False)
    codes = np.asarray(request.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    heads = _Templates(head)
    head_at, got = heads.extract(_ACCESS_HEAD, ("client",))
    matched = np.zeros(m, dtype=bool)
    matched[head_at] = True
    matched &= request_ok[codes]
    client = _coded(got["client"])[matched[head_at]]
    codes = codes[matched]
    fields: dict[str, Any] = {}
    for name in ("method", "path"):  # coded per distinct request, then per line
        per_request = _coded(parts.field(name))
        fields[name] = Coded(per_request.codes[codes], per_request.labels)
    fields["status"] = _status_codes(parts.field("status"))[codes]
    fields["client"] = client
    return rows[matched], fields


# Where _ACCESS's head ends and its request part begins, and what it asks of the head (on
# shapes: no digit literal, see parse/shapes.digit_agnostic; RE2's \s is " \t\n\f\r", as
# _ACCESS's).
_ACCESS_SEPARATOR = ' - "'
_ACCESS_HEAD = r"^INFO:\s+(?P<client>\S+):\d+$"


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

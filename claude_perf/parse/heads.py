"""First looks at whole lines: uvicorn access lines, the asctime head of Python logging (seams)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from claude_perf.parse.formats import _ACCESS, _ACCESS_REQUEST
from claude_perf.parse.text import _field, _field_values, _np_bool, _status_codes
from claude_perf.runtime.parallel import kernel as _kernel

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa


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

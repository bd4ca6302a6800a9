"""A block of stored log lines: how one batch's (ts_ns, stream, text) rows are written and read.

Schema migration 5 keeps a batch of lines as one row of ``log_blocks``, in one of two forms:

- 'lines': ``ts`` the times as little-endian int64, ``streams`` and ``texts`` joined by
  newlines. Writing it is a few C-level joins per batch (no Python work per line, which the
  collector's reader thread would wait for); reading it is Arrow kernels over three buffers.
  A batch in which a text holds a newline cannot be split back, and takes the other form.
- 'json': ``texts`` a JSON array of [ts_ns, stream, text] (the rows of stores older than schema
  5 are moved into this form by the migration, in SQL).

``encode`` and ``decode_rows`` need no pyarrow (the collect process does not import it);
``decode_table`` gives a report the block as Arrow columns.
"""

from __future__ import annotations

import json
import sys
from array import array
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from claude_perf.errors import StoreError

if TYPE_CHECKING:
    import pyarrow as pa

# The most lines one block holds: a window of the store is read a block at a time, so this
# bounds what one read decodes (a collect batch is 20,000 lines; a Swarm service's log or an
# old store's migrated rows come whole and are cut to it). schema.py's migration 5 repeats it.
MAX_BLOCK_LINES = 20_000
# The bytes a stored line's engine stamp and newline take in a ``docker logs -t`` file
# ("2026-11-29T00:50:45.792168672Z " and "\n"): a window of the store is sized as that file.
STAMP_BYTES = 32
FORM_LINES = "lines"
FORM_JSON = "json"

Block = tuple[str, bytes | None, str | None, str]  # (form, ts, streams, texts) as stored


def encode(rows: Sequence[tuple[int, str, str]]) -> tuple[int, str, bytes | None, str | None, str]:
    """One batch's rows (not empty) as a block, after the count of its texts' characters:
    (text_chars, form, ts, streams, texts); 'lines' unless a text holds a newline."""
    times, streams, texts = zip(*rows, strict=True)
    joined = "\n".join(texts)
    chars = len(joined) - len(rows) + 1
    if joined.count("\n") == len(rows) - 1:  # no newline inside a text
        stamps = array("q", times)  # (an int outside int64 raises OverflowError)
        if sys.byteorder == "big":
            stamps.byteswap()
        return chars, FORM_LINES, stamps.tobytes(), "\n".join(streams), joined
    payload = json.dumps(rows, ensure_ascii=False, check_circular=False)
    return chars, FORM_JSON, None, None, payload


def decode_rows(block: Block) -> list[tuple[int, str, str]]:
    """The block's rows as (ts_ns, stream, text), in the order they were stored."""
    try:
        return _rows(block)
    except (ValueError, TypeError) as exc:  # JSON errors are ValueErrors; uneven parts too
        raise _damaged(exc) from exc


def _damaged(exc: Exception) -> StoreError:
    return StoreError(
        f"a block of stored log lines is damaged ({exc}); collect again into a new store"
    )


def _rows(block: Block) -> list[tuple[int, str, str]]:
    form, ts, streams, texts = block
    if form == FORM_JSON:
        return [(int(t), str(s), str(x)) for t, s, x in json.loads(texts)]
    stamps = array("q")
    stamps.frombytes(ts or b"")
    if sys.byteorder == "big":
        stamps.byteswap()
    return list(zip(stamps, (streams or "").split("\n"), texts.split("\n"), strict=True))


def decode_table(block: Block) -> pa.Table:
    """The block's rows as a table of ts (int64), stream (string), text (large_string)."""
    import numpy as np
    import pyarrow as pa

    form, ts, streams, texts = block
    if form == FORM_JSON:
        return rows_table(decode_rows(block))
    try:
        times = pa.array(np.frombuffer(ts or b"", dtype="<i8").astype(np.int64, copy=False))
        return pa.table(
            {
                "ts": times,
                "stream": _split(streams or "", pa.string()),
                "text": _split(texts, pa.large_string()),
            }
        )
    except (ValueError, TypeError, pa.ArrowInvalid) as exc:  # parts of uneven lengths
        raise _damaged(exc) from exc


def _split(joined: str, kind: Any) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.split_pattern(pa.array([joined], pa.large_string()), "\n").flatten().cast(kind)


def rows_table(rows: Sequence[tuple[int, str, str]]) -> pa.Table:
    """(ts_ns, stream, text) rows as a table of ts (int64), stream, text."""
    import pyarrow as pa

    times, streams, texts = zip(*rows, strict=True) if rows else ((), (), ())
    return pa.table(
        {
            "ts": pa.array(times, pa.int64()),
            "stream": pa.array(streams, pa.string()),
            "text": pa.array(texts, pa.large_string()),
        }
    )

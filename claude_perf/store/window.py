"""One container's stored lines within a time window, block by block, in the store's read order.

The low-level reader under both the whole read of a window (store/read.load_session) and the
chunked one (store/pending.StoredLines): it knows the blocks (store/blocks.py), not sessions.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from claude_perf.durations import MAX_NS, NAT_NS
from claude_perf.store import blocks
from claude_perf.store.db import Store

if TYPE_CHECKING:
    import pyarrow as pa

_FETCH_ROWS = 65_536


def bounds(since_ns: int | None, until_ns: int | None) -> tuple[int, int]:
    """An inclusive SQL window; open ends become the widest int64 range."""
    return (NAT_NS if since_ns is None else since_ns, MAX_NS if until_ns is None else until_ns)


def iter_lines(
    store: Store,
    key: int,
    since_ns: int | None = None,
    until_ns: int | None = None,
    min_rows: int = _FETCH_ROWS,
) -> Iterator[pa.Table]:
    """Tables of ts (int64 ns), stream, text: a container's lines within the window (bounds
    inclusive), in the store's read order: engine time, then stream, then text (the order of
    the one-row-per-line table before schema 5). A table holds about ``min_rows`` lines or
    more (fewer only where blocks overlap in time, and at the end).

    Blocks are read in order of their first time; a block may reach back before the end of the
    one before (a batch's stderr line stamped before the previous batch's last stdout line, a
    second collect from before the cursor), so the lines read are held until no block still to
    come can start before them, and sorted then.
    """
    import numpy as np
    import pyarrow.compute as pc

    low, high = bounds(since_ns, until_ns)
    # The blocks' order first, then each block when its turn comes: sorting the blocks
    # themselves (the index is by last time) would put every text of the window in SQLite's
    # sorter at once.
    spans = store.conn.execute(
        "SELECT id, min_ts_ns, max_ts_ns FROM log_blocks "
        "WHERE container_key = ? AND max_ts_ns >= ? AND min_ts_ns <= ? ORDER BY min_ts_ns, id",
        (key, low, high),
    ).fetchall()
    held: list[pa.Table] = []
    rows = 0
    for block_id, first_ns, last_ns in spans:
        if rows >= min_rows:
            table = _sorted(held)
            times = np.asarray(table.column("ts").to_numpy(), dtype=np.int64)
            # Nothing still to come is earlier than this block's first time.
            final = int(np.searchsorted(times, first_ns, side="left"))
            if final:
                yield table.slice(0, final)
            rest = table.slice(final)  # copied: the slice would keep the whole table alive
            held, rows = [rest.take(np.arange(rest.num_rows))], rest.num_rows
        block = store.conn.execute(
            "SELECT form, ts, streams, texts FROM log_blocks WHERE id = ?", (block_id,)
        ).fetchone()
        table = blocks.decode_table(block)
        if first_ns < low or last_ns > high:
            ts = table.column("ts")
            table = table.filter(pc.and_(pc.greater_equal(ts, low), pc.less_equal(ts, high)))
        held.append(table)
        rows += table.num_rows
    if rows:
        yield _sorted(held)


def _sorted(tables: list[pa.Table]) -> pa.Table:
    import pyarrow as pa
    import pyarrow.compute as pc

    table = pa.concat_tables(tables).combine_chunks()
    order = pc.sort_indices(
        table, sort_keys=[("ts", "ascending"), ("stream", "ascending"), ("text", "ascending")]
    )
    return table.take(order)

"""Streamed starts put back before their own completions, in the pairing's sequence.

A streamed request's start record and its access line, written a millisecond apart to stderr
and stdout, may reach the engine the other way round (fuergaosi233/claude-code-proxy in DEBUG
mode: 30-38 µs on fixtures/captures/fuergaosi-debug); first-in-first-out would then shift every
pairing after it by one. The start is put back before its completion (``streams_first``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from claude_perf.analysis.arrays import first_known_after
from claude_perf.analysis.pairing import _SKEW_NS, _fifo_pairs
from claude_perf.durations import NAT_NS

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


# Passes of streams_first's search (each a few vectorised passes over the sequence).
_STREAM_SWAP_PASSES = 32


def streams_first(
    stream: np.ndarray | None,
    status_column: pd.Series,
    seq_index: np.ndarray,
    seq_kind: np.ndarray,
    ts: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairing's sequence with each streamed start put back before the access line the
    engine stamped first (_streams_started_first), and the sequence's times (a moved
    start takes its completion's time, so that they stay in order). ``stream`` and
    ``status_column``: the source's per-event stream flags (None: none known) and statuses."""
    import numpy as np

    seq_ts = ts[seq_index]
    if stream is None or len(seq_index) < 2:
        return seq_index, seq_kind, seq_ts
    streaming = (seq_kind > 0) & (stream[seq_index] == True)  # noqa: E712
    if not streaming.any():
        return seq_index, seq_kind, seq_ts
    status = status_column.take(seq_index).to_numpy(dtype=float, na_value=np.nan)
    ok_end = (seq_kind < 0) & (status >= 200) & (status < 300)
    seq_index, seq_kind = seq_index.copy(), seq_kind.copy()
    moved = np.zeros(len(seq_index), dtype=bool)  # a start put back already: it moves once
    # A swap empties the queue where it stood open by one: later completions may then find
    # it empty too, so the search runs again on the new order (a bounded number of times: in
    # a log where races come in long unbroken runs, the rest stay unpaired, as before).
    # A completion without a time (`docker logs` without -t: the access line has no stamp of
    # its own) was written no later than the first line with one after it (an application
    # stamp), plus the streams' race: that time stands for it here, so that a streamed start
    # logged within _SKEW_NS of it, nothing timed between, is put back as with engine times.
    written = ts[seq_index]
    untimed = np.flatnonzero(written == NAT_NS)
    if len(untimed):  # (only then: a pass over every event's time)
        written[untimed] = first_known_after(ts, seq_index[untimed], NAT_NS)
    for _ in range(_STREAM_SWAP_PASSES):
        at = _streams_started_first(seq_kind, written, streaming & ~moved, ok_end)
        if len(at) == 0:
            break
        moved[at + 1] = True
        for column in (seq_index, seq_kind, streaming, ok_end, moved, written):
            column[at], column[at + 1] = column[at + 1], column[at].copy()
    seq_ts = ts[seq_index]
    # a moved start takes the time of its completion, now right after it: the times stay in order
    back = np.flatnonzero(moved)
    seq_ts[back] = seq_ts[back + 1]
    return seq_index, seq_kind, seq_ts


def _streams_started_first(
    kinds: np.ndarray, ts_ns: np.ndarray, streaming_start: np.ndarray, ok_end: np.ndarray
) -> np.ndarray:
    """Positions ``i`` of the sequence where a completion and the start after it change places.

    A streamed request's start record and its access line are written a millisecond or two
    apart, to stderr and to stdout (uvicorn writes the access line as the response starts);
    the engine reads the two pipes apart and may stamp the access line first (38 µs earlier on
    fixtures/captures/fuergaosi-debug). Where a 2xx completion (``ok_end``) would find no open
    start and the next event, within _SKEW_NS, is a start that says it streams, that start was
    the completion's own. ``kinds``: +1 start, -1 completion, in log order.
    """
    import numpy as np

    _, queue_before, _ = _fifo_pairs(kinds)
    i = np.flatnonzero((kinds[:-1] < 0) & (queue_before[:-1] == 0) & ok_end[:-1])
    after = i + 1
    close = (ts_ns[after] != NAT_NS) & (ts_ns[i] != NAT_NS) & (ts_ns[after] - ts_ns[i] <= _SKEW_NS)
    return i[close & (kinds[after] > 0) & streaming_start[after]]

"""Known answers for analysis/stream_order.streams_first: a streamed start the engine stamped
just after its own completion is put back before it, once, and takes its completion's time."""

from __future__ import annotations

import numpy as np
import pandas as pd

from claude_perf.analysis.stream_order import streams_first

MS = 1_000_000


def order(kinds: list[int], times_ms: list[float], streams: list[bool | None]):
    n = len(kinds)
    ts = (np.array(times_ms) * MS).astype(np.int64)
    status = pd.Series([200.0 if k < 0 else np.nan for k in kinds])
    stream = np.array(streams, dtype=object)
    index, kind, seq_ts = streams_first(
        stream, status, np.arange(n), np.array(kinds, dtype=np.int8), ts
    )
    return index.tolist(), kind.tolist(), (seq_ts / MS).tolist()


def test_a_stream_start_stamped_after_its_completion_goes_back_before_it():
    assert order([-1, 1], [1.0, 1.04], [None, True]) == ([1, 0], [1, -1], [1.0, 1.0])


def test_a_start_moves_back_once_past_its_own_completion_only():
    # Two completions with no open start, then a streamed start 40 µs after the second: it is
    # the second's own; it must not walk on past the first (whose time stays its own).
    got = order([-1, -1, 1], [1.0, 2.0, 2.04], [None, None, True])
    assert got == ([0, 2, 1], [-1, 1, -1], [1.0, 2.0, 2.0])


def test_a_start_that_does_not_stream_stays_where_it_was_logged():
    assert order([-1, 1], [1.0, 1.04], [None, False]) == ([0, 1], [-1, 1], [1.0, 1.04])

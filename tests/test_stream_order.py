"""Known answers for analysis/stream_order.streams_first: a streamed start the engine stamped
just after its own completion is put back before it, once, and takes its completion's time; and
analysis/table._latency, which takes such a raced start at its completion but reads a start far
after its completion as no latency."""

from __future__ import annotations

import numpy as np
import pandas as pd

from claude_perf.analysis.stream_order import streams_first
from claude_perf.durations import NAT_NS

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


def latency_of(start_ms: float, end_ms: float, duration_s: float = float("nan")):
    from claude_perf.analysis.table import _latency

    start = np.array([int(start_ms * MS)], dtype=np.int64)
    end = np.array([int(end_ms * MS)], dtype=np.int64)
    got = _latency(start, end, np.array([duration_s]), np.array([False]))
    return int(got[0][0]) / MS, float(got[1][0]), int(got[3][0])


def test_a_start_raced_past_its_completion_is_taken_at_the_completion():
    # 40 µs late: the two were written together (stderr/stdout); latency 0, paired
    assert latency_of(1000.04, 1000.0) == (1000.0, 0.0, 1)


def test_a_start_long_after_its_completion_is_no_latency_at_all():
    # 2 s late is no race but a pairing that cannot be: unknown (code 2), never a 0 s answer;
    # its start unknown too (a start after its end would stand in the concurrency timeline)
    start_ms, latency_s, source = latency_of(3000.0, 1000.0)
    assert (start_ms, source) == (NAT_NS / MS, 2)
    assert np.isnan(latency_s)


def test_an_explicit_duration_still_wins_over_a_start_after_the_completion():
    # and places the start: the completion less the duration
    assert latency_of(3000.0, 1000.0, duration_s=1.5) == (-500.0, 1.5, 0)

"""How requests overlapped: latency alone vs alongside others, and the busiest burst of work.

Both read the request ``Timeline`` the metrics stage keeps (start, end, latency, in flight).
A burst is a run of timed requests with no idle gap longer than ``burst_gap_s`` between them; its
busy share is the union of the request intervals over the burst's span.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from claude_perf.analysis.metrics import Timeline, timeline_of
from claude_perf.analysis.numeric import percentile_unsorted

if TYPE_CHECKING:
    import numpy as np

    from claude_perf.analysis.pipeline import Analysis


@dataclass(frozen=True)
class ConcurrencyLatency:
    """p50 latency of timed, succeeded requests that ran alone vs alongside others."""

    solo_n: int
    solo_p50_s: float | None
    overlapped_n: int
    overlapped_p50_s: float | None
    max_level: int  # most requests in flight at any timed request's start

    @property
    def ratio(self) -> float | None:
        if not self.solo_p50_s or self.overlapped_p50_s is None:
            return None
        return self.overlapped_p50_s / self.solo_p50_s


def timeline_for(analysis: Analysis) -> Timeline:
    """The request times the metrics stage kept, else (metrics made by hand) the table's."""
    kept = analysis.metrics.timeline
    return kept if kept is not None else timeline_of(analysis.requests.table)


def concurrency_latency(timeline: Timeline) -> ConcurrencyLatency:
    """Latency of succeeded timed requests split by whether others were in flight at their start."""
    import numpy as np

    if len(timeline.start_ns) == 0 or not timeline.levels_known:
        return ConcurrencyLatency(0, None, 0, None, 0)
    level = timeline.in_flight
    latency = timeline.latency_s
    ok = timeline.succeeded & ~np.isnan(latency)
    alone = level <= 1
    # One group at a time, its latencies selected into a copy of its own that the median
    # partitions in place: at 10M lines both groups' copies and a partitioned copy of each
    # stood together (+53 MB resident after the report's summary).
    solo_n, solo_p50 = _median_of(latency, ok & alone)
    overlapped_n, overlapped_p50 = _median_of(latency, ok & ~alone)
    return ConcurrencyLatency(
        solo_n=solo_n,
        solo_p50_s=solo_p50,
        overlapped_n=overlapped_n,
        overlapped_p50_s=overlapped_p50,
        max_level=int(level.max()),
    )


def _median_of(values: np.ndarray, where: np.ndarray) -> tuple[int, float | None]:
    """How many values ``where`` selects, and their p50 (None: none)."""
    chosen = values[where]
    if not len(chosen):
        return 0, None
    return len(chosen), percentile_unsorted(chosen, 50, overwrite=True)


@dataclass(frozen=True)
class BusyBurst:
    """The burst of timed requests in which a request was in progress the largest share of time."""

    requests: int
    start: datetime
    end: datetime
    busy_fraction: float


def busiest_burst(timeline: Timeline, gap_s: float) -> BusyBurst | None:
    """Timed requests split at idle gaps > gap_s; the burst with the largest busy share."""
    import numpy as np
    import pandas as pd

    starts, ends = timeline.start_ns, timeline.end_ns  # in start order
    if len(starts) == 0:
        return None
    reach = np.maximum.accumulate(ends)
    cuts = np.flatnonzero(starts[1:] - reach[:-1] > gap_s * 1e9) + 1
    firsts, stops = np.r_[0, cuts], np.r_[cuts, len(starts)]
    spans = reach[stops - 1] - starts[firsts]
    # union of the intervals: the share of the burst in which any request was in progress
    if timeline.well_formed and gap_s >= 0:
        busy = _union_per_burst_ns(starts, reach, firsts)
    else:
        busy = np.array(
            [_union_ns(starts[a:b], ends[a:b]) for a, b in zip(firsts, stops, strict=True)]
        )
    fractions = np.ones(len(firsts))
    positive = spans > 0
    fractions[positive] = busy[positive] / spans[positive]
    best = int(np.argmax(fractions))  # the first of equals, as a strict "greater than" scan keeps
    return BusyBurst(
        requests=int(stops[best] - firsts[best]),
        start=pd.Timestamp(int(starts[firsts[best]]), tz="UTC").to_pydatetime(warn=False),
        end=pd.Timestamp(int(reach[stops[best] - 1]), tz="UTC").to_pydatetime(warn=False),
        busy_fraction=float(fractions[best]),
    )


def _union_per_burst_ns(starts: np.ndarray, reach: np.ndarray, firsts: np.ndarray) -> np.ndarray:
    """Length of the union of the intervals in each burst, as float64 nanoseconds.

    Needs intervals in start order, none ending before it starts, and bursts split at gaps of
    zero or more: then the running latest end (``reach``) inside a burst is the end of the
    merged run so far, a run ends where the next start passes it, and every burst starts a run.
    Sums whole nanoseconds in int64, exactly as ``_union_ns`` does.
    """
    import numpy as np

    run_firsts = np.flatnonzero(np.r_[True, starts[1:] > reach[:-1]])
    run_stops = np.r_[run_firsts[1:], len(starts)]
    run_ns = reach[run_stops - 1] - starts[run_firsts]
    totals = np.add.reduceat(run_ns, np.searchsorted(run_firsts, firsts))
    return np.asarray(totals, dtype=np.float64)


def _union_ns(starts: np.ndarray, ends: np.ndarray) -> float:
    """Length of the union of intervals in start order (any intervals, by a scan)."""
    total, cur_start, cur_end = 0, int(starts[0]), int(ends[0])
    for s, e in zip(starts[1:], ends[1:], strict=True):
        if s > cur_end:
            total += cur_end - cur_start
            cur_start, cur_end = int(s), int(e)
        else:
            cur_end = max(cur_end, int(e))
    return float(total + cur_end - cur_start)

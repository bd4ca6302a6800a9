"""Small numeric functions over arrays: percentiles, requests in flight, the busiest window, bursts.

Pure numpy, no frames: ``metrics`` calls them on the columns it needs, ``concurrency``,
``utilisation`` and the rules reuse them. Times are int64 nanoseconds since the epoch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


def percentile(sorted_values: Sequence[float] | np.ndarray, q: float) -> float:
    """Type-7 percentile of already sorted values, q in [0, 100].

    Kept by hand rather than ``numpy.percentile(..., method="linear")``: the method is the same
    but numpy interpolates as ``a + (b - a)·t`` (``b - (b - a)·(1 - t)`` for t ≥ 0.5) from a
    position computed as ``n·q - q``, and measured over 220,000 percentiles of random latencies
    (2026-11-30) 16.9 % differed in the last bits and 0.26 % changed once rounded to the report's
    2 or the summary's 6 decimals (ties such as 2.195 s, see tests/test_metrics.py): switching
    would change reports. It is also ~70× faster for 4 quantiles (1.6 µs vs 114 µs).
    """
    n = len(sorted_values)
    if n == 0:
        raise ValueError("percentile of no values")
    position = (n - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, n - 1)
    weight = position - low
    below, above = float(sorted_values[low]), float(sorted_values[high])
    value = below * (1 - weight) + above * weight
    # Rounding can put that a hair outside [below, above] (subnormals: 5e-324 * 0.5 is 0.0, so
    # two equal values gave 0.0 between them, found by tests/test_quantile_interval.py): kept in.
    return min(max(value, below), above)


def quantile_interval(
    sorted_values: Sequence[float] | np.ndarray, q: float, confidence: float = 0.95
) -> tuple[float, float] | None:
    """A distribution-free confidence interval for the q-th percentile (q in (0, 100)) of
    already sorted values: two of the values themselves, or None when there are too few values
    to bound it (the p95 needs 72 at 95 %, the p50 6).

    The number of values below the true quantile is Binomial(n, q), so the interval from the
    l-th to the u-th smallest value holds it with probability F(u-1) - F(l-1) (F the binomial
    CDF); l is the largest with F(l-1) <= (1-c)/2 and u the smallest with F(u-1) >= (1+c)/2,
    which covers at least c (W. J. Conover, Practical Nonparametric Statistics, 3rd ed., 1999,
    §3.2; for n = 100 and the median: the 40th to the 61st value).
    """
    import numpy as np

    n = len(sorted_values)
    p = q / 100.0
    if n == 0 or not 0.0 < p < 1.0:
        return None
    tail = (1.0 - confidence) / 2.0
    first, cdf = _binomial_cdf(n, p)
    below = np.flatnonzero(cdf <= tail)
    above = np.flatnonzero(cdf >= 1.0 - tail)
    # l (1-based) with F(l-1) <= tail; F(-1) = 0, so l = 1 when even F(0) is above the tail
    low = first + int(below[-1]) + 1 if len(below) else 1
    if not len(above) or first + int(above[0]) + 1 > n:
        return None
    high = first + int(above[0]) + 1  # u (1-based): F(u-1) >= 1 - tail
    return float(sorted_values[low - 1]), float(sorted_values[high - 1])


def bounding_n(q: float, confidence: float = 0.95) -> int:
    """The fewest values whose quantile_interval for the q-th percentile exists: the largest
    value bounds it only when P(all n values lie below the quantile) = p^n <= (1-c)/2."""
    return math.ceil(math.log((1.0 - confidence) / 2.0) / math.log(q / 100.0) - 1e-12)


def _binomial_cdf(n: int, p: float) -> tuple[int, np.ndarray]:
    """(first k, P(B <= k) for k = first, first+1, ...) for B ~ Binomial(n, p), over the window
    of 12 standard deviations around n·p (the mass outside is below 1e-30): the log pmf at the
    window's start (lgamma), then each next term by the ratio pmf(k+1)/pmf(k), so millions of
    values cost a few thousand array terms."""
    import numpy as np

    sd = math.sqrt(n * p * (1.0 - p))
    first = max(0, math.floor(n * p - 12 * sd - 1))
    last = min(n, math.ceil(n * p + 12 * sd + 1))
    log_first = (
        math.lgamma(n + 1)
        - math.lgamma(first + 1)
        - math.lgamma(n - first + 1)
        + first * math.log(p)
        + (n - first) * math.log1p(-p)
    )
    k = np.arange(first, last, dtype=float)
    steps = np.log((n - k) / (k + 1)) + math.log(p) - math.log1p(-p)
    log_pmf = log_first + np.concatenate([[0.0], np.cumsum(steps)])
    return first, np.cumsum(np.exp(log_pmf))


def percentile_unsorted(values: np.ndarray, q: float, overwrite: bool = False) -> float:
    """``percentile`` of values in any order, without sorting them all.

    ``percentile`` reads only the two ranks around the position, so a partition that puts those
    two in place (linear time) gives the same value as a full sort. ``overwrite``: the caller's
    own copy, partitioned in place (no second copy of the values).
    """
    import numpy as np

    n = len(values)
    if n == 0:
        raise ValueError("percentile of no values")
    low = math.floor((n - 1) * q / 100.0)
    kth = (low, min(low + 1, n - 1))
    if overwrite:
        values.partition(kth)
        return percentile(values, q)
    return percentile(np.partition(values, kth), q)


def max_in_flight(starts_ns: np.ndarray, ends_ns: np.ndarray) -> int:
    """Most intervals open at once; an end at the same instant as a start closes first."""
    import numpy as np

    if len(starts_ns) == 0:
        return 0
    if np.all(ends_ns >= starts_ns):
        # The sweep's count peaks just after the starts at some instant, where it is the starts
        # so far minus the ends so far (in_flight_at_start); with no end before its start it is
        # never negative there, so no point just after an end can beat it. No 2n-event lexsort.
        return int(in_flight_at_start(starts_ns, ends_ns).max())
    # An interval that ends before it starts: count the +1/-1 sweep itself.
    times = np.concatenate([starts_ns, ends_ns])
    deltas = np.concatenate([np.ones(len(starts_ns)), -np.ones(len(ends_ns))])
    order = np.lexsort((deltas, times))  # at equal times, -1 sorts before +1
    return int(np.cumsum(deltas[order]).max())


def in_flight_at_start(starts_ns: np.ndarray, ends_ns: np.ndarray) -> np.ndarray:
    """For each interval, how many intervals (itself included) were open at its start."""
    import numpy as np

    ends = np.sort(ends_ns)
    if len(starts_ns) > 1 and np.all(starts_ns[1:] >= starts_ns[:-1]):
        opened = _at_or_before_sorted(starts_ns)  # the timeline's case: no search needed
    else:
        opened = np.searchsorted(np.sort(starts_ns), starts_ns, side="right")
    # Sorted queries, when starts are in order, make the binary searches walk memory in order.
    closed = np.searchsorted(ends, starts_ns, side="right")  # an end at the instant has closed
    return np.asarray(opened - closed, dtype=np.int64)


def _at_or_before_sorted(values: np.ndarray) -> np.ndarray:
    """For sorted values, how many are at or before each: its position + 1, or past its ties."""
    import numpy as np

    n = len(values)
    last_of_run = np.r_[values[1:] != values[:-1], True]
    if last_of_run.all():
        return np.arange(1, n + 1)
    # Each position takes the count at the last of its run of ties: a reversed running minimum.
    counts = np.where(last_of_run, np.arange(1, n + 1), n)
    return np.minimum.accumulate(counts[::-1])[::-1]


def peak_per_window(times_ns: np.ndarray, window_ns: int) -> tuple[int, int | None]:
    """Most events inside any half-open window [t, t + window); returns (count, t)."""
    import numpy as np

    if len(times_ns) == 0:
        return 0, None
    t = np.sort(times_ns)
    counts = np.searchsorted(t, t + window_ns, side="left") - np.arange(len(t))
    best = int(np.argmax(counts))
    return int(counts[best]), int(t[best])


def bursts(times_ns: np.ndarray, gap_ns: int) -> list[tuple[int, int, int]]:
    """Split sorted event times at idle gaps longer than gap_ns: (first, last, count) each."""
    import numpy as np

    if len(times_ns) == 0:
        return []
    t = np.sort(times_ns)
    cuts = np.flatnonzero(np.diff(t) > gap_ns) + 1
    bounds = np.concatenate([[0], cuts, [len(t)]])
    return [(int(t[a]), int(t[b - 1]), int(b - a)) for a, b in pairwise(bounds)]

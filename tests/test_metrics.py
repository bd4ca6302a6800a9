"""Known-answer tests for the small statistics functions."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from claude_perf.analysis.metrics import latency_stats
from claude_perf.analysis.numeric import (
    bursts,
    max_in_flight,
    peak_per_window,
    percentile,
    percentile_unsorted,
)


def test_percentile_type7_known_answers():
    values = [1.0, 2.0, 3.0, 4.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    assert percentile(values, 50) == 2.5
    # (n-1)·q = 3·0.9 = 2.7 → 3 + 0.7·(4−3)
    assert percentile(values, 90) == pytest.approx(3.7)
    assert percentile([5.0], 99) == 5.0


@pytest.mark.parametrize("q", [0, 10, 25, 50, 75, 90, 95, 99, 100])
def test_percentile_agrees_with_numpy_linear(q):
    rng = np.random.default_rng(3)
    values = np.sort(rng.lognormal(0, 1, 101))
    assert percentile(values, q) == pytest.approx(np.percentile(values, q, method="linear"))


def test_percentile_ties_round_as_before_not_as_numpy():
    """Why percentile is not numpy.percentile: on a decimal tie the last bit decides the rounding.

    (n-1)·q = 5·0.99 = 4.95 → 1.131 + 0.95·(2.251 − 1.131) = 2.195 exactly, in decimal. Our
    a·(1−w) + b·w lands just below the tie ("2.19"); numpy's b − (b−a)·(1−w) just above ("2.20").
    """
    values = [0.379, 0.441, 0.465, 0.523, 1.131, 2.251]
    assert percentile(values, 99) == 2.195
    assert f"{percentile(values, 99):.2f}" == "2.19"
    assert f"{np.percentile(values, 99, method='linear'):.2f}" == "2.20"


@pytest.mark.parametrize("n", [1, 2, 3, 10, 101])
def test_percentile_unsorted_equals_percentile_of_sorted(n):
    values = np.random.default_rng(n).lognormal(0, 1, n)
    for q in (0, 50, 90, 95, 99, 100):
        assert percentile_unsorted(values.copy(), q) == percentile(np.sort(values), q)


def test_percentile_stays_between_its_two_values():
    # a·(1−w) + b·w rounds 5e-324·0.5 to 0.0: two equal subnormals gave 0.0 between them, below
    # every value (found by tests/test_quantile_interval.py's property test)
    assert percentile([5e-324, 5e-324, 5e-324, 5e-324, 1.0, 1.0], 50) == 5e-324
    assert percentile([5e-324, 1e-323], 50) in (5e-324, 1e-323)


@given(st.lists(st.floats(0.0, 1e300, allow_subnormal=True), min_size=1, max_size=50))
def test_percentile_is_never_outside_the_values_around_it(values: list[float]) -> None:
    ordered = sorted(values)
    for q in (0, 37.5, 50, 95, 99, 100):
        position = (len(ordered) - 1) * q / 100.0
        low = int(position)
        high = min(low + 1, len(ordered) - 1)
        assert ordered[low] <= percentile(ordered, q) <= ordered[high]


def test_percentile_of_nothing_raises():
    with pytest.raises(ValueError):
        percentile([], 50)


def test_latency_stats_known_answer():
    stats = latency_stats([3.0, 1.0, 2.0, float("nan"), 4.0])
    assert stats is not None
    assert stats.n == 4
    assert stats.mean == 2.5
    assert stats.p50 == 2.5
    assert stats.min == 1.0 and stats.max == 4.0
    assert stats.stdev == pytest.approx(math.sqrt(5 / 3))
    assert stats.too_few


def test_latency_stats_single_and_empty():
    single = latency_stats([1.5])
    assert single is not None and single.stdev is None and single.p99 == 1.5
    assert latency_stats([]) is None
    assert latency_stats([float("nan")]) is None


def test_max_in_flight_counts_overlaps_and_touching_intervals():
    starts = np.array([0, 1, 2, 10])
    ends = np.array([5, 3, 4, 11])
    assert max_in_flight(starts, ends) == 3
    # [0,1) and [1,2): an end at the same instant as a start closes first
    assert max_in_flight(np.array([0, 1]), np.array([1, 2])) == 1
    assert max_in_flight(np.array([], dtype=np.int64), np.array([], dtype=np.int64)) == 0


@pytest.mark.parametrize("seed", range(20))
def test_max_in_flight_agrees_with_an_event_sweep(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 50))
    starts = rng.integers(0, 100, n)
    ends = starts + rng.integers(-3 if seed % 2 else 0, 20, n)  # odd seeds: some end first
    sweep = sorted([(int(t), -1) for t in ends] + [(int(t), 1) for t in starts])
    expected = max(np.cumsum([d for _, d in sweep]))
    assert max_in_flight(starts, ends) == expected


def test_peak_per_window_is_a_sliding_window():
    minute = 60_000_000_000
    times = np.array([0, 50, 70, 100, 110]) * 1_000_000_000
    count, at = peak_per_window(times, minute)
    # [50 s, 110 s) holds 50, 70, 100 → 3; [70, 130) holds 70, 100, 110 → 3; first wins
    assert count == 3 and at == 50 * 1_000_000_000
    assert peak_per_window(np.array([], dtype=np.int64), minute) == (0, None)


def test_bursts_split_at_gaps():
    s = 1_000_000_000
    times = np.array([0, 10, 20, 200, 205, 1000]) * s
    assert bursts(times, 60 * s) == [(0, 20 * s, 3), (200 * s, 205 * s, 2), (1000 * s, 1000 * s, 1)]
    assert bursts(np.array([], dtype=np.int64), s) == []

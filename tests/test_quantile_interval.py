"""Distribution-free 95 % intervals for the p50 and p95 (analysis/numeric.quantile_interval)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claude_perf.analysis.metrics import latency_stats
from claude_perf.analysis.numeric import bounding_n, percentile, quantile_interval

RANKS = [float(k) for k in range(1, 1001)]  # the k-th smallest value is k


@pytest.mark.parametrize(
    ("n", "q", "ranks"),
    [
        (100, 50, (40, 61)),  # Conover's table: the median of 100 lies between the 40th and 61st
        (1000, 50, (469, 532)),
        (100, 95, (90, 100)),
        (72, 95, (64, 72)),
        (6, 50, (1, 6)),
        (5, 50, None),  # 1 - 0.5^5 = 0.969 < 0.975: the largest of 5 cannot bound the median
        (71, 95, None),  # 0.95^71 = 0.026 > 0.025
        (1, 50, None),
    ],
)
def test_known_order_statistics(n: int, q: float, ranks: tuple[int, int] | None) -> None:
    assert quantile_interval(RANKS[:n], q) == (None if ranks is None else tuple(map(float, ranks)))


def test_the_fewest_values_that_bound_a_quantile() -> None:
    assert [bounding_n(q) for q in (50, 90, 95, 99)] == [6, 36, 72, 368]
    for q in (50, 95):
        n = bounding_n(q)
        assert quantile_interval(RANKS[:n], q) is not None
        assert quantile_interval(RANKS[: n - 1], q) is None


def test_the_intervals_cover_the_true_quantile_at_least_95_percent_of_the_time() -> None:
    """Log-normal latencies (median 1 s): 4,000 samples of 80 values; the true p50 and p95
    (exp(0) and exp(1.645 σ)) must lie inside their intervals in at least 94 % of them."""
    rng = np.random.default_rng(20261201)
    sigma = 0.6
    truth = {50: 1.0, 95: float(np.exp(1.6448536 * sigma))}
    hits = {50: 0, 95: 0}
    trials = 4000
    for _ in range(trials):
        values = np.sort(rng.lognormal(0.0, sigma, 80))
        for q, true in truth.items():
            bounds = quantile_interval(values, q)
            assert bounds is not None
            hits[q] += bounds[0] <= true <= bounds[1]
    assert hits[50] / trials >= 0.94 and hits[95] / trials >= 0.94
    assert hits[50] / trials <= 0.99  # not a trivially wide interval either


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.0, 1e4, allow_nan=False), min_size=1, max_size=400))
def test_an_interval_is_two_of_the_values_around_the_sample_percentile(values: list[float]) -> None:
    ordered = sorted(values)
    for q in (50, 95):
        bounds = quantile_interval(ordered, q)
        if bounds is None:
            assert len(ordered) < bounding_n(q)
            continue
        low, high = bounds
        assert low in ordered and high in ordered
        assert low <= percentile(ordered, q) <= high


def test_latency_stats_carry_the_intervals() -> None:
    stats = latency_stats(RANKS[:100])
    assert stats is not None
    assert stats.p50_ci95 == (40.0, 61.0)
    assert stats.p95_ci95 == (90.0, 100.0)
    few = latency_stats(RANKS[:10])
    assert few is not None and few.p95_ci95 is None and few.p50_ci95 is not None

"""Known-answer tests of the idle/load split, memory slope and counter growth."""

from __future__ import annotations

import math

import numpy as np

from claude_perf.analysis.utilisation import (
    counter_growth,
    least_squares_slope,
    under_load,
    utilisation_of,
)
from tests.report_support import requests_frame, samples_frame


def test_slope_of_a_straight_line_is_its_gradient() -> None:
    x = np.array([0.0, 1.0, 2.0, 3.0])
    assert least_squares_slope(x, 2 * x + 1) == 2.0


def test_slope_ignores_nan_pairs_and_needs_three_points() -> None:
    x = np.array([0.0, 1.0, 2.0, 3.0])
    y = np.array([0.0, math.nan, 4.0, 6.0])
    assert least_squares_slope(x, y) == 2.0
    assert least_squares_slope(x[:2], y[:2]) is None
    assert least_squares_slope(np.zeros(4), np.arange(4.0)) is None  # all at one instant


def test_counter_growth_sums_steps_and_survives_a_reset() -> None:
    assert counter_growth(np.array([0.0, 10.0, 30.0])) == 30.0
    # 0 → 100, reset to 20 (20 since the restart), then 20 → 50
    assert counter_growth(np.array([0.0, 100.0, 20.0, 50.0])) == 150.0
    assert counter_growth(np.array([5.0])) is None
    assert counter_growth(np.array([5.0, math.nan, 8.0])) == 3.0


def test_under_load_when_an_interval_overlaps_the_sample_interval() -> None:
    samples = np.array([10, 20, 30])
    loaded = under_load(samples, 10, np.array([12]), np.array([15]))
    assert loaded.tolist() == [False, True, False]
    assert under_load(
        samples, 10, np.array([], dtype=np.int64), np.array([], dtype=np.int64)
    ).tolist() == [
        False,
        False,
        False,
    ]


def test_utilisation_splits_idle_and_load_and_measures_growth() -> None:
    times = [float(i) for i in range(10)]
    requests = requests_frame([{"start": 3.5, "end": 6.2}])
    # samples at 4, 5, 6, 7 describe intervals touching [3.5, 6.2]
    cpu = [50.0 if 4 <= t <= 7 else 5.0 for t in times]
    mem = [100 * 2**20 + t * 2**20 for t in times]  # +1 MiB per second
    (u,) = utilisation_of(samples_frame(times, cpu, mem), requests)
    assert (u.idle.samples, u.load.samples) == (6, 4)
    assert u.idle.cpu_pct_mean == 5.0 and u.load.cpu_pct_mean == 50.0
    assert u.mem_slope_bytes_per_min is not None
    assert math.isclose(u.mem_slope_bytes_per_min, 60 * 2**20)
    assert u.interval_s == 1.0 and u.span_s == 9.0
    assert u.net_rx_bytes == 9000.0 and u.requests_in_span == 1
    assert u.per_request(u.net_rx_bytes) == 9000.0
    assert u.cgroup == "v2" and u.pids_max == 5


def test_no_samples_no_utilisation() -> None:
    requests = requests_frame([{"start": 1.0, "end": 2.0}])
    assert utilisation_of(None, requests) == ()
    assert utilisation_of(samples_frame([], [], []), requests) == ()


def test_request_without_start_counts_only_at_its_end() -> None:
    requests = requests_frame([{"start": None, "end": 4.5}])
    (u,) = utilisation_of(
        samples_frame([0.0, 1.0, 2.0, 3.0, 4.0, 5.0], [1.0] * 6, [1.0] * 6), requests
    )
    assert u.load.samples == 1  # only the sample at 5 s, covering (4, 5]

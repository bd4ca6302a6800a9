"""The lower-memory ways of the analysis give what the plain ones gave (issue 13, memory).

Each test holds a function that was rewritten to hold fewer temporaries against the plain
computation it replaced (written out here as the reference), on random inputs.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from claude_perf.analysis import restarts
from claude_perf.analysis.concurrency import concurrency_latency
from claude_perf.analysis.metrics import Timeline
from claude_perf.analysis.numeric import percentile, percentile_unsorted
from claude_perf.analysis.table import _coded, _times
from claude_perf.durations import NAT_NS


def _restarts_reference(
    startup_ns: dict[str, list[int]], table: pd.DataFrame
) -> dict[str, tuple[datetime, ...]]:
    """restarts_seen as it was: every end of the source sorted, then searched per banner."""
    out: dict[str, tuple[datetime, ...]] = {}
    ends = table["end"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    sources = table["source"].astype(object).to_numpy()
    for name, banners in startup_ns.items():
        served = np.sort(ends[(sources == name) & (ends != NAT_NS)])
        found, previous = [], None
        for at in sorted(banners):
            since = np.searchsorted(served, previous, side="right") if previous is not None else 0
            if np.searchsorted(served, at, side="left") > since:
                found.append(pd.Timestamp(at, tz="UTC").to_pydatetime(warn=False))
            previous = at
        out[name] = tuple(found)
    return out


@pytest.mark.parametrize("seed", range(40))
def test_restarts_seen_read_in_blocks_is_the_sorted_search(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 60))
    # few distinct instants, so that ends fall on banners and banners repeat
    ends = rng.integers(0, 30, n).astype(np.int64)
    ends[rng.random(n) < 0.1] = NAT_NS
    codes = rng.integers(0, 2, n)
    table = pd.DataFrame(
        {"end": _times(ends), "source": pd.Series(_coded(codes, ["a.log", "b.log"]))}
    )
    banners = {
        name: rng.integers(0, 32, int(rng.integers(0, 6))).tolist()
        for name in ("a.log", "b.log", "c.log")[: int(rng.integers(0, 4))]
    }
    monkeypatch.setattr(restarts, "_BLOCK", int(rng.integers(1, 8)))
    assert restarts.restarts_seen(banners, table) == _restarts_reference(banners, table)


@pytest.mark.parametrize("seed", range(20))
def test_percentile_in_place_is_the_copy_s(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = rng.choice(rng.random(7), int(rng.integers(1, 40)))
    for q in (0, 50, 95, 99, 100):
        expected = percentile(np.sort(values), q)
        assert percentile_unsorted(values, q) == expected
        assert percentile_unsorted(values.copy(), q, overwrite=True) == expected


@pytest.mark.parametrize("seed", range(20))
def test_concurrency_latency_one_group_at_a_time(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 50))
    latency = rng.random(n)
    latency[rng.random(n) < 0.2] = np.nan
    timeline = Timeline(
        start_ns=np.arange(n, dtype=np.int64),
        end_ns=np.arange(n, dtype=np.int64) + 5,
        in_flight=rng.integers(1, 4, n),
        latency_s=latency,
        succeeded=rng.random(n) < 0.8,
        failed_end_ns=np.zeros(0, dtype=np.int64),
        well_formed=True,
    )
    before = latency.copy()
    ok = timeline.succeeded & ~np.isnan(latency)
    solo = latency[ok & (timeline.in_flight <= 1)]
    overlapped = latency[ok & (timeline.in_flight > 1)]
    got = concurrency_latency(timeline)
    assert (got.solo_n, got.overlapped_n) == (len(solo), len(overlapped))
    assert got.solo_p50_s == (percentile(np.sort(solo), 50) if len(solo) else None)
    assert got.overlapped_p50_s == (
        percentile(np.sort(overlapped), 50) if len(overlapped) else None
    )
    assert got.max_level == int(timeline.in_flight.max())
    assert np.array_equal(timeline.latency_s, before, equal_nan=True)  # left as it was given

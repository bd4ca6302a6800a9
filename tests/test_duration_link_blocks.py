"""Duration records linked a block at a time give what one pass over all of them gives.

analysis/correlate.link_durations reads Python lists made per block of records (only the
completions the block may reach), to keep its memory bounded; the links must not depend on where
the blocks end.
"""

from __future__ import annotations

import numpy as np
import pytest

from claude_perf.analysis import correlate
from claude_perf.durations import NAT_NS


def _links(block: int, seed: int) -> correlate.DurationLinks:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 400))
    ts = np.sort(rng.integers(0, 5_000_000_000, n)).astype(np.int64)
    ts[rng.random(n) < 0.05] = NAT_NS
    role = rng.integers(0, 4, n)
    status = np.where(rng.random(n) < 0.3, np.nan, rng.choice([200.0, 500.0], n))
    duration = np.where((role == 0) | (rng.random(n) < 0.1), rng.random(n) * 0.5, np.nan)
    path_class = rng.integers(-1, 3, n)
    # the proxy's own stamps on some lines (ms-cut times in seconds), NaN on the others
    app_s = np.where(rng.random(n) < 0.5, np.nan, np.floor(ts / 1e6) / 1e3)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(correlate, "_LINK_BLOCK", block)
        return correlate.link_durations(
            ts, role == 0, role == 1, role == 2, status, duration, path_class, app_s
        )


@pytest.mark.parametrize("seed", range(60))
def test_links_do_not_depend_on_the_blocks(seed: int) -> None:
    whole = _links(1 << 16, seed)
    for block in (1, 2, 3, 7):
        split = _links(block, seed)
        np.testing.assert_array_equal(split.duration_s, whole.duration_s)
        np.testing.assert_array_equal(split.ends, whole.ends)
        np.testing.assert_array_equal(split.starts, whole.starts)
        assert split.uncertain is not None and whole.uncertain is not None
        np.testing.assert_array_equal(split.uncertain, whole.uncertain)
        assert (split.carried, split.unmatched) == (whole.carried, whole.unmatched)


def test_a_record_gives_its_duration_to_the_nearest_completion_and_names_its_start() -> None:
    # start at 0; a record at 1.0 s saying 1.0 s; completions at 0.9 s (other status) and 1.05 s
    ts = np.array([0, 900_000_000, 1_000_000_000, 1_050_000_000], dtype=np.int64)
    is_start = np.array([True, False, False, False])
    is_duration = np.array([False, False, True, False])
    is_end = np.array([False, True, False, True])
    status = np.array([np.nan, 500.0, 200.0, 200.0])
    duration = np.array([np.nan, np.nan, 1.0, np.nan])
    classes = np.array([1, 1, -1, 1])
    for block in (1, 1 << 16):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(correlate, "_LINK_BLOCK", block)
            links = correlate.link_durations(
                ts, is_duration, is_start, is_end, status, duration, classes
            )
        assert links.duration_s[3] == 1.0 and np.isnan(links.duration_s[1])
        assert links.ends.tolist() == [3] and links.starts.tolist() == [0]
        assert (links.carried, links.unmatched) == (1, 0)


def test_the_random_cases_do_link_records() -> None:
    # the comparison above means something only where records were linked
    assert sum(_links(1 << 16, seed).carried > 0 for seed in range(60)) >= 50

"""Known answers for the array helpers of analysis/arrays.py."""

import numpy as np

from claude_perf.analysis.arrays import first_known_after
from claude_perf.durations import NAT_NS


def test_first_known_after_skips_unknown_times_and_ends_unknown() -> None:
    ts = np.array([5, NAT_NS, NAT_NS, 9, NAT_NS, 12, NAT_NS], dtype=np.int64)
    at = np.array([0, 1, 3, 4, 5, 6])
    assert first_known_after(ts, at, NAT_NS).tolist() == [9, 9, 12, 12, NAT_NS, NAT_NS]


def test_first_known_after_with_no_time_at_all() -> None:
    # `docker logs` without -t of a proxy whose lines carry no stamp of their own
    ts = np.full(4, NAT_NS, dtype=np.int64)
    assert first_known_after(ts, np.array([0, 2]), NAT_NS).tolist() == [NAT_NS, NAT_NS]
    assert first_known_after(ts, np.array([], dtype=np.int64), NAT_NS).tolist() == []

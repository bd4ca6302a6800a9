"""A whole-second clock (analysis/clock.py): the in-flight range, known answers and a property
(the range holds the count of the instants the stamps stand for, whatever they were)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from claude_perf.analysis.clock import in_flight_range, whole_second_clock
from claude_perf.analysis.numeric import max_in_flight
from claude_perf.parse.entries import Entries

S = 1_000_000_000


def _range(*intervals: tuple[float, float]) -> tuple[int, int]:
    starts = np.array([round(a * S) for a, _ in intervals], dtype=np.int64)
    ends = np.array([round(b * S) for _, b in intervals], dtype=np.int64)
    return in_flight_range(starts, ends)


def test_back_to_back_requests_stamped_in_one_second_may_or_may_not_have_overlapped() -> None:
    # [0, 3] then [3, 6]: surely in flight over [1, 3] and [4, 6]; possibly over [0, 4], [3, 7]
    assert _range((0, 3), (3, 6)) == (1, 2)


def test_requests_that_surely_overlapped_count_as_many() -> None:
    assert _range((0, 10), (1, 10), (2, 10)) == (3, 3)


def test_a_request_shorter_than_the_clock_step_is_still_one_in_flight() -> None:
    assert _range((5, 5.4)) == (1, 1)
    assert _range((5, 5.4), (5.2, 5.6)) == (1, 2)


def test_no_request_no_count() -> None:
    assert _range() == (0, 0)


@given(
    st.lists(
        st.tuples(
            st.integers(0, 30_000),  # true start, ms
            st.integers(0, 5_000),  # latency, ms
            st.booleans(),  # start derived from the end's stamp (gin) or stamped itself
        ),
        min_size=1,
        max_size=25,
    )
)
def test_the_range_holds_the_true_count(requests: list[tuple[int, int, bool]]) -> None:
    ms = 1_000_000
    true_start = np.array([a * ms for a, _, _ in requests], dtype=np.int64)
    true_end = np.array([(a + b) * ms for a, b, _ in requests], dtype=np.int64)
    stamped_end = true_end // S * S  # truncated to the second, as gin's Format("15:04:05")
    latency = true_end - true_start
    derived = np.array([d for _, _, d in requests])
    stamped_start = np.where(derived, stamped_end - latency, true_start // S * S)
    fewest, most = in_flight_range(stamped_start, stamped_end)
    assert fewest <= max_in_flight(true_start, true_end) <= most


def _entries(app: int, whole: int, untimed: int) -> Entries:
    return Entries({}, None, app, untimed, app_whole_second_lines=whole)  # type: ignore[arg-type]


def test_the_clock_is_whole_seconds_only_when_no_line_has_an_engine_time_and_every_stamp_is() -> (
    None
):
    assert whole_second_clock(_entries(app=40, whole=40, untimed=100), lines=100)
    assert not whole_second_clock(_entries(app=40, whole=39, untimed=100), lines=100)
    assert not whole_second_clock(_entries(app=40, whole=40, untimed=99), lines=100)
    assert not whole_second_clock(_entries(app=1, whole=1, untimed=100), lines=100)

"""Known answers for duration records naming their start (analysis/correlate.link_durations).

Events are given as arrays, as assemble gives them: per event its engine time (ns), the proxy's
own time (s, NaN unknown) and its role. A record ``d`` after its start names it; the proxy's
own stamps are trusted over the engine's (which lag tens of ms under load), and a pairing is
sure only when no other open start fits the record as well.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from claude_perf.analysis.correlate import link_durations

MS = 1_000_000
T0_S = 1_796_000_000.0


def link(
    events: Sequence[tuple[str, float, float | None, float]],
) -> tuple[list[int], list[int], list[bool]]:
    """events: (role, engine ms, proxy's own ms or None, duration s for records) →
    (linked starts, linked completions, uncertain), as event positions."""
    role = np.array([e[0] for e in events])
    engine_ns = np.array([int(T0_S * 1e9) + int(e[1] * MS) for e in events], dtype=np.int64)
    app_s = np.array([np.nan if e[2] is None else T0_S + e[2] / 1e3 for e in events])
    duration_s = np.array([e[3] if e[0] == "duration" else np.nan for e in events])
    got = link_durations(
        engine_ns,
        role == "duration",
        role == "start",
        role == "end",
        np.full(len(events), 200.0),
        duration_s,
        np.ones(len(events), dtype=np.int64),
        app_s,
    )
    assert got.uncertain is not None
    return got.starts.tolist(), got.ends.tolist(), got.uncertain.tolist()


def test_the_proxys_own_stamps_name_the_start_the_engines_lag_would_miss() -> None:
    # Two starts 8 ms apart by the proxy's clock; the engine stamped the second 20 ms late.
    # The record (at 500 ms, 400 ms long) names the start at 100 ms; by engine times the
    # implied start (520 - 400 = 120) is nearer the late-stamped second one (128).
    events = [
        ("start", 100.0, 100.0, 0),  # 0
        ("start", 128.0, 108.0, 0),  # 1: engine stamp 20 ms late
        ("duration", 520.0, 500.0, 0.4),  # 2
        ("end", 521.0, 501.0, 0),  # 3
    ]
    assert link(events) == ([0], [3], [False])
    no_app = [(r, eng, None, d) for r, eng, _, d in events]
    starts, ends, uncertain = link(no_app)
    assert (starts, ends, uncertain) == ([1], [3], [True])  # the engine's guess, said unsure


def test_two_starts_in_one_millisecond_are_a_guess_said_so() -> None:
    events = [
        ("start", 100.0, 100.0, 0),
        ("start", 100.1, 100.0, 0),  # same millisecond by the proxy's clock
        ("duration", 900.0, 900.0, 0.8),
        ("end", 900.5, 900.0, 0),
        ("duration", 1500.0, 1500.0, 1.4),
        ("end", 1500.5, 1500.0, 0),
    ]
    starts, ends, uncertain = link(events)
    assert sorted(starts) == [0, 1] and ends == [3, 5]
    # the first record had two candidates; the second only the start left over
    assert uncertain == [True, False]


def test_a_rival_more_than_the_stamps_resolution_away_leaves_the_pair_sure() -> None:
    events = [
        ("start", 100.0, 100.0, 0),
        ("start", 110.0, 110.0, 0),  # 10 ms later: not within the proxy's millisecond slack
        ("duration", 900.0, 900.0, 0.8),
        ("end", 900.5, 900.0, 0),
    ]
    assert link(events) == ([0], [3], [False])


def test_a_record_without_a_start_in_reach_gives_only_its_duration() -> None:
    events = [("start", 100.0, 100.0, 0), ("duration", 900.0, 900.0, 0.2), ("end", 901.0, None, 0)]
    assert link(events) == ([], [], [])


def test_a_proxy_slower_to_log_than_the_captures_still_gets_its_rivals() -> None:
    # The record lands 4 ms after its own start's stamp (the captures: at most 2.4 ms); another
    # open start 4.5 ms on the other side fits as well: unsure, not a sure pairing by luck.
    events = [
        ("start", 95.5, 95.5, 0),
        ("start", 104.0, 104.0, 0),
        ("duration", 900.0, 900.0, 0.8),  # implies 100.0: 4.0 and 4.5 ms from the starts
        ("end", 900.5, 900.0, 0),
    ]
    assert link(events) == ([1], [3], [True])
    # alone at 4 ms, it is sure
    assert link(events[1:]) == ([0], [2], [False])

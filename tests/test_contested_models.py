"""Known answers for analysis/pairing.contested_models: a model record goes to the newest open
start; every earlier start begun since the record before it, still open and without a model of
its own, may own it instead, and all their completions are marked."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from claude_perf.analysis.pairing import contested_models


def marked(
    roles: list[str], partner: list[int], own_model: frozenset[int] = frozenset()
) -> list[int]:
    """``roles``: start / end / model per event; ``partner``: the pairing (-1 none)."""
    n = len(roles)
    is_start = np.array([r == "start" for r in roles])
    events: Any = SimpleNamespace(
        is_start=is_start,
        is_model_record=np.array([r == "model" for r in roles]),
        has_model=np.array([r == "model" or i in own_model for i, r in enumerate(roles)]),
    )
    out = contested_models(
        events,
        np.ones(n, bool),
        np.array(partner),
        np.flatnonzero(is_start),
    )
    return np.flatnonzero(out).tolist()


def test_two_requests_started_before_the_first_body_are_all_marked():
    # A, B, C start; one body; C, B, A complete: the body may be any of the three's
    roles = ["start", "start", "start", "model", "end", "end", "end"]
    assert marked(roles, [6, 5, 4, -1, 2, 1, 0]) == [4, 5, 6]


def test_a_start_already_completed_is_no_rival():
    roles = ["start", "end", "start", "start", "model", "end", "end"]
    assert marked(roles, [1, 0, 6, 5, -1, 3, 2]) == [5, 6]


def test_starts_that_logged_their_own_model_are_no_rivals():
    roles = ["start", "start", "start", "model", "end", "end", "end"]
    assert marked(roles, [6, 5, 4, -1, 2, 1, 0], own_model=frozenset({0, 1})) == []


def test_a_start_before_the_previous_body_is_that_bodys_not_this_ones():
    # A starts, A's body, B starts, C starts, a body: only B and C contest it
    roles = ["start", "model", "start", "start", "model", "end", "end", "end"]
    assert marked(roles, [7, -1, 6, 5, -1, 3, 2, 0]) == [5, 6]


def test_a_start_whose_body_may_have_gone_to_a_newer_one_stays_a_rival():
    # A and B start, a body (to B, the newest: it may be A's), C starts, a body (to C: it may
    # be A's own, still unclaimed): A, B and C all marked, C too (review of 2026-12-01)
    roles = ["start", "start", "model", "start", "model", "end", "end", "end"]
    assert marked(roles, [7, 6, -1, 5, -1, 3, 1, 0]) == [5, 6, 7]

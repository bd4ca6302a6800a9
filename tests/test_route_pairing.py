"""Known answers for id-less pairing within a route (analysis/fifo.py): hono and koa-logger write
the method and path on a request's start and on its completion, so a completion takes the
oldest open start of its own method and path, not the oldest open start of any.

Line shapes as hono/logger (Hono 4.13) and koa-logger (koajs/logger) print them (see
tests/test_truth.py): under a second the completion carries its time in ms, above it whole
seconds (too coarse: the pairing gives the latency).
"""

from __future__ import annotations

from collections import deque

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from claude_perf.analysis.fifo import _fifo_pairs, in_route_order
from tests.test_truth import analysis, engine, requests


def hono_in(t: float, path: str) -> str:
    return f"{engine(t)} <-- POST {path}"


def hono_out(t: float, path: str, took: str) -> str:
    return f"{engine(t)} --> POST {path} \x1b[32m200\x1b[0m {took}"


def test_a_completion_takes_its_own_route_s_start() -> None:
    # A long /v1/messages and a short /v1/chat/completions overlap: first-in-first-out over
    # both gave the chat completion the messages' start (2 s) and the messages 4 s, inferred.
    a = analysis(
        [
            hono_in(0.0, "/v1/messages"),
            hono_in(1.0, "/v1/chat/completions"),
            hono_out(2.5, "/v1/chat/completions", "1s"),
            hono_out(5.0, "/v1/messages", "5s"),
        ]
    )
    got = requests(a)
    assert got["path"].astype(str).tolist() == ["/v1/chat/completions", "/v1/messages"]
    assert got["latency_s"].round(3).tolist() == [1.5, 5.0]
    assert got["latency_source"].astype(str).tolist() == ["paired", "paired"]
    assert not got["ambiguous"].any()  # alone in its route: the only possible pairing
    assert a.requests.ambiguous_pairings == 0


def test_within_a_route_the_oldest_open_start_and_an_inferred_mark() -> None:
    a = analysis(
        [
            hono_in(0.0, "/v1/messages"),
            hono_in(1.0, "/v1/messages"),
            hono_in(1.5, "/v1/chat/completions"),
            hono_out(3.0, "/v1/messages", "3s"),
            hono_out(4.0, "/v1/chat/completions", "2s"),
            hono_out(6.0, "/v1/messages", "5s"),
        ]
    )
    got = requests(a)
    assert got["latency_s"].round(3).tolist() == [3.0, 2.5, 5.0]
    assert got["ambiguous"].tolist() == [True, False, True]  # two /v1/messages were open


def test_koa_routes_pair_apart_and_a_query_is_no_other_route() -> None:
    a = analysis(
        [
            f"{engine(0.0)}   <-- POST /v1/messages?beta=true",
            f"{engine(0.5)}   <-- POST /v1/chat/completions",
            f"{engine(11.0)}   --> POST /v1/chat/completions 200 11s 1kb",
            f"{engine(20.0)}   --> POST /v1/messages 200 20s 5kb",
        ]
    )
    got = requests(a)
    assert got["latency_s"].round(3).tolist() == [10.5, 20.0]
    assert not got["ambiguous"].any()


def _reference(kinds: list[int], groups: list[int]) -> list[int]:
    """First-in-first-out per route, one event at a time: each end's start (-1 none)."""
    queues: dict[int, deque[int]] = {}
    out = []
    for i, (kind, group) in enumerate(zip(kinds, groups, strict=True)):
        queue = queues.setdefault(group, deque())
        if kind > 0:
            queue.append(i)
            out.append(-1)
        else:
            out.append(queue.popleft() if queue else -1)
    return out


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([1, -1]), st.integers(0, 3)), min_size=1, max_size=40))
def test_route_pairing_is_first_in_first_out_per_route(events: list[tuple[int, int]]) -> None:
    kinds = np.array([k for k, _ in events], dtype=np.int8)
    groups = np.array([g for _, g in events], dtype=np.int64)
    want = _reference(kinds.tolist(), groups.tolist())
    routed, (positions, routed_kinds) = in_route_order(groups, np.arange(len(kinds)), kinds)
    partner, queue_before, start_matched = _fifo_pairs(routed_kinds, routed)
    got = np.full(len(kinds), -1)
    ends = np.flatnonzero(partner >= 0)
    got[positions[ends]] = positions[partner[ends]]
    assert got.tolist() == want
    assert sorted(positions[start_matched].tolist()) == sorted(s for s in want if s >= 0)
    # the queue before each event is its own route's
    open_before = [
        sum(1 for j in range(i) if groups[j] == groups[i] and kinds[j] > 0)
        - sum(1 for j in range(i) if groups[j] == groups[i] and want[j] >= 0)
        for i in range(len(kinds))
    ]
    assert [open_before[p] for p in positions.tolist()] == queue_before.tolist()

"""First-in-first-out pairing of id-less starts and completions: over a source, or within routes.

Where every start and completion names its method and path, a completion takes the oldest open
start of the same method and path (its route).

Hono's logger (``<-- POST /v1/messages``, then ``--> POST /v1/messages 200 873ms``) and
koa-logger (``  <-- POST …``, ``  --> POST … 200 1,234ms``) write the request line on both; so
does tower-http's TraceLayer in its ``request{method=… uri=…}`` span. A ``GET /v1/models``
finishing first must not take a ``POST /v1/messages`` start because that start is the oldest
open one. Paths are compared bare (config/paths.bare_path: no query, no trailing slash).

The pairing's sequence is put in route order (each route's events together, in their own
order), and every step that walks it (_fifo_pairs, _expired_starts, pairing's surplus and
start-less checks) restarts at a route's first event; a pairing is ambiguous when another start
of the same route was open during its life. Vectorised: no Python per event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from claude_perf.config.paths import bare_path
from claude_perf.durations import NAT_NS

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


def route_groups(
    methods: pd.Series, path_codes: np.ndarray, path_labels: np.ndarray, seq_index: np.ndarray
) -> np.ndarray | None:
    """Per event of the pairing's sequence (``seq_index``), its route's number; None when some
    start or completion there names no method or no path (then the pairing is the source's
    first-in-first-out over all of them, as before), or when all are of one route."""
    import numpy as np
    import pandas as pd

    if not len(seq_index):
        return None
    codes = path_codes[seq_index]
    if (codes < 0).any():
        return None
    method_codes = pd.factorize(methods.take(seq_index), use_na_sentinel=True)[0]
    if (method_codes < 0).any():
        return None
    # Per distinct path (a handful), its bare form's number; then (method, bare path) numbered.
    bare = np.array([bare_path(str(p)) for p in path_labels[: codes.max() + 1]], dtype=object)
    bare_codes = pd.factorize(bare)[0]
    keys = method_codes.astype(np.int64) * (int(bare_codes.max()) + 1) + bare_codes[codes]
    groups = pd.factorize(keys)[0]
    return groups if groups.max() > 0 else None


def by_route(
    methods: pd.Series | None,
    paths: tuple[np.ndarray, np.ndarray],
    seq_index: np.ndarray,
    seq_kind: np.ndarray,
    seq_ts: np.ndarray,
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray, np.ndarray]:
    """(routes, and the pairing's sequence: its events, kinds and times) in route order where
    every start and completion of the sequence names its method and path (route_groups;
    ``methods``: the events' column, None when they have none; ``paths``: their path codes and
    labels); (None, the sequence as it is) otherwise."""
    if methods is None:
        return None, seq_index, seq_kind, seq_ts
    routes = route_groups(methods, *paths, seq_index)
    if routes is None:
        return None, seq_index, seq_kind, seq_ts
    routes, (seq_index, seq_kind, seq_ts) = in_route_order(routes, seq_index, seq_kind, seq_ts)
    return routes, seq_index, seq_kind, seq_ts


def in_route_order(
    groups: np.ndarray, *columns: np.ndarray
) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """(the routes' numbers in route order, ``columns`` in that order): each route's events
    together, each route in its own order (a stable sort)."""
    import numpy as np

    order = np.argsort(groups, kind="stable")
    return groups[order], tuple(column[order] for column in columns)


def route_firsts(groups: np.ndarray) -> np.ndarray:
    """Per position of a sequence in route order, the position of its route's first event."""
    import numpy as np

    new = np.r_[True, groups[1:] != groups[:-1]] if len(groups) else np.zeros(0, dtype=bool)
    return np.maximum.accumulate(np.where(new, np.arange(len(groups)), 0)) if len(groups) else new


def _fifo_pairs(
    kinds: np.ndarray, groups: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """FIFO-match a sequence of +1 (start) / -1 (end) events.

    Returns, per event: the matched start's position for ends (-1 when none), the queue length
    just before the event, and whether each start got matched. Vectorised: the queue length is a
    random walk reflected at zero, and an end that finds the queue empty is unmatched.
    ``groups``: the sequence is in route order (in_route_order), each route with a queue of
    its own: the walk restarts at each route's first event.
    """
    import numpy as np

    c = np.cumsum(kinds)
    if groups is None:
        floor = np.minimum(np.minimum.accumulate(c), 0)
    else:
        first = route_firsts(groups)
        c = c - (c[first] - kinds[first])  # each route's own walk
        # Its running minimum: earlier routes lifted above any later value (|c| <= len).
        lift = (int(groups[-1]) - groups.astype(np.int64)) * (2 * len(kinds) + 2)
        floor = np.minimum(np.minimum.accumulate(c + lift) - lift, 0)
    queue = c - floor
    queue_before = np.concatenate([[0], queue[:-1]])
    if groups is not None:
        queue_before[first == np.arange(len(kinds))] = 0
    is_end = kinds < 0
    matched_end = is_end & (queue_before > 0)
    start_positions = np.flatnonzero(kinds > 0)
    end_positions = np.flatnonzero(matched_end)
    partner = np.full(len(kinds), -1, dtype=np.int64)
    start_matched = np.zeros(len(kinds), dtype=bool)
    if groups is None:
        k = min(len(start_positions), len(end_positions))
        taken = start_positions[:k]
        partner[end_positions[:k]] = taken
    else:  # a route's j-th matched end takes its j-th start
        end_groups = groups[end_positions]
        rank = np.arange(len(end_positions)) - np.searchsorted(end_groups, end_groups)
        taken = start_positions[np.searchsorted(groups[start_positions], end_groups) + rank]
        partner[end_positions] = taken
    start_matched[taken] = True
    return partner, queue_before, start_matched


def _expired_starts(
    kinds: np.ndarray, ts_ns: np.ndarray, max_ns: int, groups: np.ndarray | None = None
) -> np.ndarray:
    """Starts (+1) that FIFO pairing with expiry drops: at each end (-1), the oldest open starts
    more than max_ns older than it (both times known) leave the queue before it takes one.
    ``groups``: in route order, a queue per route (_fifo_pairs).

    One pass per event in Python (about 1 µs each), run only when a stale pair exists.
    """
    from collections import deque

    import numpy as np

    expired = np.zeros(len(kinds), dtype=bool)
    times = ts_ns.tolist()
    queue: deque[int] = deque()
    new_route = np.zeros(len(kinds), dtype=bool)
    if groups is not None and len(kinds):
        new_route[1:] = groups[1:] != groups[:-1]
    for i, (kind, new) in enumerate(zip(kinds.tolist(), new_route.tolist(), strict=True)):
        if new:
            queue.clear()
        if kind > 0:
            queue.append(i)
            continue
        now = times[i]
        if now != NAT_NS:
            while queue and times[queue[0]] != NAT_NS and now - times[queue[0]] > max_ns:
                expired[queue.popleft()] = True
        if queue:
            queue.popleft()
    return expired

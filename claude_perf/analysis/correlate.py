"""Correlation rules inside one source, besides ids and first-in-first-out pairing.

- A *duration record* (a dialect line of role ``duration``, e.g. claude-code-openai-wrapper's
  ``🔍 Response: 200 in 873.00ms``) gives its duration to the completion it describes: the
  nearest completion in time, of the same status, not yet described, within ``CARRY_WINDOW_NS``.
- *Ids on starts only*: a start whose id no completion carries (a proxy that logs
  ``request_id=`` when a request arrives and a plain access line when it ends) joins the
  id-less starts, so that it is paired by time; its id's model records lend it their model.
- *Arrivals*: where a source logs health checks (or other endpoints) only as they arrive (no
  completion record of that kind at all, e.g. claude-max-api-proxy with ``DEBUG=1``), each
  arrival counts as one request of its kind, its outcome and latency unknown.

The constants were measured on real captures of the proxies in Docker (``fixtures/captures``):
the engine stamps stdout and stderr apart, and a line on one stream can land up to about 60 ms
after a line on the other that was written before it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from claude_perf.analysis.arrays import SparseFloats
from claude_perf.durations import NAT_NS

if TYPE_CHECKING:
    import numpy as np

# A duration record and the completion it describes are logged within this time of each other.
CARRY_WINDOW_NS = 250_000_000
# A duration record's time minus its duration lands this close to its request's start line
# (measured on fixtures/captures: at most 35 ms, median 0.7-2.3 ms; twice that and more here).
START_MATCH_NS = 100_000_000
# How many completions after a duration record (and one before) may be the one it describes:
# under concurrency another request's completion can be logged in between.
_CARRY_LOOKAHEAD = 4
# Duration records linked per block (the Python lists the loop reads are a block's).
_LINK_BLOCK = 1 << 16


# With the proxy's own stamps on both lines (``app_s``), its time minus its duration lands this
# close to its start's stamp: both stamps are cut to the millisecond (Python logging's asctime),
# and the middleware logs a moment after it reads its clock. Measured on fixtures/captures:
# -0.82 to +0.84 ms (wrapper-debug-concurrent, 44 records), -0.91 to +2.40 ms
# (wrapper-debug-sequential, 27). Another open start this close is a rival: the pair is unsure.
APP_MATCH_S = 0.003
# The proxy's stamps are cut to this: two starts this much farther than the nearest fit as well.
APP_RESOLUTION_S = 0.001


@dataclass(frozen=True)
class DurationLinks:
    """What the duration records tell: each completion's duration, and start ↔ completion pairs
    (a record names both: its start is ``duration`` before it). A pair is sure only when no
    other open start lies as close to the record's time minus its duration (``uncertain``)."""

    duration_s: SparseFloats  # per event: the completion's duration (NaN unknown)
    ends: np.ndarray  # completion events paired through a record
    starts: np.ndarray  # their start events
    carried: int
    unmatched: int
    uncertain: np.ndarray | None = None  # per pair: another start fits as well (None: none)


def link_durations(
    ts_ns: np.ndarray,
    is_duration: np.ndarray,
    is_start: np.ndarray,
    is_end: np.ndarray,
    status: np.ndarray,
    duration_s: np.ndarray,
    path_class: np.ndarray,
    app_s: np.ndarray | None = None,
) -> DurationLinks:
    """Give each duration record to its completion and, where it can, to its start.

    A record logged ``d`` after its request's start line (the wrapper's middleware times the
    request from the moment it logs ``Incoming request``) names that start: the open start
    nearest ``record time − d``. Where both lines carry the proxy's own stamp (``app_s``,
    seconds, NaN unknown) those are compared, within ``APP_MATCH_S``; else the engine's, within
    ``START_MATCH_NS`` (the engine stamps a line when it reads it, tens of ms late under load).
    The pair is marked uncertain when another open start lies within that window too: which
    of two requests stamped in the same millisecond a record describes, the log cannot tell.
    It then names its completion: the nearest in time of the same status and path class
    (health / model / other, from the start), not yet described, within ``CARRY_WINDOW_NS``.
    ``status`` is float (NaN unknown); ``path_class`` is a small integer per event (-1
    unknown). One pass in Python over the records (one per request at most, and only in
    sources whose dialect has them).
    """
    import numpy as np

    out = duration_s.copy()
    records = np.flatnonzero(is_duration & ~np.isnan(duration_s))
    ends = np.flatnonzero(is_end)
    none = np.zeros(0, dtype=np.int64)
    if not len(records) or not len(ends):
        return DurationLinks(SparseFloats.of(out), none, none, 0, len(records))
    engine_starts = _StartClock(np.flatnonzero(is_start & (ts_ns != NAT_NS)), ts_ns)
    # The proxy's own stamps only where given (a per-event array of NaN would cost 8 bytes an
    # event for nothing).
    app_starts = None
    if app_s is not None:
        app_starts = _StartClock(np.flatnonzero(is_start & ~np.isnan(app_s)), app_s)
    start_taken = np.zeros(len(ts_ns), dtype=bool)
    taken = ~np.isnan(duration_s[ends])  # a completion with its own duration keeps it
    linked_ends: list[int] = []
    linked_starts: list[int] = []
    uncertain: list[bool] = []
    carried = 0
    # The loop reads Python lists (fast to index), made a block of records at a time and only
    # for the completions those records may reach: lists of every event's time, status and
    # class cost about 80 bytes an event (520 MB at 10M generated lines, the assembly's peak).
    for first in range(0, len(records), _LINK_BLOCK):
        block = records[first : first + _LINK_BLOCK]
        ats = np.searchsorted(ends, block)
        lo = max(int(ats[0]) - 1, 0)
        near = ends[lo : min(int(ats[-1]) + _CARRY_LOOKAHEAD, len(ends))]
        end_times, end_codes = ts_ns[near].tolist(), status[near].tolist()
        end_classes = path_class[near].tolist()
        listed = (end_times, end_codes, end_classes)
        own = app_s[block].tolist() if app_s is not None else [math.nan] * len(block)
        rows = zip(
            block.tolist(),
            ats.tolist(),
            ts_ns[block].tolist(),
            status[block].tolist(),
            duration_s[block].tolist(),
            own,
            strict=True,
        )
        for record, at, time, code, seconds, own_s in rows:
            if time == NAT_NS:
                continue
            ks = range(max(at - 1, 0), min(at + _CARRY_LOOKAHEAD, len(ends)))
            clock = app_starts if app_starts is not None and not math.isnan(own_s) else None
            start, rival = _start_of(clock, engine_starts, own_s, time, seconds, start_taken)
            if rival:
                # Two starts fit: the completion beside this record says which kind of request
                # it describes (a health check that arrived within the window is no rival).
                beside = _nearest_end(ks, lo, listed, taken, time, code, -1)
                wanted = end_classes[beside - lo] if beside >= 0 else -1
                if wanted >= 0:
                    kind = (path_class, wanted)
                    found = _start_of(clock, engine_starts, own_s, time, seconds, start_taken, kind)
                    if found[0] >= 0:
                        start, rival = found
            cls = int(path_class[start]) if start >= 0 else -1
            best = _nearest_end(ks, lo, listed, taken, time, code, cls)
            if best < 0:
                continue
            taken[best] = True
            out[ends[best]] = duration_s[record]
            carried += 1
            if start >= 0:
                start_taken[start] = True
                linked_ends.append(int(ends[best]))
                linked_starts.append(start)
                uncertain.append(rival)
    return DurationLinks(
        SparseFloats.of(out),
        np.asarray(linked_ends, dtype=np.int64),
        np.asarray(linked_starts, dtype=np.int64),
        carried,
        len(records) - carried,
        np.asarray(uncertain, dtype=bool),
    )


def _start_of(
    clock: _StartClock | None,
    engine_starts: _StartClock,
    own_s: float,
    time: int,
    seconds: float,
    taken: np.ndarray,
    kind: tuple[np.ndarray, int] | None = None,
) -> tuple[int, bool]:
    """link_durations' start for a record: on the proxy's own clock where both lines carry its
    stamp (``clock``), else on the engine's, where its lag makes any start in the window a
    rival."""
    if clock is not None:
        at_s = own_s - seconds
        return clock.nearest(at_s, START_MATCH_NS / 1e9, APP_MATCH_S, APP_RESOLUTION_S, taken, kind)
    implied = time - int(seconds * 1e9)
    return engine_starts.nearest(implied, START_MATCH_NS, START_MATCH_NS, 1, taken, kind)


def _nearest_end(
    ks: range,
    lo: int,
    ends: tuple[list[int], list[float], list[int]],
    taken: np.ndarray,
    time: int,
    code: float,
    cls: int,
) -> int:
    """The undescribed completion (its index among the ends; -1: none within CARRY_WINDOW_NS)
    nearest ``time`` among ends ``ks``, of the record's status (``code``, NaN unknown) and path
    class (``cls``, -1 any); ``ends``: their times, statuses and classes listed from end ``lo``
    on."""
    end_times, end_codes, end_classes = ends
    best, best_gap = -1, CARRY_WINDOW_NS + 1
    for k in ks:
        j = k - lo
        if taken[k] or end_times[j] == NAT_NS:
            continue
        if not (math.isnan(code) or math.isnan(end_codes[j]) or code == end_codes[j]):
            continue
        if not (cls < 0 or end_classes[j] < 0 or end_classes[j] == cls):
            continue
        gap = abs(end_times[j] - time)
        if gap < best_gap:
            best, best_gap = k, gap
    return best


class _StartClock:
    """Start events ordered by one clock (the engine's ns or the proxy's own seconds)."""

    def __init__(self, events: np.ndarray, clock: np.ndarray) -> None:
        import numpy as np

        order = np.argsort(clock[events], kind="stable")
        self.events = events[order]
        self.times = clock[self.events]

    def nearest(
        self,
        at: float,
        tolerance: float,
        rival_within: float,
        resolution: float,
        taken: np.ndarray,
        kind: tuple[np.ndarray, int] | None = None,
    ) -> tuple[int, bool]:
        """(the untaken start nearest ``at`` within ``tolerance`` (-1: none), whether another
        untaken start fits as well: within ``rival_within`` of ``at``, or, when the nearest is
        itself farther than that (a proxy slower to log than the captures), within its own
        distance plus the clock's ``resolution``). Times in the clock's own unit. ``kind``:
        (per event path class, the one wanted): starts of another known class are left out."""
        import numpy as np

        lo = int(np.searchsorted(self.times, at - tolerance))
        hi = int(np.searchsorted(self.times, at + tolerance, side="right"))
        gaps = [
            (abs(float(self.times[i]) - at), int(self.events[i]))
            for i in range(lo, hi)
            if not taken[int(self.events[i])]
            and (kind is None or kind[0][int(self.events[i])] in (-1, kind[1]))
        ]
        if not gaps:
            return -1, False
        # the nearest; at a tie the earlier start (min keeps the first of equal keys)
        best_gap, best = min(gaps, key=lambda g: g[0])
        reach = max(rival_within, best_gap + resolution)
        return best, sum(gap <= reach for gap, _ in gaps) > 1


def ids_without_completion(
    request_id: np.ndarray, has_id: np.ndarray, is_end: np.ndarray
) -> np.ndarray:
    """Per event: it carries an id that no completion carries (so pairing by id cannot work).
    ``request_id``: per event its id, as a code (events.ids_of) or a text."""
    import numpy as np
    import pandas as pd

    rows = np.flatnonzero(has_id)
    codes, _ = pd.factorize(request_id[rows])
    if not len(rows):
        return np.zeros(len(has_id), dtype=bool)
    ended = np.zeros(int(codes.max()) + 1, dtype=bool)
    ended[codes[is_end[rows]]] = True
    out = np.zeros(len(has_id), dtype=bool)
    out[rows[~ended[codes]]] = True
    return out


# An id-less model record names the request that started around it: ccproxy-api's
# `plugin_request` came 0-10 ms after its request's start on the five ccproxy captures (median
# 1.2 ms after `request_started`), and up to 8.5 ms before the start implied by a completion's
# logged duration (the engine stamps the completion line a few ms late). The window: a start
# within this much before the record ...
MODEL_ID_BEFORE_NS = 15_000_000
# ... or this much after it. The record takes the id only when one request started in the
# window (a fast failure 10 ms before the next request's record leaves that record unnamed).
MODEL_ID_AFTER_NS = 10_000_000


def lend_ids_to_model_records(
    ts_ns: np.ndarray,
    request_id: np.ndarray,
    is_start: np.ndarray,
    is_end: np.ndarray,
    duration_s: np.ndarray | None,
    model_records: np.ndarray,
) -> np.ndarray:
    """``request_id`` (codes, -1 none) with each id-less ``model_records`` event given the id of
    the one request whose start lies within MODEL_ID_BEFORE_NS before it to MODEL_ID_AFTER_NS
    after it. A request's start is its start line, else (no start line logged: ccproxy-api logs
    none for a client that accepts SSE) its completion's time minus its logged duration. Two
    requests starting in the window leave the record without an id: its model is then not
    given to any request with an id (never guessed)."""
    import numpy as np

    records = np.flatnonzero(model_records & (request_id < 0) & (ts_ns != NAT_NS))
    with_id = (request_id >= 0) & (ts_ns != NAT_NS)
    starts = np.flatnonzero(is_start & with_id)
    if not len(records) or not with_id.any():
        return request_id
    at = [ts_ns[starts]]
    ids = [request_id[starts]]
    if duration_s is not None:
        ends = np.flatnonzero(is_end & with_id & ~np.isnan(duration_s))
        ends = ends[~np.isin(request_id[ends], request_id[starts])]
        at.append(ts_ns[ends] - np.round(duration_s[ends] * 1e9).astype(np.int64))
        ids.append(request_id[ends])
    times, owners = np.concatenate(at), np.concatenate(ids)
    order = np.argsort(times, kind="stable")
    times, owners = times[order], owners[order]
    if not len(times):
        return request_id
    t = np.sort(ts_ns[records])
    records = records[np.argsort(ts_ns[records], kind="stable")]
    lo = np.searchsorted(times, t - MODEL_ID_BEFORE_NS)
    hi = np.searchsorted(times, t + MODEL_ID_AFTER_NS, side="right")
    # changes[k]: owners[k] differs from owners[k - 1]; one owner in [lo, hi) when none changes
    changes = np.concatenate([[0], np.cumsum(owners[1:] != owners[:-1])])
    one = (hi > lo) & (changes[np.maximum(hi - 1, 0)] == changes[np.minimum(lo, len(times) - 1)])
    # ... and that start has this one record in the same window: a burst of arrivals logs its
    # records together, and a start the record found alone may be another record's.
    near = np.searchsorted(t, times + MODEL_ID_BEFORE_NS, side="right") - np.searchsorted(
        t, times - MODEL_ID_AFTER_NS
    )
    crowded = np.concatenate([[0], np.cumsum(near != 1)])
    one &= crowded[hi] == crowded[lo]
    out = request_id.copy()
    out[records[one]] = owners[lo[one]]
    return out


def lend_id_models(
    model: np.ndarray, request_id: np.ndarray, loose: np.ndarray, is_start: np.ndarray
) -> np.ndarray:
    """Models for the loose (id-only) starts from any record of the same id (first wins);
    ``model``: per event a model code (-1 none); ``request_id``: per event its id, as a code
    (events.ids_of) or a text."""
    import numpy as np

    rows = np.flatnonzero(loose)
    if not len(rows):
        return model
    out = model.copy()
    first: dict[object, int] = {}
    for rid, code in zip(request_id[rows].tolist(), model[rows].tolist(), strict=True):
        if code >= 0 and rid not in first:
            first[rid] = code
    starts = rows[is_start[rows] & (model[rows] < 0)]
    out[starts] = np.array([first.get(r, -1) for r in request_id[starts].tolist()], dtype=int)
    return out


def arrivals(is_start: np.ndarray, kind_path: np.ndarray, is_kind_end: np.ndarray) -> np.ndarray:
    """Starts of a kind (health, other) that count as requests: only where no completion of
    that kind is logged at all."""
    import numpy as np

    if is_kind_end.any():
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(is_start & kind_path)


# A swap must lower the summed squared z-scores of log latency by this much (a likelihood ratio
# of e^1 under the models' log-normal fits): a small gain is noise, not evidence.
SWAP_MARGIN = 2.0
# Fewest unambiguous latencies of a model before its fit is trusted to move a pairing.
MIN_PRIOR = 3
# Rounds of neighbour swaps (even pairs, then odd pairs): a pairing moves one place per round.
SWAP_ROUNDS = 3


def swap_by_likelihood(
    ts_ns: np.ndarray,
    ends: np.ndarray,
    partner_event: np.ndarray,
    start_model: np.ndarray,
    unambiguous_ends: np.ndarray,
) -> int:
    """Swap the starts of neighbouring inferred pairings where the models' own latency makes
    the swap clearly likelier; ``partner_event`` is changed in place; returns the swaps made.

    ``ends``: the inferred (ambiguous) completions, in log order; ``start_model``: per event,
    the code of the model its start names (-1 unknown; read at starts only);
    ``unambiguous_ends``: completions paired for sure, whose latency fits each model's
    log-normal (median and MAD of log latency). Two
    neighbours (e1, e2) with starts (s1, s2) swap when e1 − s2 > 0 and the summed squared
    z-scores drop by SWAP_MARGIN; even then odd neighbours (no two swaps of a round touch),
    SWAP_ROUNDS times. Models are integer codes throughout.
    """
    import numpy as np

    if len(ends) < 2:
        return 0
    codes = start_model
    median, spread = _fits(ts_ns, unambiguous_ends, partner_event, codes)
    if not np.isfinite(median).any():
        return 0
    swaps = 0
    for parity in (0, 1) * SWAP_ROUNDS:
        a = ends[parity:-1:2]
        b = ends[parity + 1 :: 2][: len(a)]
        s1, s2 = partner_event[a], partner_event[b]
        ok = (s1 >= 0) & (s2 >= 0)
        a, b, s1, s2 = a[ok], b[ok], s1[ok], s2[ok]
        m1, m2 = codes[s1], codes[s2]

        def cost(latency_ns: np.ndarray, m: np.ndarray) -> np.ndarray:
            mu, sd = median[m], spread[m]  # code -1 picks the trailing NaN: no evidence
            z = (np.log(np.maximum(latency_ns / 1e9, 1e-3)) - mu) / sd
            return np.where(np.isfinite(z), z * z, 0.0)

        now = cost(ts_ns[a] - ts_ns[s1], m1) + cost(ts_ns[b] - ts_ns[s2], m2)
        swapped = cost(ts_ns[a] - ts_ns[s2], m2) + cost(ts_ns[b] - ts_ns[s1], m1)
        do = (ts_ns[a] > ts_ns[s2]) & (swapped + SWAP_MARGIN < now)
        partner_event[a[do]], partner_event[b[do]] = s2[do], s1[do]
        partner_event[s2[do]], partner_event[s1[do]] = a[do], b[do]
        swaps += int(do.sum())
    return swaps


def _fits(
    ts_ns: np.ndarray, ends: np.ndarray, partner_event: np.ndarray, codes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per model code (and a trailing NaN for code -1): the median and robust spread of log
    latency of its sure pairings; NaN where fewer than MIN_PRIOR."""
    import numpy as np

    n_models = int(codes.max()) + 1 if len(codes) else 0
    median = np.full(n_models + 1, np.nan)
    spread = np.full(n_models + 1, np.nan)
    starts = partner_event[ends]
    ok = starts >= 0
    logs = np.log(np.maximum((ts_ns[ends[ok]] - ts_ns[starts[ok]]) / 1e9, 1e-3))
    models = codes[starts[ok]]
    for m in np.unique(models[models >= 0]).tolist():
        values = logs[models == m]
        if len(values) >= MIN_PRIOR:
            median[m] = float(np.median(values))
            spread[m] = max(1.4826 * float(np.median(np.abs(values - median[m]))), 0.1)
    return median, spread

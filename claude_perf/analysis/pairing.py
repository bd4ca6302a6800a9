"""Pairing inside one source: request ids, first-in-first-out with expiry, models and errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from claude_perf.analysis.arrays import (
    _NO_POS,
    CodedTexts,
    SparseTexts,
    _first_in_group,
    _gather,
    _join_per_group,
    _narrow_positions,
    _position_type,
    _positions,
    first_known_after,
)
from claude_perf.analysis.fifo import _expired_starts as _expired_starts  # (re-exported)
from claude_perf.analysis.fifo import _fifo_pairs as _fifo_pairs
from claude_perf.analysis.fifo import route_firsts
from claude_perf.analysis.id_lives import RACE_NS, id_occurrences
from claude_perf.durations import MAX_NS, NAT_NS

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

# An error record with no request in flight belongs to the next completion only if that
# completion follows within this time (a validation error is logged just before its 422).
_ORPHAN_ERROR_WINDOW_NS = 2_000_000_000


# stdout and stderr are stamped separately by the engine; records this close may be out of order.
_SKEW_NS = RACE_NS

# Two lines a server writes at once to one stream reach the engine microseconds apart (a 200's
# and a 422's access lines 2.4 µs apart under hypercorn, tests/test_real_proxies.py): 1 ms
# leaves room for a busy engine and stays far below two requests' own times.
_WRITTEN_TOGETHER_NS = 1_000_000


def spare_end_after(
    seq_kind: np.ndarray,
    partner: np.ndarray,
    matched: np.ndarray,
    seq_ts: np.ndarray,
    max_ns: int,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """Per matched end (``matched``: positions in the start/end sequence): whether a later end
    could have been its start's instead, leaving this one a request without a start line.

    Some proxies log no start for some requests (the wrapper's plain mode logs none for a
    streamed one, and its access line comes as the answer starts). There, a start alone in
    flight does not make its first completion its own: when more completions than starts follow
    before the next silence longer than ``max_ns`` (so a start-less one is among them) and the
    next completion is within ``max_ns`` of the start, the start may own that one instead, and
    every start still finds a completion (Hall's condition, for starts whose candidates are all
    later completions). Without such a surplus the pairing is the only possible one.
    ``groups``: in route order, each route apart (_fifo_pairs).
    """
    import numpy as np

    if not len(matched):
        return np.zeros(0, dtype=bool)
    # Completions minus starts strictly after each position, up to the next silence longer
    # than max_ns (no start can reach across it, so its surplus helps no one before it).
    c = np.cumsum(seq_kind)
    gap = np.diff(seq_ts) > max_ns
    gap &= (seq_ts[1:] != NAT_NS) & (seq_ts[:-1] != NAT_NS)
    if groups is not None:
        gap |= groups[1:] != groups[:-1]  # a route's surplus helps no other route
    last = np.r_[np.flatnonzero(gap), len(seq_kind) - 1]
    segment_end = last[np.r_[0, np.cumsum(gap)]]
    del gap, last
    # taken at the matched ends only: no int64 surplus per position beside the others
    surplus_after = c[matched] - c[segment_end[matched]]
    del c, segment_end
    ends = np.flatnonzero(seq_kind < 0)
    nxt = np.searchsorted(ends, matched, side="right")
    has_next = nxt < len(ends)
    next_ts = seq_ts[ends[np.minimum(nxt, len(ends) - 1)]] if len(ends) else seq_ts[matched]
    if groups is not None and len(ends):
        has_next &= groups[ends[np.minimum(nxt, len(ends) - 1)]] == groups[matched]
    start_ts = seq_ts[partner[matched]]
    in_time = has_next & (
        (start_ts == NAT_NS) | (next_ts == NAT_NS) | (next_ts - start_ts <= max_ns)
    )
    return (surplus_after >= 1) & in_time


def startless_guess(
    seq_kind: np.ndarray,
    partner: np.ndarray,
    ambiguous: np.ndarray,
    seq_ts: np.ndarray,
    max_ns: int,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """Per position of the start/end sequence: a completion first-in-first-out left without a
    start, while the latest start before it whose pairing is inferred is within ``max_ns``
    (that start may be this completion's, and its inferred completion the start-less one).
    ``groups``: in route order, the start of the completion's own route only."""
    import numpy as np

    n = len(seq_kind)
    unmatched_end = (seq_kind < 0) & (partner < 0)
    out = np.zeros(n, dtype=bool)
    if not unmatched_end.any():
        return out
    matched = np.flatnonzero(partner >= 0)
    inferred_start = np.zeros(n, dtype=bool)
    inferred_start[partner[matched[ambiguous[matched]]]] = True
    latest = np.maximum.accumulate(np.where(inferred_start, np.arange(n), -1)) if n else out
    ends = np.flatnonzero(unmatched_end)
    s = latest[ends]
    if groups is not None:
        s = np.where(s >= route_firsts(groups)[ends], s, -1)
    near = (s >= 0) & (
        (seq_ts[np.maximum(s, 0)] == NAT_NS)
        | (seq_ts[ends] == NAT_NS)
        | (seq_ts[ends] - seq_ts[np.maximum(s, 0)] <= max_ns)
    )
    out[ends[near]] = True
    return out


# Request kinds as small integer codes while assembling; names only in the final table.
_KIND_NAMES = ("other", "model", "health")


_OTHER, _MODEL, _HEALTH = range(3)


@dataclass(frozen=True)
class _Events:
    """The events frame's columns as numpy arrays, each decoded once (roles as masks).

    Paths are factorized: ``path_labels[path_codes]`` is the path column, None when unknown.
    """

    ts_ns: np.ndarray  # int64 nanoseconds, NAT_NS when unknown
    is_start: np.ndarray
    is_end: np.ndarray
    is_model_record: np.ndarray
    is_error: np.ndarray
    has_model: np.ndarray
    model: CodedTexts  # str or None by position (codes and labels)
    message: SparseTexts  # str or None by position
    request_id: np.ndarray  # int32 codes of the request ids, -1 none (events.ids_of)
    id_texts: pa.Array  # the ids of the codes (Arrow strings)
    path_codes: np.ndarray
    path_labels: np.ndarray
    has_figures: np.ndarray  # a line with usage figures (tokens, cost, CLI times)
    is_usage_record: np.ndarray  # role usage: figures of a request, on a line of their own


def _by_request_id(events: _Events, rows: np.ndarray, max_ns: int) -> tuple[dict[str, Any], int]:
    """Requests whose records carry an id: the last completion, the first start, any model.

    ``rows`` are the id-carrying records (ascending); the result has one entry per id that has
    a completion, plus the number of ids that have a start but none. An id that completes
    again more than ``max_ns`` later is another request (id_lives.id_occurrences).
    """
    import numpy as np
    import pandas as pd

    ids = pd.factorize(events.request_id[rows])[0]
    ids = id_occurrences(ids, events.is_end[rows], events.ts_ns[rows], max_ns)
    n_ids = int(ids.max()) + 1 if len(ids) else 0
    is_end = events.is_end[rows]
    is_start = events.is_start[rows]
    is_error = events.is_error[rows]
    messages = events.message[rows]
    last_end = _first_in_group(ids, n_ids, is_end, last=True)

    ts = events.ts_ns[rows]
    timed = is_start & (ts != NAT_NS)  # an unknown time must not win min()
    first_ns = np.full(n_ids, MAX_NS, dtype=np.int64)
    np.minimum.at(first_ns, ids[timed], ts[timed])
    first_ns[first_ns == MAX_NS] = NAT_NS

    # The completion's own model wins, then the start's, then any other record of the request
    # but a usage record: that one gives figures (ccproxy-api's stream usage line carries a
    # fixed default model, not the one that answered).
    named = events.has_model[rows]
    model_at = _first_in_group(ids, n_ids, named & is_end)
    others = named & ~is_end & ~is_start & ~events.is_usage_record[rows]
    for candidates in (named & is_start, others):
        model_at = np.where(model_at >= 0, model_at, _first_in_group(ids, n_ids, candidates))

    errors = np.flatnonzero(is_error)
    counts = np.bincount(ids[errors], minlength=n_ids)
    texts = _join_per_group(ids[errors], messages[errors], n_ids)
    first_error = _first_in_group(ids, n_ids, is_error & pd.notna(messages))

    # Usage figures: the completion's own, else a usage record of the same id.
    usage_at = np.full(n_ids, -1, dtype=np.int64)
    figures = events.has_figures[rows]
    if figures.any():  # only where a dialect line read some (no pass at all otherwise)
        usage_at = _first_in_group(ids, n_ids, figures & is_end, last=True)
        usage_at = np.where(
            usage_at >= 0,
            usage_at,
            _first_in_group(ids, n_ids, figures & events.is_usage_record[rows]),
        )

    has_start = np.bincount(ids[is_start], minlength=n_ids) > 0
    unmatched = int((has_start & (last_end < 0)).sum())
    done = np.flatnonzero(last_end >= 0)
    n = len(events.ts_ns)
    part = {
        "pos": _narrow_positions(rows[last_end[done]], n),
        "kind": np.full(len(done), _MODEL, dtype=np.int8),
        "start_ns": first_ns[done],
        "model_at": _narrow_positions(_positions(rows, model_at[done]), n),
        "error_count": counts[done].astype(np.int32),  # records: fewer than the events
        "error_text": texts.rows(done),
        "first_error_at": _narrow_positions(_positions(rows, first_error[done]), n),
        "has_id": np.ones(len(done), dtype=bool),
        "ambiguous": np.zeros(len(done), dtype=bool),
        "stream_at": _narrow_positions(np.full(len(done), -1), n),
        "usage_at": _narrow_positions(_positions(rows, usage_at[done]), n),
        "usage_inferred": np.zeros(len(done), dtype=bool),
        "arrival": np.zeros(len(done), dtype=bool),
    }
    return part, unmatched


def _attach_models(
    events: _Events,
    plain: np.ndarray,
    partner_event: np.ndarray,
    start_events: np.ndarray,
    model_ends: np.ndarray,
) -> np.ndarray:
    """Per event, the event whose model an id-less completion takes (-1 for none): its own, its
    start's, else a model record's.

    A model record (e.g. the wrapper's "Model 'opus' is not in the known supported models list")
    belongs to the newest start still open at that moment; with none open, to the next
    completion that has no start (a streaming request logs no start line).
    """
    import numpy as np

    n = len(partner_event)
    with_model = plain & events.has_model
    target = np.full(n, -1, dtype=_position_type(n))
    rank = np.full(n, 9, dtype=np.int8)  # widened only at the candidates, for the key below
    own_end = with_model & events.is_end
    target[own_end] = np.flatnonzero(own_end)
    rank[own_end] = 0
    own_start = with_model & events.is_start & (partner_event >= 0)
    target[own_start] = partner_event[own_start]
    rank[own_start] = 1
    records = np.flatnonzero(with_model & events.is_model_record)
    if len(records):
        i = np.searchsorted(start_events, records) - 1
        has_start = i >= 0
        start_of = _gather(start_events, i, has_start, -1)
        end_of_start = _gather(partner_event, start_of, has_start, -1)
        # Open at the record, or logged right after it: stdout and stderr are stamped apart,
        # so a fast completion can land before its own request's body lines.
        start_ts = _gather(events.ts_ns, start_of, has_start, NAT_NS)
        record_ts = events.ts_ns[records]
        near = (start_ts != NAT_NS) & (record_ts != NAT_NS) & (record_ts - start_ts <= _SKEW_NS)
        start_open = has_start & ((end_of_start > records) | (end_of_start < 0) | near)
        to_start = start_open & (end_of_start >= 0)
        target[records[to_start]] = end_of_start[to_start]
        j = np.searchsorted(model_ends, records)
        next_end = _gather(model_ends, j, j < len(model_ends), -1)
        startless = (next_end >= 0) & (_gather(partner_event, next_end, next_end >= 0, 0) < 0)
        to_next = ~start_open & startless
        target[records[to_next]] = next_end[to_next]
        rank[records] = 2
    # Per target, the candidate of lowest (rank, position): one integer key, minimum per target.
    chosen = np.flatnonzero(target >= 0)
    keys, targets = rank[chosen].astype(np.int64) * n + chosen, target[chosen]
    del target, rank, chosen  # per event: freed before the per-event minimum
    best = np.full(n, _NO_POS, dtype=np.int64)
    np.minimum.at(best, targets, keys)
    del keys, targets
    found = np.flatnonzero(best != _NO_POS)
    out = np.full(n, -1, dtype=_position_type(n))
    out[found] = best[found] % n
    return out


def contested_models(
    events: _Events, plain: np.ndarray, partner_event: np.ndarray, start_events: np.ndarray
) -> np.ndarray:
    """Per event, whether the completion's model may be another request's. A model record goes
    to the newest start before it; every other start still open then, that named no model of
    its own and had no record go to it yet, may own the record instead (the wrapper in DEBUG
    mode reads each body after an await, so under load requests B and C can start between
    request A's start and A's body). The newest start's completion and the rivals' are then
    marked, never one of them sure with another's model.

    A start is a rival from its own position until its completion or the first record that
    goes to it, whichever comes first: a record is contested when any such span covers it
    (counted by two sorted searches, not per record)."""
    import numpy as np

    n = len(partner_event)
    out = np.zeros(n, dtype=bool)
    records = np.flatnonzero(plain & events.has_model & events.is_model_record)
    if not len(records) or len(start_events) < 2:
        return out
    newest_at = np.searchsorted(start_events, records) - 1
    ok = newest_at >= 0
    records, newest_at = records[ok], newest_at[ok]
    if not len(records):
        return out
    # per start: the first record that goes to it (the records are in log order)
    first_record = np.full(len(start_events), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first_record, newest_at, records)
    ends = partner_event[start_events]
    span_end = np.where(ends >= 0, ends, np.iinfo(np.int64).max)
    span_end = np.minimum(span_end, first_record)
    own = events.has_model[start_events] & events.is_start[start_events]
    rivals = np.flatnonzero(~own)
    begin, stop = start_events[rivals], np.sort(span_end[rivals])
    # spans covering each record: begun before it, not stopped at or before it
    covering = np.searchsorted(np.sort(begin), records) - np.searchsorted(stop, records, "right")
    contested = covering > 0
    if not contested.any():
        return out
    # the rivals: spans that cover a contested record (any record a span covers is contested)
    hit = records[contested]
    lo = np.searchsorted(hit, start_events[rivals], "right")
    hi = np.searchsorted(hit, span_end[rivals], "left")
    marked_starts = np.concatenate(
        [start_events[rivals[hi > lo]], start_events[newest_at[contested]]]
    )
    marked_ends = partner_event[marked_starts]
    out[marked_ends[marked_ends >= 0]] = True
    return out


def _run_split_by_success(
    j: np.ndarray,
    run_begins: np.ndarray,
    run_id: np.ndarray,
    run_start: np.ndarray,
    run_end: np.ndarray,
    target: np.ndarray,
    failed_end: np.ndarray,
) -> np.ndarray:
    """Per error record: its run is the first half of a failure's run that a success's line
    cut in two, so it goes to that failure. Two halves within the stdout/stderr skew of each
    other, the first right before a success and the second right before the failure that
    follows it: a request writes its error records together, then its response line, and
    another worker's or task's access line came between them. (gunicorn with two uvicorn
    workers: a malformed request's "Request validation failed" at .650, a 200 of the other
    worker at .652, "Validation errors" at .656, the 422 at .660; the 200 took the first half
    and was counted failed, 1 run in 15 of a live test under load.)"""
    import numpy as np

    n_runs = len(run_begins)
    split = np.zeros(n_runs, dtype=bool)
    if n_runs > 1:
        rj, rtarget = j[run_begins], target[run_begins]
        first, second = np.arange(n_runs - 1), np.arange(1, n_runs)
        split[first] = (
            (rtarget[first] == rj[first])  # the first half went to the completion after it
            & (rj[second] == rj[first] + 1)  # one completion between the halves
            & (rtarget[second] == rj[second])  # the second half goes to the one after it
            & ~failed_end[np.minimum(rj[first], len(failed_end) - 1)]
            & failed_end[np.minimum(rj[second], len(failed_end) - 1)]
            & (run_start[run_begins[second]] - run_end[run_begins[first]] <= _SKEW_NS)
        )
    return split[run_id]


def _attach_errors(
    ts: np.ndarray,
    errors: np.ndarray,
    model_ends: np.ndarray,
    messages: SparseTexts,
    streaming_end: np.ndarray | None = None,
    end_start_ns: np.ndarray | None = None,
    written_ns: np.ndarray | None = None,
    failed_end: np.ndarray | None = None,
    end_start_at: np.ndarray | None = None,
) -> tuple[np.ndarray, SparseTexts, np.ndarray, int]:
    """Each run of error records goes to the completion closest to it in time.

    A request's error records are logged just before its response, but the engine stamps stdout
    (uvicorn's access line) and stderr (the application's records) separately, so the two can
    swap by a few microseconds. A run of error records (no completion between them, gaps under
    50 ms) therefore goes to the completion just before it when that one is nearer and within
    50 ms, else to the next one within 50 ms, else to the latest streaming response before it
    (still running after its completion line), else to the next one when it follows within 2 s
    and had started by then (its start time ``end_start_ns``, NAT_NS when unknown); else to
    none (counted as outside any request). A run whose first record was written after the
    completion before it had reached the engine (``written_ns``, per error record: the earliest
    time on the engine's clock it can have been written, NAT_NS unknown) is never that
    completion's: a request logs its errors before its response line. When the completion
    right after a run succeeded and the next one, written with it (within
    ``_WRITTEN_TOGETHER_NS``), failed (``failed_end``: per completion, a 4xx/5xx status), the
    run is the failure's: the server wrote the two access lines at once, in either order.
    ``end_start_at`` (per completion, its start's event as paired, -1 none): without times, a
    completion whose start line comes after the run had not begun when it was written.

    Returns, per model completion: the error records attached, their joined text (sparse: no
    text when none) and the event of the first one with a message (-1 when none); and the
    number of error records left unattached.
    """
    import numpy as np
    import pandas as pd

    n_ends = len(model_ends)
    if len(errors) == 0:
        return np.zeros(n_ends, dtype=np.int64), SparseTexts.none(n_ends), np.full(n_ends, -1), 0
    j = np.searchsorted(model_ends, errors)
    err_ts = ts[errors]
    known = err_ts != NAT_NS
    new_run = np.ones(len(errors), dtype=bool)
    new_run[1:] = (j[1:] != j[:-1]) | ~known[1:] | ~known[:-1]
    new_run[1:] |= (err_ts[1:] - err_ts[:-1]) > _SKEW_NS
    # Runs are contiguous: reduce each slice, then spread the result over its records.
    run_begins = np.flatnonzero(new_run)
    run_id = np.cumsum(new_run) - 1
    run_start = np.minimum.reduceat(err_ts, run_begins)[run_id]
    run_end = np.maximum.reduceat(err_ts, run_begins)[run_id]
    has_next = j < n_ends
    has_prev = j > 0
    nxt = _gather(model_ends, j, has_next, -1)
    prv = _gather(model_ends, j - 1, has_prev, -1)
    next_ts = _gather(ts, nxt, has_next, NAT_NS)
    prev_ts = _gather(ts, prv, has_prev, NAT_NS)
    to_next = np.where(
        has_next & known & (next_ts != NAT_NS), next_ts - run_end, np.iinfo(np.int64).max
    )
    to_prev = np.where(
        has_prev & known & (prev_ts != NAT_NS), run_start - prev_ts, np.iinfo(np.int64).max
    )
    use_prev = (to_prev <= _SKEW_NS) & (to_prev < to_next)
    if written_ns is not None:
        # Behind gunicorn's access handler a 422's line came 3.7 ms after its validation errors
        # and the 200 before them 3.5 ms: the nearer completion, but one already logged.
        unknown = np.iinfo(np.int64).min
        run_written = np.where(written_ns == NAT_NS, unknown, written_ns)
        written_first = np.minimum.reduceat(run_written, run_begins)[run_id]
        use_prev &= ~((written_first != unknown) & (prev_ts != NAT_NS) & (written_first > prev_ts))
    # Only adjacency ties an id-less error record to a request: one logged in the middle of a
    # long request (a background task's error) belongs to no request and fails none.
    next_started = has_next
    if end_start_ns is not None:
        # Never a request that had not started when the error was logged (a start line and the
        # error records are the application's own, on one stream: their order is reliable).
        next_start = _gather(end_start_ns, j, has_next, NAT_NS)
        next_started = has_next & ((next_start == NAT_NS) | (next_start <= run_start))
    adjacent_next = ~use_prev & next_started & (to_next <= _SKEW_NS)
    use_next = ~use_prev & next_started & (to_next <= _ORPHAN_ERROR_WINDOW_NS)
    # No time on either completion beside the run (plain `docker logs`: access lines carry
    # none): only line order is left, where stdout's access line and stderr's records swap; so
    # the run goes to the neighbour that failed when just one did, else to the next (errors
    # come before the response line), or to the one before when the next had not started.
    untimed = (~has_next | (next_ts == NAT_NS)) & (~has_prev | (prev_ts == NAT_NS))
    untimed &= has_next | has_prev
    if end_start_at is not None:  # (per completion, its start's event as paired, -1 none)
        # line order alone: a completion whose start line comes after the run had not begun
        next_start_at = _gather(end_start_at, j, has_next, -1)
        next_started = next_started & (
            (next_start_at < 0) | (next_start_at < errors[run_begins][run_id])
        )
    can_next, can_prev = untimed & next_started, untimed & has_prev
    to_prev_untimed = can_prev & ~can_next
    if failed_end is not None and untimed.any():
        failed_next = failed_end[np.minimum(j, n_ends - 1)] & has_next
        failed_prev = failed_end[np.maximum(j - 1, 0)] & has_prev
        # ...unless a line logged after that failure has a time (an application stamp) and the
        # run was written well after it: a request's records come before its response line,
        # swapped with it by the streams' race at most (the wrapper's reference capture: a
        # 422, the next request's start at 08.353, then a CLI failure's records at 08.591, its
        # 200 after them: the records are the 200's).
        after_prev = first_known_after(ts, model_ends[np.maximum(j - 1, 0)], NAT_NS)
        failed_prev &= ~(known & (after_prev != NAT_NS) & (run_start - after_prev > _SKEW_NS))
        to_prev_untimed |= can_prev & can_next & failed_prev & ~failed_next
    use_prev |= to_prev_untimed
    adjacent_next |= can_next & ~use_prev
    use_next |= can_next & ~use_prev
    target = np.where(use_prev, j - 1, np.where(use_next, j, -1))  # index into model_ends
    if failed_end is not None and n_ends > 1:
        after = np.minimum(j + 1, n_ends - 1)
        after_ts = ts[model_ends[after]]
        together = (j + 1 < n_ends) & (next_ts != NAT_NS) & (after_ts != NAT_NS)
        together &= after_ts - next_ts <= _WRITTEN_TOGETHER_NS
        swap = adjacent_next & together & ~failed_end[np.minimum(j, n_ends - 1)] & failed_end[after]
        swap |= _run_split_by_success(j, run_begins, run_id, run_start, run_end, target, failed_end)
        target = np.where(swap, j + 1, target)
        adjacent_next |= swap
    if streaming_end is not None and streaming_end.any():
        # A streaming response goes on after its completion line, so its errors come later:
        # unless the next completion is right there, they go to the latest streaming
        # completion before them (the only response known to be still running).
        stream_at = np.where(streaming_end, np.arange(n_ends), -1)
        np.maximum.accumulate(stream_at, out=stream_at)  # in place: one per completion
        latest_stream = _gather(stream_at, j - 1, has_prev, -1)
        del stream_at
        to_stream = ~use_prev & ~adjacent_next & (latest_stream >= 0)
        target = np.where(to_stream, latest_stream, target)
    attach = target >= 0
    orphans = int((~attach).sum())
    ends = target[attach]
    attached = errors[attach]
    count = np.bincount(ends, minlength=n_ends).astype(np.int32)  # records: fewer than events
    attached_texts = messages[attached]
    text = _join_per_group(ends, attached_texts, n_ends)
    first = _positions(attached, _first_in_group(ends, n_ends, pd.notna(attached_texts)))
    return count, text, first, orphans

"""Server-side usage figures of each request: tokens, cost and the CLI's own time.

The figures come from dialect lines' ``fields`` (config/dialect.py FIELDS). A completion that
carries them (a JSON ``request.complete`` with the API's ``usage``) has its own; a request id
ties a usage record to its request; otherwise a *usage record* (role ``usage``: the wrapper's
``ResultMessage(...)`` in DEBUG mode, logged when the CLI run ends) is linked like a duration
record (analysis/correlate.py), in two steps:

1. *Carry*: a non-streaming request is answered as soon as its CLI run ends, so its completion
   is logged right after its record (measured on fixtures/captures/wrapper-debug-*: 0-81 ms
   after it, the engine's stdout/stderr skew included; another request's completion came 114 ms
   after at the nearest). The record goes to the nearest such completion within
   ``CARRY_AFTER_NS`` after it (``_SKEW_NS`` before it), whose request started before the CLI
   run did; exact when it is the only one there, inferred when several were.
2. *By start*, for the rest (a streaming response's completion line comes when it starts, long
   before its CLI run ends): the run began ``cli_duration_ms`` before its record (the *implied
   CLI start*), a little after its request's start line (53-164 ms in a sequential run, up to
   443 ms with 4 in flight on 2 busy cores). The record goes to a start not yet given one, logged
   before the implied CLI start and at most ``CLI_START_WINDOW_NS`` before it, whose request
   has not completed before the record (unless streaming). Among several such starts, the one
   whose distance to the implied CLI start is nearest the typical delay (the median of the
   exact links; none: the latest start) is taken, and marked inferred.

Each completion and each start takes one record at most: one record never goes to two requests.
A model record (role ``model``) is read the same way: the model a start names is its own, else
that of a record logged right after it (start_models).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from claude_perf.analysis.arrays import CodedTexts
from claude_perf.analysis.pairing import _SKEW_NS, _Events
from claude_perf.config.dialect import FIELDS
from claude_perf.durations import NAT_NS

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

# A non-streaming completion is logged at most this long after its usage record (measured: up
# to 81 ms with 4 in flight; another request's came 114 ms after at the nearest).
CARRY_AFTER_NS = 100_000_000
# A CLI run begins at most this long after its request's start line (measured: under 0.5 s;
# ten times that and more here, for a proxy that queues its CLI runs briefly).
CLI_START_WINDOW_NS = 5_000_000_000

# The request table's usage columns, after the others (analysis/table.py COLUMNS).
USAGE_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "cost_usd",
    "cli_overhead_s",
    "output_tokens_per_s",
    "usage_inferred",
)


@dataclass(frozen=True)
class UsageLinks:
    """Per usage record (in the order given): the completion event it was given to (-1 none:
    not given, or given to a start that never completed) and whether that was inferred."""

    end: np.ndarray
    inferred: np.ndarray


def link_usage(
    ts_ns: np.ndarray,
    records: np.ndarray,
    cli_duration_ms: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    partner_event: np.ndarray,
    may_end_early: np.ndarray,
    guessed_early: np.ndarray | None = None,
) -> UsageLinks:
    """Give each usage record (event positions ``records``) to a request (module docstring).

    ``starts`` / ``ends``: the start and completion events that may take one (model requests);
    ``partner_event``: per event, its start's completion or its completion's start (-1 none);
    ``cli_duration_ms``: per event (NaN unknown: the record's own time is the implied CLI
    start); ``may_end_early``: per event, a completion logged before its CLI run ends (a
    streaming response). One pass in Python over the records per step (one per request at
    most, only in sources that log them).
    """
    import numpy as np

    n_rec = len(records)
    out_end = np.full(n_rec, -1, dtype=np.int64)
    inferred = np.zeros(n_rec, dtype=bool)
    if not n_rec:
        return UsageLinks(out_end, inferred)
    rec_ts = ts_ns[records]
    cli_ns = np.nan_to_num(cli_duration_ms[records] * 1e6).astype(np.int64)
    implied = np.where(rec_ts != NAT_NS, rec_ts - cli_ns, NAT_NS)
    order = [int(r) for r in np.argsort(implied, kind="stable") if implied[r] != NAT_NS]
    given = np.zeros(len(ts_ns), dtype=bool)  # completions and starts already given one
    ends = ends[ts_ns[ends] != NAT_NS]
    ends = ends[np.argsort(ts_ns[ends], kind="stable")]
    delays: list[int] = []
    for r in order:  # 1. carry to the completion logged right after
        end, several = _carry(
            ts_ns, ends, partner_event, may_end_early, given, rec_ts[r], implied[r], guessed_early
        )
        if end < 0:
            continue
        given[end] = True
        start = int(partner_event[end])
        if start >= 0:
            given[start] = True
            if not several:
                delays.append(int(implied[r] - ts_ns[start]))
        out_end[r], inferred[r] = end, several
    starts = starts[ts_ns[starts] != NAT_NS]
    starts = starts[np.argsort(ts_ns[starts], kind="stable")]
    start_ts = ts_ns[starts]
    delay_ns = float(np.median(delays)) if delays else 0.0
    for r in order:  # 2. by start, for the records no completion took
        if out_end[r] >= 0:
            continue
        lo = int(np.searchsorted(start_ts, implied[r] - CLI_START_WINDOW_NS))
        hi = int(np.searchsorted(start_ts, implied[r] + _SKEW_NS, side="right"))
        free = [
            s
            for s in starts[lo:hi].tolist()
            if not given[s] and not _ended_before(ts_ns, partner_event, may_end_early, s, rec_ts[r])
        ]
        if not free:
            continue
        gaps = [abs((implied[r] - int(ts_ns[s])) - delay_ns) for s in free]
        best = free[int(np.argmin(gaps))]
        given[best] = True
        out_end[r], inferred[r] = partner_event[best], len(free) > 1
    return UsageLinks(out_end, inferred)


def plain_usage(
    events: _Events,
    ev: pd.DataFrame,
    plain: np.ndarray,
    start_events: np.ndarray,
    partner_event: np.ndarray,
    model_ends: np.ndarray,
    streaming_end: np.ndarray,
    inferred_event: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per id-less model completion (``model_ends``; ``streaming_end``: its response may go on
    after its line; ``inferred_event``: per event, its pairing is a guess): the event with its
    usage figures (its own, else a usage record linked to it, -1 none), and whether that link
    was inferred."""
    import numpy as np

    usage_at = np.where(events.has_figures[model_ends], model_ends, -1)
    inferred = np.zeros(len(model_ends), dtype=bool)
    records = np.flatnonzero(plain & events.is_usage_record)
    if not len(records) or not len(model_ends):
        # (id-less usage records in a source whose completions all carry ids, as in
        # claude-relay-service's file log: nothing here to give them to)
        return usage_at, inferred

    cli_duration_ms = (
        ev["cli_duration_ms"].to_numpy(dtype=float)
        if "cli_duration_ms" in ev.columns
        else np.full(len(ev), np.nan)
    )
    may_end_early = np.zeros(len(ev), dtype=bool)
    may_end_early[model_ends] = streaming_end
    links = link_usage(
        events.ts_ns,
        records,
        cli_duration_ms,
        start_events,
        model_ends,
        partner_event,
        may_end_early,
        may_end_early & inferred_event if inferred_event is not None else None,
    )
    slot = np.full(len(ev), -1, dtype=np.int64)
    slot[model_ends] = np.arange(len(model_ends))
    at = slot[np.maximum(links.end, 0)]
    take = (links.end >= 0) & (at >= 0)
    take &= usage_at[np.maximum(at, 0)] < 0  # a completion's own figures win
    usage_at[at[take]] = records[take]
    inferred[at[take]] = links.inferred[take]
    return usage_at, inferred


def models_from_usage(columns: dict[str, np.ndarray], model: CodedTexts) -> int:
    """A request whose model is unknown takes the one its usage record names, marked inferred
    (``ambiguous``) when the record's attachment was; where both are known and differ, the
    request keeps its own. Returns how many differ. In place on the request ``columns``
    (model_at, usage_at, usage_inferred, ambiguous: table.finish); ``model``: the events'.

    Only a dialect line's model group names a usage record's model (parse/dialect_match
    ``no_generic_model``): claude-relay-service's ``usage recorded - Model: X`` names the
    model of the upstream's usage data, else the request body's (its normalizeUsageData).
    """
    import numpy as np

    usage_at = np.asarray(columns["usage_at"], dtype=np.int64)
    rows = np.flatnonzero(usage_at >= 0)
    if not len(rows):
        return 0
    named = model[usage_at[rows]]
    model_at = np.asarray(columns["model_at"], dtype=np.int64)[rows]
    own = model[np.maximum(model_at, 0)]
    has_named = np.array([m is not None for m in named], dtype=bool)
    has_own = (model_at >= 0) & np.array([m is not None for m in own], dtype=bool)
    take = rows[has_named & ~has_own]
    columns["model_at"][take] = usage_at[take]
    columns["ambiguous"][take] |= np.asarray(columns["usage_inferred"], dtype=bool)[take]
    differ = has_named & has_own
    return int(sum(a != b for a, b in zip(named[differ], own[differ], strict=True)))


def _carry(
    ts_ns: np.ndarray,
    ends: np.ndarray,
    partner_event: np.ndarray,
    may_end_early: np.ndarray,
    given: np.ndarray,
    rec_ns: int,
    implied_ns: int,
    guessed_early: np.ndarray | None = None,
) -> tuple[int, bool]:
    """(the completion a record carries its figures to, -1 none; whether several could).
    ``ends`` are in time order. A completion passed over as a stream only because its inferred
    start said so (``guessed_early``) could be the record's as well: a rival. (copilot-api, 4
    in flight: an answer's record right before its own 200, whose start was guessed to be a
    stream's, went to a 429 95 ms later and was called sure.)"""
    import numpy as np

    end_ts = ts_ns[ends]
    lo = int(np.searchsorted(end_ts, rec_ns - _SKEW_NS))
    hi = int(np.searchsorted(end_ts, rec_ns + CARRY_AFTER_NS, side="right"))
    best, best_gap, count = -1, CARRY_AFTER_NS + _SKEW_NS + 1, 0
    for end in ends[lo:hi].tolist():
        start = int(partner_event[end])
        if guessed_early is not None and guessed_early[end] and not given[end]:
            count += 1  # a rival, never the pick
            continue
        if given[end] or may_end_early[end] or (start >= 0 and given[start]):
            continue
        if start >= 0 and ts_ns[start] != NAT_NS and ts_ns[start] > implied_ns + _SKEW_NS:
            continue  # its request began after this CLI run did
        count += 1
        gap = abs(int(ts_ns[end]) - rec_ns)
        if gap < best_gap:
            best, best_gap = end, gap
    return best, count > 1


def _ended_before(
    ts_ns: np.ndarray, partner_event: np.ndarray, may_end_early: np.ndarray, start: int, at: int
) -> bool:
    """The start's request completed before ``at`` (less the skew), and not as a stream: its
    CLI run was over (or never happened) by then."""
    end = int(partner_event[start])
    if end < 0 or may_end_early[end] or ts_ns[end] == NAT_NS:
        return False
    return bool(ts_ns[end] < at - _SKEW_NS)


def usage_table(
    ev: pd.DataFrame, usage_at: np.ndarray, inferred: np.ndarray, latency_s: np.ndarray
) -> Mapping[str, np.ndarray]:
    """The request table's usage columns (USAGE_COLUMNS): each request's figures from the event
    ``usage_at`` (-1: none, NaN). CLI overhead is the CLI's run time minus its API time; output
    tokens per second are over the API time where logged (the time the model took, whatever
    the stream did), else over the request's latency."""
    import numpy as np

    n = len(usage_at)
    has = usage_at >= 0
    if not has.any():
        # No request has figures (most logs): one read-only NaN column stands for all of them
        # (a generated million-line log has 430,000 requests: 25 MB saved). Read-only, so that
        # a write into one of them raises instead of changing the others.
        unknown = np.full(n, np.nan)
        unknown.flags.writeable = False
        never = np.zeros(n, dtype=bool)
        never.flags.writeable = False
        return {name: never if name == "usage_inferred" else unknown for name in USAGE_COLUMNS}

    def figure(name: str) -> np.ndarray:
        out = np.full(n, np.nan)
        if name in ev.columns and has.any():
            out[has] = ev[name].to_numpy(dtype=float)[usage_at[has]]
        return out

    values = {name: figure(name) for name in FIELDS}
    cli_s = values["cli_duration_ms"] / 1000.0
    api_s = values["cli_api_duration_ms"] / 1000.0
    seconds = np.where(api_s > 0, api_s, latency_s)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(seconds > 0, values["output_tokens"] / seconds, np.nan)
    return {
        "input_tokens": values["input_tokens"],
        "output_tokens": values["output_tokens"],
        "cache_read_tokens": values["cache_read_tokens"],
        "cache_creation_tokens": values["cache_creation_tokens"],
        "cost_usd": values["cost_usd"],
        "cli_overhead_s": cli_s - api_s,
        "output_tokens_per_s": rate,
        "usage_inferred": inferred & has,
    }


@dataclass(frozen=True)
class Spread:
    """n, mean, p50 and p95 of a per-request figure (None: no request has it)."""

    n: int
    mean: float
    p50: float
    p95: float


@dataclass(frozen=True)
class UsageMetrics:
    """One model's server-side usage figures, from the requests that carry any.

    Token and cost sums count every request with figures, failed ones too (their tokens were
    used); a sum is None when no request logged that figure (unknown, never 0). Rates and CLI
    overhead are over succeeded requests. ``cost_usd`` is what the CLI reports
    (``total_cost_usd``): on a subscription plan it is the API-equivalent price, not a bill.
    """

    requests: int  # model requests with usage figures
    inferred: int  # of which the figures' attachment was inferred (several requests open)
    input_tokens: int | None
    output_tokens: int | None
    cache_read_tokens: int | None
    cache_creation_tokens: int | None
    cost_usd: float | None
    output_tokens_per_s: Spread | None  # per request
    output_tokens_per_s_overall: float | None  # Σ output tokens / Σ their seconds
    cli_overhead_s: Spread | None


def spread_of(values: np.ndarray) -> Spread | None:
    """n, mean, p50, p95 of the known values (linear interpolation, numpy's default)."""
    import numpy as np

    known = values[~np.isnan(values)]
    if not len(known):
        return None
    p50, p95 = np.percentile(known, [50, 95])
    return Spread(len(known), float(known.mean()), float(p50), float(p95))


def has_usage(table: pd.DataFrame) -> bool:
    """Whether any request of the table carries a usage figure."""
    return any(table[name].notna().any() for name in USAGE_COLUMNS[:6] if name in table.columns)


def usage_metrics(table: pd.DataFrame, rows: np.ndarray, ok: np.ndarray) -> UsageMetrics | None:
    """The usage figures of the requests at ``rows`` (``ok``: which succeeded); None when none
    of them carries any."""
    import numpy as np

    def column(name: str) -> np.ndarray:
        return table[name].to_numpy(dtype=float)[rows]

    sums = {name: column(name) for name in FIELDS[:5]}
    overhead = column("cli_overhead_s")
    has = np.zeros(len(rows), dtype=bool)
    for values in (*sums.values(), overhead):
        has |= ~np.isnan(values)
    if not has.any():
        return None

    def total(values: np.ndarray) -> float | None:
        known = values[~np.isnan(values)]
        return float(known.sum()) if len(known) else None

    def count(values: np.ndarray) -> int | None:
        value = total(values)
        return None if value is None else round(value)

    rate = column("output_tokens_per_s")
    out = sums["output_tokens"]
    timed = ok & ~np.isnan(rate) & (rate > 0)
    seconds = out[timed] / rate[timed]
    return UsageMetrics(
        requests=int(has.sum()),
        inferred=int((table["usage_inferred"].to_numpy(dtype=bool)[rows] & has).sum()),
        input_tokens=count(sums["input_tokens"]),
        output_tokens=count(out),
        cache_read_tokens=count(sums["cache_read_tokens"]),
        cache_creation_tokens=count(sums["cache_creation_tokens"]),
        cost_usd=total(sums["cost_usd"]),
        output_tokens_per_s=spread_of(np.where(ok, rate, np.nan)),
        output_tokens_per_s_overall=float(out[timed].sum() / seconds.sum())
        if timed.any() and seconds.sum() > 0
        else None,
        cli_overhead_s=spread_of(np.where(ok, overhead, np.nan)),
    )


def start_models(events: _Events, start_events: np.ndarray) -> np.ndarray:
    """Per event, the code of the model its start names (-1 none; events.model's codes): its
    own field, else a model record logged right after it (within the stdout/stderr skew,
    before the next start)."""
    import numpy as np

    codes = events.model.codes
    model = np.full(len(events.ts_ns), -1, dtype=codes.dtype)
    own = start_events[events.has_model[start_events]]
    model[own] = codes[own]
    records = np.flatnonzero(events.has_model & events.is_model_record)
    if len(records) and len(start_events):
        i = np.searchsorted(start_events, records) - 1
        ok = i >= 0
        start_of = start_events[np.maximum(i, 0)]
        near = ok & (events.ts_ns[records] - events.ts_ns[start_of] <= _SKEW_NS)
        free = near & (model[start_of] < 0)
        model[start_of[free]] = codes[records[free]]
    return model

"""Entries → one row per HTTP request: pairing start and completion records, outcome, error class.

Pairing, in order of trust:
1. by request id, when start and completion records carry one;
2. otherwise first-in-first-out per proxy: the k-th completion of a model endpoint takes the oldest
   start still open. When several requests were in flight, which completion belongs to which start
   cannot be known from the logs: such pairings are counted as *ambiguous*, never hidden.
Latency is an explicit duration when the logs carry one, else completion time − start time; when
neither exists it is left unknown (``latency_source`` says which).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from claude_perf.analysis.arrays import (
    _gather,
    _narrow_positions,
    _position_type,
    split_by_group,
)
from claude_perf.analysis.correlate import arrivals, swap_by_likelihood
from claude_perf.analysis.decoded import _decode, _Source, failed_status, written_at
from claude_perf.analysis.fifo import by_route
from claude_perf.analysis.pairing import (
    _HEALTH,
    _MODEL,
    _OTHER,
    _attach_errors,
    _attach_models,
    _by_request_id,
    _expired_starts,
    _fifo_pairs,
    contested_models,
    spare_end_after,
    startless_guess,
)
from claude_perf.analysis.stream_order import streams_first
from claude_perf.analysis.table import (
    TableEvents,
    concat_tables,
    drop_decoded,
    finish,
    joined_columns,
)
from claude_perf.analysis.usage import models_from_usage, plain_usage, start_models
from claude_perf.config.schema import Config
from claude_perf.durations import NAT_NS
from claude_perf.parse.entries import source_name
from claude_perf.runtime.memory import release_unused

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from claude_perf.parse.entries import Entries


@dataclass(frozen=True)
class Requests:
    """The per-request table and what could not be decided while building it.

    ``table`` columns: kind (model/health/other), start, end, latency_s, latency_source
    (explicit/paired/None), method, path, status, client, in_container, model, family, outcome
    (succeeded/failed), error_class, error_records, error_message, request_id, ambiguous, stream
    (True/False/None: a streaming response), ttfb_s (time to first byte, streaming only),
    source (the container or input file). The repeating text columns are categoricals
    (table.CATEGORY_COLUMNS); the others hold None for unknown.
    """

    table: pd.DataFrame
    ambiguous_pairings: int
    unmatched_starts: int
    stale_starts: int
    orphan_error_records: int
    error_records: int
    # of the orphans, the records a dialect marks as never its request's (``alone`` errors)
    unattributed_error_records: int = 0
    arrivals_only: int = 0  # health checks / other requests seen only as they arrived
    durations_carried: int = 0  # duration records given to their completion
    durations_unmatched: int = 0  # duration records no completion was found for
    usage_records: int = 0  # lines with usage figures (tokens, cost, CLI times)
    usage_unattached: int = 0  # usage records no request was found for
    usage_models_differ: int = 0  # requests whose usage record names another model


def assemble(
    entries: Entries, config: Config, source_names: Sequence[str] = (), consume: bool = False
) -> Requests:
    """Build the per-request table from classified entries, one source at a time.

    A source is one container or one input file: nothing pairs across sources (two replicas'
    lines interleave in time, and a start in one never ends in the other). ``source_names``
    names the source ids for the table's ``source`` column. ``consume``: the caller gives the
    entries up, and their columns are dropped (in place) as soon as they are decoded, so that
    they are not held beside the table while it is built (its peak; see table.drop_decoded).
    """
    import numpy as np
    import pandas as pd

    ev = entries.events
    if not (ev["row"].is_monotonic_increasing and isinstance(ev.index, pd.RangeIndex)):
        ev = ev.sort_values("row", kind="stable").reset_index(drop=True)
    elif ev.index.start != 0 or ev.index.step != 1:
        ev = ev.reset_index(drop=True)
    if "source" not in ev.columns:
        ev = ev.assign(source=np.zeros(len(ev), dtype=np.int32))
    sources = ev["source"].to_numpy()
    ids = np.unique(sources).tolist() or [0]

    def name(source: int) -> str:
        return source_name(source_names, source)

    if len(ids) == 1:
        return _assemble_source(ev, config, name(ids[0]), consume=consume)
    if not consume:
        parts = [
            _assemble_source(ev[sources == s].reset_index(drop=True), config, name(s), True)
            for s in ids
        ]
        return _combine_sources(parts)
    frames = split_by_group(ev, sources, ids)
    del ev, sources
    parts = []
    for s in ids:  # each source's events dropped as it is assembled (not held to the end)
        parts.append(_assemble_source(frames.pop(0), config, name(s), True, consume=True))
        release_unused()
    return _combine_sources(parts)


def _combine_sources(parts: list[Requests]) -> Requests:
    """The sources' tables as one, in completion order (the ``_row`` each part kept)."""

    table = concat_tables([part.table for part in parts])
    table = table.sort_values("_row", kind="stable").reset_index(drop=True)
    table = table.drop(columns=["_row"])

    def total(name: str) -> int:
        return sum(getattr(part, name) for part in parts)

    return Requests(
        table=table,
        ambiguous_pairings=total("ambiguous_pairings"),
        unmatched_starts=total("unmatched_starts"),
        stale_starts=total("stale_starts"),
        orphan_error_records=total("orphan_error_records"),
        error_records=total("error_records"),
        unattributed_error_records=total("unattributed_error_records"),
        arrivals_only=total("arrivals_only"),
        durations_carried=total("durations_carried"),
        durations_unmatched=total("durations_unmatched"),
        usage_records=total("usage_records"),
        usage_unattached=total("usage_unattached"),
        usage_models_differ=total("usage_models_differ"),
    )


@dataclass(frozen=True)
class _Pairs:
    """Starts and completions without ids, paired: per event its partner (-1 none)."""

    partner_event: np.ndarray
    ambiguous_event: np.ndarray
    start_events: np.ndarray  # the starts, in log order
    unmatched_starts: int
    stale_starts: int


def _pair_plain(src: _Source, config: Config) -> _Pairs:
    """First-in-first-out pairing of id-less starts and model completions, in log order, with
    expiry; then the exact pairs that duration records name replace its guesses."""
    import numpy as np

    ts, n = src.events.ts_ns, len(src.ev)
    seq_index = np.flatnonzero(src.plain & (src.start_mask | (src.is_model_end & ~src.alone)))
    seq_kind = np.where(src.start_mask[seq_index], 1, -1).astype(np.int8)  # sums are int64
    seq_index, seq_kind, seq_ts = streams_first(
        src.stream, src.ev["status"], seq_index, seq_kind, ts
    )
    # routes apart where every line names its own (hono, koa)
    methods = src.ev["method"] if "method" in src.ev.columns else None
    paths = (src.events.path_codes, src.events.path_labels)
    routes, seq_index, seq_kind, seq_ts = by_route(methods, paths, seq_index, seq_kind, seq_ts)
    # A start older than max_latency_s when a completion comes never completed (its line was
    # lost, or the client went away): it must not take that completion. Rare, so the exact
    # per-event pass runs only when the vectorised pairing shows such a pair.
    stale_dropped = 0
    max_ns = int(config.max_latency_s * 1e9)
    partner = _fifo_pairs(seq_kind, routes)[0]
    ends = np.flatnonzero(partner >= 0)
    s_ev, e_ev = seq_index[partner[ends]], seq_index[ends]
    del partner, ends  # before the second pairing's arrays (the pairing's peak)
    known = (ts[s_ev] != NAT_NS) & (ts[e_ev] != NAT_NS)
    stale_pair = bool((known & (ts[e_ev] - ts[s_ev] > max_ns)).any())
    del s_ev, e_ev, known
    if stale_pair:
        expired = _expired_starts(seq_kind, seq_ts, max_ns, routes)
        stale_dropped = int(expired.sum())
        seq_index, seq_kind, seq_ts = seq_index[~expired], seq_kind[~expired], seq_ts[~expired]
        routes = routes[~expired] if routes is not None else None
    partner, queue_before, start_matched = _fifo_pairs(seq_kind, routes)
    matched = np.flatnonzero(partner >= 0)
    partner_event = np.full(n, -1, dtype=_position_type(n))
    partner_event[seq_index[matched]] = seq_index[partner[matched]]
    partner_event[seq_index[partner[matched]]] = seq_index[matched]
    # A pairing is ambiguous when another id-less request was open at any moment of its life:
    # then its completion could as well have been the other one's.
    crowded = np.concatenate([[0], np.cumsum((queue_before + seq_kind) > 1)])
    del queue_before
    ambiguous_event = np.zeros(n, dtype=bool)
    crowded_pair = (crowded[matched] - crowded[partner[matched]]) > 0
    del crowded  # (each int64 per start and completion: freed before the next step's)
    spare = spare_end_after(seq_kind, partner, matched, seq_ts, max_ns, routes)
    ambiguous_event[seq_index[matched]] = crowded_pair | (
        spare & ~_known_not_stream(src, seq_index[matched])
    )
    # Alone in flight: likely right, though not proven where start-less completions may be
    # about; such pairings still fit the models' latencies for the swaps below.
    alone_event = np.zeros(n, dtype=bool)
    alone_event[seq_index[matched[~crowded_pair]]] = True
    # A completion left without a start is a guess too while an inferred pairing's start, in
    # time for it, could be its own instead.
    ambiguous_event[seq_index] |= startless_guess(
        seq_kind, partner, ambiguous_event[seq_index], seq_ts, max_ns, routes
    )
    # Pairs a duration record names are exact: they replace first-in-first-out's guesses.
    links = src.links
    keep = src.start_mask[links.starts] & src.plain[links.ends]
    linked_ends, linked_starts = links.ends[keep], links.starts[keep]
    for old in (partner_event[linked_ends], partner_event[linked_starts]):
        partner_event[old[old >= 0]] = -1
    partner_event[linked_ends] = linked_starts
    partner_event[linked_starts] = linked_ends
    # ... unless another start fitted the record as well (two requests in one millisecond).
    uncertain = links.uncertain[keep] if links.uncertain is not None else np.zeros(0, bool)
    ambiguous_event[linked_ends] = uncertain if len(uncertain) else False
    # Inferred pairings that the models' own latencies clearly contradict are swapped.
    start_events = seq_index[seq_kind > 0]
    start_events = start_events if routes is None else np.sort(start_events)  # in log order
    ends = np.flatnonzero(ambiguous_event & (partner_event >= 0))
    if len(ends) > 1:
        alone_event[linked_ends] = ~uncertain if len(uncertain) else True
        sure = np.flatnonzero(src.events.is_end & alone_event & (partner_event >= 0))
        start_model = start_models(src.events, start_events)
        swap_by_likelihood(ts, ends, partner_event, start_model, sure)
    return _Pairs(
        partner_event=partner_event,
        ambiguous_event=ambiguous_event,
        start_events=start_events,
        unmatched_starts=int(((seq_kind > 0) & ~start_matched).sum()),
        stale_starts=stale_dropped,
    )


def _known_not_stream(src: _Source, ends: np.ndarray) -> np.ndarray:
    """Per completion event: its own line says it is not a stream (so it had a start line)."""
    import numpy as np

    if src.stream is None:
        return np.zeros(len(ends), dtype=bool)
    return src.stream[ends] == False  # noqa: E712


def _stream_flags(
    src: _Source, pairs: _Pairs, model_ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per model completion, the event whose stream flag it takes (-1 none), and whether its
    response may go on after its line (a stream). (Per completion, not per event: at 10M
    lines an int64 per event was 52 MB at the id-less requests' peak.)"""
    import numpy as np
    import pandas as pd

    events, plain = src.events, src.plain
    starts, partner_event = pairs.start_events, pairs.partner_event
    at = np.full(len(model_ends), -1, dtype=_position_type(len(events.ts_ns)))
    streaming_end = np.zeros(len(model_ends), dtype=bool)
    if src.stream is not None:
        streams = replace(events, has_model=pd.notna(src.stream))  # the flag as the "model"
        at = _attach_models(streams, plain, partner_event, starts, model_ends)[model_ends]
        # A streaming response goes on after its completion line: its errors come later.
        streaming_end[at >= 0] = src.stream[at[at >= 0]] == True  # noqa: E712
    if len(starts):
        # Where a source logs starts, a completion without one is a streaming response (the
        # wrapper logs no start line for those): unless its flag says otherwise, it may still
        # be running after its completion line.
        flag_known = np.zeros(len(model_ends), dtype=bool)
        if src.stream is not None:
            flag_known[at >= 0] = pd.notna(src.stream[at[at >= 0]])
        streaming_end |= (partner_event[model_ends] < 0) & ~flag_known
    # A completion logged as its request arrived (1rgs/claude-code-proxy's printed request
    # line) comes before all the request's work: like a stream's, its errors come after it.
    streaming_end |= src.arrival[model_ends]
    return at, streaming_end


def _plain_part(src: _Source, pairs: _Pairs) -> tuple[dict[str, Any], int, int, int]:
    """The id-less requests: model completions with what attaches to them (model, stream flag,
    error records), then health checks and other requests; and (orphan error records, those of
    them no request can be told from, arrivals).
    """
    import numpy as np

    events, plain = src.events, src.plain
    model_ends = np.flatnonzero(plain & src.is_model_end)
    partner_event = pairs.partner_event
    # Health checks and other endpoints logged only as they arrive count as such.
    is_health_end = events.is_end & src.health_path
    arrived = np.concatenate(
        [
            arrivals(events.is_start, src.health_path, is_health_end),
            arrivals(events.is_start, ~src.health_path & ~src.model_path, src.is_other_end),
        ]
    )
    other_rows = np.concatenate([np.flatnonzero(is_health_end | src.is_other_end), arrived])
    del is_health_end
    # int32 while the events fit (as the table keeps them): rows and model_at below are held
    # through the error attachment, the id-less requests' peak (2 x 13 MB less at 10M lines)
    rows = _narrow_positions(np.concatenate([model_ends, other_rows]), len(events.ts_ns))
    starts = pairs.start_events  # (model requests' only: start_mask)
    # Per-event results are taken at the requests' rows at once (not held per event to the end).
    model_source = _attach_models(events, plain, partner_event, starts, model_ends)
    # The attached model, else the completion's own field.
    model_at = np.where(model_source[rows] >= 0, model_source[rows], rows)
    del model_source
    model_contested = contested_models(events, plain, partner_event, starts)[rows]
    stream_at, streaming_end = _stream_flags(src, pairs, model_ends)
    release_unused()  # the per-event temporaries of the models' and flags' attachment
    # An error record its dialect marks ``alone`` (no request can be told from it) is counted
    # outside any request, never given to a neighbour by time.
    loose = plain & events.is_error & ~events.is_end & src.alone
    loose_errors = int(loose.sum())
    error_events = np.flatnonzero(plain & events.is_error & ~events.is_end & ~loose)
    del loose
    model_partner = partner_event[model_ends]
    end_start_ns = _gather(events.ts_ns, model_partner, model_partner >= 0, NAT_NS)
    # Only a start known for sure (not an inferred pairing) can rule a request out for an error.
    sure_start_ns = np.where(pairs.ambiguous_event[model_ends], NAT_NS, end_start_ns)
    # A line logged on arrival is its request's start as well (for the errors only: the
    # latency stays unknown): an error record before it is never its own.
    arrived_ends = src.arrival[model_ends]
    sure_start_ns[arrived_ends] = events.ts_ns[model_ends[arrived_ends]]
    del arrived_ends
    error_count, error_text, first_error, orphan_errors = _attach_errors(
        events.ts_ns,
        error_events,
        model_ends,
        events.message,
        streaming_end,
        sure_start_ns,
        written_at(src, error_events),
        failed_status(src, model_ends),
        model_partner,
    )
    del sure_start_ns, model_partner, error_events
    # An end record that is itself an error (a JSON completion at level error) counts too; its
    # message stands in for the text when no error record was attached, and for the first
    # message when no attached record had one.
    own_error = events.is_error[model_ends]
    own_text = np.flatnonzero(own_error & (error_count == 0))
    error_text = error_text.filled(own_text, events.message[model_ends[own_text]])
    del own_text
    first_error = np.where(own_error & (first_error < 0), model_ends, first_error)
    error_count = (error_count + own_error).astype(np.int32)  # records: fewer than the events
    del own_error
    usage_at, usage_inferred = plain_usage(
        events,
        src.ev,
        src.plain,
        pairs.start_events,
        pairs.partner_event,
        model_ends,
        streaming_end,
        pairs.ambiguous_event,
    )
    del streaming_end
    # A row whose start was inferred may carry another request's model: the figures it was
    # given, right for its completion or its start, may then count for the wrong model.
    usage_inferred = usage_inferred | (pairs.ambiguous_event[model_ends] & (usage_at >= 0))
    n_other, n = len(other_rows), len(events.ts_ns)

    def positions(model_part: np.ndarray) -> np.ndarray:
        """Per request, an event (-1 none): the model completions' given, none for the others."""
        at = _narrow_positions(model_part, n)
        return np.concatenate([at, np.full(n_other, -1, dtype=at.dtype)])

    # Column by column, each request-sized intermediate dropped once its column is made (at
    # 10M lines they stood together at the id-less requests' peak).
    part: dict[str, Any] = {"pos": _narrow_positions(rows, n)}
    part["kind"] = np.concatenate(
        [
            np.full(len(model_ends), _MODEL, dtype=np.int8),
            np.where(src.health_path[other_rows], _HEALTH, _OTHER).astype(np.int8),
        ]
    )
    part["start_ns"] = np.concatenate([end_start_ns, np.full(n_other, NAT_NS, dtype=np.int64)])
    del end_start_ns
    part["model_at"] = _narrow_positions(model_at, n)
    del model_at
    part["error_count"] = np.concatenate([error_count, np.zeros(n_other, dtype=np.int32)])
    del error_count
    part["error_text"] = error_text.extended(n_other)
    del error_text
    part["first_error_at"] = positions(first_error)
    del first_error
    part["has_id"] = np.concatenate([np.zeros(len(model_ends), dtype=bool), src.has_id[other_rows]])
    # inferred: the pairing (several requests in flight), or the model its record gave
    part["ambiguous"] = pairs.ambiguous_event[rows] | model_contested
    del model_contested
    part["stream_at"] = positions(stream_at)
    del stream_at
    part["usage_at"] = positions(usage_at)
    del usage_at
    part["usage_inferred"] = np.r_[usage_inferred, np.zeros(n_other, dtype=bool)]
    # its only line is its arrival (a dialect's ``arrival`` end): see table.finish
    part["arrival"] = np.r_[src.arrival[model_ends], np.zeros(n_other, dtype=bool)]
    return part, orphan_errors + loose_errors, loose_errors, len(arrived)


# Between the assembly's steps, their freed temporaries are handed back (runtime/memory
# .release_unused): most of them are arrays of a few MB to 32 MB that glibc's malloc serves from
# its heap and keeps when freed, so that each step's RSS stood on top of the one before. Measured
# at 10M lines (one report, RSS before -> after each call, 3-7 ms each): 975 -> 720 MB after the
# id pairing, 964 -> 791 after the id-less pairing, 1188 -> 1020 after its requests, 1107 ->
# 933 after their joining.


def _assemble_source(
    ev: pd.DataFrame,
    config: Config,
    source: str,
    keep_row: bool = False,
    consume: bool = False,
) -> Requests:
    """The requests of one source (vectorised: no per-row Python but the duration links).

    Strings are compared once per column (roles) or once per distinct value (paths, models,
    clients); in between, requests are integer positions into the events, masks and codes, and
    only the final table turns positions back into strings. In order of trust: request ids,
    then duration records' exact pairs, then first-in-first-out.
    """
    import numpy as np

    if consume and not keep_row:
        # The line numbers only put several sources' tables in order: dropped before the
        # decoding, whose peak they were held through (52 MB at 10M lines).
        del ev["row"]
    src = _decode(ev, config, consume=consume)
    if consume:
        drop_decoded(ev, keep_row=keep_row)
        release_unused()  # the dropped Arrow columns sit in Arrow's pool until handed back
    events = src.events
    # 1. Request ids: start, completion, model and error records sharing an id belong together.
    # (A health or other completion is never a model request, even when it is an error with an
    # id: it is counted below with its kind, whatever it carries.)
    records = events.is_error & ~events.is_end
    id_rows = np.flatnonzero(
        src.has_id
        & (
            src.start_mask
            | src.is_model_end
            | records
            | events.is_model_record
            | events.is_usage_record
        )
    )
    id_part, unmatched_id_starts = _by_request_id(events, id_rows, int(config.max_latency_s * 1e9))
    del records, id_rows
    # Each step's temporaries handed back before the next one (see above _assemble_source).
    release_unused()
    # 2-3. No ids: duration records' pairs, else first-in-first-out.
    pairs = _pair_plain(src, config)
    release_unused()
    plain_part, orphan_errors, unattributed, arrived = _plain_part(src, pairs)
    release_unused()
    unmatched_plain, stale = pairs.unmatched_starts, pairs.stale_starts
    usage_events = np.flatnonzero(events.is_usage_record)
    error_records = int(events.is_error.sum())
    links, stream = src.links, src.stream
    # The table reads a few of the events' columns: the pairs, masks and codes of the pairing
    # are freed before the parts are joined and the table is built (the assembly's peaks), and
    # finish takes the rest out as it reads them (no other reference to them is kept here).
    table_events = TableEvents.of(events)
    del pairs, src, events
    columns = joined_columns(id_part, plain_part)
    del id_part, plain_part
    usage_models_differ = models_from_usage(columns, table_events.held["model"])
    release_unused()
    usage_attached = int(np.isin(columns["usage_at"], usage_events).sum())
    usage_records = len(usage_events)
    del usage_events
    rows = ev["row"].to_numpy()[columns["pos"]] if keep_row else None
    # finish takes the per-request arrays out of ``columns`` as it turns them into the table
    table = finish(
        columns, ev, table_events, config, links.duration_s, stream, source, consume=consume
    )
    if rows is not None:  # for putting several sources' tables in completion order
        table["_row"] = rows
    return Requests(
        table=table,
        ambiguous_pairings=int(table["ambiguous"].sum()),
        unmatched_starts=unmatched_id_starts + unmatched_plain,
        stale_starts=stale,
        orphan_error_records=orphan_errors,
        unattributed_error_records=unattributed,
        error_records=error_records,
        arrivals_only=arrived,
        durations_carried=links.carried,
        durations_unmatched=links.unmatched,
        usage_records=usage_records,
        usage_unattached=usage_records - usage_attached,
        usage_models_differ=usage_models_differ,
    )

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
from typing import TYPE_CHECKING

from claude_perf.analysis.arrays import (
    _gather,
    _label_in,
    _labels,
    _text,
    _text_at,
)
from claude_perf.analysis.correlate import (
    arrivals,
    ids_without_completion,
    lend_id_models,
    link_durations,
)
from claude_perf.analysis.error_classes import (
    classify_errors,
)
from claude_perf.analysis.pairing import (
    _HEALTH,
    _KIND_NAMES,
    _MODEL,
    _OTHER,
    _attach_errors,
    _attach_models,
    _by_request_id,
    _Events,
    _expired_starts,
    _fifo_pairs,
)
from claude_perf.config.families import family_of
from claude_perf.config.schema import Config
from claude_perf.durations import NAT_NS, series_ns
from claude_perf.parse.text import _same

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from claude_perf.parse.entries import Entries

_IN_CONTAINER_CLIENTS = frozenset({"127.0.0.1", "::1", "localhost"})


@dataclass(frozen=True)
class Requests:
    """The per-request table and what could not be decided while building it.

    ``table`` columns: kind (model/health/other), start, end, latency_s, latency_source
    (explicit/paired/None), method, path, status, client, in_container, model, family, outcome
    (succeeded/failed), error_class, error_records, error_message, request_id, ambiguous, stream
    (True/False/None: a streaming response), ttfb_s (time to first byte, streaming only),
    source (the container or input file).
    """

    table: pd.DataFrame
    ambiguous_pairings: int
    unmatched_starts: int
    stale_starts: int
    orphan_error_records: int
    error_records: int
    arrivals_only: int = 0  # health checks / other requests seen only as they arrived
    durations_carried: int = 0  # duration records given to their completion
    durations_unmatched: int = 0  # duration records no completion was found for


def assemble(entries: Entries, config: Config, source_names: Sequence[str] = ()) -> Requests:
    """Build the per-request table from classified entries, one source at a time.

    A source is one container or one input file: nothing pairs across sources (two replicas'
    lines interleave in time, and a start in one never ends in the other). ``source_names``
    names the source ids for the table's ``source`` column.
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
        return source_names[source] if source < len(source_names) else f"source-{source}"

    if len(ids) == 1:
        return _assemble_source(ev, config, name(ids[0]))
    parts = [
        _assemble_source(ev[sources == s].reset_index(drop=True), config, name(s), keep_row=True)
        for s in ids
    ]
    return _combine_sources(parts)


def _combine_sources(parts: list[Requests]) -> Requests:
    """The sources' tables as one, in completion order (the ``_row`` each part kept)."""
    import pandas as pd

    table = pd.concat([part.table for part in parts], ignore_index=True)
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
        arrivals_only=total("arrivals_only"),
        durations_carried=total("durations_carried"),
        durations_unmatched=total("durations_unmatched"),
    )


def _assemble_source(
    ev: pd.DataFrame, config: Config, source: str, keep_row: bool = False
) -> Requests:
    """The requests of one source (vectorised: no per-row Python but the duration carry).

    Strings are compared once per column (roles) or once per distinct value (paths, models,
    clients); in between, requests are integer positions into the events, masks and codes, and
    only the final table turns positions back into strings.
    """
    import numpy as np
    import pandas as pd

    n = len(ev)
    role = ev["role"].to_numpy(dtype=object)
    request_ids = ev["request_id"].to_numpy(dtype=object)
    has_id = pd.notna(request_ids)
    # Ids logged on starts only (none on any completion) cannot pair: those starts pair by time.
    loose = ids_without_completion(request_ids, has_id, role == "end")
    model_col = lend_id_models(
        ev["model"].to_numpy(dtype=object), request_ids, loose, role == "start"
    )
    has_id &= ~loose
    is_duration = role == "duration"
    path_codes, path_labels = _labels(ev["path"].to_numpy(dtype=object))
    events = _Events(
        ts_ns=series_ns(ev["ts"]),
        is_start=role == "start",
        is_end=role == "end",
        is_model_record=role == "model",
        is_error=ev["is_error"].to_numpy(dtype=bool),
        has_model=pd.notna(model_col),
        model=model_col,
        message=ev["message"].to_numpy(dtype=object),
        request_id=ev["request_id"].to_numpy(dtype=object),
        path_codes=path_codes,
        path_labels=path_labels,
    )
    stream_col = ev["stream"].to_numpy(dtype=object) if "stream" in ev.columns else None
    del role
    ts = events.ts_ns
    plain = ~has_id
    health_path = _label_in(path_codes, path_labels, config.health_paths)
    model_path = (path_codes < 0) | _label_in(path_codes, path_labels, config.model_paths)
    end_mask = events.is_end
    is_health_end = end_mask & health_path
    is_model_end = end_mask & ~health_path & model_path
    is_other_end = end_mask & ~health_path & ~model_path
    # Duration records: each completion's logged duration, and exact start ↔ completion pairs.
    links = link_durations(
        ts,
        is_duration,
        events.is_start,
        end_mask,
        ev["status"].to_numpy(dtype=float, na_value=np.nan),
        ev["duration_s"].to_numpy(dtype=float),
        np.where(health_path, 0, np.where(path_codes < 0, -1, np.where(model_path, 1, 2))),
    )
    durations = links.duration_s
    # Starts of other endpoints never pair with a model completion.
    start_mask = events.is_start & ~health_path & model_path
    # Health checks and other endpoints logged only as they arrive count as such.
    arrived = np.concatenate(
        [
            arrivals(events.is_start, health_path, is_health_end),
            arrivals(events.is_start, ~health_path & ~model_path, is_other_end),
        ]
    )

    # 1. Request ids: start, completion, model and error records sharing an id belong together.
    # (A health or other completion is never a model request, even when it is an error with an
    # id: it is counted below with its kind, whatever it carries.)
    id_rows = np.flatnonzero(
        has_id
        & (start_mask | is_model_end | (events.is_error & ~end_mask) | events.is_model_record)
    )
    id_part, unmatched_id_starts = _by_request_id(events, id_rows)

    # 2. No ids: FIFO pairing of starts and model-endpoint completions, in log order.
    # (An end that is a whole request by itself, e.g. a handler's error before any CLI run,
    # takes no start.)
    alone = ev["alone"].to_numpy(dtype=bool) if "alone" in ev.columns else np.zeros(n, bool)
    seq_index = np.flatnonzero(plain & (start_mask | (is_model_end & ~alone)))
    seq_kind = np.where(start_mask[seq_index], 1, -1)
    # A start older than max_latency_s when a completion comes never completed (its line was
    # lost, or the client went away): it must not take that completion. Rare, so the exact
    # per-event pass runs only when the vectorised pairing shows such a pair.
    stale_dropped = 0
    max_ns = int(config.max_latency_s * 1e9)
    partner, _queue, _matched = _fifo_pairs(seq_kind)
    ends = np.flatnonzero(partner >= 0)
    s_ev, e_ev = seq_index[partner[ends]], seq_index[ends]
    known = (ts[s_ev] != NAT_NS) & (ts[e_ev] != NAT_NS)
    if (known & (ts[e_ev] - ts[s_ev] > max_ns)).any():
        expired = _expired_starts(seq_kind, ts[seq_index], max_ns)
        stale_dropped = int(expired.sum())
        seq_index, seq_kind = seq_index[~expired], seq_kind[~expired]
    partner, queue_before, start_matched = _fifo_pairs(seq_kind)
    matched = np.flatnonzero(partner >= 0)
    # Per event: the partner event (start ↔ end), -1 when none.
    partner_event = np.full(n, -1, dtype=np.int64)
    partner_event[seq_index[matched]] = seq_index[partner[matched]]
    partner_event[seq_index[partner[matched]]] = seq_index[matched]
    # A pairing is ambiguous when another id-less request was open at any moment of its life:
    # then its completion could as well have been the other one's.
    crowded = np.concatenate([[0], np.cumsum((queue_before + seq_kind) > 1)])
    ambiguous_event = np.zeros(n, dtype=bool)
    ambiguous_event[seq_index[matched]] = (crowded[matched] - crowded[partner[matched]]) > 0
    # Pairs a duration record names are exact: they replace first-in-first-out's guesses.
    keep = start_mask[links.starts] & plain[links.ends]
    linked_ends, linked_starts = links.ends[keep], links.starts[keep]
    for old in (partner_event[linked_ends], partner_event[linked_starts]):
        partner_event[old[old >= 0]] = -1
    partner_event[linked_ends] = linked_starts
    partner_event[linked_starts] = linked_ends
    ambiguous_event[linked_ends] = False
    unmatched_starts = unmatched_id_starts + int(((seq_kind > 0) & ~start_matched).sum())

    model_ends = np.flatnonzero(plain & is_model_end)
    start_events = seq_index[seq_kind > 0]
    model_source = _attach_models(events, plain, partner_event, start_events, model_ends)
    stream_source = np.full(n, -1, dtype=np.int64)
    if stream_col is not None and pd.notna(stream_col).any():
        streams = replace(events, model=stream_col, has_model=pd.notna(stream_col))
        stream_source = _attach_models(streams, plain, partner_event, start_events, model_ends)
    error_events = np.flatnonzero(plain & events.is_error & ~end_mask)
    # A streaming response goes on after its completion line: its errors come later.
    streaming_end = np.zeros(len(model_ends), dtype=bool)
    if stream_col is not None:
        at = stream_source[model_ends]
        streaming_end[at >= 0] = stream_col[at[at >= 0]] == True  # noqa: E712
    error_count, error_text, first_error, orphan_errors = _attach_errors(
        ts, error_events, model_ends, events.message, streaming_end, start_events
    )
    # An end record that is itself an error (a JSON completion at level error) counts too; its
    # message stands in for the text when no error record was attached, and for the first
    # message when no attached record had one.
    own_error = events.is_error[model_ends]
    error_text = np.where(own_error & (error_count == 0), events.message[model_ends], error_text)
    first_error = np.where(own_error & (first_error < 0), model_ends, first_error)
    error_count = error_count + own_error

    model_partner = partner_event[model_ends]
    other_rows = np.concatenate([np.flatnonzero(is_health_end | is_other_end), arrived])
    plain_rows = np.concatenate([model_ends, other_rows])
    plain_model_source = model_source[plain_rows]
    n_other = len(other_rows)
    plain_part = {
        "pos": plain_rows,
        "kind": np.concatenate(
            [
                np.full(len(model_ends), _MODEL, dtype=np.int8),
                np.where(health_path[other_rows], _HEALTH, _OTHER).astype(np.int8),
            ]
        ),
        "start_ns": np.concatenate(
            [
                _gather(ts, model_partner, model_partner >= 0, NAT_NS),
                np.full(n_other, NAT_NS, dtype=np.int64),
            ]
        ),
        # The attached model, else the completion's own field.
        "model_at": np.where(plain_model_source >= 0, plain_model_source, plain_rows),
        "error_count": np.concatenate([error_count, np.zeros(n_other, dtype=np.int64)]),
        "error_text": np.concatenate([error_text, np.full(n_other, None, dtype=object)]),
        "first_error_at": np.concatenate([first_error, np.full(n_other, -1, dtype=np.int64)]),
        "has_id": np.concatenate([np.zeros(len(model_ends), dtype=bool), has_id[other_rows]]),
        "ambiguous": ambiguous_event[plain_rows],
        "stream_at": np.concatenate(
            [stream_source[model_ends], np.full(n_other, -1, dtype=np.int64)]
        ),
    }
    # Id rows first, so that a completion in both parts keeps that order (stable sort).
    order = np.argsort(np.concatenate([id_part["pos"], plain_part["pos"]]), kind="stable")
    columns = {
        name: np.concatenate([id_part[name], values])[order] for name, values in plain_part.items()
    }
    del id_part, plain_part, partner_event, ambiguous_event, model_source
    table = _finish(columns, ev, events, config, durations, stream_col, source)
    if keep_row:  # for putting several sources' tables in completion order
        table["_row"] = ev["row"].to_numpy()[columns["pos"]]
    return Requests(
        table=table,
        ambiguous_pairings=int(columns["ambiguous"].sum()),
        unmatched_starts=unmatched_starts,
        stale_starts=stale_dropped,
        orphan_error_records=orphan_errors,
        error_records=int(events.is_error.sum()),
        arrivals_only=len(arrived),
        durations_carried=links.carried,
        durations_unmatched=links.unmatched,
    )


COLUMNS = (
    "kind",
    "start",
    "end",
    "latency_s",
    "latency_source",
    "method",
    "path",
    "status",
    "client",
    "in_container",
    "model",
    "family",
    "outcome",
    "error_class",
    "error_records",
    "error_message",
    "request_id",
    "ambiguous",
    "stream",
    "ttfb_s",
    "source",
)


def _finish(
    raw: dict[str, np.ndarray],
    ev: pd.DataFrame,
    events: _Events,
    config: Config,
    durations: np.ndarray,
    stream_col: np.ndarray | None,
    source: str,
) -> pd.DataFrame:
    """Derive latency, family, outcome and error class (rows already in completion order).

    ``raw`` holds per request: pos (its completion event), kind (code), start_ns, model_at
    (event with its model, -1 none), error_count, error_text, first_error_at (event with its
    first error message, -1 none), has_id, ambiguous. Text columns come out as object arrays
    with None for unknown (never NaN), so consumers test one thing.
    """
    import numpy as np
    import pandas as pd

    pos = raw["pos"]
    end_ns = events.ts_ns[pos]
    start_ns = raw["start_ns"]
    duration = durations[pos]
    explicit = ~np.isnan(duration)
    paired_ok = (start_ns != NAT_NS) & (end_ns != NAT_NS)
    paired = np.where(paired_ok, (end_ns - start_ns) / 1e9, np.nan)
    latency = np.where(explicit, duration, paired)
    source_code = np.where(explicit, 0, np.where(paired_ok, 1, 2))
    # A streaming request's completion is logged when its response starts: what was measured is
    # the time to the first byte, not the latency.
    stream = _text_at(stream_col, raw["stream_at"]) if stream_col is not None else None
    if stream is None:
        stream = np.full(len(pos), None, dtype=object)
    streaming = stream == True  # noqa: E712  (object array of True / False / None)
    ttfb = np.where(streaming, latency, np.nan)
    latency = np.where(streaming, np.nan, latency)
    source_code = np.where(streaming, 2, source_code)
    # With an explicit duration the start is known as end − duration, even without a start line.
    derived = np.where(
        explicit & (end_ns != NAT_NS),
        end_ns - np.nan_to_num(duration * 1e9).astype(np.int64),
        NAT_NS,
    )
    start_ns = np.where(start_ns != NAT_NS, start_ns, derived)
    status_int = ev["status"].to_numpy(dtype=np.int64, na_value=0)[pos]
    n_errors = raw["error_count"]
    kind_code = raw["kind"]
    failed = (status_int >= 400) | (n_errors > 0)
    # A CLI run that exited non-zero (claude-max-api-proxy's `Process closed with code: 1`).
    exit_code = ev["exit_code"].to_numpy(dtype=float)[pos] if "exit_code" in ev.columns else None
    if exit_code is not None:
        cli_failed = ~np.isnan(exit_code) & (exit_code != 0)
        failed |= cli_failed
        no_text = cli_failed & pd.isna(raw["error_text"])
        raw["error_text"] = raw["error_text"].copy()
        raw["error_text"][no_text] = [f"CLI exited with code {c:g}" for c in exit_code[no_text]]

    # Family and "is the model known" per distinct model name, not per request.
    named = raw["model_at"] >= 0
    model_codes, models = _labels(events.model[np.where(named, raw["model_at"], 0)])
    model_codes[~named] = -1
    families = np.array(
        [family_of(m, config.aliases) if isinstance(m, str) else None for m in models],
        dtype=object,
    )
    unknown_model = np.array(
        [isinstance(m, str) and f is None for m, f in zip(models, families, strict=True)],
        dtype=bool,
    )
    error_class = np.full(len(pos), None, dtype=object)
    classify_at = np.flatnonzero(failed & (kind_code != _HEALTH))
    if len(classify_at):
        error_class[classify_at] = classify_errors(
            status_int[classify_at],
            raw["error_text"][classify_at],
            ~unknown_model[model_codes[classify_at]],
        )
    client_codes, clients = _labels(ev["client"].to_numpy(dtype=object)[pos])
    request_id = np.full(len(pos), None, dtype=object)
    request_id[raw["has_id"]] = events.request_id[pos[raw["has_id"]]]

    def times(ns: np.ndarray) -> pd.Series:
        # NAT_NS is pandas' NaT, so the int64 nanoseconds are a datetime64 view as they are.
        return pd.Series(pd.DatetimeIndex(ns.view("datetime64[ns]")).tz_localize("UTC"))

    def text_col(values: np.ndarray) -> pd.Series:
        # object dtype, no per-value conversion to Arrow strings.
        return pd.Series(values, dtype=object, copy=False)

    return pd.DataFrame(
        {
            "kind": text_col(np.array(_KIND_NAMES, dtype=object)[kind_code]),
            "start": times(start_ns),
            "end": times(end_ns),
            "latency_s": latency.astype("float64"),
            "latency_source": text_col(
                np.array(["explicit", "paired", None], dtype=object)[source_code]
            ),
            "method": text_col(_text(ev["method"].to_numpy(dtype=object)[pos])),
            "path": text_col(events.path_labels[events.path_codes[pos]]),
            "status": pd.arrays.IntegerArray(status_int.astype(np.int16), status_int == 0),
            "client": text_col(clients[client_codes]),
            "in_container": _label_in(client_codes, clients, _IN_CONTAINER_CLIENTS),
            "model": text_col(models[model_codes]),
            "family": text_col(families[model_codes]),
            "outcome": text_col(
                np.array(["succeeded", "failed"], dtype=object)[failed.view(np.int8)]
            ),
            "error_class": text_col(error_class),
            "error_records": n_errors,
            "error_message": text_col(_text_at(events.message, raw["first_error_at"])),
            "request_id": text_col(request_id),
            "ambiguous": raw["ambiguous"],
            "stream": text_col(stream),
            "ttfb_s": ttfb.astype("float64"),
            "source": text_col(_same(len(pos), source)),
        },
        columns=list(COLUMNS),
        copy=False,
    )

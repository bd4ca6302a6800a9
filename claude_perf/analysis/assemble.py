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

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from claude_perf.analysis.correlate import (
    arrivals,
    ids_without_completion,
    lend_id_models,
    link_durations,
)
from claude_perf.config.families import family_of
from claude_perf.config.schema import Config
from claude_perf.durations import MAX_NS, NAT_NS, series_ns
from claude_perf.parse.text import _same

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from claude_perf.parse.classify import Entries

ERROR_CLASSES = (
    "auth",
    "validation",
    "rate_limit",
    "usage_limit",
    "routing",
    "timeout",
    "cli",
    "server",
    "other",
)
_IN_CONTAINER_CLIENTS = frozenset({"127.0.0.1", "::1", "localhost"})
# An error record with no request in flight belongs to the next completion only if that
# completion follows within this time (a validation error is logged just before its 422).
_ORPHAN_ERROR_WINDOW_NS = 2_000_000_000
# stdout and stderr are stamped separately by the engine; records this close may be out of order.
_SKEW_NS = 50_000_000

_TEXT_CLASSES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "usage_limit",
        # "hit your limit": the Claude CLI's newer wording ("You've hit your limit · resets ...").
        re.compile(
            r"usage limit|usage_limit|limit reached|hit your limit|out of (?:extra )?usage", re.I
        ),
    ),
    (
        "auth",
        re.compile(
            # "authentication failed": the wrapper's 503 record when the CLI has no login
            # ("Claude Code authentication failed: [...]", src/auth.py validate_claude_code_auth).
            r"not logged in|please run /login|login required|invalid api key|authentication failed|"
            r"authentication_error|unauthori[sz]ed|oauth token|credentials? (?:expired|invalid)",
            re.I,
        ),
    ),
    ("rate_limit", re.compile(r"rate.?limit|too many requests|overloaded|\b429\b", re.I)),
    ("timeout", re.compile(r"timed? ?out|timeout|deadline exceeded", re.I)),
    (
        "routing",
        re.compile(
            r"model not found|invalid model|unknown model|not_found_error|"
            # "may not exist": the CLI's "issue with the selected model (X). It may not exist"
            r"model .{0,40}(?:(?:does|may) not exist|not supported|is not available)",
            re.I,
        ),
    ),
    (
        "cli",
        re.compile(r"command failed|exit code|exited with|claude (?:cli|code)|spawn|ENOENT", re.I),
    ),
)


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


def classify_error(status: int | None, messages: Iterable[str], model_known: bool) -> str:
    """Error class of a failed request: status first, then what its error records say."""
    if status in (401, 403):
        return "auth"
    if status in (400, 422):
        return "validation"
    if status == 429:
        return "rate_limit"
    if status in (408, 504):
        return "timeout"
    text = "\n".join(m for m in messages if m)
    for name, pattern in _TEXT_CLASSES[:-1]:
        if pattern.search(text):
            return name
    if not model_known:
        return "routing"
    if _TEXT_CLASSES[-1][1].search(text):
        return "cli"
    if status is not None and status >= 500:
        return "server"
    return "other"


def classify_errors(status: np.ndarray, texts: np.ndarray, model_known: np.ndarray) -> np.ndarray:
    """classify_error over many failed requests at once (the same rules, vectorised)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    # Arrow's RE2 kernels: the same patterns, without a Python call per failed request.
    arrow_texts = pa.array(pd.Series(texts, dtype=object).fillna("").tolist(), pa.large_string())

    def matches(mask: np.ndarray, pattern: re.Pattern[str]) -> np.ndarray:
        rows = np.flatnonzero(mask)
        hit = pc.match_substring_regex(arrow_texts.take(pa.array(rows)), "(?i)" + pattern.pattern)
        return rows[np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool)]

    out = np.full(len(status), None, dtype=object)
    by_status = {401: "auth", 403: "auth", 400: "validation", 422: "validation", 429: "rate_limit"}
    by_status |= {408: "timeout", 504: "timeout"}
    for code, name in by_status.items():
        out[(out == None) & (status == code)] = name  # noqa: E711
    for name, pattern in _TEXT_CLASSES[:-1]:
        unset = out == None  # noqa: E711
        if unset.any():
            out[matches(unset, pattern)] = name
    out[(out == None) & ~model_known] = "routing"  # noqa: E711
    unset = out == None  # noqa: E711
    if unset.any():
        out[matches(unset, _TEXT_CLASSES[-1][1])] = "cli"
    out[(out == None) & (status >= 500)] = "server"  # noqa: E711
    out[out == None] = "other"  # noqa: E711
    return out


def _fifo_pairs(kinds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """FIFO-match a sequence of +1 (start) / -1 (end) events.

    Returns, per event: the matched start's position for ends (-1 when none), the queue length
    just before the event, and whether each start got matched. Vectorised: the queue length is a
    random walk reflected at zero, and an end that finds the queue empty is unmatched.
    """
    import numpy as np

    c = np.cumsum(kinds)
    floor = np.minimum(np.minimum.accumulate(c), 0)
    queue = c - floor
    queue_before = np.concatenate([[0], queue[:-1]])
    is_end = kinds < 0
    matched_end = is_end & (queue_before > 0)
    start_positions = np.flatnonzero(kinds > 0)
    end_positions = np.flatnonzero(matched_end)
    k = min(len(start_positions), len(end_positions))
    partner = np.full(len(kinds), -1, dtype=np.int64)
    partner[end_positions[:k]] = start_positions[:k]
    start_matched = np.zeros(len(kinds), dtype=bool)
    start_matched[start_positions[:k]] = True
    return partner, queue_before, start_matched


def _expired_starts(kinds: np.ndarray, ts_ns: np.ndarray, max_ns: int) -> np.ndarray:
    """Starts (+1) that FIFO pairing with expiry drops: at each end (-1), the oldest open starts
    more than max_ns older than it (both times known) leave the queue before it takes one.

    One pass per event in Python (about 1 µs each), run only when a stale pair exists.
    """
    from collections import deque

    import numpy as np

    expired = np.zeros(len(kinds), dtype=bool)
    times = ts_ns.tolist()
    queue: deque[int] = deque()
    for i, kind in enumerate(kinds.tolist()):
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


# Request kinds as small integer codes while assembling; names only in the final table.
_KIND_NAMES = ("other", "model", "health")
_OTHER, _MODEL, _HEALTH = range(3)
# "No position yet" while taking a per-group minimum of positions.
_NO_POS = 2**63 - 1


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
    model: np.ndarray  # object: str or None
    message: np.ndarray  # object: str or None
    request_id: np.ndarray  # object: str or None
    path_codes: np.ndarray
    path_labels: np.ndarray


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


def _labels(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Factorize a text column: per row a code, and per code its value, plus a trailing None
    that code -1 (None or NaN) picks; ``labels[codes]`` is the column with None for unknown and
    equal strings as one shared object."""
    import numpy as np
    import pandas as pd

    codes, uniques = pd.factorize(values)
    return codes, np.array([*uniques, None], dtype=object)


def _label_in(codes: np.ndarray, labels: np.ndarray, wanted: Iterable[str]) -> np.ndarray:
    """Per row of a factorized column, whether its value is one of wanted (tested per label)."""
    import numpy as np

    chosen = set(wanted)
    return np.array([label in chosen for label in labels], dtype=bool)[codes]


def _gather(values: np.ndarray, index: np.ndarray, valid: np.ndarray, default: int) -> np.ndarray:
    """values[index] where valid, else default; safe when values is empty."""
    import numpy as np

    if len(values) == 0:
        return np.full(len(index), default, dtype=np.int64)
    safe = np.clip(index, 0, len(values) - 1)
    return np.where(valid, values[safe], default)


def _first_in_group(
    groups: np.ndarray, n_groups: int, candidates: np.ndarray, last: bool = False
) -> np.ndarray:
    """Per group, the position of its first (or last) candidate row; -1 when it has none."""
    import numpy as np

    at = np.flatnonzero(candidates)
    if last:
        out = np.full(n_groups, -1, dtype=np.int64)
        np.maximum.at(out, groups[at], at)
        return out
    out = np.full(n_groups, _NO_POS, dtype=np.int64)
    np.minimum.at(out, groups[at], at)
    out[out == _NO_POS] = -1
    return out


def _join_per_group(groups: np.ndarray, messages: np.ndarray, n_groups: int) -> np.ndarray:
    """Per group, its messages (strings only) joined by newlines in order; None without any.

    One Python join per group, not per row, and none for the many groups of a single message.
    """
    import numpy as np

    out = np.full(n_groups, None, dtype=object)
    if len(groups) == 0:
        return out
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    begins = np.flatnonzero(np.concatenate([[True], sorted_groups[1:] != sorted_groups[:-1]]))
    ends = np.append(begins[1:], len(order))
    items = messages[order].tolist()
    texts = [
        (items[b] if isinstance(items[b], str) else None)
        if e - b == 1
        else ("\n".join(m for m in items[b:e] if isinstance(m, str)) or None)
        for b, e in zip(begins.tolist(), ends.tolist(), strict=True)
    ]
    out[sorted_groups[begins]] = np.array(texts, dtype=object)
    return out


def _by_request_id(events: _Events, rows: np.ndarray) -> tuple[dict[str, np.ndarray], int]:
    """Requests whose records carry an id: the last completion, the first start, any model.

    ``rows`` are the id-carrying records (ascending); the result has one entry per id that has
    a completion, plus the number of ids that have a start but none.
    """
    import numpy as np
    import pandas as pd

    ids, names = pd.factorize(events.request_id[rows])
    n_ids = len(names)
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

    # The completion's own model wins, then the start's, then any other record of the request.
    named = events.has_model[rows]
    model_at = _first_in_group(ids, n_ids, named & is_end)
    for candidates in (named & is_start, named & ~is_end & ~is_start):
        model_at = np.where(model_at >= 0, model_at, _first_in_group(ids, n_ids, candidates))

    errors = np.flatnonzero(is_error)
    counts = np.bincount(ids[errors], minlength=n_ids)
    texts = _join_per_group(ids[errors], messages[errors], n_ids)
    first_error = _first_in_group(ids, n_ids, is_error & pd.notna(messages))

    has_start = np.bincount(ids[is_start], minlength=n_ids) > 0
    unmatched = int((has_start & (last_end < 0)).sum())
    done = np.flatnonzero(last_end >= 0)
    part = {
        "pos": rows[last_end[done]],
        "kind": np.full(len(done), _MODEL, dtype=np.int8),
        "start_ns": first_ns[done],
        "model_at": _positions(rows, model_at[done]),
        "error_count": counts[done],
        "error_text": texts[done],
        "first_error_at": _positions(rows, first_error[done]),
        "has_id": np.ones(len(done), dtype=bool),
        "ambiguous": np.zeros(len(done), dtype=bool),
        "stream_at": np.full(len(done), -1, dtype=np.int64),
    }
    return part, unmatched


def _positions(rows: np.ndarray, at: np.ndarray) -> np.ndarray:
    """rows[at], -1 where at is -1 (safe when rows is empty)."""
    import numpy as np

    return np.where(at >= 0, rows[np.maximum(at, 0)], -1) if len(rows) else at.copy()


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
    target = np.full(n, -1, dtype=np.int64)
    rank = np.full(n, 9, dtype=np.int64)
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
        start_open = has_start & ((end_of_start > records) | (end_of_start < 0))
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
    best = np.full(n, _NO_POS, dtype=np.int64)
    np.minimum.at(best, target[chosen], rank[chosen] * n + chosen)
    return np.where(best != _NO_POS, best % max(n, 1), -1)


def _attach_errors(
    ts: np.ndarray,
    errors: np.ndarray,
    model_ends: np.ndarray,
    messages: np.ndarray,
    streaming_end: np.ndarray | None = None,
    start_events: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Each run of error records goes to the completion closest to it in time.

    A request's error records are logged just before its response, but the engine stamps stdout
    (uvicorn's access line) and stderr (the application's records) separately, so the two can
    swap by a few microseconds. A run of error records (no completion between them, gaps under
    50 ms) therefore goes to the completion just before it when that one is nearer and within
    50 ms, else to the next one when it follows within 2 s, else to a streaming response before
    it when no request started since (a stream's errors come after its completion line); else to
    none (counted as outside any request).

    Returns, per model completion: the error records attached, their joined text (None when
    none) and the event of the first one with a message (-1 when none); and the number of error
    records left unattached.
    """
    import numpy as np
    import pandas as pd

    n_ends = len(model_ends)
    if len(errors) == 0:
        no_text = np.full(n_ends, None, dtype=object)
        return np.zeros(n_ends, dtype=np.int64), no_text, np.full(n_ends, -1), 0
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
    # Only adjacency ties an id-less error record to a request: one logged in the middle of a
    # long request (a background task's error) belongs to no request and fails none.
    use_next = ~use_prev & has_next & (to_next <= _ORPHAN_ERROR_WINDOW_NS)
    if streaming_end is not None and start_events is not None and streaming_end.any():
        # Else the streaming response before it, when no request started since its completion.
        prev_streaming = has_prev & _gather(streaming_end, j - 1, has_prev, 0).astype(bool)
        starts_before = np.searchsorted(start_events, errors)
        starts_at_prev = np.searchsorted(start_events, prv)
        use_prev |= ~use_next & prev_streaming & (starts_before == starts_at_prev)
    target = np.where(use_prev, j - 1, np.where(use_next, j, -1))  # index into model_ends
    attach = target >= 0
    orphans = int((~attach).sum())
    ends = target[attach]
    attached = errors[attach]
    count = np.bincount(ends, minlength=n_ends)
    text = _join_per_group(ends, messages[attached], n_ends)
    first = _positions(attached, _first_in_group(ends, n_ends, pd.notna(messages[attached])))
    return count, text, first, orphans


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


def _text_at(values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """values[at] as objects, None where at is -1 or the value is missing (None or NaN)."""
    import numpy as np
    import pandas as pd

    out = np.full(len(at), None, dtype=object)
    found = np.flatnonzero(at >= 0)
    picked = values[at[found]]
    out[found] = np.where(pd.isna(picked), None, picked)
    return out


def _text(values: np.ndarray) -> np.ndarray:
    """An object array with every missing value (None or NaN) as None; as it is when none is NaN."""
    import numpy as np
    import pandas as pd

    missing = pd.isna(values)
    if not missing.any():
        return values
    out = np.array(values, dtype=object)
    out[missing] = None
    return out

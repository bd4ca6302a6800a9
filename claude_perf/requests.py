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
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from claude_perf.config import Config
from claude_perf.durations import NAT_NS, series_ns
from claude_perf.families import family_of

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from claude_perf.frame import Entries

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
        re.compile(r"usage limit|usage_limit|limit reached|out of (?:extra )?usage", re.I),
    ),
    (
        "auth",
        re.compile(
            r"not logged in|please run /login|login required|invalid api key|"
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
            r"model .{0,40}(?:does not exist|not supported|is not available)",
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
    (succeeded/failed), error_class, error_records, error_message, request_id, ambiguous.
    """

    table: pd.DataFrame
    ambiguous_pairings: int
    unmatched_starts: int
    stale_starts: int
    orphan_error_records: int
    error_records: int


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


def assemble(entries: Entries, config: Config) -> Requests:
    """Build the per-request table from classified entries (vectorised: no per-row pandas)."""
    import numpy as np
    import pandas as pd

    ev = entries.events
    if not (ev["row"].is_monotonic_increasing and isinstance(ev.index, pd.RangeIndex)):
        ev = ev.sort_values("row", kind="stable").reset_index(drop=True)
    elif ev.index.start != 0 or ev.index.step != 1:
        ev = ev.reset_index(drop=True)
    n = len(ev)
    ts = series_ns(ev["ts"])
    role = ev["role"].to_numpy(dtype=object)
    path = ev["path"].to_numpy(dtype=object)
    model_col = ev["model"].to_numpy(dtype=object)
    messages = ev["message"].to_numpy(dtype=object)
    has_id = ev["request_id"].notna().to_numpy(dtype=bool)
    is_error = ev["is_error"].to_numpy(dtype=bool)
    health_paths = list(config.health_paths)
    model_paths = list(config.model_paths)
    no_path = pd.isna(path)

    path_series = pd.Series(path, dtype=object)
    health_path = path_series.isin(health_paths).to_numpy()
    end_mask = role == "end"
    is_health_end = end_mask & health_path
    is_model_end = end_mask & ~is_health_end & (no_path | path_series.isin(model_paths).to_numpy())
    is_other_end = end_mask & ~is_health_end & ~is_model_end
    start_mask = (role == "start") & ~health_path
    is_model_record = role == "model"
    plain = ~has_id

    # 1. Request ids: start, completion, model and error records sharing an id belong together.
    id_part, unmatched_id_starts = _by_request_id(
        ev, has_id & (start_mask | is_model_end | is_error | is_model_record)
    )

    # 2. No ids: FIFO pairing of starts and model-endpoint completions, in log order.
    seq_index = np.flatnonzero(plain & (start_mask | is_model_end))
    seq_kind = np.where(start_mask[seq_index], 1, -1)
    stale_dropped = 0
    for _ in range(50):  # bounded: each pass drops the oldest start that no completion fits
        partner, _queue, _matched = _fifo_pairs(seq_kind)
        ends = np.flatnonzero(partner >= 0)
        s_ev, e_ev = seq_index[partner[ends]], seq_index[ends]
        known = (ts[s_ev] != NAT_NS) & (ts[e_ev] != NAT_NS)
        stale = ends[known & (ts[e_ev] - ts[s_ev] > config.max_latency_s * 1e9)]
        if len(stale) == 0:
            break
        keep = np.ones(len(seq_index), dtype=bool)
        keep[partner[stale[0]]] = False
        stale_dropped += 1
        seq_index, seq_kind = seq_index[keep], seq_kind[keep]
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
    unmatched_starts = unmatched_id_starts + int(((seq_kind > 0) & ~start_matched).sum())

    # Requests in flight at each event (the queue after the last start/end at or before it).
    in_flight = np.zeros(n, dtype=np.int64)
    if len(seq_index):
        q_after = queue_before + seq_kind
        last = np.searchsorted(seq_index, np.arange(n), side="right") - 1
        in_flight[last >= 0] = np.maximum(q_after[last[last >= 0]], 0)

    model_ends = np.flatnonzero(plain & is_model_end)
    start_events = seq_index[seq_kind > 0]
    model_of_end = _attach_models(model_col, plain, role, partner_event, start_events, model_ends)
    error_count, error_text, error_first, orphan_errors = _attach_errors(
        ts, plain & is_error & ~end_mask, model_ends, in_flight, messages
    )
    # An end record that is itself an error (a JSON completion at level error) counts too.
    own_error = is_error & end_mask
    error_count = error_count + own_error.astype(np.int64)
    error_text = np.where(own_error & (error_text == None), messages, error_text)  # noqa: E711
    error_first = np.where(own_error & (error_first == None), messages, error_first)  # noqa: E711

    start_ns = np.where(partner_event >= 0, ts[np.maximum(partner_event, 0)], NAT_NS)
    plain_rows = np.concatenate(
        [model_ends, np.flatnonzero(is_health_end | (is_other_end & plain))]
    )
    kinds = np.array(["other", "model", "health"], dtype=object)[
        np.where(is_health_end[plain_rows], 2, np.where(is_model_end[plain_rows], 1, 0))
    ]
    plain_part = pd.DataFrame(
        {
            "pos": plain_rows,
            "kind": pd.Series(kinds, dtype=object, copy=False),
            "start_ns": np.where(is_model_end[plain_rows], start_ns[plain_rows], NAT_NS),
            "model": np.where(
                model_of_end[plain_rows] == None,  # noqa: E711
                model_col[plain_rows],
                model_of_end[plain_rows],
            ),
            "error_count": np.where(is_model_end[plain_rows], error_count[plain_rows], 0),
            "error_text": np.where(is_model_end[plain_rows], error_text[plain_rows], None),
            "error_first": np.where(is_model_end[plain_rows], error_first[plain_rows], None),
            "request_id": None,
            "ambiguous": ambiguous_event[plain_rows],
        },
        copy=False,
    )
    raw = pd.concat([id_part, plain_part], ignore_index=True) if len(id_part) else plain_part
    # Per-event temporaries are dropped before the table is built (~100 MB at 1M lines).
    del id_part, plain_part, model_of_end, error_count, error_text, error_first, messages
    del partner_event, in_flight, start_ns, ambiguous_event
    raw = raw.sort_values("pos", kind="stable").reset_index(drop=True)
    columns = {name: raw[name].to_numpy(dtype=_RAW_DTYPES[name]) for name in _RAW_DTYPES}
    del raw
    table = _finish(columns, ev, ts, config)
    return Requests(
        table=table,
        ambiguous_pairings=int(table["ambiguous"].sum()) if len(table) else 0,
        unmatched_starts=unmatched_starts,
        stale_starts=stale_dropped,
        orphan_error_records=orphan_errors,
        error_records=int(is_error.sum()),
    )


def _shared(values: np.ndarray) -> np.ndarray:
    """The same values, equal strings as one shared object (a label column then costs 8 bytes a
    row instead of a string object per row); missing values stay as they are."""
    import numpy as np
    import pandas as pd

    codes, uniques = pd.factorize(values)
    if len(uniques) == 0:
        return values
    table = np.empty(len(uniques), dtype=object)
    table[:] = list(uniques)
    return np.where(codes >= 0, table[np.maximum(codes, 0)], values)


def _gather(values: np.ndarray, index: np.ndarray, valid: np.ndarray, default: int) -> np.ndarray:
    """values[index] where valid, else default; safe when values is empty."""
    import numpy as np

    if len(values) == 0:
        return np.full(len(index), default, dtype=np.int64)
    safe = np.clip(index, 0, len(values) - 1)
    return np.where(valid, values[safe], default)


def _by_request_id(ev: pd.DataFrame, mask: np.ndarray) -> tuple[pd.DataFrame, int]:
    """Requests whose records carry an id: the last completion, the first start, any model."""
    import numpy as np
    import pandas as pd

    columns = ["ts", "role", "model", "request_id", "is_error", "message"]
    sub = ev.loc[mask, columns].assign(pos=np.flatnonzero(mask))
    if sub.empty:
        return pd.DataFrame(), 0
    ends = sub[sub["role"] == "end"].drop_duplicates("request_id", keep="last")
    starts = sub[sub["role"] == "start"]
    start_ns = pd.array(series_ns(starts["ts"]), dtype="Int64")
    start_ns[start_ns == NAT_NS] = pd.NA  # an unknown time must not win min()
    first_start = starts.assign(ns=start_ns).groupby("request_id")["ns"].min().astype("Int64")
    named = sub[sub["model"].notna()]
    # The completion's own model wins, then the start's, then any other record of the request.
    ranked = named.assign(
        rank=np.where(named["role"] == "end", 0, np.where(named["role"] == "start", 1, 2))
    )
    model = (
        ranked.sort_values(["rank", "pos"], kind="stable")
        .drop_duplicates("request_id")
        .set_index("request_id")["model"]
    )
    errors = sub[sub["is_error"]]
    error_groups = errors.groupby("request_id")["message"]
    counts = error_groups.size()
    texts = _joined(errors["request_id"], errors["message"])
    firsts = error_groups.first()
    unmatched = int((~starts["request_id"].drop_duplicates().isin(ends["request_id"])).sum())
    ids = ends["request_id"]
    part = pd.DataFrame(
        {
            "pos": ends["pos"].to_numpy(),
            "kind": "model",
            "start_ns": ids.map(first_start)
            .astype("Int64")
            .fillna(NAT_NS)
            .to_numpy(dtype=np.int64),
            "model": ids.map(model).astype(object).to_numpy(),
            "error_count": ids.map(counts).fillna(0).astype("int64").to_numpy(),
            "error_text": ids.map(texts).astype(object).to_numpy(),
            "error_first": ids.map(firsts).astype(object).to_numpy(),
            "request_id": ids.astype(object).to_numpy(),
            "ambiguous": False,
        }
    )
    return part.reset_index(drop=True), unmatched


def _joined(keys: pd.Series, messages: pd.Series) -> pd.Series:
    """Per key, its messages (strings only) joined by newlines, in order; indexed by key.

    Most keys have one message: those skip the per-group call of a groupby aggregation.
    """
    import pandas as pd

    shared = keys.duplicated(keep=False).to_numpy()
    single_keys = keys[~shared].to_numpy()
    single = pd.Series(
        [m if isinstance(m, str) else "" for m in messages[~shared].tolist()],
        index=pd.Index(single_keys),
        dtype=object,
    )
    if not shared.any():
        return single
    several = (
        messages[shared]
        .groupby(keys[shared].to_numpy(), sort=False)
        .agg(lambda m: "\n".join(str(x) for x in m if isinstance(x, str)))
    )
    return pd.concat([single, several.astype(object)])


def _attach_models(
    model_col: np.ndarray,
    plain: np.ndarray,
    role: np.ndarray,
    partner_event: np.ndarray,
    start_events: np.ndarray,
    model_ends: np.ndarray,
) -> np.ndarray:
    """The model of each id-less completion: its own, its start's, else a model record's.

    A model record (e.g. the wrapper's "Model 'opus' is not in the known supported models list")
    belongs to the newest start still open at that moment; with none open, to the next
    completion that has no start (a streaming request logs no start line).
    """
    import numpy as np
    import pandas as pd

    n = len(model_col)
    has_model = (
        np.array([isinstance(m, str) for m in model_col], dtype=bool) if n else np.zeros(0, bool)
    )
    target = np.full(n, -1, dtype=np.int64)
    rank = np.full(n, 9, dtype=np.int64)
    own_end = plain & has_model & (role == "end")
    target[own_end] = np.flatnonzero(own_end)
    rank[own_end] = 0
    own_start = plain & has_model & (role == "start") & (partner_event >= 0)
    target[own_start] = partner_event[own_start]
    rank[own_start] = 1
    records = np.flatnonzero(plain & has_model & (role == "model"))
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
    chosen = np.flatnonzero(target >= 0)
    out = np.full(n, None, dtype=object)
    if len(chosen):
        frame = pd.DataFrame({"target": target[chosen], "rank": rank[chosen], "pos": chosen})
        best = frame.sort_values(["rank", "pos"], kind="stable").drop_duplicates("target")
        out[best["target"].to_numpy()] = model_col[best["pos"].to_numpy()]
    return out


def _attach_errors(
    ts: np.ndarray,
    error_mask: np.ndarray,
    model_ends: np.ndarray,
    in_flight: np.ndarray,
    messages: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Each run of error records goes to the completion closest to it in time.

    A request's error records are logged just before its response, but the engine stamps stdout
    (uvicorn's access line) and stderr (the application's records) separately, so the two can
    swap by a few microseconds. A run of error records (no completion between them, gaps under
    50 ms) therefore goes to the completion just before it when that one is nearer and within
    50 ms, else to the next one when a request was in flight or it follows within 2 s.
    """
    import numpy as np
    import pandas as pd

    n = len(ts)
    count = np.zeros(n, dtype=np.int64)
    text = np.full(n, None, dtype=object)
    first = np.full(n, None, dtype=object)
    errors = np.flatnonzero(error_mask)
    if len(errors) == 0:
        return count, text, first, 0
    j = np.searchsorted(model_ends, errors)
    err_ts = ts[errors]
    known = err_ts != NAT_NS
    new_run = np.ones(len(errors), dtype=bool)
    new_run[1:] = (j[1:] != j[:-1]) | ~known[1:] | ~known[:-1]
    new_run[1:] |= (err_ts[1:] - err_ts[:-1]) > _SKEW_NS
    run_id = np.cumsum(new_run) - 1
    run_start = pd.Series(err_ts).groupby(run_id).transform("min").to_numpy()
    run_end = pd.Series(err_ts).groupby(run_id).transform("max").to_numpy()
    has_next = j < len(model_ends)
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
    use_next = (
        ~use_prev & has_next & ((in_flight[errors] > 0) | (to_next <= _ORPHAN_ERROR_WINDOW_NS))
    )
    target = np.where(use_prev, prv, np.where(use_next, nxt, -1))
    attach = target >= 0
    orphans = int((~attach).sum())
    if attach.any():
        frame = pd.DataFrame({"end": target[attach], "message": messages[errors[attach]]})
        grouped = frame.groupby("end", sort=False)["message"]
        sizes = grouped.size()
        count[sizes.index.to_numpy()] = sizes.to_numpy()
        joined = _joined(frame["end"], frame["message"])
        text[joined.index.to_numpy()] = joined.to_numpy(dtype=object)
        firsts = grouped.first()
        first[firsts.index.to_numpy()] = firsts.to_numpy(dtype=object)
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
)


# The per-request columns assemble hands to _finish, with their numpy dtypes.
_RAW_DTYPES = {
    "pos": "int64",
    "kind": "object",
    "start_ns": "int64",
    "model": "object",
    "error_count": "int64",
    "error_text": "object",
    "error_first": "object",
    "request_id": "object",
    "ambiguous": "bool",
}


def _finish(
    raw: dict[str, np.ndarray], ev: pd.DataFrame, ts: np.ndarray, config: Config
) -> pd.DataFrame:
    """Derive latency, family, outcome and error class (rows already in completion order)."""
    import numpy as np
    import pandas as pd

    pos = raw["pos"]
    end_ns = ts[pos]
    start_ns = raw["start_ns"]
    duration = ev["duration_s"].to_numpy(dtype=float)[pos]
    explicit = ~np.isnan(duration)
    paired_ok = (start_ns != NAT_NS) & (end_ns != NAT_NS)
    paired = np.where(paired_ok, (end_ns - start_ns) / 1e9, np.nan)
    latency = np.where(explicit, duration, paired)
    source_code = np.where(explicit, 0, np.where(paired_ok, 1, 2))
    # With an explicit duration the start is known as end − duration, even without a start line.
    derived = np.where(
        explicit & (end_ns != NAT_NS),
        end_ns - np.nan_to_num(duration * 1e9).astype(np.int64),
        NAT_NS,
    )
    start_ns = np.where(start_ns != NAT_NS, start_ns, derived)
    status_int = ev["status"].to_numpy(dtype=np.int64, na_value=0)[pos]
    n_errors = raw["error_count"]
    kind = _shared(raw["kind"])
    failed = (status_int >= 400) | (n_errors > 0)
    models = raw["model"]
    # Per distinct model name, not per request.
    model_codes, unique_models = pd.factorize(pd.Series(models, dtype=object))
    # Equal names as one shared object (the missing ones, code -1, stay as they were).
    model_table = np.empty(len(unique_models) + 1, dtype=object)
    model_table[:-1] = list(unique_models)
    models = np.where(model_codes >= 0, model_table[model_codes], models)
    unique_families = np.array(
        [family_of(m, config.aliases) if isinstance(m, str) else None for m in unique_models]
        + [None],
        dtype=object,
    )
    families = unique_families[model_codes]  # code -1 (no model) picks the trailing None
    error_text = raw["error_text"]
    error_class = np.full(len(pos), None, dtype=object)
    classify_at = np.flatnonzero(failed & (kind != "health"))
    if len(classify_at):
        model_known = np.array(
            [
                not isinstance(m, str) or f is not None
                for m, f in zip(models[classify_at], families[classify_at], strict=True)
            ],
            dtype=bool,
        )
        error_class[classify_at] = classify_errors(
            status_int[classify_at], error_text[classify_at], model_known
        )
    clients = ev["client"].to_numpy(dtype=object)[pos]
    in_container = pd.Series(clients, dtype=object).isin(list(_IN_CONTAINER_CLIENTS)).to_numpy()

    def times(ns: np.ndarray) -> pd.Series:
        values = np.where(ns == NAT_NS, np.datetime64("NaT"), ns.view("datetime64[ns]"))
        return pd.Series(pd.to_datetime(values, utc=True))

    def text_col(values: np.ndarray) -> pd.Series:
        # object dtype, no per-value conversion to Arrow strings; unknown is None, never NaN
        # (concatenated parts and pandas maps bring NaN in), so consumers test one thing.
        values = np.asarray(values, dtype=object)
        missing = pd.isna(values)
        if missing.any():
            values = values.copy()
            values[missing] = None
        return pd.Series(values, dtype=object)

    return pd.DataFrame(
        {
            "kind": text_col(kind),
            "start": times(start_ns),
            "end": times(end_ns),
            "latency_s": latency.astype("float64"),
            "latency_source": text_col(
                np.array(["explicit", "paired", None], dtype=object)[source_code]
            ),
            "method": text_col(ev["method"].to_numpy(dtype=object)[pos]),
            "path": text_col(ev["path"].to_numpy(dtype=object)[pos]),
            "status": pd.arrays.IntegerArray(status_int.astype(np.int16), status_int == 0),
            "client": text_col(clients),
            "in_container": in_container,
            "model": text_col(models),
            "family": text_col(families),
            "outcome": text_col(
                np.array(["succeeded", "failed"], dtype=object)[failed.view(np.int8)]
            ),
            "error_class": text_col(error_class),
            "error_records": n_errors,
            "error_message": text_col(raw["error_first"]),
            "request_id": text_col(raw["request_id"]),
            "ambiguous": raw["ambiguous"],
        },
        columns=list(COLUMNS),
        copy=False,
    )

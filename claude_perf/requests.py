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
    """Build the per-request table from classified entries."""
    import numpy as np
    import pandas as pd

    ev = entries.events.sort_values("row", kind="stable").reset_index(drop=True)
    ts = (
        ev["ts"].astype("datetime64[ns, UTC]").array.asi8.copy()
        if len(ev)
        else np.zeros(0, np.int64)
    )
    nat = np.iinfo(np.int64).min
    role = ev["role"].to_numpy(dtype=object)
    path = ev["path"].to_numpy(dtype=object)
    has_id = ev["request_id"].notna().to_numpy()
    is_error = ev["is_error"].to_numpy(dtype=bool)
    health_paths = set(config.health_paths)
    model_paths = set(config.model_paths)

    end_mask = role == "end"
    is_health_end = end_mask & np.isin(path, list(health_paths))
    is_model_end = end_mask & ~is_health_end & (pd.isna(path) | np.isin(path, list(model_paths)))
    is_other_end = end_mask & ~is_health_end & ~is_model_end
    start_mask = (role == "start") & ~np.isin(path, list(health_paths))

    rows: list[dict[str, object]] = []
    n_ambiguous = 0
    n_stale = 0

    # 1. Request ids: group start, completion, model and error records sharing an id.
    id_frame = ev[has_id & (start_mask | is_model_end | is_error | (role == "model"))]
    unmatched_starts = 0
    for request_id, group in id_frame.groupby("request_id", sort=False):
        ends = group[group["role"] == "end"]
        starts = group[group["role"] == "start"]
        if ends.empty:
            unmatched_starts += int(len(starts) > 0)
            continue
        end = ends.iloc[-1]
        start_ts = starts["ts"].min() if not starts.empty else pd.NaT
        models = [
            m for m in [end["model"], *starts["model"], *group["model"]] if isinstance(m, str)
        ]
        errors = group[group["is_error"]]
        rows.append(
            _row(
                "model",
                end,
                start_ts,
                models[0] if models else None,
                list(errors["message"].dropna()),
                request_id=str(request_id),
                ambiguous=False,
            )
        )

    # 2. No ids: FIFO pairing of starts and model-endpoint completions, in log order.
    plain = ~has_id
    seq_mask = plain & (start_mask | is_model_end)
    seq_index = np.flatnonzero(seq_mask)
    seq_kind = np.where(start_mask[seq_index], 1, -1)
    partner_of_end: dict[int, int] = {}
    queue_before = np.zeros(len(seq_index), dtype=np.int64)
    for _ in range(20):  # bounded: each pass drops the stale starts that skewed the last one
        partner, queue_before, _start_matched = _fifo_pairs(seq_kind)
        stale = []
        for pos in np.flatnonzero(partner >= 0).tolist():
            s_ev, e_ev = seq_index[partner[pos]], seq_index[pos]
            if (
                ts[s_ev] != nat
                and ts[e_ev] != nat
                and ts[e_ev] - ts[s_ev] > config.max_latency_s * 1e9
            ):
                stale.append(partner[pos])
        if not stale:
            break
        keep = np.ones(len(seq_index), dtype=bool)
        keep[stale[:1]] = False  # drop the oldest stale start, then pair again
        n_stale += 1
        seq_index, seq_kind = seq_index[keep], seq_kind[keep]
    partner, queue_before, start_matched = _fifo_pairs(seq_kind)
    for pos in np.flatnonzero(partner >= 0).tolist():
        partner_of_end[int(seq_index[pos])] = int(seq_index[partner[pos]])
    # A pairing is ambiguous when another id-less request was open at any moment of its life:
    # then its completion could as well have been the other one's.
    crowded = np.cumsum((queue_before + seq_kind) > 1)
    ambiguous_ends = set()
    for pos in np.flatnonzero(partner >= 0).tolist():
        s_pos = int(partner[pos])
        if crowded[pos - 1] - (crowded[s_pos - 1] if s_pos > 0 else 0) > 0:
            ambiguous_ends.add(int(seq_index[pos]))
    unmatched_starts += int(((seq_kind > 0) & ~start_matched).sum())
    start_of_event = {v: k for k, v in partner_of_end.items()}  # start event → end event

    model_end_events = np.flatnonzero(plain & is_model_end)
    # Queue length at every event position (for attaching records in flight).
    in_flight = np.zeros(len(ev), dtype=np.int64)
    if len(seq_index):
        q_after = queue_before + seq_kind
        positions = np.searchsorted(seq_index, np.arange(len(ev)), side="right") - 1
        valid = positions >= 0
        in_flight[valid] = np.maximum(q_after[positions[valid]], 0)

    # Model records: the newest open start before them, else the next start-less completion.
    model_of_end: dict[int, str] = {}
    start_events = np.array(
        sorted(start_of_event.keys())
        + [int(seq_index[p]) for p in np.flatnonzero((seq_kind > 0) & ~start_matched)],
        dtype=np.int64,
    )
    start_events.sort()
    models_col = ev["model"].to_numpy(dtype=object)
    for pos in np.flatnonzero(plain & ((role == "model") | start_mask | is_model_end)).tolist():
        model = models_col[pos]
        if not isinstance(model, str):
            continue
        if role[pos] == "end":
            model_of_end.setdefault(pos, model)
            continue
        if role[pos] == "start":
            end_pos = start_of_event.get(pos)
            if end_pos is not None:
                model_of_end.setdefault(end_pos, model)
            continue
        i = np.searchsorted(start_events, pos) - 1
        if i >= 0:
            s = int(start_events[i])
            end_pos = start_of_event.get(s)
            if end_pos is None or end_pos > pos:
                if end_pos is not None:
                    model_of_end.setdefault(end_pos, model)
                continue
        j = np.searchsorted(model_end_events, pos)
        if j < len(model_end_events):
            e = int(model_end_events[j])
            if e not in partner_of_end:
                model_of_end.setdefault(e, model)

    # Error records: the next completion, when a request was in flight or it follows closely.
    errors_of_end: dict[int, list[str]] = {}
    orphan_errors = 0
    messages = ev["message"].to_numpy(dtype=object)
    for pos in np.flatnonzero(plain & is_error & ~end_mask).tolist():
        j = np.searchsorted(model_end_events, pos)
        if j >= len(model_end_events):
            orphan_errors += 1
            continue
        e = int(model_end_events[j])
        close = ts[pos] != nat and ts[e] != nat and ts[e] - ts[pos] <= _ORPHAN_ERROR_WINDOW_NS
        if in_flight[pos] > 0 or close:
            errors_of_end.setdefault(e, []).append(str(messages[pos]))
        else:
            orphan_errors += 1

    ts_series = ev["ts"]
    for pos in model_end_events.tolist():
        end = ev.iloc[pos]
        partner_pos = partner_of_end.get(pos)
        start_ts = ts_series.iloc[partner_pos] if partner_pos is not None else pd.NaT
        if pos in ambiguous_ends:
            n_ambiguous += 1
        rows.append(
            _row(
                "model",
                end,
                start_ts,
                model_of_end.get(pos),
                errors_of_end.get(pos, []) + ([str(messages[pos])] if is_error[pos] else []),
                request_id=None,
                ambiguous=pos in ambiguous_ends,
            )
        )
    for pos in np.flatnonzero(is_health_end | (is_other_end & plain)).tolist():
        end = ev.iloc[pos]
        kind = "health" if is_health_end[pos] else "other"
        rows.append(_row(kind, end, pd.NaT, None, [], request_id=None, ambiguous=False))

    table = _finish(rows, config)
    return Requests(
        table=table,
        ambiguous_pairings=n_ambiguous,
        unmatched_starts=unmatched_starts,
        stale_starts=n_stale,
        orphan_error_records=orphan_errors,
        error_records=int(is_error.sum()) if len(ev) else 0,
    )


def _row(
    kind: str,
    end: pd.Series,
    start_ts: object,
    model: str | None,
    errors: list[str],
    request_id: str | None,
    ambiguous: bool,
) -> dict[str, object]:
    return {
        "kind": kind,
        "start_ts": start_ts,
        "end_ts": end["ts"],
        "duration_s": end["duration_s"],
        "method": end["method"],
        "path": end["path"],
        "status": end["status"],
        "client": end["client"],
        "model": model if model is not None else end["model"],
        "error_messages": errors,
        "request_id": request_id,
        "ambiguous": ambiguous,
        "row": end["row"],
    }


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


def _finish(rows: list[dict[str, object]], config: Config) -> pd.DataFrame:
    """Derive latency, family, outcome and error class; order rows by completion."""
    import numpy as np
    import pandas as pd

    if not rows:
        empty = pd.DataFrame({name: pd.Series(dtype="object") for name in COLUMNS})
        empty["start"] = pd.Series(dtype="datetime64[ns, UTC]")
        empty["end"] = pd.Series(dtype="datetime64[ns, UTC]")
        empty["latency_s"] = pd.Series(dtype="float64")
        empty["status"] = pd.Series(dtype="Int16")
        empty["error_records"] = pd.Series(dtype="int64")
        empty["ambiguous"] = pd.Series(dtype="bool")
        empty["in_container"] = pd.Series(dtype="bool")
        return empty
    raw = pd.DataFrame(rows).sort_values("row", kind="stable").reset_index(drop=True)
    end = pd.to_datetime(raw["end_ts"], utc=True)
    start = pd.to_datetime(raw["start_ts"], utc=True)
    duration = pd.to_numeric(raw["duration_s"], errors="coerce")
    paired = (end - start).dt.total_seconds()
    explicit = duration.notna()
    latency = duration.where(explicit, paired)
    source = [
        "explicit" if e else ("paired" if p else None)
        for e, p in zip(explicit.tolist(), paired.notna().tolist(), strict=True)
    ]
    # With an explicit duration the start is known as end − duration, even without a start line.
    start = start.where(start.notna() | ~explicit, end - pd.to_timedelta(duration, unit="s"))
    status = pd.array(raw["status"], dtype="Int16")
    n_errors = raw["error_messages"].map(len).astype("int64")
    status_np = np.asarray(pd.array(status).fillna(0).to_numpy(dtype=np.int64))
    http_failed = status_np >= 400
    failed = http_failed | (n_errors.to_numpy() > 0)
    models = raw["model"].astype(object).where(raw["model"].notna(), None)
    families = [family_of(m, config.aliases) if isinstance(m, str) else None for m in models]
    error_class: list[str | None] = []
    for i in range(len(raw)):
        if not failed[i]:
            error_class.append(None)
            continue
        model_known = models.iloc[i] is None or families[i] is not None
        code = int(status_np[i]) if status_np[i] else None
        error_class.append(classify_error(code, raw["error_messages"].iloc[i], model_known))
    clients = raw["client"].astype(object)
    table = pd.DataFrame(
        {
            "kind": pd.array(raw["kind"], dtype="str"),
            "start": start,
            "end": end,
            "latency_s": latency.astype("float64"),
            "latency_source": pd.array(source, dtype="str"),
            "method": pd.array(raw["method"].astype(object), dtype="str"),
            "path": pd.array(raw["path"].astype(object), dtype="str"),
            "status": status,
            "client": pd.array(clients, dtype="str"),
            "in_container": clients.isin(list(_IN_CONTAINER_CLIENTS)).to_numpy(),
            "model": pd.array(models, dtype="str"),
            "family": pd.array(families, dtype="str"),
            "outcome": np.where(failed, "failed", "succeeded"),
            "error_class": pd.array(error_class, dtype="str"),
            "error_records": n_errors,
            "error_message": pd.array(
                [m[0] if m else None for m in raw["error_messages"]], dtype="str"
            ),
            "request_id": pd.array(raw["request_id"].astype(object), dtype="str"),
            "ambiguous": raw["ambiguous"].astype(bool),
        }
    )
    table["outcome"] = pd.array(table["outcome"], dtype="str")
    return table

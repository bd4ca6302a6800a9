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

from typing import TYPE_CHECKING

from claude_perf.durations import NAT_NS

if TYPE_CHECKING:
    import numpy as np

# A duration record and the completion it describes are logged within this time of each other.
CARRY_WINDOW_NS = 250_000_000
# How many completions after a duration record (and one before) may be the one it describes:
# under concurrency another request's completion can be logged in between.
_CARRY_LOOKAHEAD = 4


def carry_durations(
    ts_ns: np.ndarray,
    is_duration: np.ndarray,
    is_end: np.ndarray,
    status: np.ndarray,
    duration_s: np.ndarray,
) -> tuple[np.ndarray, int, int]:
    """Durations of completions, each taken from its duration record where it has none.

    ``status`` is float (NaN unknown). Returns (the completions' durations, per event; records
    carried; records left without a completion). One pass in Python over the duration records
    (a few per request at most, and only in sources whose dialect has them).
    """
    import numpy as np

    out = duration_s.copy()
    records = np.flatnonzero(is_duration & ~np.isnan(duration_s))
    ends = np.flatnonzero(is_end)
    if not len(records) or not len(ends):
        return out, 0, len(records)
    taken = ~np.isnan(duration_s[ends])  # a completion with its own duration keeps it
    carried = 0
    times, codes = ts_ns.tolist(), status.tolist()
    for record in records.tolist():
        at = int(np.searchsorted(ends, record))
        best, best_gap = -1, CARRY_WINDOW_NS + 1
        for k in range(max(at - 1, 0), min(at + _CARRY_LOOKAHEAD, len(ends))):
            end = int(ends[k])
            if taken[k] or times[end] == NAT_NS or times[record] == NAT_NS:
                continue
            same = np.isnan(codes[record]) or np.isnan(codes[end]) or codes[record] == codes[end]
            gap = abs(times[end] - times[record])
            if same and gap < best_gap:
                best, best_gap = k, gap
        if best >= 0:
            taken[best] = True
            out[ends[best]] = duration_s[record]
            carried += 1
    return out, carried, len(records) - carried


def ids_without_completion(
    request_id: np.ndarray, has_id: np.ndarray, is_end: np.ndarray
) -> np.ndarray:
    """Per event: it carries an id that no completion carries (so pairing by id cannot work)."""
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


def lend_id_models(
    model: np.ndarray, request_id: np.ndarray, loose: np.ndarray, is_start: np.ndarray
) -> np.ndarray:
    """Models for the loose (id-only) starts from any record of the same id (first wins)."""
    import numpy as np
    import pandas as pd

    rows = np.flatnonzero(loose)
    if not len(rows):
        return model
    out = model.copy()
    first: dict[object, object] = {}
    for rid, name in zip(request_id[rows].tolist(), model[rows].tolist(), strict=True):
        if isinstance(name, str) and rid not in first:
            first[rid] = name
    starts = rows[is_start[rows] & pd.isna(model[rows])]
    out[starts] = np.array([first.get(r) for r in request_id[starts].tolist()], dtype=object)
    return out


def arrivals(is_start: np.ndarray, kind_path: np.ndarray, is_kind_end: np.ndarray) -> np.ndarray:
    """Starts of a kind (health, other) that count as requests: only where no completion of
    that kind is logged at all."""
    import numpy as np

    if is_kind_end.any():
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(is_start & kind_path)

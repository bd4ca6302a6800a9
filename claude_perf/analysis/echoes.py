"""One response logged twice in one source: an access line and the application's own line.

A FastAPI proxy with a logging middleware (``Request completed: POST /v1/messages status=200
duration_ms=812``) under uvicorn, whose access logger writes ``"POST /v1/messages HTTP/1.1"
200`` for the same response, logs each request twice; so does a Node app with morgan beside its
own logger. Read as they are, both lines are completions and every request counts twice. Known
proxies' dialects say which of their lines is the completion; for the others, this module finds
the echoes from the lines themselves:

- two completion lines are an echo pair when one is an access line (uvicorn's, morgan's) and
  the other the application's own (a leveled, JSON, key=value or bare request line), they name
  the same path, no other completion of that path lies between them, their statuses and
  methods do not differ (either may be unknown), and they were written together: stamped
  within id_lives.RACE_NS (how far apart the engine may stamp two records written together to
  stdout and stderr), or, without a time on either, with no other completion of any path
  between them;
- a source's pairs count only when they are the rule there: at least ECHO_SHARE of the smaller
  family's completions (on the paths both families log) have their echo, in one order (the
  application's line first, or the access line first). Two unrelated loggers (two proxies'
  lines in one file) meet that way only by coincidence.

Of each pair the application's line stays (it carries the duration, the model), given the
access line's status, method, client and time where it lacks them; the access line goes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from claude_perf.analysis.id_lives import RACE_NS
from claude_perf.durations import NAT_NS, series_ns

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

# The pairs must be the rule, not a coincidence (analysis/front.FRONT_MATCH_SHARE's reasoning:
# a clear majority; a few requests logged by one logger alone, e.g. a 422 the framework
# answers before the middleware runs, must not stop the rest from being told apart).
ECHO_SHARE = 0.8

# The columns an access line lends the application's line of the same response.
_LENT = ("status", "method", "client")


@dataclass(frozen=True)
class Echoes:
    """The events with each echo pair made one, and how many access lines went, per source."""

    events: pd.DataFrame
    merged: dict[int, int]

    @property
    def total(self) -> int:
        return sum(self.merged.values())


def merge_echoes(ev: pd.DataFrame) -> Echoes:
    """``ev`` (the entries' events, in log order) with each echo pair made one (see above)."""
    import numpy as np

    is_end = _label_is(ev["role"], "end")
    access = is_end & _label_is(ev["kind"], "access")
    if not access.any() or not (is_end & ~access).any():
        return Echoes(ev, {})
    ends = np.flatnonzero(is_end)
    pairs = _pairs(ev, ends, access[ends])
    if not len(pairs[0]):
        return Echoes(ev, {})
    keep_at, drop_at = pairs
    ev = ev.copy()
    for name in _LENT:
        if name in ev.columns:
            _lend(ev, name, keep_at, drop_at, ev[name].iloc[keep_at].isna().to_numpy())
    untimed = ev["ts"].iloc[keep_at].isna().to_numpy()
    for name in ("ts", "ts_source"):  # a time and where it came from, together
        if name in ev.columns:
            _lend(ev, name, keep_at, drop_at, untimed)
    sources = _sources(ev)[drop_at]
    merged = {int(s): int(n) for s, n in zip(*np.unique(sources, return_counts=True), strict=True)}
    kept = np.ones(len(ev), dtype=bool)
    kept[drop_at] = False
    return Echoes(ev[kept].reset_index(drop=True), merged)


def _lend(
    ev: pd.DataFrame, name: str, keep_at: np.ndarray, drop_at: np.ndarray, missing: np.ndarray
) -> None:
    """The access lines' ``name`` given to their application lines where ``missing``."""
    if missing.any():
        column = ev.columns.get_loc(name)
        ev.iloc[keep_at[missing], column] = ev[name].iloc[drop_at[missing]].to_numpy()


def _pairs(ev: pd.DataFrame, ends: np.ndarray, access: np.ndarray) -> tuple[np.ndarray, ...]:
    """(the application's lines, their access lines): event positions of the echo pairs."""
    import numpy as np

    source = _sources(ev)[ends].astype(np.int64)
    path = _codes(ev["path"], ends)
    # Neighbours within one (source, path), in log order (a stable sort keeps it): the
    # candidates are the neighbours of two families; the other tests run on them alone.
    group = source * (int(path.max()) + 2) + (path + 1)
    order = np.argsort(group, kind="stable")
    key = group[order]
    fam = access[order]
    edge = np.flatnonzero((key[:-1] == key[1:]) & (fam[:-1] != fam[1:]) & (path[order][:-1] >= 0))
    first, second = order[edge], order[edge + 1]  # places in ``ends``
    for name in ("status", "method"):
        if name in ev.columns:
            one, two = _codes(ev[name], ends[first]), _codes(ev[name], ends[second])
            keep = (one == two) | (one < 0) | (two < 0)
            edge, first, second = edge[keep], first[keep], second[keep]
    ts = ev["ts"]
    one, two = _ns(ts, ends[first]), _ns(ts, ends[second])
    timed = (one != NAT_NS) & (two != NAT_NS)
    # Without times: nothing else completed between them (next to each other among all the
    # completions).
    together = np.where(timed, np.abs(two - one) <= RACE_NS, second - first == 1)
    edge, first, second = edge[together], first[together], second[together]
    app_first = ~access[first]
    keep, drop = [], []
    src = source[first]
    for s in np.unique(src):
        smaller = _smaller_family(source, path, access, int(s))
        mine = src == s
        best = max((app_first & mine, ~app_first & mine), key=lambda e: int(e.sum()))
        n = int(best.sum())
        if not n or n < ECHO_SHARE * smaller:
            continue
        app_at = np.where(app_first[best], first[best], second[best])
        keep.append(ends[app_at])
        drop.append(ends[np.where(app_first[best], second[best], first[best])])
    if not keep:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(keep), np.concatenate(drop)


def _smaller_family(src: np.ndarray, path: np.ndarray, fam: np.ndarray, s: int) -> int:
    """In source ``s``, on the paths both families log: the fewer of the two's completions."""
    import numpy as np

    mine = src == s
    both = np.intersect1d(path[mine & fam], path[mine & ~fam])
    on = mine & np.isin(path, both)
    return min(int((on & fam).sum()), int((on & ~fam).sum()))


def _label_is(column: pd.Series, label: str) -> np.ndarray:
    """Per row: whether a categorical column holds ``label`` (by its code: no string per row)."""
    import numpy as np

    categories = list(column.cat.categories)
    if label not in categories:
        return np.zeros(len(column), dtype=bool)
    return column.cat.codes.to_numpy() == categories.index(label)


def _codes(column: pd.Series, at: np.ndarray) -> np.ndarray:
    """A column's values at ``at`` as integers, -1 for unknown: a categorical's codes, a
    number as it is."""
    import numpy as np

    if hasattr(column, "cat"):
        return column.cat.codes.to_numpy()[at].astype(np.int64)
    return column.iloc[at].fillna(-1).to_numpy(dtype=np.int64)


def _ns(ts: pd.Series, at: np.ndarray) -> np.ndarray:
    """The times at ``at`` as integer nanoseconds (NAT_NS unknown)."""
    return series_ns(ts.iloc[at]) if len(at) else series_ns(ts.iloc[:0])


def _sources(ev: pd.DataFrame) -> np.ndarray:
    import numpy as np

    if "source" in ev.columns:
        return ev["source"].to_numpy()
    return np.zeros(len(ev), dtype=np.int8)

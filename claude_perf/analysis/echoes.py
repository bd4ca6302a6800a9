"""One response logged twice in one source: by an access logger and by the application.

A FastAPI proxy with a logging middleware (``Request completed: POST /v1/messages status=200
duration_ms=812``) under uvicorn, whose access logger writes ``"POST /v1/messages HTTP/1.1"
200`` for the same response, logs each request twice; so does a Node app with morgan beside its
own logger. Read as they are, both lines are completions and every request counts twice. Known
proxies' dialects say which of their lines is the completion; for the others, this module finds
the echoes from the lines themselves. The two loggers are told apart by their lines' kinds
(parse/formats.KINDS: uvicorn's access line, a leveled record, JSON, key=value, a dialect's
pattern, a bare request line):

- two completion lines are an echo pair when they are of two kinds, name the same path, no other
  completion of that path lies between them, their statuses and methods do not differ (either
  may be unknown), and they were written together: stamped within id_lives.RACE_NS (how far
  apart the engine may stamp two records written together to stdout and stderr), or, without a
  time on either, with no other completion of any path between them;
- a source's pairs count only when they are the rule there, for one pair of kinds in one order:
  the commonest such pairing in the source, and at least ECHO_SHARE of the fewer kind's
  completions (on the paths both kinds log) have their echo. Two unrelated loggers (two
  proxies' lines in one file) meet that way only by coincidence.

Of each pair one line stays: of the two kinds, the one whose lines more often carry a duration
(then a model); it is lent the other line's status, method, client, model, request id, duration
and time where it lacks them, and the other line goes.
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

# The columns the line that goes lends the one that stays, where that one lacks them.
_LENT = ("status", "method", "client", "model", "request_id", "duration_s")


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
    ends = np.flatnonzero(is_end)
    kind = ev["kind"].cat.codes.to_numpy()[ends].astype(np.int64)
    if not len(ends) or (kind == kind[0]).all():  # one logger's completions alone
        return Echoes(ev, {})
    keep_at, drop_at = _pairs(ev, ends, kind)
    if not len(keep_at):
        return Echoes(ev, {})
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
    """The lines that go give ``name`` to the lines that stay where those lack it."""
    given = missing & ev[name].iloc[drop_at].notna().to_numpy()
    if given.any():
        column = ev.columns.get_loc(name)
        ev.iloc[keep_at[given], column] = ev[name].iloc[drop_at[given]].to_numpy()


def _pairs(ev: pd.DataFrame, ends: np.ndarray, kind: np.ndarray) -> tuple[np.ndarray, ...]:
    """(the lines that stay, the lines that go): event positions of the echo pairs."""
    import numpy as np

    source = _sources(ev)[ends].astype(np.int64)
    path = _codes(ev["path"], ends)
    # Neighbours within one (source, path), in log order (a stable sort keeps it), and, where a
    # line names no path, neighbours among all the source's completions: the candidates are
    # neighbours of two kinds; the other tests run on them alone.
    first, second = _neighbours(source * (int(path.max()) + 2) + (path + 1), kind)
    known = path[first] >= 0
    first, second = first[known], second[known]
    by_source = _neighbours(source, kind)
    unnamed = (path[by_source[0]] < 0) | (path[by_source[1]] < 0)
    first = np.concatenate([first, by_source[0][unnamed]])
    second = np.concatenate([second, by_source[1][unnamed]])
    for name in ("path", "status", "method"):
        if name in ev.columns:
            one, two = _codes(ev[name], ends[first]), _codes(ev[name], ends[second])
            keep = (one == two) | (one < 0) | (two < 0)
            first, second = first[keep], second[keep]
    one, two = _ns(ev["ts"], ends[first]), _ns(ev["ts"], ends[second])
    timed = (one != NAT_NS) & (two != NAT_NS)
    # Without times: nothing else completed between them (next to each other among all the
    # completions).
    together = np.where(timed, np.abs(two - one) <= RACE_NS, second - first == 1)
    first, second = first[together], second[together]
    # Per source, each (kind, kind) order among the pairs, the commonest first; kept only where
    # it is the rule, one order per two kinds, and no line in two pairs.
    n_kinds = int(kind.max()) + 1
    pair_code = (source[first] * n_kinds + kind[first]) * n_kinds + kind[second]
    codes, counts = np.unique(pair_code, return_counts=True)
    taken: set[tuple[int, int, int]] = set()
    used = np.zeros(len(ends), dtype=bool)
    # Per (source, kind): how many of its completions name each path (index 0: none).
    paths = np.bincount(
        (source * n_kinds + kind) * (int(path.max()) + 2) + (path + 1),
        minlength=int(source.max() + 1) * n_kinds * (int(path.max()) + 2),
    ).reshape(-1, int(path.max()) + 2)
    keep, drop = [], []
    for code in codes[np.argsort(-counts, kind="stable")].tolist():
        s, rest = divmod(code, n_kinds * n_kinds)
        k1, k2 = divmod(rest, n_kinds)
        if (s, min(k1, k2), max(k1, k2)) in taken:
            continue
        chosen = _once((pair_code == code) & ~used[first] & ~used[second], first, second)
        if not _the_rule(int(chosen.sum()), paths[s * n_kinds + k1], paths[s * n_kinds + k2]):
            continue
        taken.add((s, min(k1, k2), max(k1, k2)))
        used[first[chosen]] = used[second[chosen]] = True
        one, two = ends[first[chosen]], ends[second[chosen]]
        if _informative(ev, two) > _informative(ev, one):
            one, two = two, one
        keep.append(one)
        drop.append(two)
    if not keep:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(keep), np.concatenate(drop)


def _once(chosen: np.ndarray, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """``chosen`` without the pairs whose line an earlier chosen pair holds (a line next to two
    of the other kind: one by its path, one among all the source's completions)."""
    import numpy as np

    at = np.flatnonzero(chosen)
    alone = np.ones(len(at), dtype=bool)
    for side in (first[at], second[at]):
        _, firsts = np.unique(side, return_index=True)
        once = np.zeros(len(at), dtype=bool)
        once[firsts] = True
        alone &= once
    out = np.zeros_like(chosen)
    out[at[alone]] = True
    return out


def _neighbours(group: np.ndarray, kind: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Places of the completions next to each other within a group (log order kept) that are of
    two kinds: (the first's, the second's)."""
    import numpy as np

    if (group[1:] >= group[:-1]).all():  # one source, in log order: nothing to sort
        order = np.arange(len(group))
    else:
        order = np.argsort(group, kind="stable")
    key, sorted_kind = group[order], kind[order]
    edge = np.flatnonzero((key[:-1] == key[1:]) & (sorted_kind[:-1] != sorted_kind[1:]))
    return order[edge], order[edge + 1]


def _the_rule(n: int, one: np.ndarray, two: np.ndarray) -> bool:
    """Whether ``n`` pairs of two kinds are the rule in their source (``one``, ``two``: how many
    of each kind's completions there name each path, index 0 none): ECHO_SHARE of the fewer
    kind's completions on the paths both log (all of them where either leaves a path unknown)."""
    if one[0] or two[0]:
        fewer = min(int(one.sum()), int(two.sum()))
    else:
        both = (one > 0) & (two > 0)
        fewer = min(int(one[both].sum()), int(two[both].sum()))
    return n > 0 and n >= ECHO_SHARE * fewer


def _informative(ev: pd.DataFrame, at: np.ndarray) -> float:
    """How much a set of lines tells: the share carrying a duration, then (a half) a model."""
    score = 0.0
    for name, weight in (("duration_s", 1.0), ("model", 0.5)):
        if name in ev.columns and len(at):
            score += weight * float(ev[name].iloc[at].notna().mean())
    return score


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

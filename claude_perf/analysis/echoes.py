"""One response logged twice in one source: by an access logger and by the application.

A FastAPI proxy with a logging middleware (``Request completed: POST /v1/messages status=200
duration_ms=812``) under uvicorn, whose access logger writes ``"POST /v1/messages HTTP/1.1"
200`` for the same response, logs each request twice; so does a Node app with morgan beside its
own logger. Read as they are, both lines are completions and every request counts twice. Known
proxies' dialects say which of their lines is the completion; for the others, this module finds
the echoes from the lines themselves. The two loggers are told apart by their lines' kinds
(parse/formats.KINDS: uvicorn's access line, a leveled record, JSON, key=value, a dialect's
pattern, a bare request line):

- two completion lines are an echo pair when they are of two kinds, name the same path (or one
  names none), lie in runs of lines next to each other (a line and each line of the next run of
  another kind, _RUN_REACH lines at most: a few responses finishing together write their lines
  crossed), their statuses and methods do not differ (either may be unknown), and they were
  written together: stamped within id_lives.RACE_NS (how far apart the engine may stamp two
  records written together to stdout and stderr), in either order, or, without a time on
  either, next to each other among all the completions; a line is in one pair at most, the
  closest first; where that makes echoes the rule, the lines without a time left over pair
  next to each other in their own sequence, round by round (A A B B: written crossed);
- a source's pairs count only when they are the rule there for two kinds: at least ECHO_SHARE
  of the fewer kind's completions (on the paths both kinds log) have their echo, and the pairs
  with times were written together (median gap under ECHO_GAP_NS). Two unrelated loggers (two
  proxies' lines in one file, or one logger's lines in two kinds) meet that way only by
  coincidence.

Of each pair one line stays: of the two kinds, the one whose lines more often carry a duration
(then a model); it is lent the other line's status, method, client, model, request id, duration
and time where it lacks them, and the other line goes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from claude_perf.analysis.id_lives import RACE_NS
from claude_perf.durations import NAT_NS

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

# The pairs must be the rule, not a coincidence (analysis/front.FRONT_MATCH_SHARE's reasoning:
# a clear majority; a few requests logged by one logger alone, e.g. a 422 the framework
# answers before the middleware runs, must not stop the rest from being told apart).
ECHO_SHARE = 0.8

# Two records one process writes together reach the engine well within a few ms: the real
# captures' pairs were 0.06 and 0.2 ms apart (medians; at most 0.93 ms; middleware-*), where
# completions of concurrent requests that pair by coincidence spread over the whole RACE_NS
# window (13 ms median, the wrapper under gunicorn at 3 in flight). The pairs' median gap (of
# those with times) must be under this for them to be echoes.
ECHO_GAP_NS = 5_000_000

# The columns the line that goes lends the one that stays, where that one lacks them.
_LENT = ("status", "method", "client", "model", "request_id", "duration_s")


@dataclass(frozen=True)
class Echoes:
    """The events with each echo pair made one, and how many lines went, per source id."""

    events: pd.DataFrame
    merged: dict[int, int]

    @property
    def total(self) -> int:
        return sum(self.merged.values())


def merge_echoes(ev: pd.DataFrame) -> Echoes:
    """``ev`` (the entries' events, in log order) with each echo pair made one (see above)."""
    import numpy as np

    # Narrow types until the search is known to be worth it: at 10M bench lines (4.3M
    # completions) the first bound's temporaries stood 410 MB over the entries as int64 copies
    # (the run's peak), about 150 MB as they are now.
    # A completion marked a continuation (printed within 5 ms of a record: parse/classify.py) is
    # another kind's line displaced by timing, no logger of its own: in one run of the wrapper
    # under gunicorn (3 in flight) 5 of its 18 access lines were, and 4 of them paired with the
    # other 13 by coincidence (14 requests counted of 18).
    ends = np.flatnonzero(_label_is(ev["role"], "end") & ~_label_is(ev["kind"], "continuation"))
    ends = ends.astype(np.int32) if len(ev) < 2**31 else ends
    kind = ev["kind"].cat.codes.to_numpy()[ends]  # int8
    if not len(ends) or (kind == kind[0]).all():  # one logger's completions alone
        return Echoes(ev, {})
    keep_at, drop_at = _pairs(ev, ends, kind)
    if not len(keep_at):
        return Echoes(ev, {})
    # One copy: the kept lines first, then the lent values written into it (a copy to lend
    # into and then a filtered copy of that stood twice the entries over the peak: about
    # 670 MB at 10M lines of a log that echoes).
    kept = np.ones(len(ev), dtype=bool)
    kept[drop_at] = False
    out = ev[kept].reset_index(drop=True)
    # each kept line's place in ``out``: its place in ``ev`` less the lines dropped before it
    moved = keep_at - np.searchsorted(np.sort(drop_at), keep_at)
    for name in _LENT:
        if name in ev.columns:
            missing = ev[name].iloc[keep_at].isna().to_numpy()
            _lend(ev, out, name, (keep_at, moved), drop_at, missing)
    untimed = ev["ts"].iloc[keep_at].isna().to_numpy()
    for name in ("ts", "ts_source"):  # a time and where it came from, together
        if name in ev.columns:
            _lend(ev, out, name, (keep_at, moved), drop_at, untimed)
    sources = _sources(ev)[drop_at]
    merged = {int(s): int(n) for s, n in zip(*np.unique(sources, return_counts=True), strict=True)}
    return Echoes(out, merged)


def _lend(
    ev: pd.DataFrame,
    out: pd.DataFrame,
    name: str,
    keep: tuple[np.ndarray, np.ndarray],
    drop_at: np.ndarray,
    missing: np.ndarray,
) -> None:
    """The lines that go give ``name`` to the lines that stay where those lack it: read from
    ``ev`` (positions ``drop_at``), written into ``out`` (each kept line's place there,
    ``keep[1]``; ``keep[0]`` its place in ``ev``)."""
    given = missing & ev[name].iloc[drop_at].notna().to_numpy()
    if given.any():
        column = out.columns.get_loc(name)
        out.iloc[keep[1][given], column] = ev[name].iloc[drop_at[given]].to_numpy()


def _pairs(ev: pd.DataFrame, ends: np.ndarray, kind: np.ndarray) -> tuple[np.ndarray, ...]:
    """(the lines that stay, the lines that go): event positions of the echo pairs."""
    import numpy as np

    source = _sources(ev)[ends]
    path = ev["path"].cat.codes.to_numpy()[ends].astype(np.int32)  # (-1 unknown)
    ts = ev["ts"].array.as_unit("ns").asi8[ends]  # (NaT: NAT_NS)
    n_kinds = int(kind.max()) + 1
    # Per (source, kind): how many of its completions name each path (index 0: none).
    paths = np.zeros(((int(source.max()) + 1) * n_kinds, int(path.max()) + 2), dtype=np.int64)
    for s in np.flatnonzero(np.bincount(source)).tolist():
        mine = source == s
        for k in np.flatnonzero(np.bincount(kind[mine])).tolist():
            counts = np.bincount(path[mine & (kind == k)] + 1)
            paths[s * n_kinds + k, : len(counts)] = counts
    if not _may_echo(source, kind, ts, paths, n_kinds):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    ends, kind = ends.astype(np.int64), kind.astype(np.int64)
    source, path = source.astype(np.int64), path.astype(np.int64)
    # Neighbours within one (source, path), in log order (a stable sort keeps it), and, where a
    # line names no path, neighbours among all the source's completions: the candidates are
    # neighbours of two kinds written together; the other tests run on them alone.
    first, second = _neighbours(source * (int(path.max()) + 2) + (path + 1), kind, ts)
    known = path[first] >= 0
    first, second = first[known], second[known]
    by_source = _neighbours(source, kind, ts)
    unnamed = (path[by_source[0]] < 0) | (path[by_source[1]] < 0)
    first = np.concatenate([first, by_source[0][unnamed]])
    second = np.concatenate([second, by_source[1][unnamed]])
    compatible = _Compatible(ev, ends, path)
    fits = compatible(first, second)
    first, second = first[fits], second[fits]
    one, two = ts[first], ts[second]
    timed = (one != NAT_NS) & (two != NAT_NS)
    # Without times: nothing else completed between them (next to each other among all the
    # completions). Lines written crossed (A A B B) then stay two requests each: which order
    # is the usual one cannot be told from an alternating run alone (L A L A pairs either way).
    gap = np.where(timed, np.abs(two - one), 0)
    together = timed | (second - first == 1)
    first, second, gap, timed = first[together], second[together], gap[together], timed[together]
    # Per source and two kinds (in either order: stdout and stderr are stamped apart, so the
    # access line comes first or second by the race), the lines matched one to one, closest
    # first; kept where that is the rule, the commonest two kinds first.
    low, high = np.minimum(kind[first], kind[second]), np.maximum(kind[first], kind[second])
    pair_code = (source[first] * n_kinds + low) * n_kinds + high
    codes, counts = np.unique(pair_code, return_counts=True)
    used = np.zeros(len(ends), dtype=bool)
    keep, drop = [], []
    for code in codes[np.argsort(-counts, kind="stable")].tolist():
        s, rest = divmod(code, n_kinds * n_kinds)
        k1, k2 = divmod(rest, n_kinds)
        at = np.flatnonzero(pair_code == code)
        # ties (no times): the order most of the pairs have (an application that logs before
        # uvicorn's access line does so every time), so a run of lines is read pair by pair
        in_order = kind[first[at]] == k1
        usual = in_order if 2 * int(in_order.sum()) >= len(at) else ~in_order
        rank = gap[at] * 2 + ~usual
        matched = at[_one_to_one(first[at], second[at], rank, used)]
        if not _the_rule(len(matched), paths[s * n_kinds + k1], paths[s * n_kinds + k2]):
            continue
        stamped = matched[timed[matched]]
        if len(stamped) and float(np.median(gap[stamped])) > ECHO_GAP_NS:
            continue  # written apart: two loggers' lines met by coincidence
        used[first[matched]] = used[second[matched]] = True
        a, b = _crossed(kind, source, ts, used, compatible, (s, k1, k2))
        a, b = np.concatenate([first[matched], a]), np.concatenate([second[matched], b])
        # by kind: the k1 line and the k2 line of each pair, whichever came first
        k1_first = kind[a] == k1
        one = ends[np.where(k1_first, a, b)]
        two = ends[np.where(k1_first, b, a)]
        if _informative(ev, two) > _informative(ev, one):
            one, two = two, one
        keep.append(one)
        drop.append(two)
    if not keep:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(keep), np.concatenate(drop)


class _Compatible:
    """Whether two completions (places among the ends) may be one response: their paths,
    statuses and methods do not differ (either may be unknown)."""

    def __init__(self, ev: pd.DataFrame, ends: np.ndarray, path: np.ndarray) -> None:
        names = [name for name in ("status", "method") if name in ev.columns]
        self.values = [path, *(_codes(ev[name], ends) for name in names)]

    def __call__(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        import numpy as np

        ok = np.ones(len(first), dtype=bool)
        for values in self.values:
            one, two = values[first], values[second]
            ok &= (one == two) | (one < 0) | (two < 0)
        return ok


def _crossed(
    kind: np.ndarray,
    source: np.ndarray,
    ts: np.ndarray,
    used: np.ndarray,
    compatible: _Compatible,
    which: tuple[int, int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """In a source where two kinds' lines are echoes (``which``: source, kind, kind), the lines
    left over once those next to each other paired, one of each pair without a time (two
    times were judged by them): each pipe keeps its order and the engine merged them in
    bursts (A A B B; middleware-plain-sequential without -t had runs of two and three), so the
    leftovers next to each other in their own sequence pair, round by round, as brackets do
    (a few lines apart at most). Marked ``used``."""
    import numpy as np

    s, k1, k2 = which
    left = np.flatnonzero((source == s) & ((kind == k1) | (kind == k2)) & ~used)
    firsts, seconds = [], []
    for _ in range(_RUN_REACH):
        a, b = left[:-1], left[1:]
        ok = (kind[a] != kind[b]) & (b - a <= 2 * _RUN_REACH) & compatible(a, b)
        ok &= (ts[a] == NAT_NS) | (ts[b] == NAT_NS)  # (two times were judged by them)
        # in a run of candidates sharing lines (x y x y), every other one, from the first
        run_start = np.maximum.accumulate(
            np.where(ok & ~np.r_[False, ok[:-1]], np.arange(len(ok)), 0)
        )
        take = np.flatnonzero(ok & ((np.arange(len(ok)) - run_start) % 2 == 0))
        if not len(take):
            break
        firsts.append(a[take])
        seconds.append(b[take])
        gone = np.zeros(len(left), dtype=bool)
        gone[take] = gone[take + 1] = True
        left = left[~gone]
    a = np.concatenate(firsts) if firsts else np.zeros(0, dtype=np.int64)
    b = np.concatenate(seconds) if seconds else np.zeros(0, dtype=np.int64)
    used[a] = used[b] = True
    return a, b


def _one_to_one(
    first: np.ndarray, second: np.ndarray, rank: np.ndarray, used: np.ndarray, rounds: int = 8
) -> np.ndarray:
    """Of the candidate pairs (places of their lines, and each pair's rank: lower is likelier),
    those taken so that no line is in two: in each round a pair is taken when no other pair
    holding one of its lines ranks before it (ties: the earlier candidate); lines already
    ``used`` take none. A line has a few candidates at most (its neighbours), so a few rounds
    take nearly all; a line left over stays a request of its own."""
    import numpy as np

    n = len(first)
    taken = np.zeros(n, dtype=bool)
    if not n:
        return taken
    key = rank.astype(np.int64) * n + np.arange(n)  # unique: the rank, then the order
    free = ~used
    for _ in range(rounds):
        live = ~taken & free[first] & free[second]
        if not live.any():
            break
        best = np.full(len(free), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(best, first[live], key[live])
        np.minimum.at(best, second[live], key[live])
        win = live & (key == best[first]) & (key == best[second])
        taken |= win
        free[first[win]] = free[second[win]] = False
    return taken


# How far across two runs of lines of one kind each a line looks for its echo: two or three
# responses finishing in the same millisecond write their lines crossed (A A B B, the
# middleware-plain-sequential capture), and a run is that long only then.
_RUN_REACH = 4


def _neighbours(
    group: np.ndarray, kind: np.ndarray, ts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs within each group (log order kept): a line and each line of the next run
    of another kind, up to _RUN_REACH lines away in either run, stamped within RACE_NS (or
    either without a time): (the first's places, the second's)."""
    import numpy as np

    if (group[1:] >= group[:-1]).all():  # one source, in log order: nothing to sort
        order = np.arange(len(group))
    else:
        order = np.argsort(group, kind="stable")
    key, sorted_kind, at = group[order], kind[order], ts[order]
    # runs: consecutive lines of one group and one kind
    new_run = np.r_[True, (key[1:] != key[:-1]) | (sorted_kind[1:] != sorted_kind[:-1])]
    run = np.cumsum(new_run)
    untimed = at == NAT_NS
    firsts, seconds = [], []
    for d in range(1, min(2 * _RUN_REACH, len(order))):
        # (slices, not index arrays: a tenth of the time at the 1M bench log's 434k lines)
        close = (np.abs(at[d:] - at[:-d]) <= RACE_NS) | untimed[d:] | untimed[:-d]
        ok = np.flatnonzero(close & (run[d:] == run[:-d] + 1) & (key[d:] == key[:-d]))
        firsts.append(order[ok])
        seconds.append(order[ok + d])
    if not firsts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(firsts), np.concatenate(seconds)


def _may_echo(
    source: np.ndarray, kind: np.ndarray, ts: np.ndarray, paths: np.ndarray, n_kinds: int
) -> bool:
    """Whether some two kinds of some source could be the rule: their pairs are at most the
    lines of one kind stamped within RACE_NS of a line of the other (or without a time), which
    must reach ECHO_SHARE of the fewer. A cheap bound (a pass per kind over the times in order,
    no neighbours): where two loggers' lines meet only by coincidence (the benchmark's mixed
    log: under a fifth of them) the search stops here."""
    import numpy as np

    sources = np.flatnonzero(np.bincount(source)).tolist()
    for s in sources:
        mine = np.flatnonzero(source == s) if len(sources) > 1 else slice(None)
        timed = ts[mine] != NAT_NS
        t, k = (ts[mine], kind[mine]) if timed.all() else (ts[mine][timed], kind[mine][timed])
        if len(t) and not (t[1:] >= t[:-1]).all():  # (in order already, unless streams raced)
            order = np.argsort(t, kind="stable")
            t, k = t[order], k[order]
            del order
        loose = np.bincount(kind[mine][~timed], minlength=n_kinds)  # may pair by their place
        present = np.flatnonzero(np.bincount(kind[mine])).tolist()
        near = {k2: _near(t, k == k2) for k2 in present}
        for a, k1 in enumerate(present):
            for k2 in present[a + 1 :]:
                fewer = _fewer(paths[s * n_kinds + k1], paths[s * n_kinds + k2])
                bound = min(
                    int((near[k2] & (k == k1)).sum()) + int(loose[k1]) + int(loose[k2]),
                    int((near[k1] & (k == k2)).sum()) + int(loose[k1]) + int(loose[k2]),
                )
                if bound >= ECHO_SHARE * fewer > 0:
                    return True
    return False


def _near(t: np.ndarray, of: np.ndarray) -> np.ndarray:
    """Per time of ``t`` (ascending): whether a time marked ``of`` lies within RACE_NS of it."""
    import numpy as np

    if not len(t):
        return np.zeros(0, dtype=bool)
    far_before, far_after = t[0] - 2 * RACE_NS, t[-1] + 2 * RACE_NS
    # (in place: two int64 arrays the size of ``t`` at a time)
    marked = np.where(of, t, far_before)
    np.maximum.accumulate(marked, out=marked)
    near = (t - marked) <= RACE_NS
    np.copyto(marked, np.where(of, t, far_after))
    upcoming = marked[::-1]
    np.minimum.accumulate(upcoming, out=upcoming)
    near |= (marked - t) <= RACE_NS
    return near


def _fewer(one: np.ndarray, two: np.ndarray) -> int:
    """The fewer of two kinds' completions (``one``, ``two``: how many name each path, index 0
    none) on the paths both log (all of them where either leaves a path unknown)."""
    if one[0] or two[0]:
        return min(int(one.sum()), int(two.sum()))
    both = (one > 0) & (two > 0)
    return min(int(one[both].sum()), int(two[both].sum()))


def _the_rule(n: int, one: np.ndarray, two: np.ndarray) -> bool:
    """Whether ``n`` pairs of two kinds are the rule in their source (``one``, ``two``: how many
    of each kind's completions there name each path, index 0 none): ECHO_SHARE of the fewer
    (_fewer)."""
    return n > 0 and n >= ECHO_SHARE * _fewer(one, two)


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


def _sources(ev: pd.DataFrame) -> np.ndarray:
    import numpy as np

    if "source" in ev.columns:
        return ev["source"].to_numpy()
    return np.zeros(len(ev), dtype=np.int8)

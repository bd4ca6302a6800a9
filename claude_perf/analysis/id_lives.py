"""Request ids made whole before the assembly: one id a request, and a request's facts on its end.

Two things a proxy's request ids leave to the reader, both seen on fastify's pino logs
(claude-code-router, fixtures/captures/ccr-*):

- **An id lives once per process.** fastify numbers requests ``req-1``, ``req-2``, … from 1 in
  each process: after a restart ``req-1`` is a new request. Grouped by id alone, the two would
  be one request (the later completion kept, the earlier lost). A start that comes after a
  completion of its id opens a new life of that id; the records after it belong to it. Ids in a
  later life get ``#2``, ``#3``, … appended (the first life keeps its id as logged). A
  completion the engine stamped at most ``RACE_NS`` before a start of its id, with no start of
  that id open before it, is that start's own (written together to stdout and stderr, read
  apart): it opens no new life.
- **The start names the request, the completion ends it.** fastify's ``incoming request`` line
  carries the method, path and client, its ``request completed`` line only the status and time.
  A completion without a path would count as a model request (an unknown path is one): a
  ``/health`` check's completion was counted twice, once as an arrival and once as a model
  request. A completion's missing path, method and client are taken from the first record of the
  same id (and life) that has them.

And one thing a short id leaves: **an id may come back** by chance (CLIProxyAPI's 8 random hex
digits, about one pair per 100,000 requests): an id that completes again more than
``max_latency_s`` after its previous completion is another request (``id_occurrences``, used by
the pairing).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from claude_perf.durations import NAT_NS

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

# The columns a completion may lack and its request's other records may carry.
LENT_COLUMNS = ("path", "method", "client")

# How far apart the engine may stamp two records written together to stdout and stderr (it
# reads the two pipes apart: 38 µs on fixtures/captures/fuergaosi-debug): the pairing's
# _SKEW_NS too.
RACE_NS = 50_000_000


def make_ids_whole(
    ev: pd.DataFrame,
    codes: np.ndarray,
    texts: pa.Array,
    starts: np.ndarray,
    ends: np.ndarray,
    ts_ns: np.ndarray | None = None,
) -> tuple[np.ndarray, pa.Array]:
    """The source's request ids (``codes``, -1 none, and ``texts``: ``parse.events.ids_of`` of
    its ``request_id`` column) with each later life of a reused id given a code of its own (its
    text the id with ``#2``, ``#3``, … appended); and, in ``ev`` (in place), a completion's
    missing path, method and client lent from its start. ``ev``: one source's events in log
    order; ``starts``, ``ends``: per event, whether it is a start, a completion; ``ts_ns``: its
    engine times (None: a completion before a start of its id is always an earlier life)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    rows = np.flatnonzero(codes >= 0)
    if not len(rows):
        return codes, texts
    is_start, is_end = starts[rows], ends[rows]
    ids = codes[rows]  # int32: no 8-byte copy of the codes (the decoding's peak at 10M lines)
    life = _lives(ids, is_start, is_end)
    if ts_ns is not None and life.any():  # only then can a race have opened a life
        life = _without_races(ids, is_start, is_end, ts_ns[rows], life)
    # one code per (id, life); the ids themselves when every id lives once (the usual case)
    group = ids if not life.any() else ids.astype(np.int64) * (int(life.max()) + 1) + life
    if life.any():
        # New codes after the texts' own, one per (id, later life): no Python string per row.
        later = np.flatnonzero(life > 0)
        new, first = pd.factorize(group[later])
        codes = codes.copy()
        codes[rows[later]] = len(texts) + new.astype(codes.dtype)
        lives = int(life.max()) + 1
        labels = [f"{texts[g // lives].as_py()}#{g % lives + 1}" for g in first.tolist()]
        texts = pa.concat_arrays([texts, pa.array(labels, texts.type)])
    for name in LENT_COLUMNS:
        if name in ev.columns:
            _lend(ev, name, rows, group, is_end)
    return codes, texts


def _lives(ids: np.ndarray, is_start: np.ndarray, is_end: np.ndarray) -> np.ndarray:
    """Per record of an id (in log order): which life of its id it belongs to (0 the first).
    A start opens life k, k being the completions of its id before it; a record that is no
    start belongs to the life its id's last start opened (0 before any start)."""
    import numpy as np

    # The usual case, every id started at most once and never completed before its start: one
    # life each, found without the group-wise sums (30 of 65 ms on the 1M-line bench log). The
    # other ids' lives are found on their own records only (a life depends on its id's records
    # alone): the group-wise sums over every record were +100 MB at 10M lines.
    n_ids = int(ids.max()) + 1
    starts = ids[is_start]
    again = np.bincount(starts, minlength=n_ids) >= 2
    start_at = np.full(n_ids, -1, dtype=np.int64)
    start_at[starts] = np.flatnonzero(is_start)
    del starts
    end_rows = np.flatnonzero(is_end)
    again[ids[end_rows[end_rows < start_at[ids[end_rows]]]]] = True  # completed before its start
    del start_at, end_rows
    rows = np.flatnonzero(again[ids])
    life = np.zeros(len(ids), dtype=np.int32)  # a life's number: its id's completions before
    if len(rows):
        life[rows] = _group_lives(ids[rows], is_start[rows], is_end[rows])
    return life


def _without_races(
    ids: np.ndarray, is_start: np.ndarray, is_end: np.ndarray, ts_ns: np.ndarray, life: np.ndarray
) -> np.ndarray:
    """``life`` (from _lives) with each raced completion (``_raced_ends``) read right after the
    start it raced; worked on the records of the ids that live more than once only (a life
    depends on its id's records alone)."""
    import numpy as np

    sub = np.flatnonzero(np.isin(ids, np.unique(ids[life > 0])))
    s_ids, s_start, s_end = ids[sub], is_start[sub], is_end[sub]
    moved = _raced_ends(s_ids, s_start, s_end, ts_ns[sub])
    if moved is None:
        return life
    ends_at, starts_at = moved
    key = np.arange(len(sub), dtype=np.float64)
    key[ends_at] = starts_at + 0.5
    order = np.argsort(key, kind="stable")
    out = life.copy()
    out[sub[order]] = _lives(s_ids[order], s_start[order], s_end[order])
    return out


def _raced_ends(
    ids: np.ndarray, is_start: np.ndarray, is_end: np.ndarray, ts_ns: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """(positions of completions, positions of the starts they raced): a completion whose next
    record of its id is a start at most RACE_NS later, while no start of that id stood open
    before it. None when there are none."""
    import numpy as np

    if len(ids) < 2:
        return None
    order = np.argsort(ids, kind="stable")  # each id's records together, in log order
    sid, end, start, ts = ids[order], is_end[order], is_start[order], ts_ns[order]
    cand = np.flatnonzero(
        end[:-1]
        & start[1:]
        & (sid[:-1] == sid[1:])
        & (ts[:-1] != NAT_NS)
        & (ts[1:] != NAT_NS)
        & (ts[1:] >= ts[:-1])  # stamps going backwards are no race
        & (ts[1:] - ts[:-1] <= RACE_NS)
    )
    if not len(cand):
        return None
    # starts open before the candidate: its id's starts minus completions before it
    balance = np.concatenate([[0], np.cumsum(start.astype(np.int64) - end)])
    first = np.searchsorted(sid, sid[cand], side="left")
    cand = cand[balance[cand] - balance[first] <= 0]
    if not len(cand):
        return None
    return order[cand], order[cand + 1]


def _group_lives(ids: np.ndarray, is_start: np.ndarray, is_end: np.ndarray) -> np.ndarray:
    """_lives by group-wise sums over the given records (all the records of their ids)."""
    import numpy as np
    import pandas as pd

    ends_before = pd.Series(is_end.astype(np.int64)).groupby(ids).cumsum().to_numpy() - is_end
    opened = pd.Series(np.where(is_start, ends_before, np.nan))
    life = opened.groupby(ids).ffill().fillna(0).to_numpy()
    return np.asarray(life, dtype=np.int64)


def _lend(
    ev: pd.DataFrame, name: str, rows: np.ndarray, group: np.ndarray, is_end: np.ndarray
) -> None:
    """A completion's missing ``name`` from the first record of its (id, life) that has one.

    On the column's categorical codes (the entries' text columns are categoricals): an object
    array of the column was 0.1 s of the 1M-line bench log's 1.4 s and 8 bytes a row."""
    import numpy as np
    import pandas as pd

    column = ev[name]
    if not isinstance(column.dtype, pd.CategoricalDtype):
        column = column.astype("category")
    all_codes = column.cat.codes.to_numpy()
    codes = all_codes[rows]
    need = is_end & (codes < 0)
    if not need.any():
        return
    known = np.flatnonzero(codes >= 0)  # in log order: the first of a group is its first record
    if not len(known):
        return
    groups, first = np.unique(group[known], return_index=True)
    at = np.searchsorted(groups, group[need])
    found = (at < len(groups)) & (groups[np.minimum(at, len(groups) - 1)] == group[need])
    if not found.any():
        return
    filled = all_codes.copy()
    targets = rows[np.flatnonzero(need)[found]]
    filled[targets] = codes[known[first[at[found]]]]
    ev[name] = pd.Categorical.from_codes(filled, dtype=column.dtype)


def id_occurrences(
    ids: np.ndarray, is_end: np.ndarray, ts_ns: np.ndarray, max_ns: int
) -> np.ndarray:
    """Per record (rows in log order; ``ids``: codes, all >= 0), its request as a code: the id,
    split where one id completes again more than ``max_ns`` after its previous completion (a
    short random id that repeats in a long log: CLIProxyAPI's 8 hex digits, about one pair in
    100,000 requests). A record takes the request of the next completion of its id; after the
    last one, that one's while within ``max_ns`` of it, else a request of its own. Ids that
    complete once (the usual case) keep their codes, found by one count over the completions."""
    import numpy as np

    if len(ids) < 2 or not is_end.any():
        return ids
    repeated = np.bincount(ids[is_end], minlength=int(ids.max()) + 1) >= 2
    if not repeated.any():
        return ids
    rows = np.flatnonzero(repeated[ids])
    codes = _occurrence_codes(ids[rows], is_end[rows], ts_ns[rows], max_ns)
    if codes is None:
        return ids
    out = ids.copy()
    out[rows] = int(ids.max()) + 1 + codes
    return out


def _occurrence_codes(
    ids: np.ndarray, is_end: np.ndarray, ts_ns: np.ndarray, max_ns: int
) -> np.ndarray | None:
    """id_occurrences on the rows of ids that complete more than once: new codes from 0, or
    None when no two completions of an id are further apart than ``max_ns``."""
    import numpy as np
    import pandas as pd

    n = len(ids)
    order = np.argsort(ids, kind="stable")
    sid, end, ts = ids[order], is_end[order], ts_ns[order]
    pos = np.arange(n)
    first = np.searchsorted(sid, sid, side="left")  # where each row's id begins, in this order
    last = np.searchsorted(sid, sid, side="right") - 1
    prev_end = np.concatenate([[-1], np.maximum.accumulate(np.where(end, pos, -1))[:-1]])
    before = ts[np.maximum(prev_end, 0)]
    far = (prev_end >= first) & (ts != NAT_NS) & (before != NAT_NS) & (ts - before > max_ns)
    new = end & far
    if not new.any():
        return None
    count = np.cumsum(new)
    occurrence = count - count[first]  # per row: its id's far completions up to it
    next_end = np.minimum.accumulate(np.where(end, pos, n)[::-1])[::-1]
    after_last = np.where(far, occurrence + 1, occurrence)
    occurrence = np.where(next_end <= last, occurrence[np.minimum(next_end, n - 1)], after_last)
    codes = np.empty(n, dtype=np.int64)
    codes[order] = pd.factorize(sid.astype(np.int64) * (n + 1) + occurrence)[0]
    return codes

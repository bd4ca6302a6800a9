"""Request ids made whole before the assembly: one id a request, and a request's facts on its end.

Two things a proxy's request ids leave to the reader, both seen on fastify's pino logs
(claude-code-router, fixtures/captures/ccr-*):

- **An id lives once per process.** fastify numbers requests ``req-1``, ``req-2``, … from 1 in
  each process: after a restart ``req-1`` is a new request. Grouped by id alone, the two would
  be one request (the later completion kept, the earlier lost). A start that comes after a
  completion of its id opens a new life of that id; the records after it belong to it. Ids in a
  later life get ``#2``, ``#3``, … appended (the first life keeps its id as logged).
- **The start names the request, the completion ends it.** fastify's ``incoming request`` line
  carries the method, path and client, its ``request completed`` line only the status and time.
  A completion without a path would count as a model request (an unknown path is one): a
  ``/health`` check's completion was counted twice, once as an arrival and once as a model
  request. A completion's missing path, method and client are taken from the first record of the
  same id (and life) that has them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from claude_perf.parse.events import ids_of

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

# The columns a completion may lack and its request's other records may carry.
LENT_COLUMNS = ("path", "method", "client")


def make_ids_whole(ev: pd.DataFrame) -> None:
    """Give each life of a reused id its own id, and lend a completion its start's path, method
    and client (in place; ``ev``: one source's events in log order). Nothing changes in a
    source without request ids, or where every completion already has them."""
    import numpy as np
    import pandas as pd

    if "request_id" not in ev.columns or "role" not in ev.columns:
        return
    codes, texts = ids_of(ev["request_id"])
    rows = np.flatnonzero(codes >= 0)
    if not len(rows):
        return
    role = ev["role"]
    is_start = (role == "start").to_numpy(dtype=bool)[rows]
    is_end = (role == "end").to_numpy(dtype=bool)[rows]
    ids = codes[rows].astype(np.int64)
    life = _lives(ids, is_start, is_end)
    if life.any():
        later = np.flatnonzero(life > 0)
        names = texts.to_pylist()
        column = ev["request_id"].to_numpy(dtype=object, copy=True)
        renamed = zip(ids[later].tolist(), life[later].tolist(), strict=True)
        column[rows[later]] = [f"{names[i]}#{n + 1}" for i, n in renamed]
        ev["request_id"] = pd.Series(column, index=ev.index, dtype=ev["request_id"].dtype)
    group = ids * (int(life.max()) + 1) + life  # one code per (id, life)
    for name in LENT_COLUMNS:
        if name in ev.columns:
            _lend(ev, name, rows, group, is_end)


def _lives(ids: np.ndarray, is_start: np.ndarray, is_end: np.ndarray) -> np.ndarray:
    """Per record of an id (in log order): which life of its id it belongs to (0 the first).
    A start opens life k, k being the completions of its id before it; a record that is no
    start belongs to the life its id's last start opened (0 before any start)."""
    import numpy as np
    import pandas as pd

    ends_before = pd.Series(is_end.astype(np.int64)).groupby(ids).cumsum().to_numpy() - is_end
    opened = pd.Series(np.where(is_start, ends_before, np.nan))
    life = opened.groupby(ids).ffill().fillna(0).to_numpy()
    return np.asarray(life, dtype=np.int64)


def _lend(
    ev: pd.DataFrame, name: str, rows: np.ndarray, group: np.ndarray, is_end: np.ndarray
) -> None:
    """A completion's missing ``name`` from the first record of its (id, life) that has one."""
    import numpy as np
    import pandas as pd

    values = ev[name].to_numpy(dtype=object)[rows]
    need = is_end & pd.isna(values)
    if not need.any():
        return
    first = pd.Series(values, dtype=object).groupby(group).transform("first").to_numpy()
    fill = np.flatnonzero(need & pd.notna(first))
    if len(fill):
        ev.iloc[rows[fill], ev.columns.get_loc(name)] = first[fill]

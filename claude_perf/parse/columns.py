"""Sparse per-line facts gathered by the classifier, as (rows, values) chunks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from claude_perf.config.dialect import FIELDS

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

# The "alone" column's values (a float column, NaN for every other line): a completion that is
# a whole request by itself (a dialect line's ``alone``), or one logged as its request arrives,
# before any work (``arrival``: its latency is unknown, the error records after it its own).
ALONE_END = 1.0
ARRIVAL_END = 2.0


@dataclass(frozen=True)
class Coded:
    """Text values as integer codes (-1 unknown) into ``labels`` (an Arrow string array).

    The extractors find a few distinct texts (paths, models, levels) on many lines: kept as
    codes, no Python object is made per line between the extractors and the entries frame
    (events._events_frame makes its categoricals from the codes and the request ids an Arrow
    column from the labels). ``labels`` may hold a text twice; the frame's build joins them.
    """

    codes: np.ndarray
    labels: pa.Array

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, index: Any) -> Coded:
        return Coded(self.codes[index], self.labels)

    @staticmethod
    def constant(n: int, label: str | None) -> Coded:
        """n values, each ``label`` (None: unknown)."""
        import numpy as np
        import pyarrow as pa

        code = -1 if label is None else 0
        return Coded(np.full(n, code, dtype=np.int32), pa.array([label or ""], pa.string()))

    def values(self) -> np.ndarray:
        """As an object array, None unknown (each distinct text one shared object)."""
        import numpy as np

        labels = np.asarray([*self.labels.to_pylist(), None], dtype=object)
        return labels[self.codes]  # code -1 picks the None


class _Columns:
    """Sparse per-line facts as (rows, values) chunks; the first chunk to set a row wins."""

    NAMES = (
        "level",
        "logger",
        "method",
        "path",
        "status",
        "client",
        "model",
        "duration_s",
        "request_id",
        "role",
        "app_time",
        "exit_code",
        "rounded_s",
        "stream",
        "duration_bare",
        "alone",
        *FIELDS,
    )

    def __init__(self, n_lines: int) -> None:
        self.n_lines = n_lines
        self.chunks: dict[str, list[tuple[np.ndarray, np.ndarray | Coded]]] = {
            n: [] for n in self.NAMES
        }

    def add(self, name: str, rows: np.ndarray, values: np.ndarray | Coded) -> None:
        import numpy as np

        if len(rows) == 0:
            return
        if isinstance(values, Coded):
            known = values.codes >= 0
            if not known.all():
                rows, values = rows[known], values[known]
            self.chunks[name].append((rows, values))
            return
        keep = values != None if values.dtype == object else ~np.isnan(values)  # noqa: E711
        if not keep.all():
            rows, values = rows[keep], values[keep]
        self.chunks[name].append((rows, values))

    def mask(self, name: str) -> np.ndarray:
        """Lines that have a value for this column (a mask: cheaper than np.unique of rows)."""
        import numpy as np

        out = np.zeros(self.n_lines, dtype=bool)
        for rows, _ in self.chunks[name]:
            out[rows] = True
        return out

    def rows(self, name: str) -> np.ndarray:
        import numpy as np

        return np.flatnonzero(self.mask(name))

    # float columns, NaN = unknown
    NUMERIC = ("duration_s", "status", "exit_code", "rounded_s", "duration_bare", "alone", *FIELDS)

    def positions(self, at: np.ndarray) -> np.ndarray:
        """Line row → position in ``at`` (-1 where absent): one map for every gather."""
        import numpy as np

        where = np.full(self.n_lines, -1, dtype=np.int64)
        where[at] = np.arange(len(at))
        return where

    def gather(
        self, name: str, at: np.ndarray, fill: Any = None, where: np.ndarray | None = None
    ) -> np.ndarray:
        """Values at the given rows (fill where no chunk set one); ``where`` from positions(at)."""
        import numpy as np

        if name in self.NUMERIC:
            out = np.full(len(at), np.nan, dtype=float)
        else:
            out = np.full(len(at), fill, dtype=object)
        if len(at) == 0:
            return out
        if where is None:
            where = self.positions(at)
        # Later chunks first, so that earlier (more specific) chunks overwrite them.
        for rows, values in reversed(self.chunks[name]):
            pos = where[rows]
            inside = pos >= 0
            if isinstance(values, Coded):
                values = values.values()
            out[pos[inside]] = values[inside]
        return out

    def gather_codes(self, name: str, at: np.ndarray, where: np.ndarray) -> Coded:
        """A text column's values at the given rows as codes (-1 where no chunk set one) into
        the chunks' labels put end to end; ``where`` from positions(at)."""
        import numpy as np
        import pandas as pd
        import pyarrow as pa

        out = np.full(len(at), -1, dtype=np.int64)
        labels: list[pa.Array] = []
        base = 0
        # Later chunks first, so that earlier (more specific) chunks overwrite them.
        for rows, values in reversed(self.chunks[name]):
            if not isinstance(values, Coded):  # an object chunk (a few lines): coded here
                codes, uniques = pd.factorize(values)
                values = Coded(codes, pa.array(list(uniques), pa.string()))
            pos = where[rows]
            inside = pos >= 0
            out[pos[inside]] = values.codes[inside] + base
            labels.append(values.labels.cast(pa.string()))
            base += len(values.labels)
        return Coded(out, pa.concat_arrays(labels) if labels else pa.array([], pa.string()))

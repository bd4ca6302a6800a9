"""Sparse per-line facts gathered by the classifier, as (rows, values) chunks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from claude_perf.config.dialect import FIELDS

if TYPE_CHECKING:
    import numpy as np


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
        "stream",
        "duration_bare",
        "alone",
        *FIELDS,
    )

    def __init__(self, n_lines: int) -> None:
        self.n_lines = n_lines
        self.chunks: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {n: [] for n in self.NAMES}

    def add(self, name: str, rows: np.ndarray, values: np.ndarray) -> None:
        import numpy as np

        if len(rows) == 0:
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
    NUMERIC = ("duration_s", "status", "exit_code", "duration_bare", "alone", *FIELDS)

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
            out[pos[inside]] = values[inside]
        return out

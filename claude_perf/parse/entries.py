"""The classifier's output: per-kind line counts and one row per request-relevant entry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


@dataclass(frozen=True)
class Entries:
    """The classified lines: per-kind counts and one row per request-relevant entry.

    ``events`` columns: row, ts (UTC, NaT when unknown), ts_source, kind, role, level, logger,
    method, path, status, client, model, duration_s, request_id, message (error rows only).
    The repeating text columns are categoricals (events.CATEGORY_COLUMNS: read them with
    events.text_values); request_id and message are Arrow string columns (read them with
    text_values or events.ids_of: None for unknown). row is int32 while the line numbers fit
    (row_numbers), source the narrowest integer type that holds the sources' ids.
    """

    kind_counts: dict[str, int]
    events: pd.DataFrame
    app_time_lines: int
    no_time_lines: int
    # source id → the dialects found in it (see parse/dialect_match.py)
    dialects: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # what the classifier had to infer, for the data-quality section
    # of app_time_lines, those whose stamp counts whole seconds (gin's, a file log's): see
    # analysis/clock.py
    app_whole_second_lines: int = 0


# Line numbers take 4 bytes while they fit (every input this tool reads whole or in chunks:
# 2**31 lines are over 100 GB), 8 beyond: at 10M lines (6.5M entries) 26 MB less through the
# classification's peak. Readers sort, compare and index with them, whatever their width.
_ROW_LIMIT = 2**31


def row_numbers(rows: np.ndarray) -> np.ndarray:
    """Line numbers (ascending, from 0) as int32 while they fit, else int64."""
    import numpy as np

    fits = not len(rows) or int(rows[-1]) < _ROW_LIMIT
    return rows.astype(np.int32 if fits else np.int64, copy=False)


def shift_rows(events: pd.DataFrame, start: int) -> None:
    """A part's line numbers moved to the whole input's (in place): ``start`` added, widened to
    int64 only when the last one would not fit int32."""
    import numpy as np

    rows = events["row"].to_numpy()
    if not len(rows) or start == 0:
        return
    if int(rows[-1]) + start < _ROW_LIMIT:
        events["row"] += np.int32(start) if rows.dtype == np.int32 else start
    else:
        events["row"] = rows.astype(np.int64) + start


def source_codes(sources: np.ndarray) -> np.ndarray:
    """Each entry's source id in the narrowest signed type that holds the largest (one byte
    for up to 127 sources): joined parts widen to the largest part's type, which is the type
    of the whole input's largest id, so chunked and whole reads agree."""
    import numpy as np

    top = int(sources.max()) if len(sources) else 0
    return sources.astype(np.min_scalar_type(-top - 1), copy=False)


def source_name(names: Sequence[str], source: int) -> str:
    """A source id's name: its place among ``names`` (the inputs' names in id order), else
    ``source-N`` (an id past them, as in frames built without names)."""
    return names[source] if source < len(names) else f"source-{source}"

"""The classifier's output: per-kind line counts and one row per request-relevant entry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Entries:
    """The classified lines: per-kind counts and one row per request-relevant entry.

    ``events`` columns: row, ts (UTC, NaT when unknown), ts_source, kind, role, level, logger,
    method, path, status, client, model, duration_s, request_id, message (error rows only).
    The repeating text columns are categoricals (events.CATEGORY_COLUMNS: read them with
    events.text_values); request_id is an Arrow string column (read it with text_values or
    events.ids_of: None for unknown); message is objects, None for unknown.
    """

    kind_counts: dict[str, int]
    events: pd.DataFrame
    app_time_lines: int
    no_time_lines: int
    # source id → the dialects found in it (see parse/dialect_match.py)
    dialects: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # what the classifier had to infer, for the data-quality section

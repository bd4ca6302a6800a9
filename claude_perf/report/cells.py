"""Table cells: figures written the same way in every section (fixed decimals, "–" for unknown).

Sentences use ``analysis.formatting`` (fmt_s picks ms or s by size); table columns use these, so a
column compares at a glance.
"""

from __future__ import annotations

from claude_perf.analysis.formatting import fmt_pct
from claude_perf.report.model import Text, ours


def fmt_cell_s(value: float | None) -> str:
    """Latency in a table: seconds, two decimals (fixed, so columns compare at a glance)."""
    return "–" if value is None else f"{value:.2f} s"


def fmt_count(value: int | float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"


def fmt_share(part: int, whole: int) -> str:
    return f"{part}/{whole} ({fmt_pct(part / whole)})" if whole else f"{part}/0"


def row(*cells: str | Text) -> tuple[Text, ...]:
    return tuple(c if isinstance(c, Text) else ours(c) for c in cells)

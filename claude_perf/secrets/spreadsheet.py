"""CSV cells a spreadsheet would run as a formula, written so it shows them as text.

OWASP "CSV Injection": a cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return can be read as a formula (``=HYPERLINK(…)``, ``@SUM(…)``, DDE ``-2+3+cmd|…``); such a cell
gets a leading ``'``. Only text cells are touched: a number column keeps its negative numbers.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: str) -> str:
    """`cell` unchanged, or with a leading ``'`` when a spreadsheet would run it."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell

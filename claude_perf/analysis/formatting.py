"""How figures are written in sentences: seconds, bytes, percentages and times.

The findings, the scores' reasons and the report all write figures the same way, so these live
below all three (report → analysis, never back up).
"""

from __future__ import annotations

from datetime import datetime


def fmt_s(seconds: float) -> str:
    """Seconds with a precision that suits the size (ms below one second)."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 100:
        return f"{seconds:.2f} s"
    return f"{seconds:.0f} s"


def fmt_bytes(value: float) -> str:
    """Binary units, as docker stats prints them."""
    sign = "-" if value < 0 else ""
    value = abs(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{sign}{value:.0f} {unit}" if unit == "B" else f"{sign}{value:.1f} {unit}"
        value /= 1024
    return f"{sign}{value:.2f} TiB"


def fmt_pct(fraction: float) -> str:
    return f"{fraction * 100:.1f}%"


def fmt_time(value: datetime | None) -> str:
    return "unknown" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")

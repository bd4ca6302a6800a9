"""Whether an input is in a line form: most of its first non-empty lines match a pattern."""

from __future__ import annotations

import re

SNIFF_LINES = 50  # the first non-empty lines looked at (within the first MiB)


def most_lines_match(data: bytes, pattern: re.Pattern[bytes], lines: int = SNIFF_LINES) -> bool:
    """Whether more than half of the first ``lines`` non-empty lines match ``pattern``."""
    seen = hits = start = 0
    while seen < lines and start < len(data) and start < 1 << 20:
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        line = data[start:end].rstrip(b"\r")
        start = end + 1
        if not line.strip():
            continue
        seen += 1
        hits += bool(pattern.match(line))
    return seen > 0 and hits * 2 > seen

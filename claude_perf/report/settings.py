"""The report's own configuration values, as the sections read them.

[references] is declared and validated in config.schema; here it becomes the small values
the sections format ([tiers] is read as it is, ``config.tiers``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from claude_perf.config.schema import ReferenceLatency


@dataclass(frozen=True)
class Reference:
    name: str
    low_s: float
    high_s: float
    source: str | None


def references_of(raw: Mapping[str, ReferenceLatency]) -> tuple[Reference, ...]:
    """[references.NAME] (validated in config.schema), sorted by name."""
    return tuple(Reference(name, *raw[name].latency_s, raw[name].source) for name in sorted(raw))

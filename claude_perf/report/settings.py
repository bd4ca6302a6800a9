"""The report's own configuration values, as the sections read them.

[tiers] and [references] are declared and validated in config.schema; here they become the
small values the sections format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from claude_perf.config.schema import ReferenceLatency, Tiers


def tiers_of(tiers: Tiers) -> Tiers:
    """[tiers] (validated in config.schema)."""
    return tiers


@dataclass(frozen=True)
class Reference:
    name: str
    low_s: float
    high_s: float
    source: str | None


def references_of(raw: Mapping[str, ReferenceLatency]) -> tuple[Reference, ...]:
    """[references.NAME] (validated in config.schema), sorted by name."""
    return tuple(Reference(name, *raw[name].latency_s, raw[name].source) for name in sorted(raw))

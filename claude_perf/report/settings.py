"""The report's own configuration tables: [tiers] and [references], read into typed values.

Moved here whole from report/model.py; the bodies are unchanged (config validation is being moved
under claude_perf/config/ on another branch).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from claude_perf.errors import ConfigError

TIER_DEFAULTS: Mapping[str, Any] = {"fast_below_s": 7.0, "slow_above_s": 10.0, "statistic": "p50"}
TIER_STATISTICS = ("p50", "mean", "p95")


@dataclass(frozen=True)
class Tiers:
    fast_below_s: float
    slow_above_s: float
    statistic: str


def tiers_of(raw: Mapping[str, Any]) -> Tiers:
    """[tiers]: fast_below_s, slow_above_s (seconds) and statistic (p50, mean or p95)."""
    unknown = sorted(set(raw) - set(TIER_DEFAULTS))
    if unknown:
        raise ConfigError(
            f"config: [tiers] unknown key(s) {unknown}; known: {sorted(TIER_DEFAULTS)}"
        )
    values = {**TIER_DEFAULTS, **raw}
    statistic = values["statistic"]
    if statistic not in TIER_STATISTICS:
        raise ConfigError(f"config: [tiers] statistic must be one of {', '.join(TIER_STATISTICS)}")
    try:
        fast, slow = float(values["fast_below_s"]), float(values["slow_above_s"])
    except (TypeError, ValueError) as exc:
        raise ConfigError("config: [tiers] fast_below_s and slow_above_s must be numbers") from exc
    if not 0 < fast <= slow:
        raise ConfigError("config: [tiers] needs 0 < fast_below_s <= slow_above_s")
    return Tiers(fast, slow, str(statistic))


@dataclass(frozen=True)
class Reference:
    name: str
    low_s: float
    high_s: float
    source: str | None


def references_of(raw: Mapping[str, Any]) -> tuple[Reference, ...]:
    """[references.NAME]: latency_s = number or [low, high]; source = where the figure is from."""
    result = []
    for name in sorted(raw):
        entry = raw[name]
        where = f"config: [references.{name}]"
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{where} must be a table with latency_s")
        unknown = sorted(set(entry) - {"latency_s", "source"})
        if unknown:
            raise ConfigError(f"{where} unknown key(s) {unknown}; known: latency_s, source")
        value = entry.get("latency_s")
        figures: list[Any] = (
            list(value) if isinstance(value, Sequence) and not isinstance(value, str) else [value]
        )
        if not 1 <= len(figures) <= 2 or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in figures
        ):
            raise ConfigError(f"{where} latency_s must be a number or [low, high] in seconds")
        source = entry.get("source")
        if source is not None and not isinstance(source, str):
            raise ConfigError(f"{where} source must be a string")
        result.append(Reference(str(name), float(min(figures)), float(max(figures)), source))
    return tuple(result)

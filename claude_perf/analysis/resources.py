"""The ``"resources"`` block of the JSON summary: a samples table reduced to a few figures.

The samples come from ``claude_perf.collect.stats.sample_row`` (one row per container and
instant, counters cumulative as the engine reports them); here CPU and memory are pooled over
rows and byte counters become their growth within the window, restart-aware.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


def counter_growth(values: Iterable[float]) -> float | None:
    """How much a cumulative counter grew over a series, across restarts; None with no data.

    Gaps (NaN) are skipped. A value lower than the one before it means the counter restarted
    from zero (a container restart resets cgroup and interface counters), so the growth of that
    step is the new value itself rather than a negative difference.
    """
    total = 0.0
    last: float | None = None
    for value in values:
        if value is None or math.isnan(value):
            continue
        if last is not None:
            total += value - last if value >= last else value
        last = value
    return None if last is None else total


@dataclass(frozen=True)
class ResourceSummary:
    """The ``"resources"`` block of the JSON summary; None where no sample had the figure."""

    samples: int
    containers: int
    cpu_samples: int
    cpu_pct_mean: float | None
    cpu_pct_p95: float | None
    cpu_pct_max: float | None
    mem_bytes_mean: float | None
    mem_bytes_max: float | None
    mem_bytes_limit: float | None
    net_rx_bytes: int | None
    net_tx_bytes: int | None
    blk_read_bytes: int | None
    blk_write_bytes: int | None
    pids_max: int | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, in the documented key layout."""

        def r(value: float | None, digits: int) -> float | None:
            return None if value is None else round(value, digits)

        return {
            "samples": self.samples,
            "containers": self.containers,
            "cpu_samples": self.cpu_samples,
            "cpu_pct": {
                "mean": r(self.cpu_pct_mean, 4),
                "p95": r(self.cpu_pct_p95, 4),
                "max": r(self.cpu_pct_max, 4),
            },
            "mem_bytes": {
                "mean": r(self.mem_bytes_mean, 0),
                "max": r(self.mem_bytes_max, 0),
                "limit": r(self.mem_bytes_limit, 0),
            },
            "net_rx_bytes": self.net_rx_bytes,
            "net_tx_bytes": self.net_tx_bytes,
            "blk_read_bytes": self.blk_read_bytes,
            "blk_write_bytes": self.blk_write_bytes,
            "pids_max": self.pids_max,
        }


def _stat(series: pd.Series, how: str) -> float | None:
    values = series.dropna()
    if values.empty:
        return None
    if how == "p95":
        # Linear interpolation between closest ranks (Hyndman-Fan type 7), as claude_perf.metrics.
        return float(values.quantile(0.95, interpolation="linear"))
    return float(getattr(values, how)())


def summarise(samples: pd.DataFrame) -> ResourceSummary:
    """Reduce samples (several containers pooled) to the summary figures.

    CPU and memory statistics pool every row (one container at one instant); byte totals are the
    growth of each container's cumulative counter within the window (restart-aware), summed over
    containers.
    """
    ordered = samples.sort_values(["container_id", "ts"], kind="stable")

    def growth(column: str) -> int | None:
        parts = [
            counter_growth(group[column].tolist())
            for _, group in ordered.groupby("container_id", sort=True)
        ]
        known = [p for p in parts if p is not None]
        return round(sum(known)) if known else None

    pids = _stat(ordered["pids"], "max")
    return ResourceSummary(
        samples=len(ordered),
        containers=int(ordered["container_id"].nunique()),
        cpu_samples=int(ordered["cpu_pct"].notna().sum()),
        cpu_pct_mean=_stat(ordered["cpu_pct"], "mean"),
        cpu_pct_p95=_stat(ordered["cpu_pct"], "p95"),
        cpu_pct_max=_stat(ordered["cpu_pct"], "max"),
        mem_bytes_mean=_stat(ordered["mem_used_bytes"], "mean"),
        mem_bytes_max=_stat(ordered["mem_used_bytes"], "max"),
        mem_bytes_limit=_stat(ordered["mem_limit_bytes"], "max"),
        net_rx_bytes=growth("net_rx_bytes"),
        net_tx_bytes=growth("net_tx_bytes"),
        blk_read_bytes=growth("blk_read_bytes"),
        blk_write_bytes=growth("blk_write_bytes"),
        pids_max=None if pids is None else int(pids),
    )

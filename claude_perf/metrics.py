"""Requests → metrics: per-model latency and success, throughput, concurrency, health, errors.

Percentiles use linear interpolation between closest ranks (Hyndman & Fan type 7, numpy's and
Excel PERCENTILE.INC's default). Latency statistics are over *succeeded* requests with a known
latency: a fast failure is not a fast answer. Standard deviation is the sample one (n − 1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import TYPE_CHECKING

from claude_perf.durations import NAT_NS, series_ns
from claude_perf.requests import ERROR_CLASSES, Requests

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

MIN_RANKABLE = 5  # fewer samples than this are "too few to rank"
QUANTILE_METHOD = "linear interpolation between closest ranks (Hyndman-Fan type 7)"


@dataclass(frozen=True)
class LatencyStats:
    """Latency figures in seconds over n samples."""

    n: int
    mean: float
    p50: float
    p90: float
    p95: float
    p99: float
    min: float
    max: float
    stdev: float | None  # undefined for a single sample

    @property
    def too_few(self) -> bool:
        return self.n < MIN_RANKABLE


@dataclass(frozen=True)
class ModelMetrics:
    model: str | None
    family: str | None
    requests: int
    succeeded: int
    failed: int
    success_rate: float
    latency_s: LatencyStats | None
    latency_unknown: int  # succeeded requests whose latency the logs cannot tell
    ambiguous: int


@dataclass(frozen=True)
class Burst:
    start: datetime
    end: datetime
    requests: int
    requests_per_min: float


@dataclass(frozen=True)
class Throughput:
    requests_per_min: float | None  # over the whole window
    peak_requests_per_min: float  # most request starts inside any 60-second window
    peak_minute_start: datetime | None
    max_in_flight: int
    in_flight_basis: int  # requests whose start and end are both known
    overlapped: bool
    bursts: tuple[Burst, ...]


@dataclass(frozen=True)
class HealthMetrics:
    checks: int
    failed: int
    success_rate: float | None
    in_container: int
    external: int
    median_interval_s: float | None  # between in-container probes


@dataclass(frozen=True)
class ErrorClassMetrics:
    error_class: str
    count: int
    rate: float  # of model requests
    first_seen: datetime | None
    last_seen: datetime | None
    examples: tuple[str, ...]  # raw; redact and escape before writing anywhere


@dataclass(frozen=True)
class Metrics:
    window_start: datetime | None
    window_end: datetime | None
    requests: int
    succeeded: int
    failed: int
    success_rate: float | None
    overall_latency_s: LatencyStats | None
    models: tuple[ModelMetrics, ...]
    throughput: Throughput
    health: HealthMetrics
    errors: tuple[ErrorClassMetrics, ...]
    other_requests: int

    @property
    def duration_s(self) -> float | None:
        if self.window_start is None or self.window_end is None:
            return None
        return (self.window_end - self.window_start).total_seconds()


def percentile(sorted_values: Sequence[float] | np.ndarray, q: float) -> float:
    """Type-7 percentile of already sorted values, q in [0, 100]."""
    n = len(sorted_values)
    if n == 0:
        raise ValueError("percentile of no values")
    position = (n - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, n - 1)
    weight = position - low
    return float(sorted_values[low]) * (1 - weight) + float(sorted_values[high]) * weight


def latency_stats(values: Sequence[float] | np.ndarray) -> LatencyStats | None:
    """Summary statistics of latencies (NaN values ignored); None when there are none."""
    import numpy as np

    array = np.asarray(values, dtype=float)
    array = np.sort(array[~np.isnan(array)])
    n = len(array)
    if n == 0:
        return None
    return LatencyStats(
        n=n,
        mean=float(array.mean()),
        p50=percentile(array, 50),
        p90=percentile(array, 90),
        p95=percentile(array, 95),
        p99=percentile(array, 99),
        min=float(array[0]),
        max=float(array[-1]),
        stdev=float(array.std(ddof=1)) if n > 1 else None,
    )


def max_in_flight(starts_ns: np.ndarray, ends_ns: np.ndarray) -> int:
    """Most intervals open at once; an end at the same instant as a start closes first."""
    import numpy as np

    if len(starts_ns) == 0:
        return 0
    times = np.concatenate([starts_ns, ends_ns])
    deltas = np.concatenate([np.ones(len(starts_ns)), -np.ones(len(ends_ns))])
    order = np.lexsort((deltas, times))  # at equal times, -1 sorts before +1
    return int(np.cumsum(deltas[order]).max())


def peak_per_window(times_ns: np.ndarray, window_ns: int) -> tuple[int, int | None]:
    """Most events inside any half-open window [t, t + window); returns (count, t)."""
    import numpy as np

    if len(times_ns) == 0:
        return 0, None
    t = np.sort(times_ns)
    counts = np.searchsorted(t, t + window_ns, side="left") - np.arange(len(t))
    best = int(np.argmax(counts))
    return int(counts[best]), int(t[best])


def bursts(times_ns: np.ndarray, gap_ns: int) -> list[tuple[int, int, int]]:
    """Split sorted event times at idle gaps longer than gap_ns: (first, last, count) each."""
    import numpy as np

    if len(times_ns) == 0:
        return []
    t = np.sort(times_ns)
    cuts = np.flatnonzero(np.diff(t) > gap_ns) + 1
    bounds = np.concatenate([[0], cuts, [len(t)]])
    return [(int(t[a]), int(t[b - 1]), int(b - a)) for a, b in pairwise(bounds)]


def _ts(ns: int | None) -> datetime | None:
    import pandas as pd

    return None if ns is None else pd.Timestamp(ns, tz="UTC").to_pydatetime(warn=False)


def _rate(succeeded: int, total: int) -> float:
    return succeeded / total if total else 0.0


def compute(
    requests: Requests,
    window: tuple[datetime | None, datetime | None],
    burst_gap_s: float = 60.0,
    max_examples: int = 3,
) -> Metrics:
    """All metrics from the per-request table."""
    import numpy as np
    import pandas as pd

    table = requests.table
    model = table[table["kind"] == "model"]
    health = table[table["kind"] == "health"]
    succeeded_mask = model["outcome"] == "succeeded"

    models = []
    keys = model["model"].astype(object).where(model["model"].notna(), None)
    for name in _model_order(keys, model):
        group = model[keys == name] if name is not None else model[keys.isna()]
        ok = group[group["outcome"] == "succeeded"]
        latencies = ok["latency_s"].to_numpy(dtype=float)
        families = group["family"].dropna()
        models.append(
            ModelMetrics(
                model=name,
                family=str(families.iloc[0]) if len(families) else None,
                requests=len(group),
                succeeded=len(ok),
                failed=len(group) - len(ok),
                success_rate=_rate(len(ok), len(group)),
                latency_s=latency_stats(latencies),
                latency_unknown=int(np.isnan(latencies).sum()),
                ambiguous=int(group["ambiguous"].sum()),
            )
        )

    start_ns = series_ns(model["start"])
    end_ns = series_ns(model["end"])
    event_ns = np.where(start_ns != NAT_NS, start_ns, end_ns)
    event_ns = event_ns[event_ns != NAT_NS]
    both = (start_ns != NAT_NS) & (end_ns != NAT_NS)
    peak, peak_at = peak_per_window(event_ns, 60_000_000_000)
    window_start, window_end = window
    duration_min = (
        (window_end - window_start).total_seconds() / 60.0
        if window_start is not None and window_end is not None
        else None
    )
    burst_list = []
    for first, last, count in bursts(event_ns, int(burst_gap_s * 1e9)):
        span_min = max((last - first) / 60e9, 1.0)  # a burst shorter than a minute: per minute
        burst_list.append(Burst(_ts(first), _ts(last), count, count / span_min))  # type: ignore[arg-type]
    concurrency = max_in_flight(start_ns[both], end_ns[both])
    throughput = Throughput(
        requests_per_min=(len(model) / duration_min) if duration_min else None,
        peak_requests_per_min=float(peak),
        peak_minute_start=_ts(peak_at),
        max_in_flight=concurrency,
        in_flight_basis=int(both.sum()),
        overlapped=concurrency > 1,
        bursts=tuple(burst_list),
    )

    in_container = health["in_container"].astype(bool)
    probe_ns = np.sort(series_ns(health[in_container]["end"]))
    probe_ns = probe_ns[probe_ns != NAT_NS]
    health_ok = int((health["outcome"] == "succeeded").sum())
    health_metrics = HealthMetrics(
        checks=len(health),
        failed=len(health) - health_ok,
        success_rate=_rate(health_ok, len(health)) if len(health) else None,
        in_container=int(in_container.sum()),
        external=int((~in_container).sum()),
        median_interval_s=float(np.median(np.diff(probe_ns)) / 1e9) if len(probe_ns) > 1 else None,
    )

    failed = model[model["outcome"] == "failed"]
    errors = []
    for name in ERROR_CLASSES:
        group = failed[failed["error_class"] == name]
        if group.empty:
            continue
        ends = group["end"].dropna()
        examples = [str(m) for m in group["error_message"].dropna().unique()[:max_examples]]
        if not examples:
            examples = [
                f"HTTP {int(s)} {m or ''} {p or ''}".strip()
                for s, m, p in group[["status", "method", "path"]]
                .drop_duplicates()
                .head(max_examples)
                .itertuples(index=False)
                if not pd.isna(s)
            ]
        errors.append(
            ErrorClassMetrics(
                error_class=name,
                count=len(group),
                rate=_rate(len(group), len(model)),
                first_seen=ends.min().to_pydatetime(warn=False) if len(ends) else None,
                last_seen=ends.max().to_pydatetime(warn=False) if len(ends) else None,
                examples=tuple(examples),
            )
        )
    return Metrics(
        window_start=window_start,
        window_end=window_end,
        requests=len(model),
        succeeded=int(succeeded_mask.sum()),
        failed=int((~succeeded_mask).sum()),
        success_rate=_rate(int(succeeded_mask.sum()), len(model)) if len(model) else None,
        overall_latency_s=latency_stats(model[succeeded_mask]["latency_s"].to_numpy(dtype=float)),
        models=tuple(models),
        throughput=throughput,
        health=health_metrics,
        errors=tuple(errors),
        other_requests=int((table["kind"] == "other").sum()),
    )


def _model_order(keys: pd.Series, model: pd.DataFrame) -> list[str | None]:
    """Models by request count (most first), then name; requests with no model last."""
    counts = keys.dropna().value_counts()
    named = sorted(counts.index, key=lambda name: (-int(counts[name]), str(name)))
    return [*named, None] if keys.isna().any() else list(named)

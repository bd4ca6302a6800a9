"""Requests → metrics: per-model latency and success, throughput, concurrency, health, errors.

Percentiles (``numeric.percentile``) use linear interpolation between closest ranks (Hyndman & Fan
type 7, numpy's and Excel PERCENTILE.INC's default). Latency statistics are over *succeeded*
requests with a known latency: a fast failure is not a fast answer. Standard deviation is the
sample one (n − 1).

``compute`` also keeps the model requests' times as arrays (``Timeline``, inside ``Metrics``), so
that findings read them instead of selecting and sorting the request table again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from claude_perf.analysis.assemble import Requests
from claude_perf.analysis.error_classes import ERROR_CLASSES
from claude_perf.analysis.numeric import (
    bursts,
    in_flight_at_start,
    max_in_flight,
    peak_per_window,
    percentile,
)
from claude_perf.analysis.usage import UsageMetrics, has_usage, usage_metrics
from claude_perf.durations import NAT_NS, series_ns
from claude_perf.parse.events import text_values

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
    # Share (0-1) of the timed latencies that rest on an inferred pairing (several requests in
    # flight, no id): their per-model split may be wrong, the overall figures are not.
    inferred_share: float = 0.0
    # Server-side tokens, cost and CLI overhead where the logs carry them (analysis/usage.py).
    usage: UsageMetrics | None = None


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


@dataclass(frozen=True, eq=False)
class Timeline:
    """Model requests' times as arrays, built once by ``compute`` for the stages after it.

    ``start_ns``, ``end_ns``, ``in_flight``, ``latency_s`` and ``succeeded`` describe the requests
    whose start and end are both known, in start order (ties in table order); ``in_flight`` is how
    many of them were open at each one's start (itself included; one ending at that instant has
    closed). ``failed_end_ns``: ends of failed requests whose end is known, in table order.
    ``well_formed``: no request ends before it starts.
    """

    start_ns: np.ndarray
    end_ns: np.ndarray
    in_flight: np.ndarray
    latency_s: np.ndarray
    succeeded: np.ndarray
    failed_end_ns: np.ndarray
    well_formed: bool


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
    # Arrays for findings, so that they need not select and sort the table again; not a figure.
    timeline: Timeline | None = field(default=None, compare=False, repr=False)

    @property
    def duration_s(self) -> float | None:
        if self.window_start is None or self.window_end is None:
            return None
        return (self.window_end - self.window_start).total_seconds()


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


def _first_distinct(values: Iterable[Any], limit: int) -> list[Any]:
    """The first ``limit`` distinct values in order (``unique()[:limit]``, without hashing all)."""
    found: list[Any] = []
    for value in values:
        if value not in found:
            found.append(value)
            if len(found) == limit:
                break
    return found


def _objects(series: pd.Series) -> np.ndarray:
    """A column as Python objects, None where missing (so values compare and hash safely)."""
    import numpy as np
    import pandas as pd

    values = series.to_numpy(dtype=object)
    return np.asarray(np.where(pd.isna(values), None, values), dtype=object)


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
    """All metrics from the per-request table.

    Works on numpy arrays of the few columns it needs: selecting rows of the whole frame copies
    every column, which at a million lines costs more than the statistics themselves.
    """
    import numpy as np

    table = requests.table
    # Text comparisons cost a Python call per row, so each runs only over the rows still in doubt.
    kind = table["kind"].to_numpy()
    is_model = kind == "model"
    model_rows = np.flatnonzero(is_model)
    rest_rows = np.flatnonzero(~is_model)
    rest_kind = kind[rest_rows]
    health_rows = rest_rows[rest_kind == "health"]
    outcome = table["outcome"].to_numpy()
    start_all = series_ns(table["start"])
    end_all = series_ns(table["end"])

    outcome_m = outcome[model_rows]
    ok = outcome_m == "succeeded"
    failed_mask = np.zeros(len(model_rows), dtype=bool)
    failed_mask[~ok] = outcome_m[~ok] == "failed"
    latency = table["latency_s"].to_numpy(dtype=float)[model_rows]
    models = _model_metrics(table, model_rows, ok, latency)

    start_ns = start_all[model_rows]
    end_ns = end_all[model_rows]
    event_ns = np.where(start_ns != NAT_NS, start_ns, end_ns)
    event_ns = np.sort(event_ns[event_ns != NAT_NS])
    both = (start_ns != NAT_NS) & (end_ns != NAT_NS)
    peak, peak_at = peak_per_window(event_ns, 60_000_000_000)
    window_start, window_end = window
    duration_min = (
        (window_end - window_start).total_seconds() / 60.0
        if window_start is not None and window_end is not None
        else None
    )
    timeline = _timeline(start_ns, end_ns, latency, ok, both, end_ns[failed_mask])
    concurrency = (
        int(timeline.in_flight.max())
        if len(timeline.in_flight) and timeline.well_formed
        else max_in_flight(timeline.start_ns, timeline.end_ns)
    )
    throughput = Throughput(
        requests_per_min=(len(model_rows) / duration_min) if duration_min else None,
        peak_requests_per_min=float(peak),
        peak_minute_start=_ts(peak_at),
        max_in_flight=concurrency,
        in_flight_basis=int(both.sum()),
        overlapped=concurrency > 1,
        bursts=_bursts(event_ns, burst_gap_s),
    )

    health_metrics = _health_metrics(table, health_rows, outcome, end_all)
    errors = _error_metrics(table, model_rows[failed_mask], end_all, len(model_rows), max_examples)
    succeeded = int(ok.sum())
    return Metrics(
        window_start=window_start,
        window_end=window_end,
        requests=len(model_rows),
        succeeded=succeeded,
        failed=len(model_rows) - succeeded,
        success_rate=_rate(succeeded, len(model_rows)) if len(model_rows) else None,
        overall_latency_s=latency_stats(latency[ok]),
        models=models,
        throughput=throughput,
        health=health_metrics,
        errors=errors,
        other_requests=int((rest_kind == "other").sum()),
        timeline=timeline,
    )


def _bursts(event_ns: np.ndarray, burst_gap_s: float) -> tuple[Burst, ...]:
    """Bursts of model requests, each rated per minute of its span."""
    burst_list = []
    for first, last, count in bursts(event_ns, int(burst_gap_s * 1e9)):
        span_min = max((last - first) / 60e9, 1.0)  # a burst shorter than a minute: per minute
        burst_list.append(Burst(_ts(first), _ts(last), count, count / span_min))  # type: ignore[arg-type]
    return tuple(burst_list)


def _health_metrics(
    table: pd.DataFrame, health_rows: np.ndarray, outcome: np.ndarray, end_all: np.ndarray
) -> HealthMetrics:
    """Health checks: counts, success rate, and the median interval of in-container probes."""
    import numpy as np

    in_container = table["in_container"].to_numpy()[health_rows].astype(bool)
    probe_ns = np.sort(end_all[health_rows][in_container])
    probe_ns = probe_ns[probe_ns != NAT_NS]
    health_ok = int((outcome[health_rows] == "succeeded").sum())
    return HealthMetrics(
        checks=len(health_rows),
        failed=len(health_rows) - health_ok,
        success_rate=_rate(health_ok, len(health_rows)) if len(health_rows) else None,
        in_container=int(in_container.sum()),
        external=int((~in_container).sum()),
        median_interval_s=float(np.median(np.diff(probe_ns)) / 1e9) if len(probe_ns) > 1 else None,
    )


def timeline_of(table: pd.DataFrame) -> Timeline:
    """The Timeline of a per-request table alone (``compute`` builds the same on its way)."""
    import numpy as np

    model_rows = np.flatnonzero(table["kind"].to_numpy() == "model")
    outcome = table["outcome"].to_numpy()[model_rows]
    start_ns = series_ns(table["start"])[model_rows]
    end_ns = series_ns(table["end"])[model_rows]
    return _timeline(
        start_ns,
        end_ns,
        table["latency_s"].to_numpy(dtype=float)[model_rows],
        outcome == "succeeded",
        (start_ns != NAT_NS) & (end_ns != NAT_NS),
        end_ns[outcome == "failed"],
    )


def _timeline(
    start_ns: np.ndarray,
    end_ns: np.ndarray,
    latency_s: np.ndarray,
    succeeded: np.ndarray,
    timed: np.ndarray,
    failed_end_ns: np.ndarray,
) -> Timeline:
    """The Timeline from model-request columns; ``timed`` marks start and end both known."""
    import numpy as np

    starts, ends = start_ns[timed], end_ns[timed]
    order = np.argsort(starts, kind="stable")
    starts, ends = starts[order], ends[order]
    return Timeline(
        start_ns=starts,
        end_ns=ends,
        in_flight=in_flight_at_start(starts, ends),
        latency_s=latency_s[timed][order],
        succeeded=succeeded[timed][order],
        failed_end_ns=failed_end_ns[failed_end_ns != NAT_NS],
        well_formed=bool(np.all(ends >= starts)),
    )


def _model_metrics(
    table: pd.DataFrame, model_rows: np.ndarray, ok: np.ndarray, latency: np.ndarray
) -> tuple[ModelMetrics, ...]:
    """Per model: by request count (most first), then name; requests with no model logged last."""
    import numpy as np
    import pandas as pd

    codes, names = pd.factorize(table["model"].to_numpy(dtype=object)[model_rows])  # None: -1
    # Group 0 is "no model", group i + 1 is names[i]. One stable sort gathers every group's rows
    # (in table order) instead of a pass over all model rows per group; small ints sort by radix.
    group = (codes + 1).astype(np.int16 if len(names) < 2**15 - 1 else np.int64)
    sizes = np.bincount(group, minlength=len(names) + 1)
    bounds = np.r_[0, np.cumsum(sizes)]
    by_group = np.argsort(group, kind="stable")
    families = table["family"].to_numpy(dtype=object)[model_rows]
    ambiguous = table["ambiguous"].to_numpy()[model_rows]
    # Usage figures are rare (debug logs): looked at per model only when some request has any.
    with_usage = has_usage(table)
    named = sorted(range(1, len(names) + 1), key=lambda g: (-int(sizes[g]), str(names[g - 1])))
    result = []
    for g in [*named, 0] if sizes[0] else named:
        rows = by_group[bounds[g] : bounds[g + 1]]
        group_ok = ok[rows]
        latencies = latency[rows][group_ok]
        n, n_ok = len(rows), int(group_ok.sum())
        timed = ~np.isnan(latencies)
        inferred = int((ambiguous[rows][group_ok] & timed).sum())
        result.append(
            ModelMetrics(
                model=names[g - 1] if g else None,
                family=_first_known(families[rows]),
                requests=n,
                succeeded=n_ok,
                failed=n - n_ok,
                success_rate=_rate(n_ok, n),
                latency_s=latency_stats(latencies),
                latency_unknown=int(np.isnan(latencies).sum()),
                ambiguous=int(ambiguous[rows].sum()),
                inferred_share=inferred / int(timed.sum()) if timed.any() else 0.0,
                usage=usage_metrics(table, model_rows[rows], ok[rows]) if with_usage else None,
            )
        )
    return tuple(result)


def _first_known(values: np.ndarray) -> str | None:
    """The first value that is not missing, as text; None when all are."""
    import numpy as np
    import pandas as pd

    if len(values) and not pd.isna(values[0]):  # the usual case: no scan of the group
        return str(values[0])
    known = np.flatnonzero(pd.notna(values))
    return str(values[known[0]]) if len(known) else None


def _error_metrics(
    table: pd.DataFrame,
    failed_rows: np.ndarray,
    end_all: np.ndarray,
    model_requests: int,
    max_examples: int,
) -> tuple[ErrorClassMetrics, ...]:
    """Failed model requests per error class, in ERROR_CLASSES order."""
    import pandas as pd

    classes = table["error_class"].to_numpy()[failed_rows]
    messages = text_values(table["error_message"], failed_rows)
    ends = end_all[failed_rows]
    errors = []
    for name in ERROR_CLASSES:
        in_class = classes == name
        count = int(in_class.sum())
        if not count:
            continue
        known_ends = ends[in_class]
        known_ends = known_ends[known_ends != NAT_NS]
        texts = messages[in_class]
        examples = [str(m) for m in _first_distinct(texts[pd.notna(texts)], max_examples)]
        if not examples:
            rows = failed_rows[in_class]
            status, method, path = (
                _objects(table[name].iloc[rows]) for name in ("status", "method", "path")
            )
            examples = [
                f"HTTP {int(s)} {m or ''} {p or ''}".strip()
                for s, m, p in _first_distinct(zip(status, method, path, strict=True), max_examples)
                if s is not None
            ]
        errors.append(
            ErrorClassMetrics(
                error_class=name,
                count=count,
                rate=_rate(count, model_requests),
                first_seen=_ts(int(known_ends.min())) if len(known_ends) else None,
                last_seen=_ts(int(known_ends.max())) if len(known_ends) else None,
                examples=tuple(examples),
            )
        )
    return tuple(errors)

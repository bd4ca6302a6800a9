"""Requests → metrics: per-model latency and success, throughput, concurrency, health, errors.

Percentiles (``numeric.percentile``) use linear interpolation between closest ranks (Hyndman & Fan
type 7, numpy's and Excel PERCENTILE.INC's default). Latency statistics are over *succeeded*
requests with a known latency: a fast failure is not a fast answer. Standard deviation: n − 1.

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
    bounding_n,
    bursts,
    in_flight_at_start,
    max_in_flight,
    peak_per_window,
    percentile,
    quantile_interval,
)
from claude_perf.analysis.usage import UsageMetrics, has_usage, usage_metrics
from claude_perf.durations import NAT_NS, series_ns
from claude_perf.parse.events import text_values
from claude_perf.runtime.memory import release_unused

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

MIN_RANKABLE = 5  # fewer samples than this are "too few to rank"
# the fewest timed requests whose p50 / p95 a 95 % interval bounds (6 and 72)
P50_BOUNDED_N, P95_BOUNDED_N = bounding_n(50), bounding_n(95)
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
    # 95 % distribution-free intervals for the p50 and p95 (numeric.quantile_interval): two of
    # the values; None when too few values bound it (the p50 needs 6, the p95 72)
    p50_ci95: tuple[float, float] | None = None
    p95_ci95: tuple[float, float] | None = None

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
    in_flight_range: tuple[int, int] | None = None  # a whole-second clock's bounds (clock.py)


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
    levels_known: bool = True  # False: the clock is too coarse for ``in_flight`` (clock.py)


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
        p50_ci95=quantile_interval(array, 50),
        p95_ci95=quantile_interval(array, 95),
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

    Works on numpy arrays of the few columns it needs, and on masks and category codes, not row
    numbers and objects: at 10M lines (4.3M requests) an object or int64 array of a column is
    27-34 MB; the copies of selected rows and text columns as objects added 570 MB (measured).
    """
    import numpy as np

    table = requests.table
    is_model = is_value(table["kind"], "model")
    is_health = is_value(table["kind"], "health")
    other_requests = int(is_value(table["kind"], "other").sum())
    n_model = int(is_model.sum())
    ok = is_value(table["outcome"], "succeeded")
    health_ok = int(ok[is_health].sum())
    failed_mask = is_value(table["outcome"], "failed")[is_model]
    ok = ok[is_model]
    latency = table["latency_s"].to_numpy(dtype=float)[is_model]
    models = _model_metrics(table, is_model, ok, latency)

    start_ns = ns_values(table["start"])[is_model]
    end_all = ns_values(table["end"])
    end_ns = end_all[is_model]
    health_metrics = _health_metrics(table, is_health, health_ok, end_all)
    del end_all
    failed_end_ns = end_ns[failed_mask]
    errors = _error_metrics(
        table, np.flatnonzero(is_model)[failed_mask], failed_end_ns, n_model, max_examples
    )
    del is_model, is_health
    # The freed column temporaries handed back before the sorted times and the Timeline are
    # made (glibc keeps them otherwise, and the stage climbed on them): at 10M lines the
    # stage's own peak (RSS sampled with the main thread's stack) went from 985 to 862 MB.
    release_unused()
    event_ns = np.where(start_ns != NAT_NS, start_ns, end_ns)
    event_ns = np.sort(event_ns[event_ns != NAT_NS])
    peak, peak_at = peak_per_window(event_ns, 60_000_000_000)
    burst_list = _bursts(event_ns, burst_gap_s)
    del event_ns
    release_unused()
    both = (start_ns != NAT_NS) & (end_ns != NAT_NS)
    window_start, window_end = window
    duration_min = (
        (window_end - window_start).total_seconds() / 60.0
        if window_start is not None and window_end is not None
        else None
    )
    succeeded = int(ok.sum())
    overall = latency_stats(latency[ok])
    timeline = _timeline(start_ns, end_ns, latency, ok, both, failed_end_ns)
    concurrency = (
        int(timeline.in_flight.max())
        if len(timeline.in_flight) and timeline.well_formed
        else max_in_flight(timeline.start_ns, timeline.end_ns)
    )
    throughput = Throughput(
        requests_per_min=(n_model / duration_min) if duration_min else None,
        peak_requests_per_min=float(peak),
        peak_minute_start=_ts(peak_at),
        max_in_flight=concurrency,
        in_flight_basis=int(both.sum()),
        overlapped=concurrency > 1,
        bursts=burst_list,
    )
    return Metrics(
        window_start=window_start,
        window_end=window_end,
        requests=n_model,
        succeeded=succeeded,
        failed=n_model - succeeded,
        success_rate=_rate(succeeded, n_model) if n_model else None,
        overall_latency_s=overall,
        models=models,
        throughput=throughput,
        health=health_metrics,
        errors=errors,
        other_requests=other_requests,
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
    table: pd.DataFrame, is_health: np.ndarray, health_ok: int, end_all: np.ndarray
) -> HealthMetrics:
    """Health checks: counts, success rate, and the median interval of in-container probes."""
    import numpy as np

    checks = int(is_health.sum())
    in_container = table["in_container"].to_numpy()[is_health].astype(bool)
    probe_ns = np.sort(end_all[is_health][in_container])
    probe_ns = probe_ns[probe_ns != NAT_NS]
    return HealthMetrics(
        checks=checks,
        failed=checks - health_ok,
        success_rate=_rate(health_ok, checks) if checks else None,
        in_container=int(in_container.sum()),
        external=int((~in_container).sum()),
        median_interval_s=float(np.median(np.diff(probe_ns)) / 1e9) if len(probe_ns) > 1 else None,
    )


def timeline_of(table: pd.DataFrame) -> Timeline:
    """The Timeline of a per-request table alone (``compute`` builds the same on its way)."""
    is_model = is_value(table["kind"], "model")
    start_ns = ns_values(table["start"])[is_model]
    end_ns = ns_values(table["end"])[is_model]
    return _timeline(
        start_ns,
        end_ns,
        table["latency_s"].to_numpy(dtype=float)[is_model],
        is_value(table["outcome"], "succeeded")[is_model],
        (start_ns != NAT_NS) & (end_ns != NAT_NS),
        end_ns[is_value(table["outcome"], "failed")[is_model]],
    )


def is_value(column: pd.Series, value: str) -> np.ndarray:
    """Where a text column equals ``value``, as a mask; a categorical's codes are compared, not
    its values as objects (a Python comparison per row and an object array of the column)."""
    import numpy as np
    import pandas as pd

    if isinstance(column.dtype, pd.CategoricalDtype):
        categories = column.cat.categories
        if value not in categories:
            return np.zeros(len(column), dtype=bool)
        return np.asarray(column.cat.codes.to_numpy() == categories.get_loc(value))
    return np.asarray(column.to_numpy(dtype=object) == value, dtype=bool)


def ns_values(column: pd.Series) -> np.ndarray:
    """A UTC datetime column as int64 nanoseconds (NaT as NAT_NS), without a copy when it is
    stored so already (callers only read it); otherwise converted as ``series_ns`` does."""
    import numpy as np
    import pandas as pd

    if column.dtype == pd.DatetimeTZDtype("ns", "UTC"):
        return np.asarray(column.array.asi8)
    return np.asarray(series_ns(column))


def codes_of(column: pd.Series) -> tuple[np.ndarray, Sequence[Any]]:
    """A text column as (codes, labels): -1 where unknown; a categorical's own codes (labels
    not present in the column may be among them), else ``pd.factorize``'s."""
    import numpy as np
    import pandas as pd

    if isinstance(column.dtype, pd.CategoricalDtype):
        return np.asarray(column.cat.codes.to_numpy()), column.cat.categories
    codes, labels = pd.factorize(column.to_numpy(dtype=object))
    return codes, labels


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
    table: pd.DataFrame, is_model: np.ndarray, ok: np.ndarray, latency: np.ndarray
) -> tuple[ModelMetrics, ...]:
    """Per model: by request count (most first), then name; requests with no model logged last."""
    import numpy as np

    codes, names = codes_of(table["model"])
    # Group 0 is "no model", group i + 1 is names[i]. One stable sort gathers every group's rows
    # (in table order) instead of a pass over all model rows per group; small ints sort by radix.
    group = (codes[is_model] + 1).astype(np.int16 if len(names) < 2**15 - 1 else np.int64)
    del codes
    sizes = np.bincount(group, minlength=len(names) + 1)
    bounds = np.r_[0, np.cumsum(sizes)]
    by_group = np.argsort(group, kind="stable")
    del group
    family_codes, family_names = codes_of(table["family"])
    family_codes = family_codes[is_model]
    ambiguous = table["ambiguous"].to_numpy()[is_model]
    # Usage figures are rare (debug logs): looked at per model only when some request has any.
    model_rows = np.flatnonzero(is_model) if has_usage(table) else None
    present = [g for g in range(1, len(names) + 1) if sizes[g]]  # a category may go unused
    named = sorted(present, key=lambda g: (-int(sizes[g]), str(names[g - 1])))
    result = []
    for g in [*named, 0] if sizes[0] else named:
        rows = by_group[bounds[g] : bounds[g + 1]]
        group_ok = ok[rows]
        latencies = latency[rows][group_ok]
        n, n_ok = len(rows), int(group_ok.sum())
        timed = ~np.isnan(latencies)
        inferred = int((ambiguous[rows][group_ok] & timed).sum())
        family = _first_code(family_codes[rows])
        result.append(
            ModelMetrics(
                model=names[g - 1] if g else None,
                family=None if family < 0 else str(family_names[family]),
                requests=n,
                succeeded=n_ok,
                failed=n - n_ok,
                success_rate=_rate(n_ok, n),
                latency_s=latency_stats(latencies),
                latency_unknown=int(np.isnan(latencies).sum()),
                ambiguous=int(ambiguous[rows].sum()),
                inferred_share=inferred / int(timed.sum()) if timed.any() else 0.0,
                usage=None
                if model_rows is None
                else usage_metrics(table, model_rows[rows], ok[rows]),
            )
        )
    return tuple(result)


def _first_code(codes: np.ndarray) -> int:
    """The first code that is not missing (-1); -1 when all are."""
    import numpy as np

    if len(codes) and codes[0] >= 0:  # the usual case: no scan of the group
        return int(codes[0])
    known = np.flatnonzero(codes >= 0)
    return int(codes[known[0]]) if len(known) else -1


def _error_metrics(
    table: pd.DataFrame,
    failed_rows: np.ndarray,
    ends: np.ndarray,
    model_requests: int,
    max_examples: int,
) -> tuple[ErrorClassMetrics, ...]:
    """Failed model requests per error class, in ERROR_CLASSES order (``ends``: their ends)."""
    import pandas as pd

    classes = text_values(table["error_class"], failed_rows)
    messages = text_values(table["error_message"], failed_rows)
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

"""Resource samples → idle baseline vs under load, memory growth, and I/O per request.

A sample counts as *under load* when a model request was in flight during the interval the sample
describes: Docker's CPU figure is the usage since the previous sample, so a sample at time t covers
(t − interval, t], where interval is the container's median sampling interval. A request with no
known start (streamed, or its start was not logged) counts as in flight only at its end.

Memory growth is the least-squares slope of memory used against time, in bytes per minute.
Cumulative counters (network, block I/O) grow by the sum of their positive steps; a step down is a
counter reset (a restart), after which the new value itself is growth since the reset.

Samples without a time (``ts`` NaT: plain ``docker stats --format`` lines, ``report --stats``)
are snapshots, not a series in the window: a container with any of them is *untimed*. Its CPU and
memory figures are pooled over its snapshots (``pooled``); the idle/load split, the memory slope,
the interval and span, and the requests in the span are unknown (never guessed). Its counters grow
in file order (docker stats writes its lines in time order) when no snapshot has a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from claude_perf.durations import series_ns

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

MIN_SLOPE_SAMPLES = 3  # a line through two points says nothing about a trend


@dataclass(frozen=True)
class LoadSplit:
    """CPU and memory figures over one set of samples (idle or under load)."""

    samples: int
    cpu_pct_mean: float | None
    cpu_pct_p95: float | None
    mem_bytes_mean: float | None


@dataclass(frozen=True)
class Utilisation:
    """One container's resource figures over the samples collected for it."""

    container: str
    samples: int
    cpu_gaps: int  # samples with no CPU figure (first frame, missed reads)
    interval_s: float | None  # median time between samples
    span_s: float | None
    cgroup: str | None
    online_cpus: float | None
    idle: LoadSplit
    load: LoadSplit
    cpu_pct_max: float | None
    cpu_pct_last: float | None
    mem_bytes_last: float | None
    mem_bytes_peak: float | None
    mem_limit_bytes: float | None
    mem_pct_last: float | None
    mem_pct_peak: float | None
    mem_slope_bytes_per_min: float | None
    net_rx_bytes: float | None  # growth over the samples
    net_tx_bytes: float | None
    blk_read_bytes: float | None
    blk_write_bytes: float | None
    pids_last: int | None
    pids_max: int | None
    requests_in_span: int  # model requests that ended inside the sampled span
    # False: some samples carry no time (ts NaT), so nothing here is placed in the window.
    timed: bool = True
    pooled: LoadSplit | None = None  # every sample, idle or not: the figures of untimed ones

    def per_request(self, total_bytes: float | None) -> float | None:
        """A counter's growth divided by the model requests seen while it was sampled."""
        if total_bytes is None or self.requests_in_span == 0:
            return None
        return total_bytes / self.requests_in_span


def least_squares_slope(x: np.ndarray, y: np.ndarray) -> float | None:
    """Slope of the least-squares line through (x, y), NaN pairs ignored; None when undefined."""
    import numpy as np

    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    if len(x) < MIN_SLOPE_SAMPLES:
        return None
    dx = x - x.mean()
    denominator = float((dx * dx).sum())
    if denominator == 0.0:
        return None
    return float((dx * (y - y.mean())).sum() / denominator)


def counter_growth(values: np.ndarray) -> float | None:
    """Growth of a cumulative counter: positive steps summed, a reset restarts from its value."""
    import numpy as np

    v = values[~np.isnan(values)]
    if len(v) < 2:
        return None
    steps = np.diff(v)
    return float(np.where(steps >= 0, steps, v[1:]).sum())


def under_load(
    sample_ns: np.ndarray, lookback_ns: int, starts_ns: np.ndarray, ends_ns: np.ndarray
) -> np.ndarray:
    """For each sample time t: was any interval [start, end] open during (t − lookback, t]?"""
    import numpy as np

    if len(starts_ns) == 0:
        return np.zeros(len(sample_ns), dtype=bool)
    order = np.argsort(starts_ns, kind="stable")
    starts, ends = starts_ns[order], ends_ns[order]
    latest_end = np.maximum.accumulate(ends)
    # intervals that started at or before t; of those, does the latest end reach the window?
    started = np.searchsorted(starts, sample_ns, side="right")
    reach = latest_end[np.maximum(started - 1, 0)]
    return (started > 0) & (reach >= sample_ns - lookback_ns)


def _split(cpu: np.ndarray, mem: np.ndarray, mask: np.ndarray) -> LoadSplit:
    import numpy as np

    from claude_perf.analysis.numeric import percentile

    c = np.sort(cpu[mask & ~np.isnan(cpu)])
    m = mem[mask & ~np.isnan(mem)]
    return LoadSplit(
        samples=int(mask.sum()),
        cpu_pct_mean=float(c.mean()) if len(c) else None,
        cpu_pct_p95=percentile(c, 95) if len(c) else None,
        mem_bytes_mean=float(m.mean()) if len(m) else None,
    )


def _last(values: np.ndarray) -> float | None:
    import numpy as np

    v = values[~np.isnan(values)]
    return float(v[-1]) if len(v) else None


def _max(values: np.ndarray) -> float | None:
    import numpy as np

    v = values[~np.isnan(values)]
    return float(v.max()) if len(v) else None


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    import numpy as np

    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return frame[name].astype("float64").to_numpy(dtype=float, na_value=np.nan)


def model_intervals(requests: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Model requests as (start, end) in ns; an unknown start is taken as the end."""
    import numpy as np

    model = requests[(requests["kind"] == "model") & requests["end"].notna()]
    if model.empty:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    end = model["end"].astype("datetime64[ns, UTC]")
    start = model["start"].astype("datetime64[ns, UTC]").where(model["start"].notna(), end)
    return (
        np.asarray(start.array.asi8, dtype=np.int64),
        np.asarray(end.array.asi8, dtype=np.int64),
    )


def utilisation_of(samples: pd.DataFrame | None, requests: pd.DataFrame) -> tuple[Utilisation, ...]:
    """Per container (by name, then id), the idle/load split, growth and I/O figures."""
    import numpy as np

    if samples is None or samples.empty:
        return ()
    starts_ns, ends_ns = model_intervals(requests)
    frame = samples.copy()
    frame["_name"] = frame["container_name"].fillna(frame["container_id"]).astype(str)
    result = []
    for name in sorted(frame["_name"].unique()):
        group = frame[frame["_name"] == name].sort_values("ts", kind="stable")
        if not group["ts"].notna().all():
            result.append(_untimed(str(name), group))
            continue
        ts_ns = series_ns(group["ts"])
        interval_ns = int(np.median(np.diff(ts_ns))) if len(ts_ns) > 1 else 0
        cpu = _column(group, "cpu_pct")
        mem = _column(group, "mem_used_bytes")
        loaded = under_load(ts_ns, interval_ns, starts_ns, ends_ns)
        minutes = (ts_ns - ts_ns[0]) / 60e9 if len(ts_ns) else np.zeros(0)
        in_span = (ends_ns >= ts_ns[0]) & (ends_ns <= ts_ns[-1]) if len(ts_ns) else ends_ns < 0
        pids = _column(group, "pids")
        cgroups = group["cgroup"].dropna() if "cgroup" in group.columns else group["ts"][:0]
        pids_last, pids_max = _last(pids), _max(pids)
        result.append(
            Utilisation(
                container=str(name),
                samples=len(group),
                cpu_gaps=int(np.isnan(cpu).sum()),
                interval_s=interval_ns / 1e9 if len(ts_ns) > 1 else None,
                span_s=(ts_ns[-1] - ts_ns[0]) / 1e9 if len(ts_ns) > 1 else None,
                cgroup=str(cgroups.iloc[-1]) if len(cgroups) else None,
                online_cpus=_last(_column(group, "online_cpus")),
                idle=_split(cpu, mem, ~loaded),
                load=_split(cpu, mem, loaded),
                cpu_pct_max=_max(cpu),
                cpu_pct_last=_last(cpu),
                mem_bytes_last=_last(mem),
                mem_bytes_peak=_max(mem),
                mem_limit_bytes=_last(_column(group, "mem_limit_bytes")),
                mem_pct_last=_last(_column(group, "mem_pct")),
                mem_pct_peak=_max(_column(group, "mem_pct")),
                mem_slope_bytes_per_min=least_squares_slope(minutes, mem),
                net_rx_bytes=counter_growth(_column(group, "net_rx_bytes")),
                net_tx_bytes=counter_growth(_column(group, "net_tx_bytes")),
                blk_read_bytes=counter_growth(_column(group, "blk_read_bytes")),
                blk_write_bytes=counter_growth(_column(group, "blk_write_bytes")),
                pids_last=None if pids_last is None else int(pids_last),
                pids_max=None if pids_max is None else int(pids_max),
                requests_in_span=int(in_span.sum()),
            )
        )
    return tuple(result)


def _untimed(name: str, group: pd.DataFrame) -> Utilisation:
    """A container whose samples carry no time: pooled figures, nothing placed in time."""
    import numpy as np

    cpu = _column(group, "cpu_pct")
    mem = _column(group, "mem_used_bytes")
    unknown = LoadSplit(0, None, None, None)
    in_order = not group["ts"].notna().any()  # file order, when no sample has a time

    def growth(column: str) -> float | None:
        return counter_growth(_column(group, column)) if in_order else None

    pids = _column(group, "pids")
    pids_last, pids_max = _last(pids), _max(pids)
    cgroups = group["cgroup"].dropna() if "cgroup" in group.columns else group["ts"][:0]
    return Utilisation(
        container=name,
        samples=len(group),
        cpu_gaps=int(np.isnan(cpu).sum()),
        interval_s=None,
        span_s=None,
        cgroup=str(cgroups.iloc[-1]) if len(cgroups) else None,
        online_cpus=_last(_column(group, "online_cpus")),
        idle=unknown,
        load=unknown,
        cpu_pct_max=_max(cpu),
        cpu_pct_last=_last(cpu) if in_order else None,
        mem_bytes_last=_last(mem) if in_order else None,
        mem_bytes_peak=_max(mem),
        mem_limit_bytes=_max(_column(group, "mem_limit_bytes")),
        mem_pct_last=_last(_column(group, "mem_pct")) if in_order else None,
        mem_pct_peak=_max(_column(group, "mem_pct")),
        mem_slope_bytes_per_min=None,
        net_rx_bytes=growth("net_rx_bytes"),
        net_tx_bytes=growth("net_tx_bytes"),
        blk_read_bytes=growth("blk_read_bytes"),
        blk_write_bytes=growth("blk_write_bytes"),
        pids_last=None if pids_last is None or not in_order else int(pids_last),
        pids_max=None if pids_max is None else int(pids_max),
        requests_in_span=0,
        timed=False,
        pooled=_split(cpu, mem, np.ones(len(group), dtype=bool)),
    )

"""Bottleneck rules: small pure functions over measured figures, each returning a Finding or None.

A rule fires only on evidence: every Finding names the figure that triggered it, and its
recommendation follows from that figure. Thresholds come from ``[scoring.rules]`` in the config
(see ``RULE_DEFAULTS``). A rule whose inputs were not collected is reported as *not evaluated*, with
the reason, never as "no problem".

This module also derives the figures rules share with the report and the scores: reliability
(uptime, restarts, OOM kills, health checks — from the engine when container facts exist, else
from the logs) and latency split by how many requests were in flight.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, cast

from claude_perf.analysis.metrics import (
    MIN_RANKABLE,
    Metrics,
    Timeline,
    percentile_unsorted,
    timeline_of,
)
from claude_perf.config.schema import Rules, Scoring

if TYPE_CHECKING:
    import numpy as np

    from claude_perf.analysis.pipeline import Analysis
    from claude_perf.analysis.utilisation import Utilisation

SEVERITIES = ("critical", "warning", "info")
RULES = (
    "restarts",
    "error_rate",
    "error_burst",
    "health_failing",
    "cpu_saturation",
    "memory_growth",
    "latency_concurrency",
    "sequential_processing",
    "slow_model",
)
# Declared, with their documentation, in config.schema.Rules ([scoring.rules]).
RULE_DEFAULTS: Mapping[str, float] = MappingProxyType(asdict(Rules()))
ERROR_LABELS: Mapping[str, str] = {
    "auth": "authentication",
    "validation": "validation (bad request)",
    "rate_limit": "rate limit",
    "usage_limit": "usage limit",
    "routing": "model routing",
    "timeout": "timeout",
    "cli": "Claude CLI",
    "server": "server (5xx)",
    "other": "other",
}
_ERROR_ADVICE: Mapping[str, str] = {
    "auth": "check the credentials clients send and the Claude CLI login inside the container",
    "validation": "fix the client requests the proxy rejected as invalid (see the examples)",
    "rate_limit": "lower the request rate or raise the proxy's rate limit",
    "usage_limit": "spread the load: the subscription's usage limit was reached",
    "routing": "use model names the proxy can route (or map them in [aliases])",
    "timeout": "raise the proxy's timeout or shorten the prompts that time out",
    "cli": "check the Claude CLI's stderr and version inside the container",
    "server": "read the proxy's log around the first 5xx",
    "other": "read the example error lines",
}


@dataclass(frozen=True)
class Finding:
    """One rule that fired: what, how bad, the figure behind it, and what to do."""

    rule: str
    severity: str  # critical | warning | info
    title: str
    evidence: str
    recommendation: str


@dataclass(frozen=True)
class Findings:
    """All findings (most severe first, then rule order) and the rules that could not run."""

    findings: tuple[Finding, ...]
    not_evaluated: tuple[tuple[str, str], ...]  # (rule, why)


@dataclass(frozen=True)
class HealthFigures:
    """Health checks from one source: the engine's Health log, else the proxy's access log."""

    source: str  # "engine" | "logs" | "none"
    checks: int
    failed: int
    success_rate: float | None
    interval_measured_s: float | None  # median time between probes
    interval_configured_s: float | None  # HEALTHCHECK --interval, when container facts say
    engine_checks: int | None = None  # probes kept in the engine's Health log, when collected
    engine_failed: int | None = None


@dataclass(frozen=True)
class Reliability:
    """Availability figures; None where the inputs cannot tell."""

    facts: bool  # container facts were collected
    uptime_fraction: float | None  # of the analysed window
    downtime_s: float | None
    restarts: int | None  # the engine's restart count
    exits_in_window: int | None  # 'die' events inside the window
    oom_killed: bool | None
    status: str | None
    health: HealthFigures


@dataclass(frozen=True)
class ConcurrencyLatency:
    """p50 latency of timed, succeeded requests that ran alone vs alongside others."""

    solo_n: int
    solo_p50_s: float | None
    overlapped_n: int
    overlapped_p50_s: float | None
    max_level: int  # most requests in flight at any timed request's start

    @property
    def ratio(self) -> float | None:
        if not self.solo_p50_s or self.overlapped_p50_s is None:
            return None
        return self.overlapped_p50_s / self.solo_p50_s


def rule_thresholds(scoring: Scoring) -> Mapping[str, float]:
    """The rule thresholds of a validated [scoring] (config.schema.Rules), by name."""
    return MappingProxyType(asdict(scoring.rules))


# ---------------------------------------------------------------- shared figures


def parse_time(value: Any) -> datetime | None:
    """An ISO-8601 string or epoch seconds as an aware UTC datetime; None when unreadable."""
    import pandas as pd

    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        stamp = (
            pd.Timestamp(value, unit="s") if isinstance(value, int | float) else pd.Timestamp(value)
        )
    except (ValueError, TypeError):
        return None
    if pd.isna(stamp) or stamp.year < 1971:  # Docker writes 0001-01-01 for "never"
        return None
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime(warn=False)


def _median_gap_s(times: list[datetime]) -> float | None:
    import numpy as np

    if len(times) < 2:
        return None
    ordered = sorted(times)
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(ordered)]
    return float(np.median(gaps))


def health_figures(metrics: Metrics, containers: tuple[dict[str, Any], ...]) -> HealthFigures:
    """Health checks from the proxy's access log, checked against the engine's Health log.

    The access log sees every probe that reached the proxy; the engine keeps only its latest
    probes but also sees probes that failed before reaching the proxy (a timeout, a refused
    connection). So the logs give the count, and a failure only the engine saw still counts.
    """
    configured = None
    probes: list[tuple[datetime | None, Any]] = []
    for facts in containers:
        config = facts.get("health_config") or {}
        if isinstance(config, Mapping) and config.get("interval_s") is not None:
            configured = float(config["interval_s"])
        for probe in facts.get("health_log") or ():
            if isinstance(probe, Mapping):
                probes.append((parse_time(probe.get("start")), probe.get("exit_code")))
    engine_failed = sum(1 for _, code in probes if code != 0)
    h = metrics.health
    if probes and h.checks >= len(probes):
        failed = max(h.failed, engine_failed)
        return HealthFigures(
            source="logs",
            checks=h.checks,
            failed=failed,
            success_rate=(h.checks - failed) / h.checks,
            interval_measured_s=h.median_interval_s,
            interval_configured_s=configured,
            engine_checks=len(probes),
            engine_failed=engine_failed,
        )
    if probes:
        failed = engine_failed
        return HealthFigures(
            source="engine",
            checks=len(probes),
            failed=failed,
            success_rate=(len(probes) - failed) / len(probes),
            interval_measured_s=_median_gap_s([t for t, _ in probes if t is not None]),
            interval_configured_s=configured,
            engine_checks=len(probes),
            engine_failed=engine_failed,
        )
    return HealthFigures(
        source="logs" if h.checks else "none",
        checks=h.checks,
        failed=h.failed,
        success_rate=h.success_rate,
        interval_measured_s=h.median_interval_s,
        interval_configured_s=configured,
    )


def _downtime_s(facts: Mapping[str, Any], start: datetime, end: datetime) -> float:
    """Time inside [start, end] between a 'die' event and the next 'start' (or the end)."""
    events = []
    for event in facts.get("events") or ():
        if isinstance(event, Mapping) and event.get("action") in ("die", "start"):
            when = parse_time(event.get("time"))
            if when is not None:
                events.append((when, event["action"]))
    events.sort(key=lambda e: e[0])
    before = [action for when, action in events if when <= start]
    started = parse_time(facts.get("started_at"))
    running = before[-1] == "start" if before else (started is None or started <= start)
    down, since = 0.0, start
    for when, action in (e for e in events if start < e[0] <= end):
        if action == "die" and running:
            running, since = False, when
        elif action == "start" and not running:
            down += (when - since).total_seconds()
            running = True
    if not running:
        down += (end - since).total_seconds()
    return down


def reliability_of(analysis: Analysis) -> Reliability:
    """Uptime, restarts, OOM kills and health checks, from container facts when collected."""
    m = analysis.metrics
    containers = cast("tuple[dict[str, Any], ...]", analysis.containers)
    health = health_figures(m, containers)
    if not containers:
        return Reliability(False, None, None, None, None, None, None, health)
    restarts = sum(int(c.get("restart_count") or 0) for c in containers)
    oom = any(bool(c.get("oom_killed")) for c in containers)
    statuses = sorted({str(c.get("status")) for c in containers if c.get("status")})
    uptime = downtime = exits = None
    if m.window_start is not None and m.window_end is not None:
        span = (m.window_end - m.window_start).total_seconds()
        downtime = max(_downtime_s(c, m.window_start, m.window_end) for c in containers)
        uptime = 1.0 - downtime / span if span > 0 else None
        exits = sum(
            1
            for c in containers
            for e in c.get("events") or ()
            if isinstance(e, Mapping)
            and e.get("action") == "die"
            and (t := parse_time(e.get("time"))) is not None
            and m.window_start <= t <= m.window_end
        )
        for c in containers:
            oom = oom or any(
                isinstance(e, Mapping) and e.get("action") == "oom" for e in c.get("events") or ()
            )
    return Reliability(
        True, uptime, downtime, restarts, exits, oom, ", ".join(statuses) or None, health
    )


def concurrency_latency(timeline: Timeline) -> ConcurrencyLatency:
    """Latency of succeeded timed requests split by whether others were in flight at their start."""
    import numpy as np

    if len(timeline.start_ns) == 0:
        return ConcurrencyLatency(0, None, 0, None, 0)
    level = timeline.in_flight
    latency = timeline.latency_s
    ok = timeline.succeeded & ~np.isnan(latency)
    solo = latency[ok & (level <= 1)]
    overlapped = latency[ok & (level > 1)]
    return ConcurrencyLatency(
        solo_n=len(solo),
        solo_p50_s=percentile_unsorted(solo, 50) if len(solo) else None,
        overlapped_n=len(overlapped),
        overlapped_p50_s=percentile_unsorted(overlapped, 50) if len(overlapped) else None,
        max_level=int(level.max()),
    )


@dataclass(frozen=True)
class BusyBurst:
    """The burst of timed requests in which a request was in progress the largest share of time."""

    requests: int
    start: datetime
    end: datetime
    busy_fraction: float


def busiest_burst(timeline: Timeline, gap_s: float) -> BusyBurst | None:
    """Timed requests split at idle gaps > gap_s; the burst with the largest busy share."""
    import numpy as np
    import pandas as pd

    starts, ends = timeline.start_ns, timeline.end_ns  # in start order
    if len(starts) == 0:
        return None
    reach = np.maximum.accumulate(ends)
    cuts = np.flatnonzero(starts[1:] - reach[:-1] > gap_s * 1e9) + 1
    firsts, stops = np.r_[0, cuts], np.r_[cuts, len(starts)]
    spans = reach[stops - 1] - starts[firsts]
    # union of the intervals: the share of the burst in which any request was in progress
    if timeline.well_formed and gap_s >= 0:
        busy = _union_per_burst_ns(starts, reach, firsts)
    else:
        busy = np.array(
            [_union_ns(starts[a:b], ends[a:b]) for a, b in zip(firsts, stops, strict=True)]
        )
    fractions = np.ones(len(firsts))
    positive = spans > 0
    fractions[positive] = busy[positive] / spans[positive]
    best = int(np.argmax(fractions))  # the first of equals, as a strict "greater than" scan keeps
    return BusyBurst(
        requests=int(stops[best] - firsts[best]),
        start=pd.Timestamp(int(starts[firsts[best]]), tz="UTC").to_pydatetime(warn=False),
        end=pd.Timestamp(int(reach[stops[best] - 1]), tz="UTC").to_pydatetime(warn=False),
        busy_fraction=float(fractions[best]),
    )


def _union_per_burst_ns(starts: np.ndarray, reach: np.ndarray, firsts: np.ndarray) -> np.ndarray:
    """Length of the union of the intervals in each burst, as float64 nanoseconds.

    Needs intervals in start order, none ending before it starts, and bursts split at gaps of
    zero or more: then the running latest end (``reach``) inside a burst is the end of the
    merged run so far, a run ends where the next start passes it, and every burst starts a run.
    Sums whole nanoseconds in int64, exactly as ``_union_ns`` does.
    """
    import numpy as np

    run_firsts = np.flatnonzero(np.r_[True, starts[1:] > reach[:-1]])
    run_stops = np.r_[run_firsts[1:], len(starts)]
    run_ns = reach[run_stops - 1] - starts[run_firsts]
    totals = np.add.reduceat(run_ns, np.searchsorted(run_firsts, firsts))
    return np.asarray(totals, dtype=np.float64)


def _union_ns(starts: np.ndarray, ends: np.ndarray) -> float:
    """Length of the union of intervals in start order (any intervals, by a scan)."""
    total, cur_start, cur_end = 0, int(starts[0]), int(ends[0])
    for s, e in zip(starts[1:], ends[1:], strict=True):
        if s > cur_end:
            total += cur_end - cur_start
            cur_start, cur_end = int(s), int(e)
        else:
            cur_end = max(cur_end, int(e))
    return float(total + cur_end - cur_start)


# ---------------------------------------------------------------- formatting helpers


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


# ---------------------------------------------------------------- rules


def rule_restarts(reliability: Reliability) -> Finding | None:
    """The container restarted, exited or was OOM-killed."""
    if not reliability.facts:
        return None
    restarts, exits = reliability.restarts or 0, reliability.exits_in_window or 0
    if reliability.oom_killed:
        return Finding(
            "restarts",
            "critical",
            "Container was killed for running out of memory",
            f"OOMKilled is set; {restarts} restart(s), {exits} exit(s) in the window",
            "Raise the container's memory limit or find what grows; see the memory figures",
        )
    if restarts or exits:
        return Finding(
            "restarts",
            "warning",
            "Container restarted",
            f"{restarts} restart(s) by the engine, {exits} exit(s) inside the window",
            "Read the container's log just before each exit; requests in flight were lost",
        )
    return None


def rule_error_rate(metrics: Metrics, t: Mapping[str, float]) -> Finding | None:
    """Too many model requests failed."""
    if not metrics.requests or not metrics.failed:
        return None
    rate = metrics.failed / metrics.requests
    if rate < t["error_rate_warning"]:
        return None
    severity = "critical" if rate >= t["error_rate_critical"] else "warning"
    by_count = sorted(metrics.errors, key=lambda e: (-e.count, _class_order(e.error_class)))
    classes = ", ".join(
        f"{ERROR_LABELS.get(e.error_class, e.error_class)} {e.count}" for e in by_count
    )
    advice = "; ".join(_ERROR_ADVICE.get(e.error_class, "") for e in by_count[:3])
    return Finding(
        "error_rate",
        severity,
        "High error rate",
        f"{metrics.failed} of {metrics.requests} model requests failed "
        f"({fmt_pct(rate)}): {classes}",
        advice[:1].upper() + advice[1:],
    )


def _class_order(error_class: str) -> int:
    from claude_perf.analysis.assemble import ERROR_CLASSES

    return ERROR_CLASSES.index(error_class) if error_class in ERROR_CLASSES else len(ERROR_CLASSES)


def rule_error_burst(timeline: Timeline, t: Mapping[str, float]) -> Finding | None:
    """Failures clustered in time: many inside one window."""
    import pandas as pd

    from claude_perf.analysis.metrics import peak_per_window

    ends = timeline.failed_end_ns
    if len(ends) == 0:
        return None
    window_s = t["error_burst_window_s"]
    count, at = peak_per_window(ends, int(window_s * 1e9))
    if count < t["error_burst_min"] or at is None:
        return None
    start = pd.Timestamp(at, tz="UTC").to_pydatetime(warn=False)
    return Finding(
        "error_burst",
        "warning",
        "Errors came in a burst",
        f"{count} of {len(ends)} failures within {window_s:.0f} s from {fmt_time(start)}",
        "Look at what changed at that moment (deploy, login expiry, limit reset) in the log",
    )


def rule_health_failing(health: HealthFigures, t: Mapping[str, float]) -> Finding | None:
    """Health checks failed."""
    if not health.checks or not health.failed or health.success_rate is None:
        return None
    severity = "critical" if health.success_rate < t["health_success_critical"] else "warning"
    return Finding(
        "health_failing",
        severity,
        "Health checks failed",
        f"{health.failed} of {health.checks} health checks failed "
        f"({fmt_pct(health.success_rate)} succeeded, from the {health.source})",
        "Find what the probe saw at those times; a failing probe can get the container restarted",
    )


def cpu_capacity_pct(
    util: Utilisation, containers: tuple[dict[str, Any], ...]
) -> tuple[float, bool]:
    """CPU capacity in docker-stats percent (100 per core) and whether it is a configured limit."""
    for facts in containers:
        if facts.get("name") not in (None, util.container) and len(containers) > 1:
            continue
        nano = facts.get("nano_cpus") or 0
        quota, period = facts.get("cpu_quota") or 0, facts.get("cpu_period") or 0
        if nano:
            return float(nano) / 1e9 * 100.0, True
        if quota and period and quota > 0:
            return float(quota) / float(period) * 100.0, True
    return (util.online_cpus or 1.0) * 100.0, False


def rule_cpu_saturation(
    util: Utilisation, containers: tuple[dict[str, Any], ...], t: Mapping[str, float]
) -> Finding | None:
    """CPU under load near the container's capacity (throttling when it is a limit)."""
    p95 = util.load.cpu_pct_p95
    if p95 is None:
        return None
    capacity, limited = cpu_capacity_pct(util, containers)
    share = p95 / capacity
    where = f"p95 CPU under load {p95:.1f}% over {util.load.samples} samples"
    if share >= t["cpu_saturation_fraction"]:
        return Finding(
            "cpu_saturation",
            "critical" if limited else "warning",
            "CPU throttled at its limit" if limited else "CPU saturated",
            f"{where}: {fmt_pct(share)} of the {capacity / 100:.2g}-CPU "
            f"{'limit' if limited else 'capacity'}",
            "Raise the CPU limit or spread requests over more replicas"
            if limited
            else "Give the container more CPUs or spread requests over more replicas",
        )
    if capacity > 100.0 and p95 >= t["cpu_single_core_pct"]:
        return Finding(
            "cpu_saturation",
            "info",
            "One CPU core busy under load",
            f"{where}: one core's worth, of {capacity / 100:.2g} available",
            "If the proxy runs one worker, more workers or replicas would use the idle cores",
        )
    return None


def rule_memory_growth(util: Utilisation, t: Mapping[str, float]) -> Finding | None:
    """Memory grows steadily over a long enough window."""
    slope = util.mem_slope_bytes_per_min
    if slope is None or util.span_s is None or util.span_s < t["memory_growth_min_span_s"]:
        return None
    if slope < t["memory_growth_bytes_per_min"]:
        return None
    evidence = (
        f"memory grew {fmt_bytes(slope)}/min (least squares over {util.samples} samples, "
        f"{util.span_s / 60:.0f} min)"
    )
    severity = "warning"
    if util.mem_limit_bytes and util.mem_bytes_last is not None:
        hours = (util.mem_limit_bytes - util.mem_bytes_last) / slope / 60.0
        evidence += f"; {fmt_bytes(util.mem_limit_bytes)} limit reached in about {hours:.1f} h"
        if hours < t["memory_limit_critical_h"]:
            severity = "critical"
    return Finding(
        "memory_growth",
        severity,
        "Memory keeps growing",
        evidence,
        "Check for a leak (sessions or subprocesses kept after each request); restart "
        "before the limit if it cannot be fixed",
    )


def rule_latency_concurrency(cl: ConcurrencyLatency, t: Mapping[str, float]) -> Finding | None:
    """Latency rises when requests overlap."""
    n = t["latency_concurrency_min_n"]
    ratio = cl.ratio
    if (
        cl.solo_n < n
        or cl.overlapped_n < n
        or ratio is None
        or ratio < t["latency_concurrency_ratio"]
    ):
        return None
    assert cl.solo_p50_s is not None and cl.overlapped_p50_s is not None
    return Finding(
        "latency_concurrency",
        "warning",
        "Latency rises with concurrency",
        f"p50 {fmt_s(cl.overlapped_p50_s)} with others in flight (n={cl.overlapped_n}) vs "
        f"{fmt_s(cl.solo_p50_s)} alone (n={cl.solo_n}): {ratio:.1f}×",
        "Requests compete for something (CPU, one CLI process, the upstream limit): cap "
        "concurrency near the level where latency is still flat, or add replicas",
    )


def rule_sequential(
    metrics: Metrics, burst: BusyBurst | None, t: Mapping[str, float]
) -> Finding | None:
    """Requests never overlapped although the proxy was busy: capacity is one at a time."""
    tp = metrics.throughput
    if burst is None or tp.overlapped or tp.in_flight_basis < t["sequential_min_requests"]:
        return None
    if burst.busy_fraction < t["sequential_busy_fraction"]:
        return None
    return Finding(
        "sequential_processing",
        "warning" if burst.busy_fraction >= 0.8 else "info",
        "Requests were processed one at a time",
        f"never more than 1 request in flight across {tp.in_flight_basis} timed requests; in the "
        f"busiest burst ({burst.requests} requests) one was in progress "
        f"{fmt_pct(burst.busy_fraction)} of the time",
        "Concurrency was not exercised: test with overlapping requests before trusting any "
        "capacity figure; if the proxy serialises requests, capacity is 60 / latency per minute",
    )


def rule_slow_model(metrics: Metrics, t: Mapping[str, float]) -> Finding | None:
    """One model is far slower than the others (only models with enough samples)."""
    import numpy as np

    ranked = [
        m for m in metrics.models if m.latency_s is not None and m.latency_s.n >= MIN_RANKABLE
    ]
    if len(ranked) < 2:
        return None
    worst, worst_ratio, others_p50 = None, 0.0, 0.0
    for m in ranked:
        assert m.latency_s is not None
        rest = float(np.median([o.latency_s.p50 for o in ranked if o is not m and o.latency_s]))
        ratio = m.latency_s.p50 / rest if rest > 0 else 0.0
        if ratio > worst_ratio:
            worst, worst_ratio, others_p50 = m, ratio, rest
    if worst is None or worst.latency_s is None or worst_ratio < t["slow_model_ratio"]:
        return None
    return Finding(
        "slow_model",
        "info",
        f"Model {worst.model} is much slower than the rest",
        f"{worst.model} p50 {fmt_s(worst.latency_s.p50)} (n={worst.latency_s.n}) vs "
        f"{fmt_s(others_p50)}, the median p50 of the other {len(ranked) - 1} model(s): "
        f"{worst_ratio:.1f}×",
        f"Route latency-sensitive requests to a faster model than {worst.model} where the "
        "answer quality allows",
    )


def timeline_for(analysis: Analysis) -> Timeline:
    """The request times the metrics stage kept, else (metrics made by hand) the table's."""
    kept = analysis.metrics.timeline
    return kept if kept is not None else timeline_of(analysis.requests.table)


def evaluate(
    analysis: Analysis,
    utilisation: tuple[Utilisation, ...],
    reliability: Reliability | None = None,
    concurrency: ConcurrencyLatency | None = None,
) -> Findings:
    """Run every rule; list the rules whose inputs were not collected.

    ``reliability`` and ``concurrency``, when the caller already has them, are those of
    ``analysis`` (the report computes them once for its own sections too).
    """
    t = rule_thresholds(analysis.config.scoring)
    m, times = analysis.metrics, timeline_for(analysis)
    if reliability is None:
        reliability = reliability_of(analysis)
    found: list[Finding | None] = [
        rule_restarts(reliability),
        rule_error_rate(m, t),
        rule_error_burst(times, t),
        rule_health_failing(reliability.health, t),
    ]
    skipped: list[tuple[str, str]] = []
    if not analysis.containers:
        skipped.append(("restarts", "no container facts collected (logs only)"))
    if reliability.health.source == "none":
        skipped.append(("health_failing", "no health checks in the logs and no engine Health log"))
    if utilisation:
        for util in utilisation:
            found.append(
                rule_cpu_saturation(
                    util, cast("tuple[dict[str, Any], ...]", analysis.containers), t
                )
            )
            found.append(rule_memory_growth(util, t))
        if all(u.load.cpu_pct_p95 is None for u in utilisation):
            skipped.append(("cpu_saturation", "no CPU sample was taken while a request ran"))
        if all(u.span_s is None or u.span_s < t["memory_growth_min_span_s"] for u in utilisation):
            skipped.append(
                (
                    "memory_growth",
                    f"samples span less than {t['memory_growth_min_span_s']:.0f} s",
                )
            )
    else:
        skipped.append(("cpu_saturation", "no resource samples collected"))
        skipped.append(("memory_growth", "no resource samples collected"))
    cl = concurrency_latency(times) if concurrency is None else concurrency
    found.append(rule_latency_concurrency(cl, t))
    if cl.overlapped_n < t["latency_concurrency_min_n"]:
        skipped.append(
            (
                "latency_concurrency",
                f"{cl.overlapped_n} timed request(s) overlapped others "
                f"(needs {t['latency_concurrency_min_n']:.0f})",
            )
        )
    found.append(rule_sequential(m, busiest_burst(times, analysis.config.burst_gap_s), t))
    found.append(rule_slow_model(m, t))
    ranked = sum(1 for x in m.models if x.latency_s is not None and x.latency_s.n >= MIN_RANKABLE)
    if ranked < 2:
        skipped.append(
            ("slow_model", f"{ranked} model(s) have {MIN_RANKABLE}+ timed requests (needs 2)")
        )
    real = [f for f in found if f is not None]
    real.sort(key=lambda f: (SEVERITIES.index(f.severity), RULES.index(f.rule)))
    skipped.sort(key=lambda s: RULES.index(s[0]))
    return Findings(tuple(real), tuple(skipped))


def findings_dict(findings: Findings) -> dict[str, Any]:
    """JSON-ready findings (redacted: evidence can name models taken from logs)."""
    from claude_perf.report.redact import redact

    return {
        "items": [
            {
                "rule": f.rule,
                "severity": f.severity,
                "title": redact(f.title),
                "evidence": redact(f.evidence),
                "recommendation": redact(f.recommendation),
            }
            for f in findings.findings
        ],
        "not_evaluated": [{"rule": r, "reason": why} for r, why in findings.not_evaluated],
    }

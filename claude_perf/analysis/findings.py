"""Bottleneck rules: small pure functions over measured figures, each returning a Finding or None.

A rule fires only on evidence: every Finding names the figure that triggered it, and its
recommendation follows from that figure. Thresholds come from ``[scoring.rules]`` in the config
(see ``RULE_DEFAULTS``). A rule whose inputs were not collected is reported as *not evaluated*, with
the reason, never as "no problem".

The figures the rules share with the scores and the report are derived next door: reliability
(uptime, restarts, health checks) in ``reliability``, latency alone vs alongside others and the
busiest burst in ``concurrency``; sentences write figures with ``formatting``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, cast

from claude_perf.analysis.clock import surely_sequential
from claude_perf.analysis.concurrency import (
    BusyBurst,
    ConcurrencyLatency,
    busiest_burst,
    concurrency_latency,
    timeline_for,
)
from claude_perf.analysis.finding import Finding
from claude_perf.analysis.formatting import fmt_bytes, fmt_pct, fmt_s, fmt_time
from claude_perf.analysis.metrics import MIN_RANKABLE, Metrics, Timeline
from claude_perf.analysis.reliability import HealthFigures, Reliability, reliability_of
from claude_perf.config.schema import Rules, Scoring

if TYPE_CHECKING:
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
# Rules over replicas (analysis.replicas), evaluated when a session has several sources.
REPLICA_RULES = ("replica_slow", "replica_errors", "replica_starved")
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
class Findings:
    """All findings (most severe first, then rule order) and the rules that could not run."""

    findings: tuple[Finding, ...]
    not_evaluated: tuple[tuple[str, str], ...]  # (rule, why)


def rule_thresholds(scoring: Scoring) -> Mapping[str, float]:
    """The rule thresholds of a validated [scoring] (config.schema.Rules), by name."""
    return MappingProxyType(asdict(scoring.rules))


# ---------------------------------------------------------------- rules


def rule_restarts(reliability: Reliability) -> Finding | None:
    """The container restarted, exited or was OOM-killed."""
    if not reliability.facts:
        if not reliability.restarts:
            return None
        return Finding(
            "restarts",
            "warning",
            "Proxy restarted",
            f"{reliability.restarts} restart(s) seen in the logs (its start-up banner after it "
            "had served requests)",
            "Read the log just before each restart; requests in flight were lost",
        )
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
    from claude_perf.analysis.error_classes import ERROR_CLASSES

    return ERROR_CLASSES.index(error_class) if error_class in ERROR_CLASSES else len(ERROR_CLASSES)


def rule_error_burst(timeline: Timeline, t: Mapping[str, float]) -> Finding | None:
    """Failures clustered in time: many inside one window."""
    import pandas as pd

    from claude_perf.analysis.numeric import peak_per_window

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
    if (
        burst is None
        or not surely_sequential(tp)
        or tp.in_flight_basis < t["sequential_min_requests"]
    ):
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
    if not analysis.containers and reliability.restarts is None:
        skipped.append(
            ("restarts", "no container facts collected (logs only), and no start-up banner known")
        )
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
    if m.throughput.in_flight_range is not None:  # (clock.py)
        skipped.append(("latency_concurrency", "whole-second stamps cannot tell what overlapped"))
    elif cl.overlapped_n < t["latency_concurrency_min_n"]:
        skipped.append(
            (
                "latency_concurrency",
                f"{cl.overlapped_n} timed request(s) overlapped others "
                f"(needs {t['latency_concurrency_min_n']:.0f})",
            )
        )
    # The busiest burst only where the rule can fire (requests never overlapped): its arrays
    # are each a float per timed request (+68 MB resident at 10M lines, unused when they did).
    sequential = surely_sequential(m.throughput)
    burst = busiest_burst(times, analysis.config.burst_gap_s) if sequential else None
    found.append(rule_sequential(m, burst, t))
    found.append(rule_slow_model(m, t))
    ranked = sum(1 for x in m.models if x.latency_s is not None and x.latency_s.n >= MIN_RANKABLE)
    if ranked < 2:
        skipped.append(
            ("slow_model", f"{ranked} model(s) have {MIN_RANKABLE}+ timed requests (needs 2)")
        )
    from claude_perf.analysis.replicas import (
        fleet_of,
        imbalance_findings,
        replica_sources,
        unlike_proxies,
    )

    unlike = unlike_proxies(analysis)
    if unlike is not None:  # several proxies side by side: no replicas of one service
        why = f"{unlike[0]} and {unlike[1]} are logs of different proxies, not replicas"
        skipped += [(rule, why) for rule in REPLICA_RULES]
    elif len(replica_sources(analysis)) > 1:  # replicas to compare (analysis.replicas)
        more, whys = imbalance_findings(fleet_of(analysis), t)
        found += more
        skipped += whys
    order = (*RULES, *REPLICA_RULES)
    real = [f for f in found if f is not None]
    real.sort(key=lambda f: (SEVERITIES.index(f.severity), order.index(f.rule)))
    skipped.sort(key=lambda s: order.index(s[0]))
    return Findings(tuple(real), tuple(skipped))

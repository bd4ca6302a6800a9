"""Reliability figures: uptime, downtime, restarts, OOM kills and health checks.

From the engine's container facts (inspect, events, the Health log) when they were collected,
else from the proxy's access log. Rules, scores and the report all read the same ``Reliability``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from claude_perf.ingest.health_files import HAND_SOURCES

if TYPE_CHECKING:
    from claude_perf.analysis.metrics import Metrics
    from claude_perf.analysis.pipeline import Analysis


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
    restarts: int | None  # the engine's restart count, else the restarts seen in the logs
    exits_in_window: int | None  # 'die' events inside the window
    oom_killed: bool | None
    status: str | None
    health: HealthFigures
    # when ``restarts`` comes from the logs (no container facts): each restart's banner
    restarts_in_logs: tuple[datetime, ...] = ()
    # the only facts are hand-captured files (report --health): the engine's probes and final
    # state, but no engine events, so uptime and restarts stay as without facts
    hand_facts: bool = False


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


def _in_window(when: datetime | None, window: tuple[datetime | None, datetime | None]) -> bool:
    start, end = window
    if when is None or start is None or end is None:
        return True  # no time to judge by: kept, as before windows existed
    return start <= when <= end


def _start_period_end(facts: Mapping[str, Any], config: Any) -> datetime | None:
    """When the container's HEALTHCHECK start period ended (None: no start period known)."""
    started = parse_time(facts.get("started_at"))
    period_s = config.get("start_period_s") if isinstance(config, Mapping) else None
    if started is None or not period_s:
        return None
    return started + timedelta(seconds=float(period_s))


def health_figures(metrics: Metrics, containers: tuple[dict[str, Any], ...]) -> HealthFigures:
    """Health checks from the proxy's access log, checked against the engine's Health log.

    The access log sees every probe that reached the proxy; the engine keeps only its latest
    probes but also sees probes that failed before reaching the proxy (a timeout, a refused
    connection). So the logs give the count, and a failure only the engine saw still counts.
    """
    configured = None
    probes: list[tuple[datetime | None, Any]] = []
    window = (getattr(metrics, "window_start", None), getattr(metrics, "window_end", None))
    for facts in containers:
        config = facts.get("health_config") or {}
        if isinstance(config, Mapping) and config.get("interval_s") is not None:
            configured = float(config["interval_s"])
        grace_end = _start_period_end(facts, config)
        for probe in facts.get("health_log") or ():
            if not isinstance(probe, Mapping):
                continue
            when = parse_time(probe.get("start"))
            if not _in_window(when, window):
                continue  # the engine keeps its latest probes, whatever the report's window
            code = probe.get("exit_code")
            if code != 0 and when is not None and grace_end is not None and when < grace_end:
                # Docker: "probe failure during that period will not be counted" (HEALTHCHECK
                # --start-period, Dockerfile reference); the proxy was still starting.
                continue
            probes.append((when, code))
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
    hand = bool(containers) and all(c.get("source") in HAND_SOURCES for c in containers)
    if not containers or hand:
        seen = tuple(sorted(t for times in analysis.restarts_seen.values() for t in times))
        restarts = len(seen) if analysis.startups_logged else None
        known_oom = [bool(c["oom_killed"]) for c in containers if c.get("oom_killed") is not None]
        statuses = sorted({str(c.get("status")) for c in containers if c.get("status")})
        return Reliability(
            False,
            None,
            None,
            restarts,
            None,
            any(known_oom) if known_oom else None,
            ", ".join(statuses) or None,
            health,
            seen,
            hand_facts=hand,
        )
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

"""Known-answer tests of every bottleneck rule: each fires on its evidence and not without it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from claude_perf.analysis.concurrency import (
    BusyBurst,
    ConcurrencyLatency,
    busiest_burst,
    concurrency_latency,
)
from claude_perf.analysis.findings import (
    RULE_DEFAULTS,
    evaluate,
    rule_cpu_saturation,
    rule_error_burst,
    rule_error_rate,
    rule_health_failing,
    rule_latency_concurrency,
    rule_memory_growth,
    rule_restarts,
    rule_sequential,
    rule_slow_model,
    rule_thresholds,
)
from claude_perf.analysis.metrics import (
    ErrorClassMetrics,
    LatencyStats,
    ModelMetrics,
    timeline_of,
)
from claude_perf.analysis.numeric import in_flight_at_start
from claude_perf.analysis.reliability import HealthFigures, Reliability, reliability_of
from claude_perf.analysis.utilisation import LoadSplit, Utilisation
from claude_perf.config.load import config_from_mapping
from claude_perf.errors import ConfigError
from tests.report_support import T0, analysis_of, health_line, request_lines, requests_frame

T = RULE_DEFAULTS


def _util(**changes: object) -> Utilisation:
    base = Utilisation(
        container="proxy",
        samples=100,
        cpu_gaps=0,
        interval_s=5.0,
        span_s=3600.0,
        cgroup="v2",
        online_cpus=2.0,
        idle=LoadSplit(50, 2.0, 3.0, 100e6),
        load=LoadSplit(50, 20.0, 30.0, 120e6),
        cpu_pct_max=40.0,
        cpu_pct_last=2.0,
        mem_bytes_last=120e6,
        mem_bytes_peak=130e6,
        mem_limit_bytes=2e9,
        mem_pct_last=6.0,
        mem_pct_peak=6.5,
        mem_slope_bytes_per_min=0.0,
        net_rx_bytes=1e6,
        net_tx_bytes=2e6,
        blk_read_bytes=0.0,
        blk_write_bytes=0.0,
        pids_last=5,
        pids_max=6,
        requests_in_span=10,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _health(checks: int, failed: int) -> HealthFigures:
    rate = (checks - failed) / checks if checks else None
    return HealthFigures("logs", checks, failed, rate, 5.0, None)


def _stats(p50: float, n: int = 10) -> LatencyStats:
    return LatencyStats(n, p50, p50, p50, p50, p50, p50, p50, 0.1)


def _model(name: str, p50: float, n: int = 10) -> ModelMetrics:
    return ModelMetrics(name, None, n, n, 0, 1.0, _stats(p50, n), 0, 0)


# ---- error rate


def test_error_rate_critical_above_a_quarter(tmp_path) -> None:  # type: ignore[no-untyped-def]
    lines = [*request_lines(0, 1), *request_lines(5, 1, status=500, error="boom")]
    m = analysis_of(tmp_path, lines).metrics
    f = rule_error_rate(m, T)
    assert f is not None and f.severity == "critical"
    assert "1 of 2 model requests failed (50.0%)" in f.evidence


def test_error_rate_warning_and_quiet(tmp_path) -> None:  # type: ignore[no-untyped-def]
    m = analysis_of(tmp_path, request_lines(0, 1)).metrics
    assert rule_error_rate(m, T) is None
    errors = (ErrorClassMetrics("timeout", 1, 0.1, None, None, ()),)
    warn = replace(m, requests=10, failed=1, errors=errors)
    f = rule_error_rate(warn, T)
    assert f is not None and f.severity == "warning" and "timeout 1" in f.evidence
    assert rule_error_rate(replace(m, requests=100, failed=4, errors=errors), T) is None  # 4 %


# ---- error burst


def test_error_burst_fires_on_three_failures_in_a_minute() -> None:
    rows = [{"start": s, "end": s + 1, "outcome": "failed"} for s in (0.0, 10.0, 20.0)]
    f = rule_error_burst(timeline_of(requests_frame(rows)), T)
    assert f is not None and f.evidence.startswith("3 of 3 failures within 60 s")


def test_error_burst_quiet_when_failures_are_spread() -> None:
    rows = [{"start": s, "end": s + 1, "outcome": "failed"} for s in (0.0, 100.0, 200.0)]
    assert rule_error_burst(timeline_of(requests_frame(rows)), T) is None
    assert rule_error_burst(timeline_of(requests_frame([{"start": 0.0, "end": 1.0}])), T) is None


# ---- health


def test_health_failing_severity_follows_the_success_rate() -> None:
    assert rule_health_failing(_health(10, 0), T) is None
    assert rule_health_failing(_health(0, 0), T) is None
    warn = rule_health_failing(_health(100, 5), T)
    assert warn is not None and warn.severity == "warning" and "5 of 100" in warn.evidence
    crit = rule_health_failing(_health(10, 5), T)
    assert crit is not None and crit.severity == "critical"


# ---- restarts


def test_restarts_and_oom() -> None:
    h = _health(1, 0)
    assert rule_restarts(Reliability(False, None, None, None, None, None, None, h)) is None
    assert rule_restarts(Reliability(True, 1.0, 0.0, 0, 0, False, "running", h)) is None
    r = rule_restarts(Reliability(True, 0.9, 10.0, 2, 1, False, "running", h))
    assert r is not None and r.severity == "warning" and "2 restart(s)" in r.evidence
    oom = rule_restarts(Reliability(True, 0.9, 10.0, 0, 1, True, "exited", h))
    assert oom is not None and oom.severity == "critical"


# ---- CPU


def test_cpu_saturation_against_a_configured_limit_is_throttling() -> None:
    util = _util(load=LoadSplit(50, 90.0, 95.0, 1e8))
    limited = rule_cpu_saturation(util, ({"name": "proxy", "nano_cpus": 1_000_000_000},), T)
    assert limited is not None and limited.severity == "critical"
    assert "95.0% of the 1-CPU limit" in limited.evidence


def test_cpu_saturation_against_online_cpus() -> None:
    util = _util(load=LoadSplit(50, 180.0, 190.0, 1e8))
    f = rule_cpu_saturation(util, (), T)
    assert f is not None and f.severity == "warning" and f.title == "CPU saturated"
    one_core = rule_cpu_saturation(_util(load=LoadSplit(50, 90.0, 95.0, 1e8)), (), T)
    assert one_core is not None and one_core.severity == "info"
    assert rule_cpu_saturation(_util(), (), T) is None
    assert rule_cpu_saturation(_util(load=LoadSplit(0, None, None, None)), (), T) is None


# ---- memory


def test_memory_growth_critical_when_the_limit_is_near() -> None:
    util = _util(mem_slope_bytes_per_min=10 * 2**20, mem_bytes_last=1e9, mem_limit_bytes=2e9)
    f = rule_memory_growth(util, T)
    # (2e9 - 1e9) / 10 MiB/min = 95.4 min = 1.6 h
    assert f is not None and f.severity == "critical" and "about 1.6 h" in f.evidence


def test_memory_growth_needs_slope_and_span() -> None:
    assert rule_memory_growth(_util(mem_slope_bytes_per_min=1000.0), T) is None
    assert rule_memory_growth(_util(mem_slope_bytes_per_min=1e8, span_s=60.0), T) is None
    slow = _util(mem_slope_bytes_per_min=2 * 2**20, mem_bytes_last=1e8, mem_limit_bytes=1e12)
    f = rule_memory_growth(slow, T)
    assert f is not None and f.severity == "warning"


# ---- concurrency


def test_in_flight_at_start_counts_open_intervals() -> None:
    import numpy as np

    starts = np.array([0, 1, 2, 10])
    ends = np.array([5, 3, 4, 11])
    assert in_flight_at_start(starts, ends).tolist() == [1, 2, 3, 1]


def test_concurrency_latency_splits_solo_and_overlapped() -> None:
    rows = [
        {"start": 0.0, "end": 1.0},
        {"start": 10.0, "end": 14.0},
        {"start": 11.0, "end": 15.0},
    ]
    cl = concurrency_latency(timeline_of(requests_frame(rows)))
    assert (cl.solo_n, cl.overlapped_n, cl.max_level) == (2, 1, 2)
    assert cl.solo_p50_s == 2.5 and cl.overlapped_p50_s == 4.0


def test_latency_rising_with_concurrency() -> None:
    assert rule_latency_concurrency(ConcurrencyLatency(5, 2.0, 5, 4.0, 3), T) is not None
    assert rule_latency_concurrency(ConcurrencyLatency(5, 2.0, 5, 2.5, 3), T) is None
    assert rule_latency_concurrency(ConcurrencyLatency(5, 2.0, 2, 9.0, 2), T) is None


def test_sequential_processing_when_busy_and_never_overlapped(tmp_path) -> None:  # type: ignore[no-untyped-def]
    lines = [line for s in range(5) for line in request_lines(s * 10, 9)]
    a = analysis_of(tmp_path, lines)
    burst = busiest_burst(timeline_of(a.requests.table), 60)
    assert burst is not None and burst.requests == 5
    assert abs(burst.busy_fraction - 45 / 49) < 1e-6
    f = rule_sequential(a.metrics, burst, T)
    assert f is not None and f.severity == "warning"
    idle = BusyBurst(5, burst.start, burst.end, 0.1)
    assert rule_sequential(a.metrics, idle, T) is None


def test_sequential_quiet_when_requests_overlapped(tmp_path) -> None:  # type: ignore[no-untyped-def]
    lines = sorted(request_lines(0, 5) + request_lines(1, 5) + request_lines(2, 5))
    a = analysis_of(tmp_path, lines)
    assert a.metrics.throughput.overlapped
    assert rule_sequential(a.metrics, busiest_burst(timeline_of(a.requests.table), 60), T) is None


@pytest.mark.parametrize("seed", range(20))
def test_busiest_burst_vectorised_matches_the_scan(seed: int) -> None:
    import numpy as np

    from claude_perf.analysis.metrics import Timeline

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    starts = np.sort(rng.integers(0, 400, n)) * 1_000_000_000
    ends = starts + rng.integers(0, 30, n) * 1_000_000_000  # zero-length requests too
    level = in_flight_at_start(starts, ends)
    fast = Timeline(starts, ends, level, np.ones(n), np.ones(n, bool), starts[:0], True)
    scan = replace(fast, well_formed=False)
    for gap_s in (0.0, 5.0, 60.0):
        assert busiest_burst(fast, gap_s) == busiest_burst(scan, gap_s)


def test_compute_keeps_the_timeline_of_its_table(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    lines = sorted(request_lines(0, 5) + request_lines(1, 5) + request_lines(9, 2, status=500))
    a = analysis_of(tmp_path, lines)
    kept, fresh = a.metrics.timeline, timeline_of(a.requests.table)
    assert kept is not None and kept.well_formed == fresh.well_formed
    for name in ("start_ns", "end_ns", "in_flight", "latency_s", "succeeded", "failed_end_ns"):
        assert np.array_equal(getattr(kept, name), getattr(fresh, name), equal_nan=True), name


# ---- slow model


def test_slow_model_needs_rankable_models(tmp_path) -> None:  # type: ignore[no-untyped-def]
    m = analysis_of(tmp_path, request_lines(0, 1)).metrics
    slow = replace(m, models=(_model("haiku", 1.0), _model("sonnet", 1.2), _model("opus", 5.0)))
    f = rule_slow_model(slow, T)
    assert f is not None and "opus" in f.title and "4.5×" in f.evidence  # 5.0 / median(1.0, 1.2)
    close = replace(m, models=(_model("haiku", 1.0), _model("sonnet", 1.5)))
    assert rule_slow_model(close, T) is None
    few = replace(m, models=(_model("haiku", 1.0), _model("opus", 9.0, n=4)))
    assert rule_slow_model(few, T) is None


# ---- thresholds, reliability, evaluate


def test_thresholds_are_configurable_and_validated() -> None:
    def thresholds(rules: dict[str, object]) -> Mapping[str, float]:
        return rule_thresholds(config_from_mapping({"scoring": {"rules": rules}}).scoring)

    assert thresholds({"slow_model_ratio": 3})["slow_model_ratio"] == 3.0
    assert thresholds({}) == T
    with pytest.raises(ConfigError, match=r"unknown key 'scoring.rules.nope'"):
        thresholds({"nope": 1})
    with pytest.raises(ConfigError, match="slow_model_ratio must be a number, not the string"):
        thresholds({"slow_model_ratio": "fast"})


def test_reliability_from_engine_facts(tmp_path) -> None:  # type: ignore[no-untyped-def]
    lines = [*request_lines(0, 1), *request_lines(100, 1)]
    facts = {
        "name": "proxy",
        "restart_count": 1,
        "oom_killed": False,
        "status": "running",
        "started_at": "2026-11-29T00:00:00Z",
        "health_config": {"interval_s": 30.0},
        "health_log": [
            {"start": "2026-11-29T00:50:10Z", "exit_code": 0},
            {"start": "2026-11-29T00:50:40Z", "exit_code": 1},
            {"start": "2026-11-29T00:51:10Z", "exit_code": 0},
        ],
        "events": [
            {"time": "2026-11-29T00:50:30Z", "action": "die"},
            {"time": "2026-11-29T00:50:40Z", "action": "start"},
        ],
    }
    r = reliability_of(analysis_of(tmp_path, lines, containers=(facts,)))
    assert r.health.source == "engine" and (r.health.checks, r.health.failed) == (3, 1)
    assert r.health.interval_measured_s == 30.0 and r.health.interval_configured_s == 30.0
    assert r.downtime_s == 10.0 and r.exits_in_window == 1 and r.restarts == 1
    assert r.uptime_fraction is not None and abs(r.uptime_fraction - (1 - 10 / 101)) < 1e-9


def test_evaluate_orders_by_severity_and_lists_missing_inputs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    lines = [
        *request_lines(0, 1),
        *request_lines(5, 1, status=500, error="boom"),
        *request_lines(8, 1, status=500, error="boom"),
        *request_lines(12, 1, status=500, error="boom"),
        health_line(3, status=500),
    ]
    found = evaluate(analysis_of(tmp_path, lines), ())
    severities = [f.severity for f in found.findings]
    assert severities == sorted(severities, key=["critical", "warning", "info"].index)
    assert {f.rule for f in found.findings} >= {"error_rate", "error_burst", "health_failing"}
    skipped = dict(found.not_evaluated)
    assert skipped["cpu_saturation"] == "no resource samples collected"
    # the wrapper's dialect reads its start-up banner: restarts are judged from the logs (none)
    assert "restarts" not in skipped and "restarts" not in {f.rule for f in found.findings}


def banner_line(at_s: float) -> str:
    """uvicorn's lifespan line, which the wrapper prints as it (re)starts."""
    t = T0 + timedelta(seconds=at_s)
    return f"{t.strftime('%Y-%m-%dT%H:%M:%S.%f')}000Z INFO:     Application startup complete."


def test_a_start_up_banner_after_served_requests_is_a_restart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Logs only: the banner at the start is the first start; one after requests had been
    served is a restart (two workers' banners together are one start)."""
    lines = [
        banner_line(0),
        banner_line(0.01),
        *request_lines(1, 1),
        banner_line(5),
        banner_line(5.01),
        *request_lines(8, 1),
    ]
    a = analysis_of(tmp_path, lines)
    found = evaluate(a, ())
    restart = [f for f in found.findings if f.rule == "restarts"]
    assert len(restart) == 1 and restart[0].title == "Proxy restarted"
    assert "1 restart(s) seen in the logs" in restart[0].evidence
    (times,) = a.restarts_seen.values()
    assert times == (T0 + timedelta(seconds=5),)


def test_restarts_are_unknown_when_no_dialect_logs_a_banner(tmp_path) -> None:  # type: ignore[no-untyped-def]
    lines = [health_line(1), health_line(3)]
    found = evaluate(analysis_of(tmp_path, lines), ())
    assert dict(found.not_evaluated)["restarts"].startswith("no container facts collected")


def test_parse_time_reads_iso_and_rejects_docker_zero() -> None:
    from claude_perf.analysis.reliability import parse_time

    assert parse_time("2026-11-29T00:50:10.5Z") == datetime(
        2026, 11, 29, 0, 50, 10, 500000, tzinfo=UTC
    )
    assert parse_time("0001-01-01T00:00:00Z") is None
    assert parse_time("not a time") is None


def test_health_counts_come_from_logs_and_engine_only_failures_still_count():
    from types import SimpleNamespace

    from claude_perf.analysis.metrics import HealthMetrics
    from claude_perf.analysis.reliability import health_figures

    logs = SimpleNamespace(health=HealthMetrics(42, 0, 1.0, 41, 1, 1.0))
    probes = [
        {"start": f"2026-11-29T00:00:0{i}Z", "end": f"2026-11-29T00:00:0{i}.1Z", "exit_code": code}
        for i, code in enumerate([0, 0, 1, 0, 0])
    ]
    facts = ({"health_config": {"interval_s": 1.0}, "health_log": probes},)
    figures = health_figures(logs, facts)  # type: ignore[arg-type]
    assert (figures.source, figures.checks, figures.failed) == ("logs", 42, 1)
    assert (figures.engine_checks, figures.engine_failed) == (5, 1)
    # no probes in the logs: the engine's log is all there is
    quiet = SimpleNamespace(health=HealthMetrics(0, 0, None, 0, 0, None))
    figures = health_figures(quiet, facts)  # type: ignore[arg-type]
    assert (figures.source, figures.checks, figures.failed) == ("engine", 5, 1)


def test_engine_probes_outside_the_window_or_in_the_start_period_do_not_count():
    """The engine keeps its latest probes whatever window is reported, and Docker does not count
    a probe that fails during HEALTHCHECK --start-period: neither is a failure of this window."""
    from types import SimpleNamespace

    from claude_perf.analysis.metrics import HealthMetrics
    from claude_perf.analysis.reliability import health_figures

    at = datetime(2026, 11, 29, 0, 0, 10, tzinfo=UTC)
    logs = SimpleNamespace(
        health=HealthMetrics(14, 0, 1.0, 14, 0, 1.0),
        window_start=at,
        window_end=at.replace(second=30),
    )
    probes = [
        {"start": "2026-11-29T00:00:01Z", "exit_code": 1},  # before the window
        {"start": "2026-11-29T00:00:11Z", "exit_code": 1},  # in the window, in the start period
        {"start": "2026-11-29T00:00:14Z", "exit_code": 0},
        {"start": "2026-11-29T00:00:20Z", "exit_code": 0},
        {"start": "2026-11-29T00:00:40Z", "exit_code": 1},  # after the window
    ]
    facts = {
        "started_at": "2026-11-29T00:00:09Z",
        "health_config": {"interval_s": 1.0, "start_period_s": 3.0},
        "health_log": probes,
    }
    figures = health_figures(logs, (facts,))  # type: ignore[arg-type]
    assert (figures.checks, figures.failed, figures.engine_checks) == (14, 0, 2)
    # without the start period the failure at 00:00:11 is the container's own
    facts["health_config"] = {"interval_s": 1.0}
    figures = health_figures(logs, (facts,))  # type: ignore[arg-type]
    assert (figures.failed, figures.engine_checks, figures.engine_failed) == (1, 3, 1)

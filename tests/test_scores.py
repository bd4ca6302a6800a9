"""Known-answer tests of the scoring rubric: every curve, every score, and the missing cases."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from claude_perf.analysis.concurrency import ConcurrencyLatency
from claude_perf.analysis.metrics import LatencyStats
from claude_perf.analysis.reliability import Reliability
from claude_perf.analysis.scores import (
    Rubric,
    Score,
    capacity_of,
    interpolate,
    rubric_of,
    score_all,
    score_efficiency,
    score_overall,
    score_performance,
    score_reliability,
    score_scalability,
    scores_dict,
)
from claude_perf.analysis.utilisation import LoadSplit
from claude_perf.config.load import config_from_mapping
from claude_perf.config.schema import Scoring
from claude_perf.errors import ConfigError
from tests.report_support import analysis_of, request_lines
from tests.test_findings import _health, _util

R = rubric_of(Scoring())


def _no_facts(checks: int = 0, failed: int = 0) -> Reliability:
    return Reliability(False, None, None, None, None, None, None, _health(checks, failed))


@pytest.fixture
def metrics(tmp_path):  # type: ignore[no-untyped-def]
    return analysis_of(tmp_path, request_lines(0, 1)).metrics


def test_interpolate_is_piecewise_linear_and_clamped() -> None:
    curve = ((0.8, 0.0), (0.95, 5.0), (1.0, 10.0))
    assert interpolate(curve, 0.5) == 0.0
    assert interpolate(curve, 0.875) == pytest.approx(2.5)
    assert interpolate(curve, 0.975) == pytest.approx(7.5)
    assert interpolate(curve, 1.0) == 10.0
    assert interpolate(((5.0, 10.0), (30.0, 0.0)), 17.5) == pytest.approx(5.0)
    assert interpolate(((5.0, 10.0), (30.0, 0.0)), 99.0) == 0.0


def test_performance_averages_p50_and_p95(metrics) -> None:  # type: ignore[no-untyped-def]
    stats = LatencyStats(10, 8.0, 17.5, 30.0, 35.0, 40.0, 1.0, 50.0, 2.0)
    s = score_performance(replace(metrics, overall_latency_s=stats), R)
    # p50 17.5 s → 5.0; p95 35 s → 5.0
    assert s.value == pytest.approx(5.0)
    assert "p50 17.50 s → 5.0" in s.why and "n=10" in s.why


def test_performance_needs_five_timed_requests(metrics) -> None:  # type: ignore[no-untyped-def]
    s = score_performance(metrics, R)
    assert s.value is None and "1 succeeded request(s)" in s.why


def test_reliability_mixes_health_and_subtracts_restarts(metrics) -> None:  # type: ignore[no-untyped-def]
    m = replace(metrics, requests=100, failed=3, succeeded=97, success_rate=0.97)
    # 0.97 → 5 + 3 × (0.02 / 0.04) = 6.5
    plain = score_reliability(m, _no_facts(), R)
    assert plain.value == pytest.approx(6.5) and "restarts unknown" in plain.why
    # health 100 % → 10, weight 0.2: 0.8 × 6.5 + 0.2 × 10 = 7.2
    assert score_reliability(m, _no_facts(10, 0), R).value == pytest.approx(7.2)
    facts = Reliability(True, 1.0, 0.0, 1, 0, False, "running", _health(10, 0))
    assert score_reliability(m, facts, R).value == pytest.approx(5.2)
    many = Reliability(True, 1.0, 0.0, 9, 0, True, "running", _health(10, 0))
    assert score_reliability(m, many, R).value == 0.0


def test_reliability_none_without_requests(metrics) -> None:  # type: ignore[no-untyped-def]
    s = score_reliability(replace(metrics, requests=0, success_rate=None), _no_facts(), R)
    assert s.value is None


def test_efficiency_from_cpu_share_and_memory() -> None:
    # p95 under load 30 % of 200 % capacity = 15 % → 10; memory 6.5 % → 10
    assert score_efficiency((_util(),), (), R).value == 10.0
    busy = _util(load=LoadSplit(5, 140.0, 145.0, 1e8), mem_pct_peak=70.0)
    # 72.5 % → 10 × (95 − 72.5) / 45 = 5.0; 70 % → 5.0
    assert score_efficiency((busy,), (), R).value == pytest.approx(5.0)
    assert score_efficiency((), (), R).value is None


def test_scalability_needs_overlap() -> None:
    s = score_scalability(ConcurrencyLatency(9, 1.0, 0, None, 1), 1, R)
    assert s.value is None and "not measured" in s.why
    # ratio 2.1 → 10 × (3 − 2.1) / 1.8 = 5.0
    s = score_scalability(ConcurrencyLatency(5, 1.0, 5, 2.1, 3), 3, R)
    assert s.value == pytest.approx(5.0) and "2.10×" in s.why


def test_overall_renormalises_over_measured_scores() -> None:
    parts = [
        Score("performance", 10.0, ""),
        Score("reliability", 5.0, ""),
        Score("efficiency", None, "x"),
        Score("scalability", None, "x"),
    ]
    s = score_overall(parts, R)
    # (0.3 × 10 + 0.4 × 5) / 0.7
    assert s.value == pytest.approx(5 / 0.7) and "efficiency, scalability" in s.why
    no_perf = [Score("performance", None, ""), *parts[1:]]
    assert score_overall(no_perf, R).value is None


def test_rubric_is_configurable_and_validated() -> None:
    def rubric(raw: dict[str, object]) -> Rubric:
        return rubric_of(config_from_mapping({"scoring": raw}).scoring)

    custom = rubric({"performance_p50_s": [[1, 10], [2, 0]], "weights": {"reliability": 1}})
    assert custom.curves["performance_p50_s"] == ((1.0, 10.0), (2.0, 0.0))
    assert custom.weights["reliability"] == 1.0
    assert rubric({}) == R
    for bad, message in (
        ({"performance_p50_s": [[2, 10], [1, 0]]}, "figures must increase from point to point"),
        ({"performance_p50_s": [[1, 11], [2, 0]]}, "scores must be between 0 and 10"),
        ({"performance_p50_s": [[1, 10]]}, "must be a list of at least two"),
        ({"weights": {"performance": -1}}, "scoring.weights.performance must be a number >= 0"),
        ({"wieghts": {}}, "unknown key 'scoring.wieghts' (did you mean 'weights'?)"),
        ({"health_weight": 2}, "scoring.health_weight must be between 0 and 1, not 2"),
    ):
        with pytest.raises(ConfigError, match=re.escape(message)):
            rubric(bad)


def test_score_all_and_dict(metrics) -> None:  # type: ignore[no-untyped-def]
    scores = score_all(
        metrics, _no_facts(), (), ConcurrencyLatency(1, 1.0, 0, None, 1), (), Scoring()
    )
    assert [s.name for s in scores] == [
        "performance",
        "reliability",
        "efficiency",
        "scalability",
        "overall",
    ]
    d = scores_dict(scores)
    assert d["performance"]["value"] is None and d["reliability"]["value"] == 10.0


def test_capacity_from_latency_and_memory(metrics) -> None:  # type: ignore[no-untyped-def]
    cap = capacity_of(metrics, (_util(),))
    assert cap.concurrency == 1 and cap.sustainable_per_min == pytest.approx(60.0)
    # 120 MB under load − 100 MB idle = 20 MB per request; 2 GB − 130 MB headroom
    assert cap.mem_per_request_bytes == pytest.approx(20e6)
    assert cap.extra_concurrent == int((2e9 - 130e6) // 20e6)

"""One figure on both sides of a comparison: its change and its verdict (regression,
improvement, noise) with the reason; the latency and token-rate rules, shared by the summary's
figures (ci/compare.py) and the client view's (ci/client_compare.py). See compare.py for the
rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from claude_perf.config.schema import CompareThresholds

# When a change is more than noise: declared, with the defaults of compare.py's docstring, in
# config.schema ([gates.compare]).
Thresholds = CompareThresholds

REGRESSION, IMPROVEMENT, NOISE = "regression", "improvement", "noise"


@dataclass(frozen=True)
class Delta:
    """One figure on both sides, its change and its verdict with the reason."""

    metric: str  # p50_latency_s, p95_latency_s, success_rate, error_rate, health_rate, cpu_pct...
    scope: str  # a model name, or "overall" / "resources"
    baseline: float | None
    current: float | None
    change: float | None  # current - baseline
    change_rel: float | None  # change / baseline
    verdict: str
    reason: str
    higher_is_better: bool = False


def change_of(base: float | None, cur: float | None) -> tuple[float | None, float | None]:
    if base is None or cur is None:
        return None, None
    change = cur - base
    return change, (change / base if base else None)


def latency_delta(metric: str, scope: str, base: Any, cur: Any, t: Thresholds) -> Delta | None:
    b_stats, c_stats = base or {}, cur or {}
    key = metric.split("_", 1)[0]
    b, c = b_stats.get(key), c_stats.get(key)
    if b is None and c is None:
        return None
    change, rel = change_of(b, c)
    if change is None:
        return Delta(metric, scope, b, c, None, None, NOISE, "latency known on one side only")
    n_b, n_c = int(b_stats.get("n") or 0), int(c_stats.get("n") or 0)
    if min(n_b, n_c) < t.min_samples:
        reason = f"too few samples (n={n_b} vs {n_c}, need {t.min_samples} on each side)"
        return Delta(metric, scope, b, c, change, rel, NOISE, reason)
    big_rel = rel is None or abs(rel) >= t.latency_rel
    if abs(change) >= t.latency_abs_s and big_rel:
        verdict = REGRESSION if change > 0 else IMPROVEMENT
        reason = (
            f"{change:+.3f} s ({pct_text(rel)}), beyond ±{t.latency_rel:.0%} and "
            f"±{t.latency_abs_s:g} s (n={n_b} vs {n_c})"
        )
        return Delta(metric, scope, b, c, change, rel, verdict, reason)
    reason = (
        f"{change:+.3f} s ({pct_text(rel)}) within ±{t.latency_rel:.0%} or ±{t.latency_abs_s:g} s"
    )
    return Delta(metric, scope, b, c, change, rel, NOISE, reason)


def token_rate_delta(scope: str, base: Any, cur: Any, t: Thresholds) -> Delta | None:
    """Per-request output tokens/s p50 (``{"n", "p50", ...}`` on each side): a drop of at
    least ``latency_rel`` with ``min_samples`` on each side is a regression (lower is worse)."""
    b_stats, c_stats = base or {}, cur or {}
    b, c = b_stats.get("p50"), c_stats.get("p50")
    metric = "p50_output_tokens_per_s"
    if b is None and c is None:
        return None
    change, rel = change_of(b, c)
    if change is None:
        return Delta(metric, scope, b, c, None, None, NOISE, "known on one side only", True)
    n_b, n_c = int(b_stats.get("n") or 0), int(c_stats.get("n") or 0)
    if min(n_b, n_c) < t.min_samples:
        reason = f"too few samples (n={n_b} vs {n_c}, need {t.min_samples} on each side)"
        return Delta(metric, scope, b, c, change, rel, NOISE, reason, True)
    if rel is not None and abs(rel) >= t.latency_rel:
        verdict = REGRESSION if change < 0 else IMPROVEMENT
        reason = f"{pct_text(rel)}, beyond ±{t.latency_rel:.0%} (n={n_b} vs {n_c})"
        return Delta(metric, scope, b, c, change, rel, verdict, reason, True)
    reason = f"{pct_text(rel)} within ±{t.latency_rel:.0%}"
    return Delta(metric, scope, b, c, change, rel, NOISE, reason, True)


def pct_text(rel: float | None) -> str:
    return "n/a" if rel is None else f"{rel:+.1%}"

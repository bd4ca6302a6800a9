"""compare on the client view: per model asked, TTFT p50/p95 by the latency rules and the
per-request output-token rate p50 (lower is worse) by ``latency_rel`` with ``min_samples``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from claude_perf.ci.delta import (
    IMPROVEMENT,
    NOISE,
    REGRESSION,
    Delta,
    Thresholds,
    change_of,
    latency_delta,
    pct_text,
)


def _token_rate(scope: str, base: Any, cur: Any, t: Thresholds) -> Delta | None:
    """Per-request output tokens/s p50: a drop of at least ``latency_rel`` is a regression."""
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


def client_deltas(
    baseline: Mapping[str, Any], current: Mapping[str, Any], t: Thresholds, notes: list[str]
) -> list[Delta]:
    """TTFT and token-rate deltas per model asked, when both sides have client records."""
    b_client, c_client = baseline.get("client"), current.get("client")
    if not isinstance(b_client, Mapping) or not isinstance(c_client, Mapping):
        if b_client or c_client:
            notes.append("client records are on one side only: the client view is not compared")
        return []
    b_models = {m.get("model"): m for m in b_client.get("models") or []}
    c_models = {m.get("model"): m for m in c_client.get("models") or []}
    deltas: list[Delta] = []
    for name in [n for n in b_models if n in c_models and n is not None]:
        b, c = b_models[name], c_models[name]
        scope = f"client {name}"
        for metric in ("p50_ttft_s", "p95_ttft_s"):
            delta = latency_delta(metric, scope, b.get("ttft_s"), c.get("ttft_s"), t)
            if delta:
                deltas.append(delta)
        rate = _token_rate(
            scope,
            (b.get("output_tokens_per_s") or {}).get("per_request"),
            (c.get("output_tokens_per_s") or {}).get("per_request"),
            t,
        )
        if rate:
            deltas.append(rate)
    return deltas

"""compare on the client view: per model asked, TTFT p50/p95 by the latency rules and the
per-request output-token rate p50 (lower is worse) by ``latency_rel`` with ``min_samples``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from claude_perf.ci.delta import Delta, Thresholds, latency_delta, token_rate_delta


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
        rate = token_rate_delta(
            scope,
            (b.get("output_tokens_per_s") or {}).get("per_request"),
            (c.get("output_tokens_per_s") or {}).get("per_request"),
            t,
        )
        if rate:
            deltas.append(rate)
    return deltas

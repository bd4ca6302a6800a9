"""The JSON summary's ``client`` key: what the clients saw, joined with the logs (README documents
each key). ``None`` when the session has no client records: the key is then ``null``.

Names the clients wrote (models asked, Locust endpoint names, llmperf's model) go through the
redaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from claude_perf.report.redact import redact

if TYPE_CHECKING:
    from claude_perf.analysis.client_view import ClientModel, ClientView, Goodput, ServerSide
    from claude_perf.analysis.metrics import LatencyStats

COST_BASIS = "API-equivalent: what the responses reported, not money spent on a subscription"


def rounded(value: float | None, digits: int = 6) -> float | None:
    """Rounded for the JSON summary: microseconds for seconds, 4 decimals for rates (summary.py
    says why: byte-for-byte reproducible output). summary.py uses this one too."""
    return None if value is None else round(float(value), digits)


def stats_dict(stats: LatencyStats | None) -> dict[str, Any] | None:
    """n, mean and the four percentiles the issue lists (seconds, or tokens/s)."""
    if stats is None:
        return None
    return {
        "n": stats.n,
        "mean": rounded(stats.mean),
        "p50": rounded(stats.p50),
        "p90": rounded(stats.p90),
        "p95": rounded(stats.p95),
        "p99": rounded(stats.p99),
    }


def _goodput(goodput: Goodput | None) -> dict[str, Any] | None:
    if goodput is None:
        return None
    return {
        "good": goodput.good,
        "requests": goodput.requests,
        "share": rounded(goodput.share, 4),
        "per_s": rounded(goodput.per_s, 4),
    }


def _server(server: ServerSide) -> dict[str, Any]:
    def short(stats: LatencyStats | None) -> dict[str, Any] | None:
        return (
            None
            if stats is None
            else {"n": stats.n, "p50": rounded(stats.p50), "p95": rounded(stats.p95)}
        )

    return {
        "matched": server.matched,
        "inferred_pairings": server.inferred,
        "latency_s": short(server.latency_s),
        "ttfb_s": short(server.ttfb_s),
        "difference_p50_s": rounded(server.difference_p50_s),
    }


def _model(m: ClientModel) -> dict[str, Any]:
    return {
        "model": None if m.model is None else redact(m.model),
        "requests": m.requests,
        "succeeded": m.succeeded,
        "failed": m.failed,
        "latency_s": stats_dict(m.latency_s),
        "ttft_s": stats_dict(m.ttft_s),
        "inter_token_latency_s": stats_dict(m.itl_s),
        "output_tokens_per_s": {
            "per_request": stats_dict(m.output_tokens_per_s),
            "overall": rounded(m.output_tokens_per_s_overall, 4),
        },
        "tokens": {
            "input": m.tokens.input,
            "output": m.tokens.output,
            "cache_read": m.tokens.cache_read,
            "cache_creation": m.tokens.cache_creation,
        },
        "cost_usd": rounded(m.cost_usd),
        "goodput": _goodput(m.goodput),
        "server": _server(m.server),
    }


def client_dict(view: ClientView | None) -> dict[str, Any] | None:
    """The ``client`` key (see the README's JSON summary section)."""
    if view is None:
        return None
    join = view.join
    slo = view.slo
    return {
        "records": view.records,
        "tools": list(view.tools),
        "matched": len(join.pairs),
        "matched_by_id": join.by_id,
        "unmatched_client": len(join.unmatched_client),
        "unmatched_server": len(join.unmatched_server),
        "outside_window": join.outside_window,
        "clock_offset_s": rounded(join.clock_offset_s),
        "match_tolerance_s": rounded(join.tolerance_s),
        "slo": {
            "ttft_s": slo.ttft_s,
            "latency_s": slo.latency_s,
            "itl_s": slo.itl_s,
            "output_tokens_per_s": slo.output_tokens_per_s,
        },
        "goodput": _goodput(view.goodput),
        "errors": dict(view.error_classes),
        "cost_basis": COST_BASIS,
        "models": [_model(m) for m in view.models],
        "aggregates": [
            {
                "tool": a.tool,
                "name": redact(a.name),
                "method": a.method,
                "requests": a.requests,
                "failures": a.failures,
                "mean_s": rounded(a.mean_s),
                "p50_s": rounded(a.p50_s),
                "p95_s": rounded(a.p95_s),
                "p99_s": rounded(a.p99_s),
                "max_s": rounded(a.max_s),
                "requests_per_s": rounded(a.requests_per_s, 4),
                "ttft_p50_s": rounded(a.ttft_p50_s),
                "ttft_p95_s": rounded(a.ttft_p95_s),
            }
            for a in view.aggregates
        ],
    }

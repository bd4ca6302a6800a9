"""Analysis → the JSON summary (schema ``claude-perf/summary/1``), a stable machine contract.

Keys documented in the README keep their meaning; new keys may be added. Floats are rounded to
microseconds (latency) or 4 decimals (rates) so that output is byte-for-byte reproducible.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from claude_perf.analysis.metrics import QUANTILE_METHOD, LatencyStats, Metrics
from claude_perf.analysis.pipeline import Analysis
from claude_perf.analysis.scores import scores_dict
from claude_perf.analysis.usage import Spread, UsageMetrics
from claude_perf.durations import iso
from claude_perf.parse.formats import K_OTHER, KINDS
from claude_perf.report.client_json import client_dict, stats_dict
from claude_perf.report.client_json import rounded as _r
from claude_perf.report.redact import redact

if TYPE_CHECKING:
    from claude_perf.analysis.findings import Findings
    from claude_perf.report.model import ReportModel

SCHEMA = "claude-perf/summary/1"


def latency_dict(stats: LatencyStats | None) -> dict[str, Any] | None:
    if stats is None:
        return None
    return {
        **(stats_dict(stats) or {}),
        "min": _r(stats.min),
        "max": _r(stats.max),
        "stdev": _r(stats.stdev),
        "too_few_to_rank": stats.too_few,
        # 95 % distribution-free intervals (analysis/numeric.quantile_interval); null: too few
        "p50_ci95": _interval(stats.p50_ci95),
        "p95_ci95": _interval(stats.p95_ci95),
    }


def _interval(bounds: tuple[float, float] | None) -> list[float | None] | None:
    return None if bounds is None else [_r(bounds[0]), _r(bounds[1])]


def _spread(spread: Spread | None, digits: int) -> dict[str, Any] | None:
    if spread is None:
        return None
    return {
        "n": spread.n,
        "mean": _r(spread.mean, digits),
        "p50": _r(spread.p50, digits),
        "p95": _r(spread.p95, digits),
    }


def usage_dict(usage: UsageMetrics | None) -> dict[str, Any]:
    """A model's server-side usage keys (analysis/usage.py): null where the logs carry none,
    never 0 for unknown. Cost is the CLI's figure (API-equivalent on subscription plans)."""
    if usage is None:
        return {
            "tokens": None,
            "cost_usd": None,
            "output_tokens_per_s": None,
            "cli_overhead_s": None,
            "usage": None,
        }
    return {
        "tokens": {
            "input": usage.input_tokens,
            "output": usage.output_tokens,
            "cache_read": usage.cache_read_tokens,
            "cache_creation": usage.cache_creation_tokens,
        },
        "cost_usd": _r(usage.cost_usd),
        "output_tokens_per_s": {
            "overall": _r(usage.output_tokens_per_s_overall, 4),
            "per_request": _spread(usage.output_tokens_per_s, 4),
        },
        "cli_overhead_s": _spread(usage.cli_overhead_s, 6),
        "usage": {"requests": usage.requests, "inferred": usage.inferred},
    }


def _window(metrics: Metrics) -> dict[str, Any]:
    return {
        "start": iso(metrics.window_start),
        "end": iso(metrics.window_end),
        "duration_s": _r(metrics.duration_s, 3),
    }


def build(analysis: Analysis) -> dict[str, Any]:
    """The summary as plain JSON-ready data."""
    # One literal, longer than 80 lines on purpose: it reads top to bottom as the schema that the
    # README documents, key by key, in output order.
    m, q, logs, entries = analysis.metrics, analysis.quality, analysis.logs, analysis.entries
    counts = dict(entries.kind_counts)
    unparsed = counts[KINDS[K_OTHER]]
    return {
        "schema": SCHEMA,
        "window": _window(m),
        "inputs": [
            {"path": i.path, "form": i.form, "lines": i.lines, "bytes": i.bytes}
            for i in logs.inputs
        ],
        "lines": {
            "total": logs.total,
            "unparsed": unparsed,
            "duplicates": logs.duplicate_lines,
            "by_kind": counts,
        },
        "requests": {
            "total": m.requests,
            "succeeded": m.succeeded,
            "failed": m.failed,
            "success_rate": _r(m.success_rate, 4) if m.success_rate is not None else 0.0,
            "other_endpoints": m.other_requests,
        },
        "latency_s": latency_dict(m.overall_latency_s),
        "models": [
            {
                "model": mm.model,
                "family": mm.family,
                "requests": mm.requests,
                "succeeded": mm.succeeded,
                "failed": mm.failed,
                "success_rate": _r(mm.success_rate, 4),
                "latency_s": latency_dict(mm.latency_s),
                "latency_unknown": mm.latency_unknown,
                "ambiguous_pairings": mm.ambiguous,
                "inferred_share": _r(mm.inferred_share, 4),
                **usage_dict(mm.usage),
            }
            for mm in m.models
        ],
        "health": {
            "checks": m.health.checks,
            "failed": m.health.failed,
            "success_rate": _r(m.health.success_rate, 4),
            "in_container": m.health.in_container,
            "external": m.health.external,
            "median_interval_s": _r(m.health.median_interval_s, 3),
        },
        "errors": {
            "total": sum(e.count for e in m.errors),
            "by_class": {e.error_class: e.count for e in m.errors},
            "records": analysis.requests.error_records,
            "orphan_records": q.orphan_error_records,
        },
        "throughput": {
            "requests_per_min": _r(m.throughput.requests_per_min, 4),
            "peak_requests_per_min": float(m.throughput.peak_requests_per_min),
            "peak_minute_start": iso(m.throughput.peak_minute_start),
            "max_in_flight": m.throughput.max_in_flight,
            "in_flight_basis": m.throughput.in_flight_basis,
            "overlapped": m.throughput.overlapped,
            # (fewest, most) when the log's clock counts whole seconds (analysis/clock.py)
            "in_flight_range": (
                list(m.throughput.in_flight_range) if m.throughput.in_flight_range else None
            ),
            "bursts": [
                {
                    "start": iso(b.start),
                    "end": iso(b.end),
                    "requests": b.requests,
                    "requests_per_min": _r(b.requests_per_min, 4),
                }
                for b in m.throughput.bursts
            ],
        },
        "data_quality": {
            "quantile_method": QUANTILE_METHOD,
            "latency_population": "succeeded model requests with a known latency",
            "ambiguous_pairings": q.ambiguous_pairings,
            "unmatched_starts": q.unmatched_starts,
            "stale_starts_dropped": q.stale_starts,
            "latency_unknown": q.latency_unknown,
            "lines_without_time": q.lines_without_time,
            "invalid_utf8_lines": q.invalid_utf8_lines,
            "broken_json_lines": q.broken_json_lines,
            "partial_lines_merged": q.partial_lines_merged,
            "duplicate_lines": q.duplicate_lines,
            "dialects": {name: list(found) for name, found in q.dialects.items()},
            "arrivals_only": q.arrivals_only,
            "echoes_merged": q.echoes_merged,
            # usage records (tokens, cost, CLI times on a line of their own) and how many of
            # them no request was found for
            "usage_records": analysis.requests.usage_records,
            "usage_unattached": analysis.requests.usage_unattached,
            "notes": list(q.notes),
        },
        "client": client_dict(analysis.client),
        **replicas_part(analysis),
        **collected(analysis),
    }


def replicas_part(analysis: Analysis) -> dict[str, Any]:
    """``replicas``, present when the session has several sources: one entry per source.

    The keys above keep their fleet-wide meaning (counts summed, percentiles pooled).
    """
    from claude_perf.analysis.replicas import fleet_of, replica_sources

    if len(replica_sources(analysis)) < 2:
        return {}

    return {
        "replicas": [
            {
                "engine": redact(r.engine) if r.engine else None,
                "container": redact(r.container),
                "service": redact(r.service) if r.service else None,
                "task": r.task,
                "requests": {"total": r.requests, "succeeded": r.succeeded, "failed": r.failed},
                "latency_s": latency_dict(r.latency_s),
                "errors": {"by_class": dict(sorted(r.errors_by_class.items()))},
                "resources": {"cpu_pct": _r(r.cpu_pct, 4), "mem_bytes": _r(r.mem_bytes, 0)},
            }
            for r in fleet_of(analysis).replicas
        ]
    }


def collected(analysis: Analysis) -> dict[str, Any]:
    """``resources`` and ``container`` keys, present only when samples or facts were collected.

    Health probe output stays in the store (it can hold anything a probe printed); the summary
    keeps each probe's start, end and exit code. With several containers ``container`` is the
    first by name and ``containers`` lists them all.
    """
    out: dict[str, Any] = {}
    samples = analysis.samples
    if samples is not None and len(samples):
        from claude_perf.analysis.resources import summarise

        out["resources"] = summarise(samples).as_dict()
        untimed = int(samples["ts"].isna().sum())
        if untimed:  # report --stats lines without a time: pooled, never placed in the window
            out["resources"]["untimed_samples"] = untimed
            out["resources"]["note"] = (
                f"{untimed} snapshot(s) without times: figures pooled over them; idle vs load, "
                "memory growth per minute and I/O per request unknown (the snapshots carry no time)"
            )
    if analysis.containers:
        facts = [
            {
                **c,
                "health_log": [
                    {k: v for k, v in dict(p).items() if k != "output"}
                    for p in (c.get("health_log") or [])  # type: ignore[attr-defined]
                ],
            }
            for c in sorted(analysis.containers, key=lambda c: str(c.get("name")))
        ]
        out["container"] = facts[0]
        if len(facts) > 1:
            out["containers"] = facts
    return out


def findings_dict(findings: Findings) -> dict[str, Any]:
    """JSON-ready findings (redacted: evidence can name models taken from logs)."""
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


def summary_extras(model: ReportModel) -> dict[str, Any]:
    """The JSON summary's ``findings`` and ``scores`` keys, from the same figures as the report."""
    return {"findings": findings_dict(model.findings), "scores": scores_dict(model.scores)}


def dumps(summary: dict[str, Any]) -> str:
    """Deterministic JSON text (2-space indent, key order as built, trailing newline)."""
    return json.dumps(summary, indent=2, ensure_ascii=False, allow_nan=False) + "\n"

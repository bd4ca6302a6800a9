"""Analysis → ReportModel: the figures derived once, then every section in report order.

``build`` is the one entry point the CLI calls; ``report_time`` picks the "generated at" time
(fixed, $SOURCE_DATE_EPOCH or now), which ``build`` only writes, never reads.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from claude_perf.analysis.concurrency import concurrency_latency, timeline_for
from claude_perf.analysis.findings import evaluate
from claude_perf.analysis.formatting import fmt_time
from claude_perf.analysis.reliability import reliability_of
from claude_perf.analysis.scores import capacity_of, score_all
from claude_perf.analysis.utilisation import utilisation_of
from claude_perf.report.context import Context, available_charts
from claude_perf.report.model import ReportModel, Section, quoted
from claude_perf.report.sections import (
    client,
    failures,
    findings,
    overview,
    performance,
    quality,
    replicas,
    resources,
)
from claude_perf.report.settings import references_of

if TYPE_CHECKING:
    from claude_perf.analysis.pipeline import Analysis

# The report's sections in order; each reads the shared Context and returns one Section (or
# None when it does not apply: Replicas with a single source).
SECTIONS: tuple[Callable[[Context], Section | None], ...] = (
    overview.summary_section,
    overview.sources_section,
    performance.latency_section,
    client.client_section,
    replicas.replicas_section,
    performance.throughput_section,
    resources.resources_section,
    failures.errors_section,
    failures.reliability_section,
    performance.tiers_section,
    findings.bottlenecks_section,
    resources.scaling_section,
    performance.references_section,
    findings.recommendations_section,
    quality.scores_section,
    quality.quality_section,
)


def build(analysis: Analysis, generated_at: datetime) -> ReportModel:
    """Compute every section; ``generated_at`` is written as given (in UTC), never read here."""
    c = context_of(analysis)
    m = analysis.metrics
    names = sorted({str(f.get("name")) for f in analysis.containers if f.get("name")})
    if not names and analysis.samples is not None and not analysis.samples.empty:
        names = sorted({str(n) for n in analysis.samples["container_name"].dropna()})
    title = "Performance report" + (f": {', '.join(names)}" if names else "")
    window = (
        f"{fmt_time(m.window_start)} → {fmt_time(m.window_end)}"
        if m.window_start is not None
        else "unknown"
    )
    return ReportModel(
        title=quoted(title, 200),
        generated_at=fmt_time(generated_at.astimezone(UTC)),
        window=window,
        status=c.findings.findings[0].severity if c.findings.findings else "ok",
        sections=tuple(s for s in (section(c) for section in SECTIONS) if s is not None),
        charts=available_charts(c),
        scores=c.scores,
        findings=c.findings,
    )


def context_of(analysis: Analysis) -> Context:
    """The figures every section shares, each computed once (utilisation, rules, scores...)."""
    utilisation = utilisation_of(analysis.samples, analysis.requests.table)
    reliability = reliability_of(analysis)
    concurrency = concurrency_latency(timeline_for(analysis))
    found = evaluate(analysis, utilisation, reliability, concurrency)
    scores = score_all(
        analysis.metrics,
        reliability,
        utilisation,
        concurrency,
        cast("tuple[dict[str, Any], ...]", analysis.containers),
        analysis.config.scoring,
    )
    return Context(
        analysis=analysis,
        utilisation=utilisation,
        reliability=reliability,
        concurrency=concurrency,
        findings=found,
        scores=scores,
        capacity=capacity_of(analysis.metrics, utilisation),
        tiers=analysis.config.tiers,
        references=references_of(analysis.config.references),
    )


def report_time(fixed: datetime | None = None) -> datetime:
    """The "generated at" time: ``fixed`` if given, else $SOURCE_DATE_EPOCH, else now (UTC)."""
    import os

    if fixed is not None:
        return fixed
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), UTC)
    return datetime.now(UTC)

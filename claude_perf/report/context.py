"""What every section reads: the analysis and the figures derived from it once per report.

``build`` computes utilisation, reliability, findings, scores and capacity once and hands this
frozen bundle to each section function, so no two sections can disagree on a figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from claude_perf.report.model import CHARTS

if TYPE_CHECKING:
    from claude_perf.analysis.concurrency import ConcurrencyLatency
    from claude_perf.analysis.findings import Findings
    from claude_perf.analysis.pipeline import Analysis
    from claude_perf.analysis.reliability import Reliability
    from claude_perf.analysis.scores import Capacity, Score
    from claude_perf.analysis.utilisation import Utilisation
    from claude_perf.config.schema import Tiers
    from claude_perf.report.settings import Reference


@dataclass(frozen=True)
class Context:
    analysis: Analysis
    utilisation: tuple[Utilisation, ...]
    reliability: Reliability
    concurrency: ConcurrencyLatency
    findings: Findings
    scores: tuple[Score, ...]
    capacity: Capacity
    tiers: Tiers
    references: tuple[Reference, ...]


def available_charts(c: Context) -> tuple[str, ...]:
    """Charts the data can draw."""
    m = c.analysis.metrics
    names = []
    if any(mm.latency_s is not None for mm in m.models):
        names += ["latency_by_model", "latency_over_time"]
    if m.requests or m.health.checks:
        names.append("requests_over_time")
    if any(u.timed for u in c.utilisation):  # untimed snapshots have no place on a time axis
        names.append("resources")
    client = c.analysis.client
    if client is not None and any(cm.latency_s is not None for cm in client.models):
        names.append("client_latency_ttft")
    return tuple(n for n in CHARTS if n in names)

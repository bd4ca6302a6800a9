"""Sections from the bottleneck rules: the findings table and the recommendations.

Rules that could not run are listed with the reason, and rules that ran and found nothing are
named, so "no finding" never hides "not measured".
"""

from __future__ import annotations

from claude_perf.analysis.findings import REPLICA_RULES, RULES
from claude_perf.analysis.replicas import replica_sources
from claude_perf.report.cells import row
from claude_perf.report.context import Context
from claude_perf.report.model import (
    Block,
    Bullets,
    Facts,
    Paragraph,
    Section,
    Table,
    Text,
    ours,
    quoted,
)


def bottlenecks_section(c: Context) -> Section:
    """Bottleneck analysis: findings, rules that found nothing, rules not evaluated."""
    f = c.findings
    blocks: list[Block] = []
    if f.findings:
        blocks.append(
            Table(
                ("Severity", "Finding", "Evidence"),
                tuple(
                    row(x.severity, quoted(x.title, None), quoted(x.evidence, None))
                    for x in f.findings
                ),
                ("l", "l", "l"),
            )
        )
    else:
        blocks.append(Paragraph(ours("No rule fired on the figures that were measured.")))
    fired = {x.rule for x in f.findings}
    skipped = {r for r, _ in f.not_evaluated}
    rules = (*RULES, *REPLICA_RULES) if len(replica_sources(c.analysis)) > 1 else RULES
    clear = [r for r in rules if r not in fired and r not in skipped]
    if clear:
        blocks.append(Facts((("Evaluated, nothing found", ours(", ".join(clear))),)))
    if f.not_evaluated:
        blocks.append(Paragraph(ours("Not evaluated (inputs missing):")))
        blocks.append(Bullets(tuple(ours(f"{r}: {why}") for r, why in f.not_evaluated)))
    return Section("bottlenecks", "Bottleneck analysis", tuple(blocks))


def recommendations_section(c: Context) -> Section:
    """Recommendations: one per distinct finding, most severe first."""
    if not c.findings.findings:
        return Section(
            "recommendations",
            "Recommendations",
            (Paragraph(ours("None: no finding calls for action.")),),
        )
    seen: list[Text] = []
    for f in c.findings.findings:
        q = quoted(f"{f.recommendation} (from: {f.title})", None)
        if q not in seen:
            seen.append(q)
    return Section("recommendations", "Recommendations", (Bullets(tuple(seen), ordered=True),))

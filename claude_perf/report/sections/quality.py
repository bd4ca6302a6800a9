"""The last two sections: the scores with their rubric, and how good the data was.

Data quality counts what the parser could not use (unparsed or untimed lines, ambiguous pairings,
duplicates) so a reader can judge how far to trust the figures above.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from claude_perf.analysis.metrics import QUANTILE_METHOD
from claude_perf.analysis.scores import CURVE_DEFAULTS
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


def scores_section(c: Context) -> Section:
    """Scores: each score with its reason, and the rubric in one paragraph."""
    rows = tuple(
        row(s.name, "–" if s.value is None else f"{s.value:.1f}/10", ours(s.why)) for s in c.scores
    )
    rubric = (
        "Rubric: each score is piecewise-linear between configurable points ([scoring]); "
        f"performance from p50 ({_curve(CURVE_DEFAULTS['performance_p50_s'])}) and p95; "
        "reliability from the request and health-check success rates minus restarts; "
        "efficiency from CPU and memory use against capacity; scalability from latency with "
        "requests overlapping vs alone; overall is the weighted mean of the scores measured."
    )
    return Section(
        "scores",
        "Scores",
        (Table(("Score", "Value", "Why"), rows, ("l", "r", "l")), Paragraph(ours(rubric))),
    )


def _curve(points: Sequence[tuple[float, float]]) -> str:
    return ", ".join(f"{x:g} s → {y:g}" for x, y in points)


def quality_section(c: Context) -> Section:
    """Data quality: what the figures rest on and what could not be used."""
    a = c.analysis
    q = a.quality
    m = a.metrics
    st = m.overall_latency_s
    counts = dict(a.entries.kind_counts)
    items: list[tuple[str, Text]] = [
        (
            "Timed requests",
            ours(
                f"{st.n if st else 0} of {m.succeeded} succeeded model requests "
                "have a known latency"
            ),
        ),
        ("Unparsed lines", ours(f"{counts.get('other', 0)} of {a.logs.total}")),
        ("Log dialects", _dialects(q.dialects)),
        ("Ambiguous pairings", ours(str(q.ambiguous_pairings))),
        ("Unmatched starts", ours(f"{q.unmatched_starts} ({q.stale_starts} stale, dropped)")),
        ("Lines without a time", ours(str(q.lines_without_time))),
        ("Duplicate lines", ours(str(q.duplicate_lines))),
        (
            "Invalid UTF-8 / broken JSON lines",
            ours(f"{q.invalid_utf8_lines} / {q.broken_json_lines}"),
        ),
        ("Quantile method", ours(QUANTILE_METHOD)),
    ]
    if c.utilisation:
        for u in c.utilisation:
            items.append(
                (
                    "Resource samples",
                    quoted(
                        f"{u.container}: {u.samples} samples, {u.cpu_gaps} without CPU figure, "
                        f"interval {u.interval_s:.2f} s, cgroup {u.cgroup or 'unknown'}"
                        if u.interval_s is not None
                        else f"{u.container}: {u.samples} sample(s), "
                        f"cgroup {u.cgroup or 'unknown'}",
                        None,
                    ),
                )
            )
    else:
        items.append(("Resource samples", ours("none collected")))
    items.append(
        (
            "Container facts",
            ours(f"{len(a.containers)} container(s)" if a.containers else "none collected"),
        )
    )
    items.append(("Inputs", quoted(", ".join(i.path for i in a.logs.inputs) or "none", 300)))
    items.append(("Configuration", quoted(a.config.source or "defaults", 200)))
    blocks: list[Block] = [Facts(tuple(items))]
    if q.notes:
        blocks.append(Paragraph(ours("Notes:")))
        blocks.append(Bullets(tuple(quoted(n, None) for n in q.notes)))
    return Section("quality", "Data quality", tuple(blocks))


def _dialects(found: Mapping[str, tuple[str, ...]]) -> Text:
    """Per source, the dialects found in it (generic formats only where none was)."""
    parts = [
        f"{source}: {', '.join(names) or 'generic formats only'}" for source, names in found.items()
    ]
    return quoted("; ".join(parts) or "no input", 600)

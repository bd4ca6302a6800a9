"""Sections on speed: latency per model, throughput, performance tiers, reference figures.

Latency is always that of succeeded model requests with a known duration (a fast failure is not a
fast answer). Tiers rank models by a configurable statistic against the [tiers] thresholds;
references only repeat published figures from [references] next to what was measured.
"""

from __future__ import annotations

from collections.abc import Sequence

from claude_perf.analysis.formatting import fmt_s, fmt_time
from claude_perf.analysis.metrics import (
    MIN_RANKABLE,
    P50_BOUNDED_N,
    P95_BOUNDED_N,
    LatencyStats,
    ModelMetrics,
    Throughput,
)
from claude_perf.report.cells import fmt_cell_s, fmt_count, fmt_share, row
from claude_perf.report.context import Context, available_charts
from claude_perf.report.model import (
    CHARTS,
    Block,
    Chart,
    Facts,
    Paragraph,
    Section,
    Table,
    Text,
    ours,
    quoted,
)
from claude_perf.report.sections.usage import usage_blocks

INFERRED_NOTE = (
    "† No request ids, and another request (in flight, or one that logs no start line) could "
    "own the completion: which completion belongs to which start was inferred "
    "(first-in-first-out), so the split of these figures between models may "
    "be wrong; the overall figures and the mean of all overlapping requests together are not."
)


def latency_section(c: Context) -> Section:
    """Response times per model: the latency table, overall figures and charts."""
    m = c.analysis.metrics
    if not m.models:
        return Section(
            "latency",
            "Response times per model",
            (Paragraph(ours("No model requests in the window.")),),
        )
    table = _models_table(m.models)
    items = _overall_facts(m.overall_latency_s)
    blocks: list[Block] = [table]
    if any(mm.inferred_share > 0 for mm in m.models):
        blocks.append(Paragraph(ours(INFERRED_NOTE)))
    blocks.append(Facts(tuple(items)))
    blocks += usage_blocks(m.models)
    if "latency_by_model" in available_charts(c):
        blocks.append(Chart("latency_by_model", CHARTS["latency_by_model"]))
    if "latency_over_time" in available_charts(c):
        blocks.append(Chart("latency_over_time", CHARTS["latency_over_time"]))
    return Section("latency", "Response times per model", tuple(blocks))


def _models_table(models: Sequence[ModelMetrics]) -> Table:
    """One row per model: latency statistics of its timed successes, success share, notes."""
    rows = []
    for mm in models:
        st = mm.latency_s
        note = []
        if st is None:
            note.append("no timed success")
        elif st.too_few:
            note.append("too few to rank")
        if mm.latency_unknown:
            note.append(f"{mm.latency_unknown} untimed")
        if mm.inferred_share > 0:
            note.append(f"† {mm.inferred_share:.0%} of timed on inferred pairings")
        elif mm.ambiguous:
            note.append(f"{mm.ambiguous} ambiguous")
        rows.append(
            row(
                quoted(mm.model, 60) if mm.model is not None else ours("(model not logged)"),
                quoted(mm.family, 40) if mm.family is not None else ours("–"),
                fmt_count(mm.requests),
                fmt_count(st.n if st else 0),
                fmt_cell_s(st.mean if st else None),
                fmt_cell_s(st.p50 if st else None),
                fmt_cell_s(st.p95 if st else None),
                _interval_cell(st),
                fmt_cell_s(st.p99 if st else None),
                f"{st.min:.2f}–{st.max:.2f} s" if st else "–",
                fmt_cell_s(st.stdev if st else None),
                fmt_share(mm.succeeded, mm.requests),
                ", ".join(note) or "–",
            )
        )
    return Table(
        (
            "Model",
            "Family",
            "Requests",
            "Timed n",
            "Mean",
            "p50",
            "p95",
            "p95, 95% interval",
            "p99",
            "Min–max",
            "Stdev",
            "Success",
            "Note",
        ),
        tuple(rows),
        ("l", "l", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r", "l"),
    )


def _interval_cell(st: LatencyStats | None) -> str:
    """Where the true p95 lies, 95 % sure, from the values alone; or why that cannot be said."""
    if st is None:
        return "–"
    if st.p95_ci95 is None:
        return f"needs ≥ {P95_BOUNDED_N} (n={st.n})"
    low, high = st.p95_ci95
    return f"{fmt_s(low)} – {fmt_s(high)}"


def _overall_facts(st: LatencyStats | None) -> list[tuple[str, Text]]:
    """Latency over all models, and which requests it counts."""
    items: list[tuple[str, Text]] = []
    if st is None:
        items.append(("Overall", ours("no successful request with a known latency")))
    else:
        items += [
            ("Overall mean", ours(f"{fmt_s(st.mean)} (n={st.n})")),
            ("Overall p50 and p95", ours(_bounded(st))),
            ("Overall range", ours(f"{fmt_s(st.min)} to {fmt_s(st.max)} (n={st.n})")),
            (
                "Consistency",
                ours(
                    f"± {fmt_s(st.stdev)} standard deviation (n={st.n})"
                    if st.stdev is not None
                    else "one sample: spread unknown"
                ),
            ),
        ]
    items.append(
        (
            "Population",
            ours(
                "succeeded model requests with a known latency; failures are excluded (a fast "
                "failure is not a fast answer); fewer than "
                f"{MIN_RANKABLE} samples is too few to rank"
            ),
        )
    )
    return items


def _bounded(st: LatencyStats) -> str:
    """The overall p50 and p95 with where each truly lies, 95 % sure (order statistics)."""
    parts = []
    for name, value, bounds, needed in (
        ("p50", st.p50, st.p50_ci95, P50_BOUNDED_N),
        ("p95", st.p95, st.p95_ci95, P95_BOUNDED_N),
    ):
        where = (
            f"95% interval {fmt_s(bounds[0])} – {fmt_s(bounds[1])}"
            if bounds is not None
            else f"no 95% interval: it needs {needed} timed requests, there are {st.n}"
        )
        parts.append(f"{name} {fmt_s(value)} ({where})")
    return (
        "; ".join(parts)
        + ". The intervals come from the values' ranks alone, whatever their distribution"
    )


def processing_statement(c: Context) -> str:
    """One consistent statement of sequential vs concurrent processing."""
    tp = c.analysis.metrics.throughput
    if tp.in_flight_basis == 0:
        return "unknown: no request has both a start and an end time"
    if tp.in_flight_range is not None and tp.in_flight_range[1] > 1:
        fewest, most = tp.in_flight_range
        return (
            f"unresolved: between {fewest} and {most} requests in flight at the busiest moment "
            f"(over {tp.in_flight_basis} requests; the log's clock counts whole seconds)"
        )
    if tp.overlapped:
        return (
            f"concurrent: up to {tp.max_in_flight} requests in flight at once "
            f"(over {tp.in_flight_basis} requests with known start and end)"
        )
    return (
        f"sequential: requests never overlapped, at most 1 in flight "
        f"(over {tp.in_flight_basis} requests with known start and end)"
    )


def in_flight_count(tp: Throughput) -> str:
    """The most in flight at once: one number, or the range a whole-second clock allows."""
    span = tp.in_flight_range
    return (
        f"{span[0]}-{span[1]}" if span is not None and span[0] != span[1] else str(tp.max_in_flight)
    )


def throughput_section(c: Context) -> Section:
    """Throughput: average and peak rate, concurrency, bursts."""
    m = c.analysis.metrics
    tp = m.throughput
    rate = (
        f"{tp.requests_per_min:.2f} requests/min ({m.requests} requests over {m.duration_s:.1f} s)"
        if tp.requests_per_min is not None and m.duration_s is not None
        else "unknown: the window has no duration"
    )
    peak = (
        f"{tp.peak_requests_per_min:.0f} requests in the 60 s from {fmt_time(tp.peak_minute_start)}"
        if tp.peak_minute_start is not None
        else "no timed requests"
    )
    facts = Facts(
        (
            ("Average rate", ours(rate)),
            ("Peak", ours(peak)),
            (
                "Most in flight at once",
                ours(f"{in_flight_count(tp)} (basis: {tp.in_flight_basis} requests)"),
            ),
            ("Processing", ours(processing_statement(c))),
        )
    )
    blocks: list[Block] = [facts]
    if tp.bursts:
        blocks.append(
            Paragraph(
                ours(
                    "Bursts (requests separated by idle gaps over "
                    f"{c.analysis.config.burst_gap_s:g} s; "
                    "a burst shorter than a minute is rated per minute):"
                )
            )
        )
        blocks.append(
            Table(
                ("Start", "End", "Requests", "Rate"),
                tuple(
                    row(
                        fmt_time(b.start),
                        fmt_time(b.end),
                        fmt_count(b.requests),
                        f"{b.requests_per_min:.2f}/min",
                    )
                    for b in tp.bursts
                ),
                ("l", "l", "r", "r"),
            )
        )
    if "requests_over_time" in available_charts(c):
        blocks.append(Chart("requests_over_time", CHARTS["requests_over_time"]))
    return Section("throughput", "Throughput", tuple(blocks))


def _stat(stats: LatencyStats, name: str) -> float:
    return float(getattr(stats, name))


def tiers_section(c: Context) -> Section:
    """Performance tiers: models ranked fast / standard / slow by the [tiers] statistic."""
    t = c.tiers
    ranked: dict[str, list[str]] = {"fast": [], "standard": [], "slow": []}
    md: dict[str, list[str]] = {"fast": [], "standard": [], "slow": []}
    unranked_plain, unranked_md = [], []
    for mm in c.analysis.metrics.models:
        if mm.latency_s is None or mm.model is None:
            continue
        value = _stat(mm.latency_s, t.statistic)
        name = quoted(mm.model, 60)
        label = f" ({t.statistic} {fmt_s(value)}, n={mm.latency_s.n})"
        if mm.latency_s.too_few:
            unranked_plain.append(name.plain + label)
            unranked_md.append(name.md + label)
            continue
        tier = (
            "fast" if value < t.fast_below_s else "slow" if value > t.slow_above_s else "standard"
        )
        ranked[tier].append(name.plain + label)
        md[tier].append(name.md + label)
    bounds = {
        "fast": f"< {t.fast_below_s:g} s",
        "standard": f"{t.fast_below_s:g}–{t.slow_above_s:g} s",
        "slow": f"> {t.slow_above_s:g} s",
    }
    rows = tuple(
        (
            ours(tier),
            ours(bounds[tier]),
            Text(", ".join(ranked[tier]) or "–", ", ".join(md[tier]) or "–"),
        )
        for tier in ("fast", "standard", "slow")
    )
    blocks: list[Block] = [
        Paragraph(
            ours(f"Models by {t.statistic} latency of succeeded requests; thresholds from [tiers].")
        ),
        Table(("Tier", f"{t.statistic} range", "Models"), rows, ("l", "l", "l")),
    ]
    if unranked_plain:
        blocks.append(
            Facts(
                (
                    (
                        f"Too few to rank (n < {MIN_RANKABLE})",
                        Text(", ".join(unranked_plain), ", ".join(unranked_md)),
                    ),
                )
            )
        )
    return Section("tiers", "Performance tiers", tuple(blocks))


def references_section(c: Context) -> Section:
    """Reference comparison: configured published latencies next to the measured p50/p95."""
    if not c.references:
        return Section(
            "references",
            "Reference comparison",
            (
                Paragraph(
                    ours(
                        "No reference latencies configured. Add [references.NAME] with latency_s "
                        "(a number or [low, high]) and source to compare against published figures."
                    )
                ),
            ),
        )
    st = c.analysis.metrics.overall_latency_s
    measured = f"p50 {fmt_s(st.p50)}, p95 {fmt_s(st.p95)} (n={st.n})" if st else "no timed requests"
    rows = tuple(
        row(
            quoted(r.name, 60),
            f"{r.low_s:g} s" if r.low_s == r.high_s else f"{r.low_s:g}–{r.high_s:g} s",
            quoted(r.source, 120) if r.source else ours("not given"),
        )
        for r in c.references
    )
    return Section(
        "references",
        "Reference comparison",
        (
            Paragraph(
                ours(
                    "Reference figures from the configuration: not measured here, "
                    "shown for context only."
                )
            ),
            Table(("Reference", "Latency (reference)", "Source"), rows, ("l", "r", "l")),
            Facts((("Measured here", ours(measured)),)),
        ),
    )

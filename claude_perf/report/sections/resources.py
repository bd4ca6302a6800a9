"""Sections on the container's resources: utilisation (idle vs under load) and scaling.

Utilisation needs resource samples (``collect``, a bundle or ``report --stats``); without them the
section says so; snapshots without a time give pooled figures only.
Scaling turns the measured latency, concurrency and memory into a sustainable rate and headroom,
and lists the assumptions behind those figures.
"""

from __future__ import annotations

from collections.abc import Callable

from claude_perf.analysis.clock import surely_sequential
from claude_perf.analysis.formatting import fmt_bytes, fmt_pct, fmt_s
from claude_perf.analysis.utilisation import Utilisation
from claude_perf.report.cells import fmt_count, row
from claude_perf.report.context import Context, available_charts
from claude_perf.report.model import (
    CHARTS,
    Block,
    Bullets,
    Chart,
    Facts,
    Paragraph,
    Section,
    Table,
    Text,
    ours,
    quoted,
)

# Headroom for more than this many extra concurrent requests is not stated as a number: it
# would extrapolate a hundredfold past the concurrency that was measured.
_EXTRAPOLATION_LIMIT = 100


def resources_section(c: Context) -> Section:
    """Resource utilisation per container: idle vs under load, memory growth, I/O."""
    if not c.utilisation:
        return Section(
            "resources",
            "Resource utilisation",
            (
                Paragraph(
                    ours(
                        "Not measured: no resource samples were collected for this window "
                        "(logs only), "
                        "so CPU, memory, network and block I/O cannot be reported."
                    )
                ),
            ),
        )
    blocks: list[Block] = []
    for u in c.utilisation:
        blocks += _container_blocks(u)
    if "resources" in available_charts(c):
        blocks.append(Chart("resources", CHARTS["resources"]))
    return Section("resources", "Resource utilisation", tuple(blocks))


def _container_blocks(u: Utilisation) -> list[Block]:
    """One container: its idle vs under-load table and the facts about peaks, growth and I/O."""
    blocks: list[Block] = []

    def cpu(v: float | None) -> str:
        return "–" if v is None else f"{v:.1f}%"

    blocks.append(Paragraph(quoted(f"Container {u.container}: {u.samples} samples", 120)))
    if not u.timed:
        return [*blocks, *_untimed_blocks(u)]
    blocks.append(
        Table(
            ("Figure", f"Idle (n={u.idle.samples})", f"Under load (n={u.load.samples})"),
            (
                row("CPU mean", cpu(u.idle.cpu_pct_mean), cpu(u.load.cpu_pct_mean)),
                row("CPU p95", cpu(u.idle.cpu_pct_p95), cpu(u.load.cpu_pct_p95)),
                row("Memory mean", _mem(u.idle.mem_bytes_mean), _mem(u.load.mem_bytes_mean)),
            ),
            ("l", "r", "r"),
        )
    )
    slope = (
        f"{fmt_bytes(u.mem_slope_bytes_per_min)}/min (least squares, {u.samples} samples over "
        f"{(u.span_s or 0) / 60:.1f} min)"
        if u.mem_slope_bytes_per_min is not None
        else "unknown: fewer than 3 memory samples"
    )

    def io(total: float | None, u: Utilisation = u) -> str:
        if total is None:
            return "unknown (counter not sampled twice)"
        per = u.per_request(total)
        tail = f", {fmt_bytes(per)} per request" if per is not None else ", no request in the span"
        return f"{fmt_bytes(total)}{tail}"

    blocks.append(
        Facts(
            (
                *_use_facts(u, cpu(u.cpu_pct_max), slope, io),
                ("PIDs", ours(f"{fmt_count(u.pids_last)} last, {fmt_count(u.pids_max)} max")),
                (
                    "Split",
                    ours(
                        "a sample is under load when a model request was in flight during "
                        f"its interval ({u.requests_in_span} requests ended inside the "
                        "sampled span)"
                    ),
                ),
            )
        )
    )
    return blocks


NO_TIME = "unknown (the snapshots carry no time)"


def _mem(value: float | None) -> str:
    return "–" if value is None else fmt_bytes(value)


def _use_facts(
    u: Utilisation, cpu_max: str, growth: str, io: Callable[[float | None], str]
) -> tuple[tuple[str, Text], ...]:
    """The CPU, memory and counter lines of a container's figures, timed or not."""
    peak = _mem(u.mem_bytes_peak)
    if u.mem_limit_bytes:
        peak += f" of {fmt_bytes(u.mem_limit_bytes)} limit"
    return (
        ("CPU max", ours(cpu_max + " (100% = one core)")),
        ("Memory peak", ours(peak)),
        ("Memory growth", ours(growth)),
        ("Network received", ours(io(u.net_rx_bytes))),
        ("Network sent", ours(io(u.net_tx_bytes))),
        ("Block read", ours(io(u.blk_read_bytes))),
        ("Block written", ours(io(u.blk_write_bytes))),
    )


def _untimed_blocks(u: Utilisation) -> list[Block]:
    """A container whose samples carry no time (report --stats): pooled figures only."""

    def cpu(v: float | None) -> str:
        return "–" if v is None else f"{v:.2f}%"

    def io(total: float | None) -> str:
        if total is None:
            return "unknown (counter not in file order, or not read twice)"
        return f"{fmt_bytes(total)} across the snapshots, in file order; per request {NO_TIME}"

    pooled = u.pooled
    n = pooled.samples if pooled else u.samples
    return [
        Table(
            ("Figure", f"All snapshots (n={n})"),
            (
                row("CPU mean", cpu(pooled.cpu_pct_mean if pooled else None)),
                row("CPU p95", cpu(pooled.cpu_pct_p95 if pooled else None)),
                row("Memory mean", _mem(pooled.mem_bytes_mean if pooled else None)),
            ),
            ("l", "r"),
        ),
        Facts(
            (
                *_use_facts(u, cpu(u.cpu_pct_max), NO_TIME, io),
                ("PIDs", ours(f"{fmt_count(u.pids_max)} max")),
                ("Idle vs under load", ours(NO_TIME)),
            )
        ),
    ]


def scaling_section(c: Context) -> Section:
    """Scaling considerations: sustainable rate, memory per request, assumptions."""
    cap = c.capacity
    m = c.analysis.metrics
    items: list[tuple[str, Text]] = []
    if cap.sustainable_per_min is not None and cap.mean_latency_s is not None:
        # (a whole-second clock's count is the fewest surely in flight: clock.py)
        at = (
            f"{cap.concurrency} in flight (the fewest the whole-second stamps show at once)"
            if m.throughput.in_flight_range
            else f"the observed concurrency of {cap.concurrency}"
        )
        items.append(
            (
                "Sustainable rate",
                ours(
                    f"about {cap.sustainable_per_min:.1f} requests/min at {at} "
                    f"(60 s × {cap.concurrency} / mean latency "
                    f"{fmt_s(cap.mean_latency_s)}, "
                    f"n={m.overall_latency_s.n if m.overall_latency_s else 0})"
                ),
            )
        )
        items.append(
            (
                "Observed peak",
                ours(
                    f"{cap.observed_peak_per_min:.0f} requests in the busiest minute "
                    f"({fmt_pct(cap.observed_peak_per_min / cap.sustainable_per_min)} "
                    "of the sustainable rate)"
                ),
            )
        )
    else:
        items.append(
            ("Sustainable rate", ours("unknown: no successful request with a known latency"))
        )
    if cap.mem_per_request_bytes is not None and cap.mem_per_request_bytes <= 0:
        items.append(
            (
                "Memory per request",
                ours("no measurable increase: mean memory under load was not above idle"),
            )
        )
    elif cap.mem_per_request_bytes is not None:
        line = (
            f"{fmt_bytes(cap.mem_per_request_bytes)} more memory under load than idle, "
            "per request in flight"
        )
        if cap.mem_headroom_bytes is not None:
            line += f"; {fmt_bytes(cap.mem_headroom_bytes)} headroom below the limit"
            if cap.extra_concurrent is not None and cap.extra_concurrent > _EXTRAPOLATION_LIMIT:
                # A figure in the thousands extrapolates far past anything measured.
                line += "; memory will not be the limit at any load near the one measured"
            elif cap.extra_concurrent is not None:
                line += (
                    f", room for about {cap.extra_concurrent} more concurrent requests by memory"
                )
        items.append(("Memory per request", ours(line)))
    else:
        items.append(
            ("Memory per request", ours("unknown: needs resource samples both idle and under load"))
        )
    assumptions = [
        "latency stays at the measured mean as load rises "
        "(not measured beyond the observed concurrency)",
        "each in-flight slot serves requests back to back",
        "the upstream (Claude subscription or API) limits are not reached",
    ]
    if surely_sequential(m.throughput):
        assumptions.insert(
            0,
            "requests never overlapped, so the capacity of concurrent requests is unknown: "
            "the figure above is for one request at a time",
        )
    return Section(
        "scaling",
        "Scaling considerations",
        (
            Facts(tuple(items)),
            Paragraph(ours("Assumptions:")),
            Bullets(tuple(ours(a) for a in assumptions)),
        ),
    )

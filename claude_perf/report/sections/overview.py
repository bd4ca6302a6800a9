"""Sections 1–2: the executive summary and where the data came from.

The summary is one list of facts a reader can stop after: status (the most severe finding),
latency, errors, reliability, findings and the overall score. The sources section says which
inputs were read, how many lines of each kind, the last resource sample and the containers seen.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from claude_perf.analysis.findings import ERROR_LABELS
from claude_perf.analysis.formatting import fmt_bytes, fmt_pct, fmt_s, fmt_time
from claude_perf.report.cells import fmt_count, fmt_share, row
from claude_perf.report.context import Context
from claude_perf.report.model import (
    Block,
    Facts,
    Paragraph,
    Section,
    Table,
    Text,
    ours,
    quoted,
)

if TYPE_CHECKING:
    import pandas as pd


def summary_section(c: Context) -> Section:
    """Executive summary: status, performance, errors, reliability, findings, score."""
    m = c.analysis.metrics
    stats = m.overall_latency_s
    if stats is None:
        perf = f"no timed successful request among {m.requests} model requests"
    else:
        perf = (
            f"p50 {fmt_s(stats.p50)}, p95 {fmt_s(stats.p95)}, mean {fmt_s(stats.mean)} over "
            f"{stats.n} timed successful requests (of {m.requests} model requests)"
        )
    if m.requests:
        classes = ", ".join(
            f"{ERROR_LABELS.get(e.error_class, e.error_class)} {e.count}" for e in m.errors
        )
        errors = f"{fmt_share(m.failed, m.requests)} model requests failed" + (
            f": {classes}" if classes else ""
        )
    else:
        errors = "no model requests in the window"
    h = c.reliability.health
    if h.checks and h.success_rate is not None:
        succeeded = fmt_share(h.checks - h.failed, h.checks)
        rel = f"health checks {succeeded} succeeded (from the {h.source})"
    else:
        rel = "no health checks seen"
    if c.reliability.uptime_fraction is not None:
        rel += f"; uptime {fmt_pct(c.reliability.uptime_fraction)} of the window"
    elif c.reliability.hand_facts:  # report --health: the probes, not the engine's events
        rel += "; uptime unknown (the --health file holds no start or stop events)"
    else:
        rel += "; uptime unknown (no container facts)"
    counts = {
        s: sum(1 for f in c.findings.findings if f.severity == s)
        for s in ("critical", "warning", "info")
    }
    found = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "none"
    overall = next(s for s in c.scores if s.name == "overall")
    items: list[tuple[str, Text]] = [
        ("Performance", ours(perf)),
        ("Errors", ours(errors)),
        ("Reliability", ours(rel)),
        ("Findings", ours(f"{found} (see Bottleneck analysis)")),
        (
            "Overall score",
            ours(f"{overall.value:.1f}/10" if overall.value is not None else overall.why),
        ),
    ]
    if c.findings.findings:
        top = c.findings.findings[0]
        items.insert(0, ("Status", quoted(f"{top.severity.upper()}: {top.title}", None)))
    else:
        items.insert(0, ("Status", ours("OK: no rule fired on the measured figures")))
    return Section("summary", "Executive summary", (Facts(tuple(items)),))


def _kind_counts(c: Context) -> Table:
    a = c.analysis
    m = a.metrics
    counts = dict(a.entries.kind_counts)
    rows = [
        row("Model requests", fmt_count(m.requests)),
        row("Health checks", fmt_count(m.health.checks)),
        row("Other HTTP requests", fmt_count(m.other_requests)),
        row("Error records", fmt_count(a.requests.error_records)),
        row("Unparsed lines", fmt_count(counts.get("other", 0))),
        row("All log lines", fmt_count(a.logs.total)),
    ]
    return Table(("Entries", "Count"), tuple(rows), ("l", "r"))


def _snapshot(samples: pd.DataFrame) -> Table | None:
    """The last sample of each container, as `docker stats` would show it."""
    import pandas as pd

    rows = []
    frame = samples.sort_values("ts", kind="stable")
    frame = frame.assign(_name=frame["container_name"].fillna(frame["container_id"]).astype(str))
    for name in sorted(frame["_name"].unique()):
        last = frame[frame["_name"] == name].iloc[-1]

        def num(col: str, row: Any = last) -> float | None:
            value = row.get(col)
            return None if value is None or value != value else float(value)

        cpu, used, limit, pct = (
            num("cpu_pct"),
            num("mem_used_bytes"),
            num("mem_limit_bytes"),
            num("mem_pct"),
        )
        mem = "–"
        if used is not None:
            mem = fmt_bytes(used) + (f" / {fmt_bytes(limit)}" if limit else "")
            mem += f" ({pct:.2f}%)" if pct is not None else ""

        def pair(a: str, b: str) -> str:
            x, y = num(a), num(b)
            return "–" if x is None or y is None else f"{fmt_bytes(x)} / {fmt_bytes(y)}"

        pids = num("pids")
        rows.append(
            row(
                quoted(str(name), 80),
                fmt_time(last["ts"].to_pydatetime(warn=False))
                if pd.notna(last["ts"])  # NaT: a docker stats line without a time
                else "no time (the file's last snapshot)",
                "–" if cpu is None else f"{cpu:.2f}%",
                mem,
                pair("net_rx_bytes", "net_tx_bytes"),
                pair("blk_read_bytes", "blk_write_bytes"),
                "–" if pids is None else str(int(pids)),
            )
        )
    if not rows:
        return None
    return Table(
        (
            "Container",
            "Sampled at",
            "CPU",
            "Memory used / limit",
            "Net I/O rx / tx",
            "Block I/O read / write",
            "PIDs",
        ),
        tuple(rows),
        ("l", "l", "r", "r", "r", "r", "r"),
    )


def sources_section(c: Context) -> Section:
    """Data collection sources: window, inputs, entry counts, last sample, containers."""
    a = c.analysis
    m = a.metrics
    duration = m.duration_s
    window = (
        f"{fmt_time(m.window_start)} → {fmt_time(m.window_end)} ({duration:.1f} s)"
        if duration is not None
        else "unknown: no line carries a time"
    )
    inputs = Table(
        ("Input", "Form", "Lines", "Bytes"),
        tuple(
            row(quoted(i.path, 120), i.form, fmt_count(i.lines), fmt_count(i.bytes))
            for i in a.logs.inputs
        ),
        ("l", "l", "r", "r"),
    )
    blocks: list[Block] = [
        Facts((("Window analysed", ours(window)), ("Log lines", ours(fmt_count(a.logs.total))))),
        inputs,
        _kind_counts(c),
    ]
    if a.samples is not None and not a.samples.empty:
        snap = _snapshot(a.samples)
        if snap is not None:
            blocks += [Paragraph(ours("Resource snapshot (last sample per container):")), snap]
    else:
        blocks.append(
            Paragraph(
                ours("Resource snapshot: none, no resource samples were collected (logs only).")
            )
        )
    if a.containers:
        rows = []
        for facts in sorted(a.containers, key=lambda f: str(f.get("name") or f.get("id"))):
            hc = facts.get("health_config") or {}
            interval = hc.get("interval_s") if isinstance(hc, Mapping) else None
            rows.append(
                row(
                    quoted(str(facts.get("name") or facts.get("id") or "?"), 80),
                    quoted(str(facts.get("image") or "?"), 80),
                    quoted(str(facts.get("status") or "?"), 40),
                    "–" if interval is None else f"{float(interval):g} s",
                    str(facts.get("cgroup_version") or "?"),
                )
            )
        blocks.append(
            Table(
                ("Container", "Image", "Status", "Health-check interval", "cgroup"),
                tuple(rows),
                ("l", "l", "l", "r", "l"),
            )
        )
    return Section("sources", "Data collection sources", tuple(blocks))

"""Sections on what went wrong: error classes with examples, and reliability.

Error examples are log text, so they are quoted (redacted and escaped). Reliability reads the
engine's container facts when they were collected, else the proxy's own access log.
"""

from __future__ import annotations

from claude_perf.analysis.findings import ERROR_LABELS
from claude_perf.analysis.formatting import fmt_pct, fmt_time
from claude_perf.ingest.health_files import HAND_SOURCES
from claude_perf.report.cells import fmt_count, fmt_share, row
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


def errors_section(c: Context) -> Section:
    """Error analysis: failures by class with redacted examples, and error bursts."""
    a = c.analysis
    m = a.metrics
    if not m.errors:
        text = (
            f"No model request failed (0 of {m.requests})."
            if m.requests
            else "No model requests, so no error rate."
        )
        blocks: list[Block] = [Paragraph(ours(text))]
    else:
        rows = tuple(
            row(
                ERROR_LABELS.get(e.error_class, e.error_class),
                fmt_count(e.count),
                f"{fmt_pct(e.rate)} of {m.requests}",
                fmt_time(e.first_seen),
                fmt_time(e.last_seen),
            )
            for e in m.errors
        )
        blocks = [
            Table(
                ("Class", "Count", "Rate", "First seen", "Last seen"),
                rows,
                ("l", "r", "r", "l", "l"),
            ),
            Paragraph(ours("Examples (redacted, at most 3 per class):")),
        ]
        examples = []
        for e in m.errors:
            for example in e.examples:
                label = ERROR_LABELS.get(e.error_class, e.error_class)
                q = quoted(example)
                examples.append(Text(f"{label}: {q.plain}", f"{label}: {q.md}"))
        blocks.append(Bullets(tuple(examples)))
    burst = next((f for f in c.findings.findings if f.rule == "error_burst"), None)
    facts: list[tuple[str, Text]] = [
        (
            "Error records in the log",
            ours(
                f"{a.requests.error_records} ({a.quality.orphan_error_records} outside any request)"
            ),
        ),
        ("Bursts", quoted(burst.evidence, None) if burst else ours("no burst of failures found")),
    ]
    blocks.insert(1, Facts(tuple(facts)))  # before the examples: two lists in a row would merge
    return Section("errors", "Error analysis", tuple(blocks))


def reliability_section(c: Context) -> Section:
    """Reliability: uptime, restarts, OOM kills, health checks, success per model."""
    r = c.reliability
    h = r.health
    m = c.analysis.metrics
    if r.facts:
        uptime = (
            f"{fmt_pct(r.uptime_fraction)} of the window ({r.downtime_s or 0:.1f} s down)"
            if r.uptime_fraction is not None
            else "unknown: the window has no duration"
        )
        restarts = f"{r.restarts} (engine restart count); {r.exits_in_window} exit(s) in the window"
        oom = "yes" if r.oom_killed else "no"
    else:
        uptime = restarts = oom = "unknown: no container facts were collected (logs only)"
        if r.hand_facts:  # report --health: probes and final state, no engine events
            uptime = restarts = (
                "unknown: the --health file holds the engine's probes, not its start and stop "
                "events"
            )
            oom = (
                "unknown: a State.Health record does not say (a whole docker inspect does)"
                if r.oom_killed is None
                else ("yes" if r.oom_killed else "no") + " (State.OOMKilled of the docker inspect)"
            )
        if r.restarts is not None:
            when = ", ".join(fmt_time(t) for t in r.restarts_in_logs)
            restarts = (
                f"{r.restarts} seen in the logs (the proxy's start-up banner after it had served "
                f"requests{': ' + when if when else ''}); the engine's own count needs container "
                "facts (collect)"
            )
    if h.checks and h.success_rate is not None:
        source = (
            "the engine's Health log (the engine keeps only the latest probes)"
            if h.source == "engine"
            else "the proxy's access log"
        )
        health = f"{fmt_share(h.checks - h.failed, h.checks)} succeeded, from {source}"
        if h.source == "logs":
            health += (
                f" ({m.health.in_container} from inside the container, "
                f"{m.health.external} external)"
            )
            if h.engine_checks:
                engine_ok = h.engine_checks - (h.engine_failed or 0)
                health += (
                    f"; the engine's Health log (it keeps only the latest probes) shows "
                    f"{fmt_share(engine_ok, h.engine_checks)} passed"
                )
    else:
        health = "none seen: no health checks in the logs and no engine Health log"
    interval = (
        f"{h.interval_measured_s:.1f} s measured (median between probes)"
        if h.interval_measured_s
        else "not measurable (fewer than 2 probes)"
    )
    if h.interval_configured_s is not None:
        interval += f"; {h.interval_configured_s:g} s configured"
    blocks: list[Block] = [
        Facts(
            (
                ("Uptime", ours(uptime)),
                ("Restarts", ours(restarts)),
                ("OOM killed", ours(oom)),
                ("Health checks", ours(health)),
                ("Health-check interval", ours(interval)),
                *_engine_status(c),
            )
        )
    ]
    if m.models:
        blocks.append(
            Table(
                ("Model", "Succeeded", "Failed"),
                tuple(
                    row(
                        quoted(mm.model, 60)
                        if mm.model is not None
                        else ours("(model not logged)"),
                        fmt_share(mm.succeeded, mm.requests),
                        fmt_count(mm.failed),
                    )
                    for mm in m.models
                ),
                ("l", "r", "r"),
            )
        )
    return Section("reliability", "Reliability", tuple(blocks))


def _engine_status(c: Context) -> tuple[tuple[str, Text], ...]:
    """The engine's final health state, as a --health file gave it (collected facts: none)."""
    out = []
    for facts in c.analysis.containers:
        if facts.get("source") in HAND_SOURCES and facts.get("health_status"):
            streak = facts.get("failing_streak")
            tail = f", failing streak {streak}" if streak is not None else ""
            out.append(
                (
                    "Engine health status",
                    quoted(
                        f"{facts.get('name') or 'unknown'}: {facts['health_status']}{tail}", 120
                    ),
                )
            )
    return tuple(out)

"""The Replicas section: per source (engine, container or task, service) and for the fleet.

Shown when a session has more than one source. Fleet counts are the sums of the replicas';
fleet percentiles are pooled over every request, never an average of replica percentiles.
Names come from container facts and logs: they are quoted (redacted and escaped). Sources whose
logs are of different proxies (analysis/replicas.unlike_proxies) are no replicas of one service:
the section is then "Sources", its last row the sources together.
"""

from __future__ import annotations

from claude_perf.analysis.formatting import fmt_bytes
from claude_perf.analysis.replicas import (
    Fleet,
    Replica,
    fleet_of,
    replica_sources,
    unlike_proxies,
)
from claude_perf.report.cells import fmt_cell_s, fmt_count, fmt_share, row
from claude_perf.report.context import Context
from claude_perf.report.model import Block, Paragraph, Section, Table, Text, ours, quoted

_HEAD = (
    "Replica",
    "Engine",
    "Service / task",
    "Requests",
    "Succeeded",
    "p50",
    "p95",
    "Errors by class",
    "CPU (mean)",
    "Memory (peak)",
    "Restarts",
)


def replicas_section(c: Context) -> Section | None:
    """Replicas: one row per source, then the fleet row; None with a single source."""
    if len(replica_sources(c.analysis)) < 2:
        return None
    fleet = fleet_of(c.analysis)
    unlike = unlike_proxies(c.analysis)
    rows = [_row(r) for r in fleet.replicas]
    rows.append(_fleet_row(fleet, "all sources" if unlike else "fleet"))
    head = ("Source", *_HEAD[1:]) if unlike else _HEAD
    each, all_ = ("source", "sources'") if unlike else ("replica", "fleet")
    blocks: list[Block] = [
        Table(head, tuple(rows), ("l", "l", "l", "r", "r", "r", "r", "l", "r", "r", "r")),
        Paragraph(
            ours(
                f"The {all_} counts are the sums of each {each}'s; the {all_} p50 and p95 are "
                f"taken over every succeeded model request of every {each} together (not an "
                f"average of the {each}s' percentiles). CPU is the mean of the {each}'s samples, "
                "memory the peak."
            )
        ),
    ]
    if unlike:  # (the row of all the sources is a sum of different services, not a fleet)
        blocks.insert(
            0,
            # (source names come from the logs and facts: quoted)
            Paragraph(
                quoted(
                    f"{unlike[0]} and {unlike[1]} are logs of different proxies, not replicas", 400
                )
            ),
        )
        return Section("replicas", "Sources", tuple(blocks))
    return Section("replicas", "Replicas", tuple(blocks))


def _row(r: Replica) -> tuple[Text, ...]:
    errors = ", ".join(f"{k} {v}" for k, v in sorted(r.errors_by_class.items())) or "none"
    where = " / ".join(x for x in (r.service, r.task) if x) or "–"
    lat = r.latency_s
    return row(
        quoted(r.container, 80),
        quoted(r.engine or "–", 80),
        quoted(where, 80),
        fmt_count(r.requests),
        fmt_share(r.succeeded, r.requests),
        fmt_cell_s(lat.p50 if lat else None),
        fmt_cell_s(lat.p95 if lat else None),
        quoted(errors, 120),
        "–" if r.cpu_pct is None else f"{r.cpu_pct:.1f}%",
        "–" if r.mem_bytes is None else fmt_bytes(r.mem_bytes),
        fmt_count(r.restarts),
    )


def _fleet_row(f: Fleet, name: str) -> tuple[Text, ...]:
    lat = f.latency_s
    errors: dict[str, int] = {}
    for r in f.replicas:
        for k, v in r.errors_by_class.items():
            errors[k] = errors.get(k, 0) + v
    restarts = [r.restarts for r in f.replicas if r.restarts is not None]
    return row(
        f"{name} ({len(f.replicas)} {'replicas' if name == 'fleet' else 'sources'})",
        "–",
        "–",
        fmt_count(f.requests),
        fmt_share(f.succeeded, f.requests),
        fmt_cell_s(lat.p50 if lat else None),
        fmt_cell_s(lat.p95 if lat else None),
        ", ".join(f"{k} {v}" for k, v in sorted(errors.items())) or "none",
        "–",
        "–",
        fmt_count(sum(restarts)) if restarts else "–",
    )

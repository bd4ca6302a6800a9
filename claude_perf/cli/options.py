"""The command-line options several commands share, declared once (typer reads the Annotated
metadata), so that each command in app.py reads as its list of options and one library call."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

# Options several commands share, declared once (typer reads the Annotated metadata).
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="claude-perf.toml to use.")]
UntilOpt = Annotated[str | None, typer.Option("--until", help="Up to this time.")]
StoreOpt = Annotated[
    Path | None,
    typer.Option(
        "--store", help="The store (default $CLAUDE_PERF_STORE or .claude-perf/claude-perf.db)."
    ),
]
ContainerFilterOpt = Annotated[
    list[str] | None,
    typer.Option("--container", help="Only this container (name or id prefix). Repeatable."),
]
GithubSummaryOpt = Annotated[
    bool | None,
    typer.Option(
        "--github-summary/--no-github-summary",
        help="Append to $GITHUB_STEP_SUMMARY (default: when it is set).",
    ),
]


# The report command's own options (module level, so the command reads as a short list).
InputOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--input",
        "-i",
        help=(
            "Log file (docker logs -t output, json-file, plain; .gz ok; '-' is stdin) "
            "or session bundle. Repeatable."
        ),
    ),
]
ReportFormatOpt = Annotated[str, typer.Option("--format", "-f", help="markdown, json or html.")]
ReportOutputOpt = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write here (stdout when absent).")
]
RequestsCsvOpt = Annotated[
    Path | None,
    typer.Option("--requests-csv", help="Also export the per-request table as CSV."),
]
NoChartsOpt = Annotated[
    bool,
    typer.Option(
        "--no-charts",
        help="Draw no charts. Markdown to stdout never has charts (no folder to put them in).",
    ),
]
TemplateOpt = Annotated[
    Path | None,
    typer.Option("--template", help="Your own Jinja2 template instead of the bundled one."),
]
FailUnderOpt = Annotated[
    str | None,
    typer.Option(
        "--fail-under",
        help="Gate: exit 3 when the overall score (out of 10) is below this.",
    ),
]
MaxP95Opt = Annotated[
    list[str] | None,
    typer.Option(
        "--max-p95",
        help=(
            "Gate: MODEL=DURATION (8s, 750ms, 1.5); exit 3 when that model's p95 latency is "
            "above. Repeatable."
        ),
    ),
]
MaxReplicaP95Opt = Annotated[
    str | None,
    typer.Option(
        "--max-replica-p95",
        help="Gate: DURATION; exit 3 when the slowest replica's p95 latency is above.",
    ),
]
MaxErrorRateOpt = Annotated[
    str | None,
    typer.Option(
        "--max-error-rate",
        help="Gate: exit 3 when more than PCT % of model requests failed.",
    ),
]
MinHealthOpt = Annotated[
    str | None,
    typer.Option(
        "--min-health",
        help="Gate: exit 3 when fewer than PCT % of health checks succeeded.",
    ),
]
ReportSinceOpt = Annotated[
    str | None,
    typer.Option("--since", help="Report from the store, from this time: 1h, 30m, RFC 3339."),
]
ClientOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--client",
        help=(
            "Client records to join with the logs: claude-perf JSON lines, k6 --out json, AIPerf "
            "profile_export.jsonl, GenAI-Perf profile_export.json, Locust *_stats.csv, llmperf "
            "*_summary.json or *_individual_responses.json. Repeatable."
        ),
    ),
]
StatsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--stats",
        help=(
            "docker stats --format '{{json .}}' lines (each optionally after an RFC 3339 time) "
            "as resource samples; lines without a time are pooled, not placed in time. Repeatable."
        ),
    ),
]
HealthOpt = Annotated[
    str | None,
    typer.Option(
        "--health",
        help=(
            "The engine's health record: docker inspect --format '{{json .State.Health}}' "
            "output, or a whole docker inspect of one container."
        ),
    ),
]
SloOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--slo",
        help=(
            "Objective for goodput: ttft=2s, latency=10s, itl=50ms, tokens_per_s=20. A request "
            "is good when it meets every one. Repeatable."
        ),
    ),
]
MaxTtftP95Opt = Annotated[
    list[str] | None,
    typer.Option(
        "--max-ttft-p95",
        help="Gate: MODEL=DURATION; exit 3 when that model's client p95 TTFT is above. Repeatable.",
    ),
]
MinGoodputOpt = Annotated[
    str | None,
    typer.Option(
        "--min-goodput",
        help="Gate: exit 3 when fewer than PCT % of client requests met every --slo.",
    ),
]
LiveOpt = Annotated[
    bool, typer.Option("--live", help="Collect from the engine first, then report.")
]
LiveContextOpt = Annotated[
    str | None, typer.Option("--context", help="Docker context to use with --live.")
]

"""Command line: parse options, build one frozen config, call a command, print, exit.

This module (and load_command.py, its `load` command) is the only one that exits. Heavy
libraries (pandas, pyarrow, numpy, matplotlib, docker, httpx) are imported inside the commands,
so ``claude-perf --help`` answers at once.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from claude_perf import __version__
from claude_perf.cli.console import (
    CollectProgress,
    print_collect,
    print_report_summary,
)
from claude_perf.cli.load_command import load as load_command
from claude_perf.cli.options import (
    ClientOpt,
    ConfigOpt,
    ContainerFilterOpt,
    FailUnderOpt,
    GithubSummaryOpt,
    HealthOpt,
    InputOpt,
    LiveContextOpt,
    LiveOpt,
    MaxErrorRateOpt,
    MaxP95Opt,
    MaxReplicaP95Opt,
    MaxTtftP95Opt,
    MinGoodputOpt,
    MinHealthOpt,
    NoChartsOpt,
    ReportFormatOpt,
    ReportOutputOpt,
    ReportSinceOpt,
    RequestsCsvOpt,
    SloOpt,
    StatsOpt,
    StoreOpt,
    TemplateOpt,
    UntilOpt,
)
from claude_perf.errors import ClaudePerfError
from claude_perf.runtime.memory import cycle_collector_paused, exit_without_teardown

if TYPE_CHECKING:
    from claude_perf.config.schema import Config

app = typer.Typer(
    name="claude-perf",
    help="Performance reports for Claude API proxy containers, from their logs and Docker stats.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


RAW_WARNING = (
    "claude-perf: warning: --raw keeps the logs unredacted: every API key, token, password or"
    " cookie that reached the proxy's log is in the bundle; do not publish it (e.g. as a CI"
    " artifact)"
)


def _fail(error: ClaudePerfError) -> NoReturn:
    from claude_perf.secrets import redact

    # Error messages can quote input (a config value, a bundle's file name): redacted too.
    typer.echo(f"claude-perf: error: {redact(str(error))}", err=True)
    raise typer.Exit(error.exit_code)


def _config(path: Path | None) -> Config:
    from claude_perf.config.load import load_config

    return load_config(path)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"claude-perf {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """claude-perf turns what a Claude API proxy container leaves behind into a report."""


@app.command()
@cycle_collector_paused()  # one bounded run over large frames (runtime/memory.py)
def report(
    input: InputOpt = None,
    format: ReportFormatOpt = "markdown",
    output: ReportOutputOpt = None,
    requests_csv: RequestsCsvOpt = None,
    config: ConfigOpt = None,
    no_charts: NoChartsOpt = False,
    template: TemplateOpt = None,
    fail_under: FailUnderOpt = None,
    max_p95: MaxP95Opt = None,
    max_replica_p95: MaxReplicaP95Opt = None,
    max_error_rate: MaxErrorRateOpt = None,
    min_health: MinHealthOpt = None,
    github_summary: GithubSummaryOpt = None,
    since: ReportSinceOpt = None,
    until: UntilOpt = None,
    container: ContainerFilterOpt = None,
    store: StoreOpt = None,
    live: LiveOpt = False,
    context: LiveContextOpt = None,
    client: ClientOpt = None,
    stats: StatsOpt = None,
    health: HealthOpt = None,
    slo: SloOpt = None,
    max_ttft_p95: MaxTtftP95Opt = None,
    min_goodput: MinGoodputOpt = None,
) -> None:
    """Analyse logs and write the performance report; exit 3 after writing when a gate failed."""
    import dataclasses

    global _report_ran
    _report_ran = True

    from claude_perf.runtime.parallel import import_in_background

    # Needed after the read, which leaves the GIL free much of the time. (Measured: importing
    # pyarrow or our later stages there too made the read wait for the GIL more than it saved.)
    import_in_background("pandas")
    from claude_perf.ci.gates import parse_gates
    from claude_perf.ci.github import step_summary_path
    from claude_perf.cli.commands import ReportOptions
    from claude_perf.cli.commands import report as run_report
    from claude_perf.config.slo import slo_from

    try:
        step_summary_path(github_summary)  # --github-summary without the variable: exit 2 now
        cfg = _config(config)
        cfg = dataclasses.replace(cfg, slo=slo_from(tuple(slo or ()), cfg.slo))
        gates = parse_gates(
            cfg.gates,
            fail_under=fail_under,
            max_p95=tuple(max_p95 or ()),
            max_error_rate=max_error_rate,
            min_health=min_health,
            max_ttft_p95=tuple(max_ttft_p95 or ()),
            min_goodput=min_goodput,
            max_replica_p95=max_replica_p95,
        )
        options = ReportOptions(
            config=cfg,
            inputs=tuple(input or ()),
            format=format,
            output=output,
            requests_csv=requests_csv,
            charts=not no_charts,
            template=template,
            gates=gates,
            github_summary=github_summary,
            since=since,
            until=until,
            containers=tuple(container or ()),
            store=store,
            live=live,
            context=context,
            clients=tuple(client or ()),
            stats=tuple(stats or ()),
            health=health,
        )
        outcome = run_report(options)
    except ClaudePerfError as error:
        _fail(error)
    if outcome.stdout_text is not None:
        sys.stdout.write(outcome.stdout_text)
    if format == "markdown" and output is None and not no_charts:
        typer.echo("claude-perf: Markdown on stdout has no charts; give -o FILE", err=True)
    if output is not None:
        print_report_summary(outcome.summary)
    for path in outcome.written:
        typer.echo(f"wrote {path}", err=True)
    if outcome.failure is not None:
        _fail(outcome.failure)


@app.command()
def compare(
    baseline: Annotated[Path, typer.Argument(help="Baseline JSON summary (report --format json).")],
    current: Annotated[Path, typer.Argument(help="Current JSON summary.")],
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="markdown or json (default: json when -o ends in .json).",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write here (stdout when absent)."),
    ] = None,
    min_samples: Annotated[
        int | None,
        typer.Option(
            "--min-samples",
            help="Latency samples needed on each side before a latency change counts (default 5).",
        ),
    ] = None,
    latency_rel: Annotated[
        float | None,
        typer.Option("--latency-rel", help="Relative latency change that counts (default 0.15)."),
    ] = None,
    latency_abs: Annotated[
        float | None,
        typer.Option(
            "--latency-abs",
            help="Absolute latency change in seconds that counts (default 0.2).",
        ),
    ] = None,
    github_summary: GithubSummaryOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Compare two JSON summaries; exit 3 when anything regressed."""
    from claude_perf.cli.commands import CompareOptions
    from claude_perf.cli.commands import compare as run_compare

    overrides = {
        key: value
        for key, value in (
            ("min_samples", min_samples),
            ("latency_rel", latency_rel),
            ("latency_abs_s", latency_abs),
        )
        if value is not None
    }
    try:
        options = CompareOptions(
            config=_config(config),
            baseline=baseline,
            current=current,
            format=format,
            output=output,
            github_summary=github_summary,
            thresholds=overrides,
        )
        outcome = run_compare(options)
    except ClaudePerfError as error:
        _fail(error)
    if outcome.stdout_text is not None:
        sys.stdout.write(outcome.stdout_text)
    for path in outcome.written:
        typer.echo(f"wrote {path}", err=True)
    if outcome.failure is not None:
        _fail(outcome.failure)


@app.command()
def export(
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Bundle to write: run.tar.gz, or a folder."),
    ],
    since: Annotated[
        str | None,
        typer.Option("--since", help="From this time: 1h, 30m, or RFC 3339."),
    ] = None,
    until: UntilOpt = None,
    container: ContainerFilterOpt = None,
    store: StoreOpt = None,
    report: Annotated[
        bool,
        typer.Option("--report/--no-report", help="Include the report, charts and JSON summary."),
    ] = True,
    raw: Annotated[
        bool,
        typer.Option("--raw", help="Keep the logs unredacted (secrets included: do not share)."),
    ] = False,
    config: ConfigOpt = None,
) -> None:
    """Bundle a collected run (logs, samples, container facts, report) as one artifact.

    Logs and container facts are redacted unless --raw is given."""
    from claude_perf.cli.commands import ExportOptions
    from claude_perf.cli.commands import export as run_export

    try:
        options = ExportOptions(
            config=_config(config),
            output=output,
            store=store,
            since=since,
            until=until,
            containers=tuple(container or ()),
            report=report,
            raw=raw,
        )
        if raw:
            typer.echo(RAW_WARNING, err=True)
        outcome = run_export(options)
    except ClaudePerfError as error:
        _fail(error)
    typer.echo(f"wrote {outcome.bundle}", err=True)


@app.command()
def collect(
    container: Annotated[
        list[str] | None,
        typer.Option("--container", "-c", help="Container name or id. Repeatable."),
    ] = None,
    label: Annotated[
        list[str] | None,
        typer.Option("--label", help="Every container with this label KEY=VALUE. Repeatable."),
    ] = None,
    compose_project: Annotated[
        str | None,
        typer.Option("--compose-project", help="Every container of this compose project."),
    ] = None,
    service: Annotated[
        list[str] | None,
        typer.Option("--service", help="Every replica (task) of this Swarm service. Repeatable."),
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Logs from this time: 1h, 30m, RFC 3339.")
    ] = None,
    until: Annotated[str | None, typer.Option("--until", help="Logs up to this time.")] = None,
    duration: Annotated[
        str | None,
        typer.Option("--duration", help="Sample resources this long (10m); one sample without."),
    ] = None,
    interval: Annotated[
        str, typer.Option("--interval", help="Time between resource samples.")
    ] = "5s",
    store: StoreOpt = None,
    host: Annotated[
        list[str] | None,
        typer.Option(
            "--host",
            "-H",
            help="Engine URL as `docker -H` (unix://, tcp://, ssh://user@host). Repeatable.",
        ),
    ] = None,
    context: Annotated[
        list[str] | None,
        typer.Option("--context", help="Docker context (as `docker --context`). Repeatable."),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Collect logs, resource samples and container facts from Docker into the store.

    Several engines (--host, --context) are collected in parallel; when one cannot be, the
    others are stored and the exit code is 4 (partial).
    """
    from claude_perf.cli.commands import CollectOptions
    from claude_perf.cli.commands import collect as run_collect

    with CollectProgress() as progress:
        try:
            outcome = run_collect(
                CollectOptions(
                    config=_config(config),
                    containers=tuple(container or ()),
                    labels=tuple(label or ()),
                    compose_project=compose_project,
                    since=since,
                    until=until,
                    duration=duration,
                    interval=interval,
                    store=store,
                    hosts=tuple(host or ()),
                    contexts=tuple(context or ()),
                    services=tuple(service or ()),
                    progress=progress,
                )
            )
        except ClaudePerfError as error:
            _fail(error)
    print_collect(outcome)
    if outcome.missing:
        from claude_perf.errors import PartialCollect

        _fail(
            PartialCollect(
                f"partial collect: {len(outcome.missing)} engine(s) missing "
                f"({'; '.join(outcome.missing)}); collect again to fill the gap"
            )
        )


# `load` has many options of its own: its command is in load_command.py, registered here.
app.command("load")(load_command)


@app.command("config")
def show_config(
    config: ConfigOpt = None,
    format: Annotated[str, typer.Option("--format", "-f", help="toml or json.")] = "toml",
) -> None:
    """Print the effective configuration, each value with where it came from."""
    from claude_perf.config.show import render

    try:
        text = render(_config(config), format)
    except ClaudePerfError as error:
        _fail(error)
    sys.stdout.write(text)


# Set by the report command: main() then ends the process at once (exit_without_teardown).
# Only main() acts on it, so in-process callers of the commands (tests) are not ended.
_report_ran = False


def main() -> None:
    """Console-script entry point: one line per failure, never a traceback unless asked."""
    from claude_perf.runtime.parallel import one_blas_thread

    one_blas_thread()  # before anything imports numpy
    try:
        app()
    except SystemExit as done:
        if _report_ran:
            # The report is written and printed: the process ends without the interpreter's
            # teardown. report -f json against a normal exit, alternating pairs: 1,000 lines
            # wall 0.89, CPU 0.84 (10 pairs); 1M lines wall 0.94, CPU 0.98 (8 pairs).
            exit_without_teardown(done.code)
        raise
    except KeyboardInterrupt:
        typer.echo("claude-perf: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: one line, the traceback only on request
        if os.environ.get("CLAUDE_PERF_DEBUG"):
            raise
        typer.echo(
            f"claude-perf: internal error: {type(exc).__name__}: {exc} "
            "(set CLAUDE_PERF_DEBUG=1 for the traceback)",
            err=True,
        )
        sys.exit(70)

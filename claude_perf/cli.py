"""Command line: parse options, build one frozen config, call a command, print, exit.

This is the only module that exits. Heavy libraries (pandas, pyarrow, numpy, matplotlib, docker)
are imported inside the commands, so ``claude-perf --help`` answers at once.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from claude_perf import __version__
from claude_perf.errors import ClaudePerfError

app = typer.Typer(
    name="claude-perf",
    help="Performance reports for Claude API proxy containers, from their logs and Docker stats.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _fail(error: ClaudePerfError) -> NoReturn:
    typer.echo(f"claude-perf: error: {error}", err=True)
    raise typer.Exit(error.exit_code)


def _config(path: Path | None):  # type: ignore[no-untyped-def]
    from claude_perf.config import load_config

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
def report(
    input: Annotated[
        list[str] | None,
        typer.Option("--input", "-i", help="Log file: docker logs -t output, json-file, plain; .gz ok; '-' is stdin. Repeatable."),
    ] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="markdown, json or html.")] = "markdown",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here (stdout when absent).")] = None,
    requests_csv: Annotated[Path | None, typer.Option("--requests-csv", help="Also export the per-request table as CSV.")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="claude-perf.toml to use.")] = None,
) -> None:
    """Analyse logs and write the performance report."""
    from claude_perf.commands import ReportOptions
    from claude_perf.commands import report as run_report

    try:
        options = ReportOptions(
            config=_config(config),
            inputs=tuple(input or ()),
            format=format,
            output=output,
            requests_csv=requests_csv,
        )
        outcome = run_report(options)
    except ClaudePerfError as error:
        _fail(error)
    if outcome.stdout_text is not None:
        sys.stdout.write(outcome.stdout_text)
    for path in outcome.written:
        typer.echo(f"wrote {path}", err=True)


def main() -> None:
    """Console-script entry point: one line per failure, never a traceback unless asked."""
    try:
        app()
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

"""Each CLI command as a few lines over library calls: options in, files written, outcome out.

The CLI builds the frozen options, calls one function here, and prints the outcome; nothing here
prints or exits, so every command is testable without a terminal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claude_perf.config import Config
from claude_perf.errors import InputError, UsageError

FORMATS = ("markdown", "json", "html")


@dataclass(frozen=True)
class ReportOptions:
    """Everything `claude-perf report` was asked to do."""

    config: Config
    inputs: tuple[str, ...] = ()
    format: str = "markdown"
    output: Path | None = None
    requests_csv: Path | None = None
    charts: bool = True
    template: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReportOutcome:
    """What was produced: the text when it goes to stdout, the paths written, the summary."""

    summary: dict[str, Any]
    stdout_text: str | None
    written: tuple[Path, ...]


def load_inputs(inputs: Sequence[str]) -> Any:
    """Read log inputs (files, stdin) into merged lines."""
    from claude_perf.sources import read_logs

    if not inputs:
        raise UsageError("nothing to analyse: give --input PATH (repeatable, '-' for stdin)")
    return read_logs(list(inputs))


def write_text(path: Path, text: str) -> Path:
    """Write a report file, creating its folder; a failure is one clear line."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot write ({exc.strerror or exc})") from exc
    return path


def report(options: ReportOptions) -> ReportOutcome:
    """Analyse the inputs and write the report in the asked format."""
    from claude_perf import summary as summary_mod
    from claude_perf.pipeline import analyse

    if options.format not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not '{options.format}'")
    logs = load_inputs(options.inputs)
    analysis = analyse(logs, options.config)
    summary = summary_mod.build(analysis)
    written: list[Path] = []
    if options.requests_csv is not None:
        written.append(write_requests_csv(analysis.requests.table, options.requests_csv))
    if options.format == "json":
        text = summary_mod.dumps(summary)
    else:
        raise UsageError(f"--format {options.format} is not available yet; use --format json")
    if options.output is None:
        return ReportOutcome(summary, text, tuple(written))
    written.insert(0, write_text(options.output, text))
    return ReportOutcome(summary, None, tuple(written))


def write_requests_csv(table: Any, path: Path) -> Path:
    """The per-request table as CSV (ISO times, empty cells for unknowns)."""
    from claude_perf.redact import redact

    frame = table.copy()
    frame["error_message"] = frame["error_message"].map(
        lambda m: redact(m) if isinstance(m, str) else m
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ")
    except OSError as exc:
        raise InputError(f"{path}: cannot write ({exc.strerror or exc})") from exc
    return path

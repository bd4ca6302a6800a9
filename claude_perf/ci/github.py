"""GitHub Actions step summary: append the Markdown report or comparison to $GITHUB_STEP_SUMMARY.

GitHub refuses a step summary over 1 MiB (and then shows none of it), so what is appended is cut at
a line boundary to fit beside what the step already wrote, with a note saying where the rest is.
Images referenced by a relative path (the report's charts) cannot be shown from the summary: each
becomes a line naming the chart's path, so a reader finds it in the uploaded artifact.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claude_perf.errors import InputError, UsageError

ENV = "GITHUB_STEP_SUMMARY"
LIMIT_BYTES = 1024 * 1024  # GitHub's limit for one step's summary
TRUNCATION_NOTE = (
    "\n\n> **Truncated**: GitHub limits a step summary to 1 MiB. "
    "The full report is in the uploaded artifact.\n"
)
_IMAGE = re.compile(r"!\[(?P<alt>[^\]\n]*)\]\((?P<target>[^)\s]+)(?:\s+\"[^\"\n]*\")?\)")


@dataclass(frozen=True)
class SummaryWrite:
    """Where the step summary went and whether it had to be cut."""

    path: Path
    bytes_written: int
    truncated: bool


def step_summary_path(
    requested: bool | None, environ: Mapping[str, str] | None = None
) -> Path | None:
    """The file to append to: None when off.

    ``requested`` None means automatic (on when ``GITHUB_STEP_SUMMARY`` is set), True means asked
    for by ``--github-summary`` (a usage error when the variable is not set), False means never.
    """
    env = os.environ if environ is None else environ
    target = env.get(ENV) or None
    if requested is False:
        return None
    if target is None:
        if requested:
            raise UsageError(
                f"--github-summary: {ENV} is not set (GitHub Actions sets it in each step)"
            )
        return None
    return Path(target)


def charts_as_links(markdown: str) -> str:
    """Relative images become a line naming the file; absolute (http, data) images are kept."""

    def replace(match: re.Match[str]) -> str:
        target = match["target"]
        if re.match(r"^(?:https?:|data:)", target):
            return match[0]
        alt = match["alt"] or "chart"
        return f"*{alt}: chart `{target}` in the uploaded artifact*"

    return _IMAGE.sub(replace, markdown)


def fit(markdown: str, budget_bytes: int) -> tuple[str, bool]:
    """The text cut at a line boundary to at most ``budget_bytes`` (note included) when needed."""
    data = markdown.encode("utf-8")
    if len(data) <= budget_bytes:
        return markdown, False
    note = TRUNCATION_NOTE.encode("utf-8")
    room = budget_bytes - len(note)
    if room <= 0:
        return "", True
    head = data[:room].decode("utf-8", errors="ignore")
    cut = head.rfind("\n")
    head = head[: cut + 1] if cut > 0 else head
    if head.count("```") % 2:  # never leave a code fence open: it would swallow the note
        fence = "```\n"
        while len((head + fence).encode("utf-8")) > room and "\n" in head.rstrip("\n"):
            head = head[: head.rstrip("\n").rfind("\n") + 1]
        head += fence
    return head + TRUNCATION_NOTE, True


def append_step_summary(markdown: str, path: Path, limit_bytes: int = LIMIT_BYTES) -> SummaryWrite:
    """Append to the step summary, keeping the whole file under ``limit_bytes``.

    The text is redacted once more as a whole: a step summary is public on the run's page."""
    from claude_perf.secrets import redact

    markdown = redact(markdown)
    try:
        existing = path.stat().st_size if path.exists() else 0
    except OSError:
        existing = 0
    separator = "\n" if existing else ""
    text, truncated = fit(charts_as_links(markdown), limit_bytes - existing - len(separator))
    if not text:
        return SummaryWrite(path, 0, True)
    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(separator + text)
    except OSError as exc:
        raise InputError(f"{path}: cannot append the step summary ({exc.strerror or exc})") from exc
    return SummaryWrite(path, len((separator + text).encode("utf-8")), truncated)


def _fmt_s(value: Any) -> str:
    return "–" if value is None else f"{value:.3f} s"


def summary_markdown(summary: Mapping[str, Any], gate_lines: Sequence[str] = ()) -> str:
    """A compact Markdown digest of a JSON summary, for when the report itself is not Markdown."""
    from claude_perf.ci.compare import md_cell
    from claude_perf.ci.gates import overall_score

    req = summary.get("requests") or {}
    window = summary.get("window") or {}
    health = summary.get("health") or {}
    score = overall_score(summary)
    lines = [
        "# claude-perf report",
        "",
        f"Window {window.get('start') or '?'} – {window.get('end') or '?'}"
        f" ({window.get('duration_s') or 0:g} s).",
        "",
        f"- Model requests: {req.get('total', 0)}, failed {req.get('failed', 0)}"
        f" (success rate {100 * (req.get('success_rate') or 0):.1f}%)",
        f"- Health checks: {health.get('checks', 0)}, failed {health.get('failed', 0)}",
    ]
    if score is not None:
        lines.append(f"- Overall score: {score:g}/10")
    lines += [
        "",
        "| Model | Requests | Success | n | p50 | p95 |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for m in summary.get("models", []):
        latency = m.get("latency_s") or {}
        lines.append(
            f"| {md_cell(str(m.get('model') or '(none)'))} | {m.get('requests', 0)} | "
            f"{100 * (m.get('success_rate') or 0):.1f}% | {latency.get('n', 0)} | "
            f"{_fmt_s(latency.get('p50'))} | {_fmt_s(latency.get('p95'))} |"
        )
    if gate_lines:
        lines += ["", "## Quality gates", "", *[f"- {md_cell(g)}" for g in gate_lines]]
    return "\n".join(lines) + "\n"

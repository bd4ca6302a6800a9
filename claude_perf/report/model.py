"""The report's document model: text, blocks, sections and the whole ReportModel.

A section is a title and a list of blocks (paragraph, facts, bullets, table, chart), so the bundled
templates are short loops and a user's template can pick sections by id. Nothing here computes a
figure: ``report.build`` fills the model from the analysis, ``report.render`` lays it out.

Every string copied from logs (model names, error lines, paths) becomes a ``Text`` through
``quoted``: a redacted plain form (for HTML, which autoescapes) and a redacted, Markdown-escaped
form (for Markdown); text composed from figures goes through ``ours``. Templates never see raw log
text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from claude_perf.report.redact import redact, safe_log_excerpt, strip_ansi

if TYPE_CHECKING:
    from claude_perf.analysis.findings import Findings
    from claude_perf.analysis.scores import Score

CHARTS: Mapping[str, str] = {
    "latency_by_model": "Latency per model",
    "latency_over_time": "Latency over time",
    "requests_over_time": "Requests over time by kind",
    "resources": "CPU and memory over time",
    "client_latency_ttft": "Client latency and time to first token per model",
}
EXCERPT_CHARS = 200


@dataclass(frozen=True)
class Text:
    """One piece of text in two safe forms: plain (HTML autoescapes it) and Markdown-escaped."""

    plain: str
    md: str


def ours(text: str) -> Text:
    """Text this module composed from figures: no markup characters by construction."""
    return Text(text, text)


def _plain(text: str, max_len: int | None) -> str:
    cleaned = "".join(ch if ch.isprintable() else " " for ch in strip_ansi(text))
    if max_len is not None and len(cleaned) > max_len:
        cleaned = cleaned[: max_len - 1] + "…"
    return cleaned


def quoted(text: str, max_len: int | None = EXCERPT_CHARS) -> Text:
    """Text that came from logs (or mixes log text in): redacted, then escaped for Markdown."""
    redacted = redact(strip_ansi(text))
    return Text(_plain(redacted, max_len), safe_log_excerpt(text, max_len or 10**9))


@dataclass(frozen=True)
class Paragraph:
    text: Text
    kind: ClassVar[str] = "paragraph"


@dataclass(frozen=True)
class Facts:
    """Label: value lines."""

    items: tuple[tuple[str, Text], ...]
    kind: ClassVar[str] = "facts"


@dataclass(frozen=True)
class Bullets:
    items: tuple[Text, ...]
    ordered: bool = False
    kind: ClassVar[str] = "bullets"


@dataclass(frozen=True)
class Table:
    """A table; ``align`` per column is "l" or "r"; ``markdown`` renders it padded and aligned."""

    headers: tuple[str, ...]
    rows: tuple[tuple[Text, ...], ...]
    align: tuple[str, ...]
    kind: ClassVar[str] = "table"

    @property
    def markdown(self) -> str:
        cells = [list(self.headers), *[[c.md for c in row] for row in self.rows]]
        widths = [max(3, *(len(r[i]) for r in cells)) for i in range(len(self.headers))]

        def line(row: Sequence[str]) -> str:
            padded = [
                c.rjust(w) if a == "r" else c.ljust(w)
                for c, w, a in zip(row, widths, self.align, strict=True)
            ]
            return "| " + " | ".join(padded) + " |"

        rule = [
            "-" * (w - 1) + ":" if a == "r" else "-" * w
            for w, a in zip(widths, self.align, strict=True)
        ]
        return "\n".join([line(cells[0]), line(rule), *(line(r) for r in cells[1:])])


@dataclass(frozen=True)
class Chart:
    """A chart slot; the renderer fills it when the chart was drawn (see CHARTS)."""

    name: str
    title: str
    kind: ClassVar[str] = "chart"


Block = Paragraph | Facts | Bullets | Table | Chart


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class ReportModel:
    """The whole report, computed; templates only lay it out."""

    title: Text
    generated_at: str
    window: str
    status: str  # ok | info | warning | critical: the most severe finding
    sections: tuple[Section, ...]
    charts: tuple[str, ...]  # chart names the data supports, in CHARTS order
    scores: tuple[Score, ...]
    findings: Findings

    def section(self, section_id: str) -> Section:
        """A section by id (for a user's own template)."""
        for s in self.sections:
            if s.id == section_id:
                return s
        raise KeyError(section_id)

"""Rendering: Markdown and HTML for every kind of missing data, self-contained HTML, safe text."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from claude_perf.errors import UsageError
from claude_perf.report.build import build
from claude_perf.report.charts import draw
from claude_perf.report.render import render_html, render_markdown, report_text
from tests.report_support import (
    FIXED_CLOCK,
    analysis_of,
    health_line,
    request_lines,
    samples_frame,
)

SECRET = "sk-ant-api03-" + "B" * 40
HOSTILE = (
    f"<script>alert(1)</script> col|umn `tick` ![x](http://evil.example/p.png) "
    f"Authorization: Bearer tok3nvalue123 {SECRET}"
)


def _variants(tmp_path: Path) -> dict[str, object]:
    times = [float(i) for i in range(12)]
    samples = samples_frame(times, [3.0] * 12, [1e8] * 12)
    return {
        "empty": analysis_of(tmp_path / "a", []),
        "single": analysis_of(tmp_path / "b", request_lines(0, 1)),
        "no-health-no-errors": analysis_of(
            tmp_path / "c", request_lines(0, 1) + request_lines(5, 2)
        ),
        "errors-and-health": analysis_of(
            tmp_path / "d",
            sorted([*request_lines(0, 1, status=500, error=HOSTILE), health_line(3)]),
        ),
        "samples": analysis_of(tmp_path / "e", request_lines(2, 3), samples, ({"name": "proxy"},)),
    }


@pytest.fixture
def variants(tmp_path: Path) -> dict[str, object]:
    for sub in "abcde":
        (tmp_path / sub).mkdir()
    return _variants(tmp_path)


def test_every_section_renders_for_every_variant(variants) -> None:  # type: ignore[no-untyped-def]
    for name, analysis in variants.items():
        model = build(analysis, FIXED_CLOCK)  # type: ignore[arg-type]
        md = render_markdown(model, {})
        for i, section in enumerate(model.sections, start=1):
            assert f"## {i}. {section.title}\n" in md, (name, section.id)
        html = render_html(model, {})
        assert html.count("<section id=") == 15, name


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.urls += [v or "" for k, v in attrs if k in ("src", "href", "action", "srcset")]


def test_html_is_self_contained(variants) -> None:  # type: ignore[no-untyped-def]
    analysis = variants["errors-and-health"]
    model = build(analysis, FIXED_CLOCK)  # type: ignore[arg-type]
    html = render_html(model, draw(analysis, model.charts))  # type: ignore[arg-type]
    parser = _Tags()
    parser.feed(html)
    assert not {"script", "link", "iframe", "object", "embed", "base"} & set(parser.tags)
    assert parser.urls and all(u.startswith("data:image/png;base64,") for u in parser.urls)
    assert "<style>" in html  # styles inline, not a stylesheet link


def test_hostile_text_cannot_inject_or_leak(variants) -> None:  # type: ignore[no-untyped-def]
    model = build(variants["errors-and-health"], FIXED_CLOCK)  # type: ignore[arg-type]
    md = render_markdown(model, {})
    html = render_html(model, {})
    for text in (md, html):
        assert SECRET not in text and "tok3nvalue123" not in text
        assert "<script>" not in text
    assert "![x](http" not in md and "col\\|umn" in md and "\\`tick\\`" in md
    assert "&lt;script&gt;" in html


def test_markdown_tables_keep_their_columns(variants) -> None:  # type: ignore[no-untyped-def]
    md = render_markdown(build(variants["errors-and-health"], FIXED_CLOCK), {})  # type: ignore[arg-type]
    lines = md.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("| ") and i + 1 < len(lines) and lines[i + 1].startswith("| -"):
            width = line.replace("\\|", "").count("|")
            j = i + 2
            while j < len(lines) and lines[j].startswith("| "):
                assert lines[j].replace("\\|", "").count("|") == width, lines[j]
                j += 1


def test_markdown_charts_are_written_beside_and_linked_relatively(tmp_path, variants) -> None:  # type: ignore[no-untyped-def]
    analysis = variants["samples"]
    model = build(analysis, FIXED_CLOCK)  # type: ignore[arg-type]
    out = tmp_path / "out" / "my report.md"
    text, written = report_text(analysis, model, "markdown", out, True, None)
    assert {p.name for p in written} == {f"{n}.png" for n in model.charts}
    assert all(p.parent == tmp_path / "out" / "my report-charts" for p in written)
    assert "](my%20report-charts/resources.png)" in text
    no_out, none_written = report_text(analysis, model, "markdown", None, True, None)
    assert none_written == () and "![" not in no_out
    off, off_written = report_text(analysis, model, "markdown", out, False, None)
    assert off_written == () and "![" not in off


def test_charts_are_deterministic_and_carry_no_metadata(variants) -> None:  # type: ignore[no-untyped-def]
    analysis = variants["samples"]
    names = build(analysis, FIXED_CLOCK).charts  # type: ignore[arg-type]
    first, second = draw(analysis, names), draw(analysis, names)  # type: ignore[arg-type]
    assert first == second and set(first) == set(names)
    for png in first.values():
        assert png.startswith(b"\x89PNG") and b"matplotlib" not in png and b"tIME" not in png


def test_user_template_and_strict_undefined(tmp_path, variants) -> None:  # type: ignore[no-untyped-def]
    model = build(variants["single"], FIXED_CLOCK)  # type: ignore[arg-type]
    good = tmp_path / "mine.md.j2"
    good.write_text("{{ report.title.md }} / {{ report.section('scores').title }}\n")
    assert render_markdown(model, {}, good) == "Performance report / Scores\n"
    bad = tmp_path / "bad.md.j2"
    bad.write_text("{{ report.no_such_thing }}\n")
    with pytest.raises(UsageError, match="no_such_thing"):
        render_markdown(model, {}, bad)
    with pytest.raises(Exception, match="template not found"):
        render_markdown(model, {}, tmp_path / "missing.j2")

"""The report model: every section present, computed, and honest when data is missing."""

from __future__ import annotations

import pytest

from claude_perf.config.load import config_from_mapping
from claude_perf.config.schema import Tiers
from claude_perf.errors import ConfigError
from claude_perf.report.build import build
from claude_perf.report.model import Table, Text, quoted
from claude_perf.report.settings import references_of
from claude_perf.report.summary import summary_extras
from tests.report_support import (
    FIXED_CLOCK,
    analysis_of,
    health_line,
    request_lines,
    samples_frame,
)

SECTION_IDS = [
    "summary",
    "sources",
    "latency",
    "client",
    "throughput",
    "resources",
    "errors",
    "reliability",
    "tiers",
    "bottlenecks",
    "scaling",
    "references",
    "recommendations",
    "scores",
    "quality",
]


def _text(section) -> str:  # type: ignore[no-untyped-def]
    """All plain text of a section, for searching."""
    parts = []
    for block in section.blocks:
        if block.kind == "paragraph":
            parts.append(block.text.plain)
        elif block.kind == "facts":
            parts += [f"{k}: {v.plain}" for k, v in block.items]
        elif block.kind == "bullets":
            parts += [t.plain for t in block.items]
        elif block.kind == "table":
            parts += [" | ".join(c.plain for c in row) for row in block.rows]
    return "\n".join(parts)


def test_all_fifteen_sections_in_order(tmp_path) -> None:  # type: ignore[no-untyped-def]
    model = build(analysis_of(tmp_path, request_lines(0, 1)), FIXED_CLOCK)
    assert [s.id for s in model.sections] == SECTION_IDS
    assert model.generated_at == "2026-12-01 12:00:00 UTC"


def test_empty_input_says_what_is_missing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    model = build(analysis_of(tmp_path, []), FIXED_CLOCK)
    assert "No model requests" in _text(model.section("latency"))
    assert "unknown" in _text(model.section("throughput"))
    assert "Not measured" in _text(model.section("resources"))
    assert "not scored" in _text(model.section("scores"))
    assert model.charts == ()


def test_single_request_is_too_few_to_rank(tmp_path) -> None:  # type: ignore[no-untyped-def]
    model = build(analysis_of(tmp_path, request_lines(0, 2.5)), FIXED_CLOCK)
    latency = _text(model.section("latency"))
    assert "too few to rank" in latency and "one sample: spread unknown" in latency
    assert "Too few to rank (n < 5): sonnet (p50 2.50 s, n=1)" in _text(model.section("tiers"))


def test_no_health_no_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    model = build(analysis_of(tmp_path, request_lines(0, 1)), FIXED_CLOCK)
    assert "none seen" in _text(model.section("reliability"))
    assert "No model request failed (0 of 1)" in _text(model.section("errors"))
    assert "None: no finding" in _text(model.section("recommendations"))
    assert "health_failing: no health checks" in _text(model.section("bottlenecks"))


def test_health_interval_is_measured(tmp_path) -> None:  # type: ignore[no-untyped-def]
    lines = sorted([*request_lines(0, 1), *(health_line(t) for t in (1, 31, 61, 91))])
    model = build(analysis_of(tmp_path, lines), FIXED_CLOCK)
    assert "30.0 s measured" in _text(model.section("reliability"))


def test_processing_is_stated_once_and_consistently(tmp_path) -> None:  # type: ignore[no-untyped-def]
    overlapping = sorted(request_lines(0, 5) + request_lines(1, 5))
    text = _text(build(analysis_of(tmp_path, overlapping), FIXED_CLOCK).section("throughput"))
    assert "concurrent: up to 2 requests in flight" in text and "sequential" not in text


def test_with_samples_and_container_facts(tmp_path) -> None:  # type: ignore[no-untyped-def]
    lines = [*request_lines(3.5, 2.7), health_line(1)]
    times = [float(i) for i in range(10)]
    samples = samples_frame(times, [5.0] * 10, [100e6 + i * 1e6 for i in range(10)])
    facts = {"name": "proxy", "image": "proxy:1", "status": "running", "restart_count": 0}
    model = build(analysis_of(tmp_path, lines, samples, (facts,)), FIXED_CLOCK)
    assert model.title.plain == "Performance report: proxy"
    resources = _text(model.section("resources"))
    assert "CPU mean | 5.0% | 5.0%" in resources
    assert "Memory growth: 57.2 MiB/min" in resources  # 1 MB per s
    sources = _text(model.section("sources"))
    assert "proxy | 2026-11-29 00:50:09 UTC | 5.00% | 104.0 MiB / 2.0 GiB (5.08%)" in sources
    assert "resources" in model.charts
    assert "0 restart" not in _text(model.section("reliability"))  # a count, with its unit
    assert "0 (engine restart count)" in _text(model.section("reliability"))


def test_hostile_log_text_is_redacted_and_escaped(tmp_path) -> None:  # type: ignore[no-untyped-def]
    secret = "sk-ant-api03-" + "A" * 40
    error = (
        f"<script>x</script> | `x` ![x](http://evil) Authorization: Bearer abcdef123456 {secret}"
    )
    lines = request_lines(0, 1, status=500, error=error)
    model = build(analysis_of(tmp_path, lines), FIXED_CLOCK)
    (examples,) = [b for b in model.section("errors").blocks if b.kind == "bullets"]
    md, plain = examples.items[0].md, examples.items[0].plain
    for text in (md, plain):
        assert secret not in text and "abcdef123456" not in text and "REDACTED" in text
    assert "<script>" not in md and "![x](" not in md and " | " not in md


def test_quoted_and_table_markdown() -> None:
    q = quoted("a|b")
    assert q == Text("a|b", "a\\|b")
    table = Table(("Name", "n"), ((Text("x", "x"), Text("10", "10")),), ("l", "r"))
    assert table.markdown.splitlines() == ["| Name |   n |", "| ---- | --: |", "| x    |  10 |"]


def test_tiers_and_references_config() -> None:
    def tiers(raw: dict[str, object]) -> Tiers:
        return config_from_mapping({"tiers": raw}).tiers

    assert tiers({}).fast_below_s == 7.0
    assert tiers({"fast_below_s": 2, "slow_above_s": 4, "statistic": "p95"}).statistic == "p95"
    with pytest.raises(ConfigError, match=r"^config: \[tiers\] needs 0 < fast_below_s <= slow"):
        tiers({"fast_below_s": 5, "slow_above_s": 4})
    with pytest.raises(ConfigError, match=r"tiers\.statistic must be one of p50, mean, p95"):
        tiers({"statistic": "max"})
    raw = {"api": {"latency_s": [3, 8], "source": "docs"}, "b": {"latency_s": 2}}
    refs = references_of(config_from_mapping({"references": raw}).references)
    assert [(r.name, r.low_s, r.high_s) for r in refs] == [("api", 3.0, 8.0), ("b", 2.0, 2.0)]
    with pytest.raises(ConfigError, match=r"references\.api\.latency_s must be a number or"):
        config_from_mapping({"references": {"api": {"latency_s": "fast"}}})


def test_references_are_labelled_as_references(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = config_from_mapping({"references": {"anthropic-api": {"latency_s": [3, 8]}}})
    model = build(analysis_of(tmp_path, request_lines(0, 1), config=config), FIXED_CLOCK)
    text = _text(model.section("references"))
    assert "not measured here" in text and "anthropic-api | 3–8 s" in text


def test_tiers_place_rankable_models(tmp_path) -> None:  # type: ignore[no-untyped-def]
    lines = sorted(
        [line for i in range(5) for line in request_lines(i * 20, 2)]
        + [line for i in range(5) for line in request_lines(100 + i * 20, 12, model="opus")]
    )
    model = build(analysis_of(tmp_path, lines), FIXED_CLOCK)
    text = _text(model.section("tiers"))
    assert "fast | < 7 s | sonnet (p50 2.00 s, n=5)" in text
    assert "slow | > 10 s | opus (p50 12.00 s, n=5)" in text


def test_summary_extras_feed_the_json(tmp_path) -> None:  # type: ignore[no-untyped-def]
    model = build(analysis_of(tmp_path, request_lines(0, 1)), FIXED_CLOCK)
    extras = summary_extras(model)
    assert set(extras) == {"findings", "scores"}
    assert set(extras["scores"]) == {
        "performance",
        "reliability",
        "efficiency",
        "scalability",
        "overall",
    }

"""GitHub step summary: when it is written, the 1 MiB cap with its note, chart links."""

from __future__ import annotations

from pathlib import Path

import pytest

from claude_perf.ci.github import (
    LIMIT_BYTES,
    TRUNCATION_NOTE,
    append_step_summary,
    charts_as_links,
    fit,
    step_summary_path,
    summary_markdown,
)
from claude_perf.errors import UsageError


def test_step_summary_path_modes(tmp_path: Path) -> None:
    target = str(tmp_path / "summary.md")
    env = {"GITHUB_STEP_SUMMARY": target}
    assert step_summary_path(None, env) == Path(target)
    assert step_summary_path(True, env) == Path(target)
    assert step_summary_path(False, env) is None
    assert step_summary_path(None, {}) is None
    assert step_summary_path(None, {"GITHUB_STEP_SUMMARY": ""}) is None
    with pytest.raises(UsageError, match="GITHUB_STEP_SUMMARY is not set"):
        step_summary_path(True, {})


def test_append_keeps_existing_content(tmp_path: Path) -> None:
    target = tmp_path / "summary.md"
    target.write_text("# earlier step\n")
    result = append_step_summary("# report\nline\n", target)
    assert target.read_text() == "# earlier step\n\n# report\nline\n"
    assert not result.truncated and result.bytes_written == len("\n# report\nline\n")


def test_whole_file_stays_under_the_limit_with_a_note(tmp_path: Path) -> None:
    target = tmp_path / "summary.md"
    target.write_text("x" * 1000 + "\n")
    body = "".join(f"| row {i} | {'é' * 40} |\n" for i in range(40_000))  # ~3.5 MB, multibyte
    result = append_step_summary(body, target)
    data = target.read_bytes()
    assert result.truncated
    assert len(data) <= LIMIT_BYTES
    text = data.decode("utf-8")  # cut on a character and line boundary
    assert text.endswith(TRUNCATION_NOTE)
    assert text[: -len(TRUNCATION_NOTE)].endswith("|\n")


def test_small_limit_known_answer() -> None:
    line = "a" * 100 + "\n"
    text = line * 5
    out, truncated = fit(text, len(TRUNCATION_NOTE.encode()) + 210)
    assert truncated and out == line * 2 + TRUNCATION_NOTE
    assert fit(text, 1000) == (text, False)


def test_truncation_closes_an_open_code_fence() -> None:
    text = "intro\n```\n" + "code line\n" * 500 + "```\nafter\n"
    out, truncated = fit(text, 2000)
    assert truncated
    assert out.count("```") % 2 == 0
    assert len(out.encode()) <= 2000


def test_relative_charts_become_artifact_references() -> None:
    md = (
        "![Latency per model](report-charts/latency.png)\n"
        "![remote](https://example.invalid/x.png)\n"
        'see ![](charts/cpu.png "CPU")\n'
    )
    assert charts_as_links(md) == (
        "*Latency per model: chart `report-charts/latency.png` in the uploaded artifact*\n"
        "![remote](https://example.invalid/x.png)\n"
        "see *chart: chart `charts/cpu.png` in the uploaded artifact*\n"
    )


def test_summary_markdown_digest_escapes_models() -> None:
    summary = {
        "window": {"start": "a", "end": "b", "duration_s": 60},
        "requests": {"total": 4, "failed": 1, "success_rate": 0.75},
        "health": {"checks": 3, "failed": 0},
        "models": [
            {
                "model": "so|nnet",
                "requests": 4,
                "success_rate": 0.75,
                "latency_s": {"n": 3, "p50": 1.0, "p95": 2.0},
            }
        ],
        "scores": {"overall": 7.5},
    }
    md = summary_markdown(summary, ["❌ max-p95 sonnet: too slow"])
    assert "| so\\|nnet | 4 | 75.0% | 3 | 1.000 s | 2.000 s |" in md
    assert "- Overall score: 7.5/10" in md
    assert md.endswith("## Quality gates\n\n- ❌ max-p95 sonnet: too slow\n")

"""Golden Markdown and JSON for the sample session (``make golden`` updates them after review)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.update_golden import (
    GOLDEN,
    diff_text,
    golden_name,
    render,
    render_in_child,
    sample_inputs,
)


@pytest.mark.parametrize("sample", sample_inputs())
def test_report_matches_golden(sample: str) -> None:
    for filename, text in render(sample).items():
        path = GOLDEN / filename
        assert path.exists(), f"no golden {path.name}: run `make golden` and review it"
        expected = path.read_text(encoding="utf-8")
        assert text == expected, (
            f"{path.name} differs from the golden file: review, then `make golden`"
        )


def test_golden_is_deterministic_across_processes(tmp_path: Path) -> None:
    # Two fresh processes with different hash seeds: set and dict order of str keys, module
    # state and caches all differ between them, which one process rendering twice cannot show.
    (sample,) = sample_inputs()[:1]
    first = render_in_child(sample, tmp_path / "seed-1", hash_seed="1")
    second = render_in_child(sample, tmp_path / "seed-2", hash_seed="2")
    name = golden_name(sample)
    assert {f"{name}.md", f"{name}.json"} <= set(first)
    assert any(path.endswith(".png") for path in first), "the Markdown report drew no charts"
    assert sorted(first) == sorted(second)
    for path, data in first.items():
        assert data == second[path], f"{path} differs between PYTHONHASHSEED=1 and =2"
    # the command line writes what the golden files hold (the in-process render is checked above)
    for filename in (f"{name}.md", f"{name}.json"):
        assert first[filename] == (GOLDEN / filename).read_bytes(), filename


def test_update_golden_shows_the_diff_it_writes() -> None:
    diff = diff_text("a\nb\n", "a\nc\n", "tests/golden/x.md")
    assert diff.splitlines() == [
        "--- a/tests/golden/x.md",
        "+++ b/tests/golden/x.md",
        "@@ -1,2 +1,2 @@",
        " a",
        "-b",
        "+c",
    ]
    assert diff_text("same\n", "same\n", "x.md") == ""
    assert diff_text(None, "new\n", "x.md").startswith("--- /dev/null\n+++ b/x.md\n")

"""Golden Markdown and JSON for the sample session (``make golden`` updates them after review)."""

from __future__ import annotations

import pytest

from tests.update_golden import GOLDEN, render, sample_inputs


@pytest.mark.parametrize("sample", sample_inputs())
def test_report_matches_golden(sample: str) -> None:
    for filename, text in render(sample).items():
        path = GOLDEN / filename
        assert path.exists(), f"no golden {path.name}: run `make golden` and review it"
        expected = path.read_text(encoding="utf-8")
        assert text == expected, (
            f"{path.name} differs from the golden file: review, then `make golden`"
        )


def test_golden_is_deterministic() -> None:
    (sample,) = sample_inputs()[:1]
    assert render(sample) == render(sample)

"""Model names → canonical families (known answers)."""

import pytest

from claude_perf.config.families import family_of


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("sonnet", "Sonnet 4.5"),
        ("Opus", "Opus 4.1"),
        ("haiku", "Haiku 4.5"),
        ("claude-3-7-sonnet-20250219", "Sonnet 3.7"),
        ("claude-3-5-haiku-20241022", "Haiku 3.5"),
        ("claude-3-opus-20240229", "Opus 3"),
        ("claude-sonnet-4-5-20250929", "Sonnet 4.5"),
        ("claude-sonnet-4-20250514", "Sonnet 4"),
        ("claude-opus-4-1-20250805", "Opus 4.1"),
        ("claude-haiku-4-5", "Haiku 4.5"),
        ("claude-3-7-sonnet-latest", "Sonnet 3.7"),
        ("anthropic.claude-3-5-sonnet-20241022-v2:0", "Sonnet 3.5"),
        ("gpt-4", None),
        ("", None),
        (None, None),
    ],
)
def test_family_of_known_names(model, family):
    assert family_of(model) == family


def test_aliases_are_configurable():
    assert family_of("sonnet", {"sonnet": "Sonnet 4"}) == "Sonnet 4"
    assert family_of("my-fast", {"my-fast": "Haiku 3.5"}) == "Haiku 3.5"

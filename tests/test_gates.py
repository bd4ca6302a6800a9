"""Quality gates: parsing (known answers and clear refusals) and evaluation against a summary."""

from __future__ import annotations

from typing import Any

import pytest

from claude_perf.ci.gates import (
    Gates,
    check_models,
    evaluate,
    failure_of,
    overall_score,
    parse_duration_s,
    parse_gates,
)
from claude_perf.config.load import config_from_mapping
from claude_perf.errors import GateFailure, UsageError


def summary(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "schema": "claude-perf/summary/1",
        "requests": {"total": 20, "succeeded": 19, "failed": 1},
        "health": {"checks": 50, "failed": 2},
        "models": [
            {"model": "sonnet", "family": "Sonnet 4.5", "latency_s": {"n": 10, "p95": 7.5}},
            {"model": "haiku", "family": "Haiku 4.5", "latency_s": {"n": 6, "p95": 0.9}},
            {"model": "gpt-4", "family": None, "latency_s": None},
            {"model": None, "family": None, "latency_s": None},
        ],
    }
    base.update(overrides)
    return base


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("8s", 8.0), ("750ms", 0.75), ("1.5", 1.5), (" 2m ", 120.0), (".5s", 0.5), ("3 sec", 3.0)],
)
def test_durations_known_answers(text: str, seconds: float) -> None:
    assert parse_duration_s(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["fast", "", "-1s", "8 hours", "1e3", "0", "0ms"])
def test_bad_durations_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_duration_s(text)


def test_command_line_overrides_config_and_merges_p95_per_model() -> None:
    config = {
        "fail_under": 6,
        "max_error_rate": "10%",
        "max_p95": {"sonnet": "8s", "opus": 20},
    }
    limits = config_from_mapping({"gates": config}).gates
    gates = parse_gates(limits, max_p95=["sonnet=5s", "haiku=750ms"], max_error_rate="2.5")
    assert gates == Gates(
        fail_under=6.0,
        max_p95_s=(("sonnet", 5.0), ("opus", 20.0), ("haiku", 0.75)),
        max_error_rate_pct=2.5,
        min_health_pct=None,
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fail_under": "11"}, "--fail-under: '11' must be between 0 and 10"),
        ({"fail_under": "high"}, "--fail-under: 'high' is not a number"),
        ({"max_error_rate": "150%"}, "--max-error-rate: '150%' must be between 0 and 100%"),
        ({"min_health": "-1"}, "--min-health: '-1' must be between 0 and 100%"),
        ({"max_p95": ["sonnet"]}, "--max-p95: 'sonnet' must be MODEL=DURATION (e.g. sonnet=8s)"),
        ({"max_p95": ["=8s"]}, "--max-p95: '=8s' must be MODEL=DURATION (e.g. sonnet=8s)"),
        (
            {"max_p95": ["sonnet=soon"]},
            "--max-p95 sonnet: 'soon' is not a duration (examples: 8s, 750ms, 1.5 for seconds, 2m)",
        ),
    ],
)
def test_malformed_command_line_values(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_gates(None, **kwargs)
    assert str(info.value) == message


def test_config_errors_name_the_config() -> None:
    def gates(raw: dict[str, Any]) -> Gates:
        return parse_gates(config_from_mapping({"gates": raw}).gates)

    with pytest.raises(UsageError, match=r"^config: unknown key 'gates.max_p50' \(did you mean"):
        gates({"max_p50": 3})
    with pytest.raises(UsageError, match=r"^config: gates.min_health: '101' must be between"):
        gates({"min_health": 101})
    with pytest.raises(UsageError, match=r"^config: gates.max_p95 must be a table, not the str"):
        gates({"max_p95": "8s"})
    # the compare thresholds live under [gates.compare] and are not gates
    assert not gates({"compare": {"min_samples": 3}}).active


def test_unknown_model_lists_the_known_ones() -> None:
    gates = parse_gates(None, max_p95=["sonnet=8s", "gpt-5=1s"])
    with pytest.raises(UsageError) as info:
        check_models(gates, summary())
    assert str(info.value) == (
        "--max-p95: model 'gpt-5' is not in the data (known models: sonnet, haiku, gpt-4)"
    )


def test_family_name_selects_the_model() -> None:
    gates = parse_gates(None, max_p95=["sonnet 4.5=8s"])
    check_models(gates, summary())
    (result,) = evaluate(gates, summary())
    assert result.gate == "max-p95 sonnet" and result.passed and result.figure == 7.5


def test_evaluate_known_answers() -> None:
    gates = Gates(
        fail_under=7.0,
        max_p95_s=(("sonnet", 7.0), ("haiku", 1.0)),
        max_error_rate_pct=5.0,
        min_health_pct=97.0,
    )
    results = evaluate(gates, summary(scores={"overall": {"score": 7.4}}))
    assert [(r.gate, r.figure, r.passed) for r in results] == [
        ("fail-under", 7.4, True),
        ("max-p95 sonnet", 7.5, False),
        ("max-p95 haiku", 0.9, True),
        ("max-error-rate", 5.0, True),  # 1/20 = 5 %, at the limit passes
        ("min-health", 96.0, False),  # 48/50
    ]
    failure = failure_of(results)
    assert isinstance(failure, GateFailure) and failure.exit_code == 3
    assert str(failure) == (
        "2 quality gates failed: max-p95 sonnet: p95 latency of sonnet 7.5 s > 7 s (n=10); "
        "min-health: health 96% (48/50) < 97%"
    )


def test_missing_figures_fail_rather_than_pass() -> None:
    gates = Gates(
        fail_under=1.0, max_p95_s=(("gpt-4", 5.0),), max_error_rate_pct=50, min_health_pct=1
    )
    empty = summary(requests={"total": 0, "failed": 0}, health={"checks": 0, "failed": 0})
    results = evaluate(gates, empty)
    assert [r.passed for r in results] == [False, False, False, False]
    assert [r.figure for r in results] == [None, None, None, None]
    assert "no overall score" in str(failure_of(results))


def test_all_passed_means_no_failure() -> None:
    results = evaluate(Gates(max_error_rate_pct=10), summary())
    assert failure_of(results) is None


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ({"overall": 6.5}, 6.5),
        ({"overall": {"score": 8}}, 8.0),
        ({"overall": {"value": 3.25}}, 3.25),
        ({"overall": None}, None),
        ({}, None),
        (None, None),
    ],
)
def test_overall_score_shapes(scores: Any, expected: float | None) -> None:
    assert overall_score({"scores": scores}) == expected

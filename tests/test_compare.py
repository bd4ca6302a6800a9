"""Baseline comparison: n-aware verdicts (known answers), loading errors, Markdown and JSON output."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from claude_perf.ci.compare import (
    IMPROVEMENT,
    NOISE,
    REGRESSION,
    Thresholds,
    compare,
    dumps,
    load_summary,
    md_cell,
    regression_message,
    thresholds_from,
    to_markdown,
    two_proportion_z,
)
from claude_perf.errors import InputError, UsageError


def model(
    name: str, n: int, p50: float, p95: float, requests: int, succeeded: int
) -> dict[str, Any]:
    return {
        "model": name,
        "family": None,
        "requests": requests,
        "succeeded": succeeded,
        "failed": requests - succeeded,
        "latency_s": {"n": n, "p50": p50, "p95": p95},
    }


def summary(
    models: list[dict[str, Any]],
    total: int = 100,
    failed: int = 2,
    checks: int = 50,
    health_failed: int = 0,
    resources: dict[str, Any] | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "schema": "claude-perf/summary/1",
        "window": {"start": "2026-01-01T00:00:00.000000Z", "end": "2026-01-01T00:10:00.000000Z"},
        "requests": {"total": total, "succeeded": total - failed, "failed": failed},
        "models": models,
        "health": {"checks": checks, "failed": health_failed},
    }
    if resources is not None:
        data["resources"] = resources
    return data


def verdicts(result: Any) -> dict[tuple[str, str], str]:
    return {(d.scope, d.metric): d.verdict for d in result.deltas}


def test_latency_regression_needs_relative_absolute_and_samples() -> None:
    base = summary([model("sonnet", 20, 2.0, 4.0, 20, 20), model("haiku", 20, 0.5, 0.8, 20, 20)])
    cur = summary([model("sonnet", 20, 2.5, 4.1, 20, 20), model("haiku", 20, 0.6, 0.5, 20, 20)])
    result = compare(base, cur)
    v = verdicts(result)
    assert v[("sonnet", "p50_latency_s")] == REGRESSION  # +0.5 s, +25 %
    assert v[("sonnet", "p95_latency_s")] == NOISE  # +0.1 s: under the 0.2 s floor
    assert v[("haiku", "p50_latency_s")] == NOISE  # +20 % but only +0.1 s
    assert v[("haiku", "p95_latency_s")] == IMPROVEMENT  # −0.3 s, −37.5 %
    (delta,) = [d for d in result.deltas if d.verdict == REGRESSION]
    assert delta.change == pytest.approx(0.5) and delta.change_rel == pytest.approx(0.25)


def test_few_samples_never_make_a_latency_regression() -> None:
    base = summary([model("opus", 3, 1.0, 2.0, 3, 3)])
    cur = summary([model("opus", 4, 9.0, 20.0, 4, 4)])
    result = compare(base, cur)
    assert not result.regressions
    reasons = [d.reason for d in result.deltas if d.metric.endswith("latency_s")]
    assert reasons and all(r.startswith("too few samples (n=3 vs 4") for r in reasons)
    # ... but with min_samples lowered it is a regression
    lowered = compare(base, cur, Thresholds(min_samples=3))
    assert verdicts(lowered)[("opus", "p50_latency_s")] == REGRESSION


def test_two_proportion_z_known_answer() -> None:
    # 80/100 vs 50/100: pooled p = 0.65, se = sqrt(.65*.35*.02) = 0.067454, z = -0.3/se
    assert two_proportion_z(80, 100, 50, 100) == pytest.approx(-0.3 / math.sqrt(0.65 * 0.35 * 0.02))
    assert two_proportion_z(0, 0, 1, 3) == 0.0
    assert two_proportion_z(3, 3, 4, 4) == 0.0


def test_rates_respect_counts() -> None:
    small_b = summary([model("haiku", 3, 1, 1, 3, 3)], total=3, failed=0)
    small_c = summary([model("haiku", 3, 1, 1, 3, 2)], total=3, failed=1)
    small = compare(small_b, small_c)
    v = verdicts(small)
    assert v[("haiku", "success_rate")] == NOISE  # 3/3 → 2/3: −33 points but z ≈ −1.1
    assert v[("overall", "error_rate")] == NOISE
    assert "not significant" in next(d.reason for d in small.deltas if d.metric == "error_rate")
    big_b = summary([model("haiku", 100, 1, 1, 100, 80)], total=100, failed=20)
    big_c = summary([model("haiku", 100, 1, 1, 100, 50)], total=100, failed=50)
    v = verdicts(compare(big_b, big_c))
    assert v[("haiku", "success_rate")] == REGRESSION
    assert v[("overall", "error_rate")] == REGRESSION
    v = verdicts(compare(big_c, big_b))
    assert v[("haiku", "success_rate")] == IMPROVEMENT
    assert v[("overall", "error_rate")] == IMPROVEMENT


def test_health_regression() -> None:
    base = summary([], checks=200, health_failed=0)
    cur = summary([], checks=200, health_failed=30)
    assert verdicts(compare(base, cur))[("overall", "health_rate")] == REGRESSION


def test_resources_compared_when_both_sides_have_enough_samples() -> None:
    mib = 1024 * 1024
    res_b = {"samples": 30, "cpu_pct": {"mean": 10.0, "p95": 20.0}, "mem_bytes": {"max": 100 * mib}}
    res_c = {"samples": 30, "cpu_pct": {"mean": 12.0, "p95": 40.0}, "mem_bytes": {"max": 200 * mib}}
    v = verdicts(compare(summary([], resources=res_b), summary([], resources=res_c)))
    assert v[("resources", "cpu_pct_mean")] == NOISE  # +2 points: under the 5-point floor
    assert v[("resources", "cpu_pct_p95")] == REGRESSION
    assert v[("resources", "mem_bytes_max")] == REGRESSION
    few = {**res_c, "samples": 2}
    v = verdicts(compare(summary([], resources=res_b), summary([], resources=few)))
    assert set(v.values()) == {NOISE}
    one_side = compare(summary([], resources=res_b), summary([]))
    assert "one side only" in " ".join(one_side.notes)


def test_models_on_one_side_are_listed_not_regressions() -> None:
    base = summary([model("sonnet", 9, 1, 1, 9, 9), model("opus", 9, 1, 1, 9, 9)])
    cur = summary([model("sonnet", 9, 1, 1, 9, 9), model("haiku", 9, 1, 1, 9, 9)])
    result = compare(base, cur)
    assert result.added_models == ("haiku",)
    assert result.removed_models == ("opus",)
    assert not result.regressions


def rated(m: dict[str, Any], n: int | None, p50: float | None = None) -> dict[str, Any]:
    """A model with the server-side token rate of its logs' usage (n None: the key is null)."""
    per_request = None if n is None else {"n": n, "mean": p50, "p50": p50, "p95": p50}
    overall = None if p50 is None else p50
    return {**m, "output_tokens_per_s": {"overall": overall, "per_request": per_request}}


def test_server_side_token_rate_by_the_client_rules() -> None:
    ok = model("x", 9, 1, 1, 9, 9)
    base = summary(
        [
            rated({**ok, "model": "sonnet"}, 10, 40.0),
            rated({**ok, "model": "haiku"}, 10, 50.0),
            rated({**ok, "model": "opus"}, 3, 40.0),
            rated({**ok, "model": "mini"}, 10, 100.0),
            rated({**ok, "model": "plain"}, 10, 30.0),
            {**ok, "model": "old", "output_tokens_per_s": None},
        ]
    )
    cur = summary(
        [
            rated({**ok, "model": "sonnet"}, 10, 30.0),  # -25 %: lower is worse
            rated({**ok, "model": "haiku"}, 10, 60.0),  # +20 %
            rated({**ok, "model": "opus"}, 3, 20.0),  # -50 % of 3 requests
            rated({**ok, "model": "mini"}, 10, 90.0),  # -10 %: within ±15 %
            {**ok, "model": "plain"},  # a summary from before the key: absent
            rated({**ok, "model": "old"}, 10, 30.0),
        ]
    )
    result = compare(base, cur)
    rates = {d.scope: d for d in result.deltas if d.metric == "p50_output_tokens_per_s"}
    assert {s: d.verdict for s, d in rates.items()} == {
        "sonnet": REGRESSION,
        "haiku": IMPROVEMENT,
        "opus": NOISE,
        "mini": NOISE,
    }
    sonnet = rates["sonnet"]
    assert (sonnet.baseline, sonnet.current, sonnet.change) == (40.0, 30.0, -10.0)
    assert sonnet.change_rel == pytest.approx(-0.25) and sonnet.higher_is_better
    assert sonnet.reason == "-25.0%, beyond ±15% (n=10 vs 10)"
    assert rates["opus"].reason == "too few samples (n=3 vs 3, need 5 on each side)"
    assert (
        "server-side output tokens/s of plain: only the baseline logs carry usage figures: "
        "not compared" in result.notes
    )
    assert (
        "server-side output tokens/s of old: only the current logs carry usage figures: "
        "not compared" in result.notes
    )
    assert regression_message(result) == (
        "1 regression against the baseline: sonnet p50_output_tokens_per_s 40.0 tok/s → 30.0 tok/s"
    )
    row = next(line for line in to_markdown(result).splitlines() if "| sonnet |" in line)
    assert "| -10.0 tok/s (-25%) | 🔴 regression |" in row


def test_no_server_side_token_rate_is_said_not_guessed() -> None:
    base = summary([model("sonnet", 20, 2.0, 4.0, 20, 20)])
    nulls = summary([rated(model("sonnet", 20, 2.0, 4.0, 20, 20), None)])
    for a, b in ((base, base), (base, nulls), (nulls, nulls)):
        result = compare(a, b)
        assert not [d for d in result.deltas if d.metric.endswith("tokens_per_s")]
        assert (
            "neither summary has server-side token figures (the logs carry no usage): "
            "server-side token rates not compared" in result.notes
        )


def test_json_output_schema_and_verdict() -> None:
    base = summary([model("sonnet", 20, 2.0, 4.0, 20, 20)])
    cur = summary([model("sonnet", 20, 3.0, 4.0, 20, 20)])
    data = json.loads(dumps(compare(base, cur, baseline_path="a.json", current_path="b.json")))
    assert data["schema"] == "claude-perf/comparison/1"
    assert data["verdict"] == "regression" and data["regressions"] == 1
    assert data["baseline"]["path"] == "a.json"
    assert data["thresholds"]["min_samples"] == 5
    first = data["deltas"][0]
    assert first == {
        "metric": "p50_latency_s",
        "scope": "sonnet",
        "baseline": 2.0,
        "current": 3.0,
        "change": 1.0,
        "change_rel": 0.5,
        "verdict": "regression",
        "reason": first["reason"],
        "higher_is_better": False,
    }


def test_markdown_escapes_model_names_from_logs() -> None:
    hostile = "x|y<script>`[a](http://e)"
    base = summary([model(hostile, 9, 1, 1, 9, 9)])
    text = to_markdown(compare(base, base))
    assert "<script>" not in text and "[a](" not in text
    assert "&lt;script&gt;" in text and "\\[a\\]" in text
    row = next(line for line in text.splitlines() if line.startswith("| x"))
    assert row.count(" | ") == 6  # still seven cells: the pipe did not split the row
    assert md_cell("a|b") == "a\\|b"


def test_markdown_headline_and_regression_message() -> None:
    base = summary([model("sonnet", 20, 2.0, 4.0, 20, 20)])
    cur = summary([model("sonnet", 20, 3.0, 4.0, 20, 20)])
    result = compare(base, cur)
    assert "**1 regression**" in to_markdown(result)
    assert regression_message(result) == (
        "1 regression against the baseline: sonnet p50_latency_s 2.000 s → 3.000 s"
    )
    assert "**No regression**" in to_markdown(compare(base, base))


def test_thresholds_from_config() -> None:
    assert thresholds_from({"min_samples": 10, "latency_rel": 0.3}) == Thresholds(
        min_samples=10, latency_rel=0.3
    )
    with pytest.raises(UsageError, match=r"unknown key 'gates.compare.latency' \(did you mean"):
        thresholds_from({"latency": 1})
    with pytest.raises(UsageError, match=r"gates\.compare\.rate_abs must be a number >= 0, not -1"):
        thresholds_from({"rate_abs": -1})


def test_load_summary_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such summary file"):
        load_summary(tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(InputError, match=r"not a JSON summary \(invalid JSON at line 1\)"):
        load_summary(tmp_path / "broken.json")
    (tmp_path / "other.json").write_text('{"schema": "claude-perf/comparison/1"}')
    with pytest.raises(InputError, match="schema 'claude-perf/comparison/1'"):
        load_summary(tmp_path / "other.json")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="no schema"):
        load_summary(tmp_path / "list.json")
    with pytest.raises(InputError, match="is a directory"):
        load_summary(tmp_path)
    good = summary([])
    (tmp_path / "good.json").write_text(json.dumps(good))
    assert load_summary(tmp_path / "good.json") == good


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("opus", r"models\[0\] is not an object"),
        ({"model": "opus", "output_tokens_per_s": 42.0}, r"output_tokens_per_s is not an object"),
        ({"model": "opus", "latency_s": "fast"}, r"models\[0\]\.latency_s is not an object"),
        ({"model": "opus", "latency_s": {"p50": 1.0}}, r"latency_s has no n, p95"),
    ],
)
def test_an_edited_summary_is_one_clear_line(tmp_path: Path, entry: object, message: str) -> None:
    edited = {**summary([]), "models": [entry]}
    (tmp_path / "edited.json").write_text(json.dumps(edited))
    with pytest.raises(InputError, match=message):
        load_summary(tmp_path / "edited.json")

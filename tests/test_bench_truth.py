"""The benchmark's truth check on small generated logs: the pipeline's figures against the
generator's (counts exactly; p50/p95 within the log's timestamp resolution, 1 ms).

Where the pipeline cannot know the truth from the log alone, the difference is recorded here as a
known gap (``xfail(strict=True)``, so a change either way is noticed), never tuned away.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

try:
    from benchmarks.gen_log import UNNAMED, generate
    from benchmarks.run import RESOLUTION_S, figures_match, model_figures
except ModuleNotFoundError:  # plain `pytest` puts tests/, not the repo root, on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks.gen_log import UNNAMED, generate
    from benchmarks.run import RESOLUTION_S, figures_match, model_figures

from claude_perf.analysis.pipeline import analyse
from claude_perf.config.schema import Config
from claude_perf.ingest.files import read_logs
from claude_perf.report.summary import build

# (lines, seed) of the small logs.
LOGS = {"5k-seed11": (5_000, 11), "3k-seed3": (3_000, 3)}
# Models only the JSON style names (the wrapper never names a listed id): request ids pair them.
JSON_ONLY = (
    "claude-3-7-sonnet-20250219",
    "claude-haiku-4-5-20251001",
    "claude-opus-4-1-20250805",
    "claude-sonnet-4-5-20250929",
)
# Names the wrapper's records carry (its validator warning), shared with key=value lines.
WRAPPER_NAMED = ("gpt-4", "haiku", "opus", "sonnet", UNNAMED)

FIFO_GAP = (
    "known gap: the wrapper's records carry no request id, and its streaming responses log no "
    "start record, so overlapping requests are paired first-in-first-out (the report says so in "
    "data_quality.notes): model names, outcomes and latencies move between requests"
)
IN_FLIGHT_GAP = (
    "known gap: max_in_flight counts requests with both a start and an end in the log; the "
    "wrapper's streaming responses and bare 401/429/422 answers log no start, so the pipeline's "
    "figure is a lower bound (3k-seed3: 11, truth 12)"
)

_cache: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}


def truth_and_summary(name: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    """The generator's truth and the pipeline's JSON summary for one small log (made once)."""
    if name not in _cache:
        lines, seed = LOGS[name]
        path = tmp_path_factory.mktemp("bench-truth") / f"{name}.log"
        truth = generate(path, n_lines=lines, seed=seed)
        summary = build(analyse(read_logs([str(path)]), Config()))
        _cache[name] = (truth, summary)
    return _cache[name]


@pytest.mark.parametrize("name", list(LOGS))
def test_counts_equal_the_truth(name: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    truth, summary = truth_and_summary(name, tmp_path_factory)
    assert summary["requests"]["total"] == truth["requests"]
    assert summary["health"]["checks"] == truth["health_checks"]
    assert summary["requests"]["other_endpoints"] == truth["models_list_requests"]
    assert summary["requests"]["failed"] == sum(truth["failures_by_kind"].values())
    assert set(model_figures(summary)) == set(truth["logged_models"])


@pytest.mark.parametrize("model", JSON_ONLY)
@pytest.mark.parametrize("name", list(LOGS))
def test_models_paired_by_request_id_equal_the_truth(
    name: str, model: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    truth, summary = truth_and_summary(name, tmp_path_factory)
    theirs = truth["logged_models"][model]
    ours = model_figures(summary)[model]
    assert {k: ours[k] for k in ("requests", "failed", "timed")} == {
        k: theirs[k] for k in ("requests", "failed", "timed")
    }
    assert ours["p50"] == pytest.approx(theirs["p50"], abs=RESOLUTION_S)
    assert ours["p95"] == pytest.approx(theirs["p95"], abs=RESOLUTION_S)


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=FIFO_GAP)
def test_models_the_wrapper_names_equal_the_truth(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    truth, summary = truth_and_summary("5k-seed11", tmp_path_factory)
    ours = model_figures(summary)
    # One model matching alone would not make the gap go away: all or nothing.
    assert all(figures_match(ours.get(m), truth["logged_models"][m]) for m in WRAPPER_NAMED)


@pytest.mark.parametrize(
    "name",
    [
        "5k-seed11",
        pytest.param(
            "3k-seed3",
            marks=pytest.mark.xfail(strict=True, raises=AssertionError, reason=IN_FLIGHT_GAP),
        ),
    ],
)
def test_max_in_flight_equals_the_truth(
    name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    truth, summary = truth_and_summary(name, tmp_path_factory)
    assert summary["throughput"]["max_in_flight"] == truth["max_in_flight"]

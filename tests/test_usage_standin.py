"""Real engine: the stand-in wrapper in DEBUG mode, driven over 127.0.0.1; the tokens, cost and CLI
overhead the report reads from its logs are the stand-in CLI's own known answers.

The stand-in CLI (tests/standin/claude) answers "Stand-in answer from <model asked>." with
usage input = len(prompt) // 4, output = len(answer) // 4, cache read 12941 (at least 1 each),
cost at list prices rounded to 1e-6, and spends exactly 40 ms around its API call; the wrapper
logs each ``ResultMessage`` with the SDK's repr (checked byte for byte against the real wrapper's
format in test_standin_debug.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from claude_perf.analysis.pipeline import analyse
from claude_perf.config.schema import Config
from claude_perf.ingest.files import read_logs
from claude_perf.report.summary import build
from tests.docker_support import Step, drive_workload, logs_once

pytestmark = pytest.mark.docker

# USD per million input / output tokens, as the stand-in prices them (cache reads: 0.1 x input)
PRICES = {"haiku": (1.0, 5.0), "sonnet": (3.0, 15.0), "opus": (5.0, 25.0)}
CACHE_READ = 12941
LONG = "Please say hello to every one of the people reading this, in one short line."
PLAN = [
    Step("chat sonnet", "sonnet"),
    Step("chat haiku", "haiku"),
    Step("stream opus", "opus", stream=True),
    Step("chat haiku id", "claude-haiku-4-5-20251001", prompt=LONG),
    Step("chat sonnet long", "sonnet", prompt=LONG),
    Step("stream haiku", "haiku", stream=True),
    Step("bad key", "sonnet", api_key="wrong-key"),  # never reaches the CLI: no usage
]


def expected(step: Step) -> dict[str, float]:
    family = next(f for f in PRICES if f in step.model)
    p_in, p_out = PRICES[family]
    tokens_in = max(1, len(step.prompt) // 4)
    tokens_out = max(1, len(f"Stand-in answer from {step.model}.") // 4)
    cost = round((tokens_in * p_in + tokens_out * p_out + CACHE_READ * p_in * 0.1) / 1e6, 6)
    return {"input": tokens_in, "output": tokens_out, "cost": cost}


def test_standin_debug_usage_is_the_clis_own(
    standin_debug_proxy: tuple[Any, str], tmp_path: Path
) -> None:
    container, base_url = standin_debug_proxy
    outcomes = drive_workload(base_url, PLAN)
    assert [o.status for o in outcomes] == [200] * 6 + [401]

    # The refused request's duration record (stderr) and access line (stdout) may reach the
    # log after the client had its answer.
    text = logs_once(
        container,
        lambda t: "Response: 401 in " in t and 'HTTP/1.1" 401' in t,
        "the refused request's lines",
    )
    log = tmp_path / "docker-logs-t.txt"
    log.write_text(text, encoding="utf-8")
    summary = build(analyse(read_logs([str(log)]), Config()))
    models = {m["model"]: m for m in summary["models"]}
    sums: dict[str, dict[str, float]] = {}
    for step in PLAN[:-1]:
        total = sums.setdefault(step.model, {"input": 0, "output": 0, "cost": 0.0, "n": 0})
        for key, value in expected(step).items():
            total[key] += value
        total["n"] += 1
    for model, total in sums.items():
        got = models[model]
        assert got["tokens"] == {
            "input": total["input"],
            "output": total["output"],
            "cache_read": CACHE_READ * total["n"],
            "cache_creation": 0,
        }, model
        assert got["cost_usd"] == pytest.approx(total["cost"], abs=1e-6), model
        assert got["usage"] == {"requests": total["n"], "inferred": 0}, model
        overhead = got["cli_overhead_s"]
        assert overhead["p50"] == pytest.approx(0.040) and overhead["p95"] == pytest.approx(0.040)
    # the refused request is sonnet's too, and carries nothing: sonnet's count stays at 2
    assert models["sonnet"]["requests"] == 3 and models["sonnet"]["usage"]["requests"] == 2

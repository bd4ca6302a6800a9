"""Known answers on the real claude-code-router 1.0.73 captures (fixtures/captures/ccr1-*; no Docker).

1.0.73 is the 1.0.x line, beside the 2.0.0 of tests/test_ccr_captures.py. It logs as 2.0.0 does
(pino JSON to ~/.claude-code-router/logs/ccr-<start>.log; the container tails it into `docker
logs`), with one difference that changes the report: its `request body` line is written after
the Router rewrote the body, so it names the `provider,model` a Claude name was routed to (the
sonnet to Router.default, fake,mid-model; the haiku to Router.background, fake,fast-model), not
the name the client asked. The report's models are those; the client view keeps the names asked.

On every capture with request lines (LOG_LEVEL debug, the default; info, a restart among them;
trace) the report must
tell the client's story: each request counted once, the failures the client saw with their
classes, per routed model the requests and a p50 within LATENCY_REL of the client's (measured:
-2.5 % to +0.4 %; the -2.5 % is 8 requests whose two middle values, 0.318 s and 0.326 s, the
report's p50 and statistics.median take differently; per model, the client view's median
client - server difference is -0.8 to +13 ms), tokens equal to the client's at debug and trace and unknown at info. At
LOG_LEVEL warn only error lines remain: no request is counted, and the report says why. With LOG
false nothing is logged at all.

Before the claude-code-router dialect named 1.0.73 and detected its provider-error line, the
debug, info and trace captures gave these same figures; the warn capture gave no dialect and no
note, 0 requests beside 4 error records, as if no traffic had come.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.cli_support import run_cli

CAPTURES = Path(__file__).resolve().parent.parent / "fixtures" / "captures"
LOGGED = [
    "ccr1-default-sequential",
    "ccr1-default-concurrent",
    "ccr1-info-sequential",
    "ccr1-info-concurrent",
    "ccr1-info-restart",
    "ccr1-trace-sequential",
]
ALL = [*LOGGED, "ccr1-warn-sequential", "ccr1-nolog"]
FORMS = ["ccr.log", "docker-logs-t.txt"]
LATENCY_REL = 0.03  # measured: -2.5 % (an even count's median, see above) to +0.4 %
# the config's Router (tests/ccr_support.router_config): what 1.0.73 logs for a Claude name
ROUTED = {
    "claude-sonnet-4-5-20250929": "fake,mid-model",
    "claude-3-5-haiku-20241022": "fake,fast-model",
}
ANSWERED = ["fake,fast-model", "fake,mid-model", "fake,slow-model"]


def clients(name: str) -> list[dict[str, Any]]:
    text = (CAPTURES / name / "clients.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def model_calls(name: str) -> list[dict[str, Any]]:
    return [r for r in clients(name) if r["path"] == "/v1/messages"]


def routed(record: dict[str, Any]) -> str | None:
    asked: str | None = record.get("model_asked")
    return ROUTED.get(asked, asked) if asked else None


@cache
def summary(name: str, form: str) -> dict[str, Any]:
    proc = run_cli("report", "-i", str(CAPTURES / name / form), "-f", "json")
    assert proc.returncode == 0, proc.stderr
    out: dict[str, Any] = json.loads(proc.stdout)
    return out


@pytest.mark.parametrize("name", ALL)
def test_capture_files_are_there_small_and_of_1_0_73(name: str) -> None:
    for f in ["README.md", "clients.jsonl", "docker-logs-t.txt"]:
        assert 0 < (CAPTURES / name / f).stat().st_size < 400_000, f
    assert (CAPTURES / name / "ccr.log").exists() == (name != "ccr1-nolog")
    readme = (CAPTURES / name / "README.md").read_text(encoding="utf-8")
    assert "`@musistudio/claude-code-router` 1.0.73" in readme


def test_the_default_sequential_capture_in_figures() -> None:
    # Known answers, written out: 27 requests sent (3 health checks, 2 without the key, 2
    # malformed, 20 by claude-perf load of which 2 to the broken model).
    s = summary("ccr1-default-sequential", "ccr.log")
    assert s["requests"] == {
        "total": 24,
        "succeeded": 18,
        "failed": 6,
        "success_rate": 0.75,
        "other_endpoints": 0,
    }
    assert s["health"]["checks"] == 3
    assert s["errors"]["by_class"] == {"auth": 2, "validation": 2, "server": 2}
    models = {m["model"]: m["requests"] for m in s["models"]}
    assert models == {
        "fake,fast-model": 8,  # 6 asked so, and the 2 haikus routed there
        "fake,mid-model": 6,  # 4 asked so, and the 2 sonnets
        "fake,slow-model": 4,
        "fake,broken-model": 2,
        None: 4,  # the 401s and the malformed bodies: no body logged
    }


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("name", LOGGED)
def test_counts_are_the_clients(name: str, form: str) -> None:
    records = clients(name)
    calls = model_calls(name)
    s = summary(name, form)
    assert s["requests"]["total"] == len(calls)
    assert s["requests"]["succeeded"] == sum(r["ok"] for r in calls)
    assert s["requests"]["failed"] == sum(not r["ok"] for r in calls)
    assert s["health"]["checks"] == sum(r["path"] == "/health" for r in records)
    assert s["health"]["failed"] == 0
    assert s["data_quality"]["dialects"] == {
        str(CAPTURES / name / form): ["claude-code-router", "fastify"]
    }
    assert s["data_quality"]["unmatched_starts"] == 0
    assert s["data_quality"]["arrivals_only"] == 0


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("name", LOGGED)
def test_models_as_routed_and_their_latency(name: str, form: str) -> None:
    calls = model_calls(name)
    want = Counter(routed(r) for r in calls)
    models = {m["model"]: m for m in summary(name, form)["models"]}
    assert {m: v["requests"] for m, v in models.items()} == dict(want)
    assert not set(models) & set(ROUTED)  # the Claude names asked are not in the log
    client_latency: dict[str | None, list[float]] = defaultdict(list)
    for r in calls:
        if r["ok"]:
            client_latency[routed(r)].append((r["end_ns"] - r["start_ns"]) / 1e9)
    for model in ANSWERED:
        got = models[model]["latency_s"]
        p50 = statistics.median(client_latency[model])
        assert got["n"] == len(client_latency[model])
        assert abs(got["p50"] - p50) <= LATENCY_REL * p50, (model, got["p50"], p50)
        assert models[model]["latency_unknown"] == 0
        assert models[model]["inferred_share"] == 0.0
    assert models["fake,broken-model"]["failed"] == want["fake,broken-model"] > 0
    assert models[None]["failed"] == want[None] == 4


@pytest.mark.parametrize("name", LOGGED)
def test_error_classes(name: str) -> None:
    by_status = Counter(r["status"] for r in model_calls(name) if not r["ok"])
    got = summary(name, "ccr.log")["errors"]["by_class"]
    assert got == {"auth": by_status[401], "validation": by_status[400], "server": by_status[503]}


@pytest.mark.parametrize("name", LOGGED)
def test_tokens_at_debug_and_trace_and_unknown_at_info(name: str) -> None:
    calls = model_calls(name)
    models = {m["model"]: m for m in summary(name, "ccr.log")["models"]}
    for model in ANSWERED:
        mine = [r for r in calls if routed(r) == model and r["ok"]]
        tokens = models[model]["tokens"]
        if "info" in name:
            assert tokens is None
        else:  # debug (the default) and trace: the answers' usage, as the client got it
            assert tokens["input"] == sum(r["input_tokens"] for r in mine)
            assert tokens["output"] == sum(r["output_tokens"] for r in mine)
            assert models[model]["usage"] == {"requests": len(mine), "inferred": 0}
        assert models[model]["cost_usd"] is None  # never logged


@pytest.mark.parametrize("name", ["ccr1-default-concurrent", "ccr1-info-concurrent"])
def test_every_client_record_joins_one_request(name: str) -> None:
    folder = CAPTURES / name
    proc = run_cli(
        "report",
        "-i",
        str(folder / "docker-logs-t.txt"),
        "--client",
        str(folder / "clients.jsonl"),
        "-f",
        "json",
    )
    client = json.loads(proc.stdout)["client"]
    assert client["records"] == client["matched"] == len(clients(name))
    assert client["unmatched_client"] == client["unmatched_server"] == 0


@pytest.mark.parametrize("form", FORMS)
def test_the_restart_is_seen_and_its_reused_ids_are_two_requests(form: str) -> None:
    # `docker restart` between two loads: a new log file, fastify's ids from req-1 again
    path = CAPTURES / "ccr1-info-restart" / form
    assert summary("ccr1-info-restart", form)["requests"]["total"] == 24
    proc = run_cli("report", "-i", str(path), "-f", "markdown", "--no-charts")
    assert "**Restarts:** 1 seen in the logs" in proc.stdout


@pytest.mark.parametrize("form", FORMS)
def test_at_warn_level_no_request_is_counted_and_the_report_says_why(form: str) -> None:
    # LOG_LEVEL warn: the 2 malformed bodies' and the 503's error lines (with a reqId) and the
    # provider's own error line; no start, no completion, no body.
    calls = model_calls("ccr1-warn-sequential")
    assert sum(r["status"] in (400, 503) for r in calls) == 3
    s = summary("ccr1-warn-sequential", form)
    assert s["requests"]["total"] == 0 and s["health"]["checks"] == 0
    assert s["errors"]["records"] == s["errors"]["orphan_records"] == 4
    path = str(CAPTURES / "ccr1-warn-sequential" / form)
    assert s["data_quality"]["dialects"] == {path: ["claude-code-router"]}
    [note] = [n for n in s["data_quality"]["notes"] if n.startswith("no model request")]
    assert "any request at LOG_LEVEL warn or above" in note


def test_nothing_logged_means_nothing_reported() -> None:
    s = summary("ccr1-nolog", "docker-logs-t.txt")
    assert s["requests"]["total"] == 0 and s["health"]["checks"] == 0
    assert s["lines"]["total"] == 1 and s["lines"]["unparsed"] == 1

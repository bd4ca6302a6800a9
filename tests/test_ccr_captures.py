"""Known answers on the real claude-code-router captures (fixtures/captures/ccr-*; no Docker).

Each capture holds the router's own log file (``ccr.log``), the same lines as ``docker logs -t``
shows them when the container tails that file (``docker-logs-t.txt``), and what the client saw
(``clients.jsonl``: ``claude-perf load`` and a few hand-made requests). The report on either log
must tell the client's story: every request counted once (a health check as a health check), the
failures the client saw, each model as asked with its p50 within LATENCY_REL of the client's
(the router's ``responseTime`` ends when its answer is written, the client's when it has read
it: the log's p50 is 0.8 % below to 0.5 % above the client's on these captures), tokens equal
to the client's at LOG_LEVEL debug and unknown at info, and nothing at all with LOG false.

Before the ``fastify`` and ``claude-code-router`` dialects and analysis/id_lives.py, the same
captures gave (docker-logs-t.txt and ccr.log alike): 27 model requests for 24 (47 for 44: each
health check's completion counted again as a model request), one model "fake" for the four
"provider,model" names asked (cut at the comma), the provider's 503s classed "routing", and on
the restart capture 14 requests for 24 (fastify's ids start again at req-1: each reused id kept
one request of two, and joined a sonnet request's start to another's completion: its p50 1.505 s
for 0.806 s).
"""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claude_perf.analysis.pipeline import analyse
from claude_perf.config.schema import Config
from claude_perf.ingest.files import read_log
from tests.cli_support import run_cli

CAPTURES = Path(__file__).resolve().parent.parent / "fixtures" / "captures"
LOGGED = [
    "ccr-default-sequential",
    "ccr-default-concurrent",
    "ccr-info-sequential",
    "ccr-info-concurrent",
    "ccr-info-restart",
]
FORMS = ["ccr.log", "docker-logs-t.txt"]
LATENCY_REL = 0.03  # measured: -0.8 % to +0.5 % (and -1.6 % on an earlier recording)
# answered by the fake provider: as "provider,model", and Claude names the Router maps (a
# haiku to Router.background, fake,fast-model; the sonnet to Router.default, fake,mid-model)
MODELS = [
    "fake,fast-model",
    "fake,mid-model",
    "fake,slow-model",
    "claude-sonnet-4-5-20250929",
    "claude-3-5-haiku-20241022",
]


def clients(name: str) -> list[dict[str, Any]]:
    text = (CAPTURES / name / "clients.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


@cache
def summary(name: str, form: str) -> dict[str, Any]:
    proc = run_cli("report", "-i", str(CAPTURES / name / form), "-f", "json")
    assert proc.returncode == 0, proc.stderr
    out: dict[str, Any] = json.loads(proc.stdout)
    return out


def model_calls(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r["path"] == "/v1/messages"]


@pytest.mark.parametrize("name", [*LOGGED, "ccr-nolog"])
def test_capture_files_are_there_and_small(name: str) -> None:
    for f in ["README.md", "clients.jsonl", "docker-logs-t.txt"]:
        assert 0 < (CAPTURES / name / f).stat().st_size < 400_000, f
    assert (CAPTURES / name / "ccr.log").exists() == (name != "ccr-nolog")


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("name", LOGGED)
def test_counts_are_the_clients(name: str, form: str) -> None:
    records = clients(name)
    calls = model_calls(records)
    s = summary(name, form)
    assert s["requests"]["total"] == len(calls)
    assert s["requests"]["succeeded"] == sum(r["ok"] for r in calls)
    assert s["requests"]["failed"] == sum(not r["ok"] for r in calls)
    health = [r for r in records if r["path"] == "/health"]
    assert s["health"]["checks"] == len(health)
    assert s["health"]["failed"] == 0
    assert s["data_quality"]["dialects"] == {
        str(CAPTURES / name / form): ["claude-code-router", "fastify"]
    }
    assert s["data_quality"]["unmatched_starts"] == 0
    assert s["data_quality"]["arrivals_only"] == 0


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("name", LOGGED)
def test_models_as_asked_and_their_latency(name: str, form: str) -> None:
    calls = model_calls(clients(name))
    asked = Counter(r.get("model_asked") for r in calls)
    models = {m["model"]: m for m in summary(name, form)["models"]}
    assert {m: v["requests"] for m, v in models.items()} == dict(asked)
    client_latency: dict[str, list[float]] = defaultdict(list)
    for r in calls:
        if r["ok"]:
            client_latency[r["model_asked"]].append((r["end_ns"] - r["start_ns"]) / 1e9)
    for model in MODELS:
        got = models[model]["latency_s"]
        want = statistics.median(client_latency[model])
        assert got["n"] == len(client_latency[model])
        assert abs(got["p50"] - want) <= LATENCY_REL * want, (model, got["p50"], want)
        assert models[model]["latency_unknown"] == 0
        assert models[model]["inferred_share"] == 0.0
    # The provider's 503s: their model known, failed, no latency; a 401 or a malformed body
    # never reaches the body hook, so their model is not logged (the client sent none either).
    assert models["fake,broken-model"]["failed"] == asked["fake,broken-model"]
    assert models[None]["failed"] == asked[None] == 4


@pytest.mark.parametrize("name", LOGGED)
def test_error_classes(name: str) -> None:
    calls = model_calls(clients(name))
    by_status = Counter(r["status"] for r in calls if not r["ok"])
    got = summary(name, "ccr.log")["errors"]["by_class"]
    assert got == {"auth": by_status[401], "validation": by_status[400], "server": by_status[503]}


@pytest.mark.parametrize("name", LOGGED)
def test_tokens_at_debug_level_and_unknown_at_info(name: str) -> None:
    calls = model_calls(clients(name))
    models = {m["model"]: m for m in summary(name, "ccr.log")["models"]}
    for model in MODELS:
        mine = [r for r in calls if r.get("model_asked") == model and r["ok"]]
        tokens = models[model]["tokens"]
        if "default" in name:  # LOG_LEVEL debug: the answers' usage, as the client got it
            assert tokens["input"] == sum(r["input_tokens"] for r in mine)
            assert tokens["output"] == sum(r["output_tokens"] for r in mine)
            assert models[model]["usage"] == {"requests": len(mine), "inferred": 0}
        else:
            assert tokens is None
        assert models[model]["cost_usd"] is None  # never logged


def test_the_restart_is_seen_and_its_reused_ids_are_two_requests() -> None:
    s = summary("ccr-info-restart", "docker-logs-t.txt")
    assert s["requests"]["total"] == 24
    proc = run_cli(
        "report",
        "-i",
        str(CAPTURES / "ccr-info-restart" / "ccr.log"),
        "-f",
        "markdown",
        "--no-charts",
    )
    assert "**Restarts:** 1 seen in the logs" in proc.stdout


def test_nothing_logged_means_nothing_reported() -> None:
    # LOG false: no log file; docker logs holds the one config line.
    s = summary("ccr-nolog", "docker-logs-t.txt")
    assert s["requests"]["total"] == 0 and s["health"]["checks"] == 0
    assert s["lines"]["total"] == 1 and s["lines"]["unparsed"] == 1


@pytest.mark.parametrize("name", ["ccr-default-concurrent", "ccr-info-concurrent"])
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


# --------------------------------------------------------------------------- no double count


def _requests_of(lines: list[str]) -> tuple[int, int]:
    table, info, count = read_log("ccr.log", ("\n".join(lines) + "\n").encode())
    from claude_perf.ingest.files import combine

    a = analyse(combine([table], [info], [count]), Config())
    kinds = Counter(a.requests.table["kind"].astype(str))
    return kinds["model"], kinds["health"]


@cache
def _owned_lines(name: str) -> tuple[tuple[str | None, str], ...]:
    """The capture's log, each line with the request that owns it (its reqId; each life of an
    id its own request) or None (start-up lines, the provider's id-less error line)."""
    out: list[tuple[str | None, str]] = []
    life: Counter[str] = Counter()
    for line in (CAPTURES / name / "ccr.log").read_text(encoding="utf-8").splitlines():
        head = line.split('"reqId":"', 1)
        if len(head) == 1:
            out.append((None, line))
            continue
        rid = head[1].split('"', 1)[0]
        if '"msg":"incoming request"' in line:
            life[rid] += 1
        out.append((f"{rid}#{life[rid]}", line))
    return tuple(out)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generic_and_dialect_readings_never_count_a_request_twice(data: st.DataObject) -> None:
    # Keep any subset of the requests (all their lines, in log order): the report counts each
    # kept request once, a health check as one, whatever else the lines say (the generic JSON
    # reader sees ids, statuses, paths and durations in every one of them).
    name = data.draw(st.sampled_from(["ccr-info-restart", "ccr-default-sequential"]))
    owned = _owned_lines(name)
    ids = sorted({rid for rid, _ in owned if rid is not None})
    kept = data.draw(st.sets(st.sampled_from(ids), max_size=len(ids)))
    lines = [line for rid, line in owned if rid is None or rid in kept]
    health = {rid for rid, line in owned if rid in kept and '"url":"/health"' in line}
    assert _requests_of(lines) == (len(kept) - len(health), len(health))


# --------------------------------------------------------------------------- plain fastify


@pytest.mark.parametrize("version", ["4.29.1", "5.12.8"])
def test_plain_fastify_logs_read_by_the_fastify_dialect_alone(version: str) -> None:
    # fixtures/captures/fastify-plain: a fastify app's own stdout (no claude-code-router).
    path = CAPTURES / "fastify-plain" / f"fastify-{version}.log"
    proc = run_cli("report", "-i", str(path), "-f", "json")
    s = json.loads(proc.stdout)
    assert s["requests"] == {
        "total": 5,
        "succeeded": 3,
        "failed": 2,
        "success_rate": 0.6,
        "other_endpoints": 0,
    }
    assert s["health"]["checks"] == 1
    assert s["errors"]["by_class"] == {"validation": 1, "server": 1}
    assert s["data_quality"]["dialects"] == {str(path): ["fastify"]}
    # succeeded: 200 ms, 600 ms and a 400 ms stream (its four chunks), each within 5 ms
    latency = s["latency_s"]
    assert latency["n"] == 3
    assert abs(latency["min"] - 0.2) < 0.005 and abs(latency["max"] - 0.6) < 0.005
    assert abs(latency["p50"] - 0.4) < 0.005

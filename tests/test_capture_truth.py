"""The report against what the client saw, on real captures of real proxies in Docker.

``fixtures/captures/*``: the real claude-max-api-proxy (npm) and the stand-in
claude-code-openai-wrapper in DEBUG and plain modes, each with its ``client-view.json`` (see the
READMEs there and the recorders beside them). Known answers: request, failure and health-check
counts exact; per-model p50 of non-streaming successes within 10% (sequential sessions) or 15%
(concurrent ones) of the client's, wherever the logs can tell; where they cannot, the figure is
marked as inferred (``inferred_share`` > 0) or the model as not logged.
"""

from __future__ import annotations

import json
import statistics
from datetime import datetime
from pathlib import Path

import pytest

from claude_perf.analysis.pipeline import Analysis, analyse
from claude_perf.config.families import family_of
from claude_perf.config.schema import Config
from claude_perf.ingest.files import read_logs
from claude_perf.report.summary import build

CAPTURES = Path(__file__).resolve().parent.parent / "fixtures" / "captures"
# Labels the recorders gave the requests that fail (some answer HTTP 200 with the error as text).
FAILING = ("invalid model", "cli login fail", "cli crash", "bad key", "malformed", "usage limit")
FAILING += ("no model", "login fail", "stream cli crash")


def view(name: str) -> list[dict]:
    return json.loads((CAPTURES / name / "client-view.json").read_text())


def analysis(name: str) -> Analysis:
    return analyse(read_logs([str(CAPTURES / name / "docker-logs-t.txt")]), Config())


def failed(request: dict) -> bool:
    status = request.get("status")
    return (
        status is None
        or status >= 400
        or bool(request.get("error"))
        or request["label"].startswith(FAILING)
    )


def elapsed_s(request: dict) -> float:
    if "elapsed_s" in request:
        return request["elapsed_s"]
    end, sent = (datetime.fromisoformat(request[k]) for k in ("end_at", "sent_at"))
    return (end - sent).total_seconds()


def client_p50_by_family(requests: list[dict]) -> dict[str, float]:
    by: dict[str, list[float]] = {}
    for r in requests:
        if r["path"].startswith("/v1/chat") and not failed(r) and not r.get("stream"):
            by.setdefault(family_of(r["model"]) or r["model"], []).append(elapsed_s(r))
    return {k: statistics.median(v) for k, v in by.items()}


# name, health checks in the logs (client-sent + in-container probes, from the READMEs)
COUNTS = [
    ("wrapper-debug-sequential", 5),
    ("wrapper-debug-concurrent", 4),
    ("wrapper-plain-concurrent", 5),
    ("maxproxy-plain-sequential", 0),  # no health check is logged without DEBUG=1
    ("maxproxy-debug-concurrent", 6),
    ("maxproxy-crash-restart", 3),
]


@pytest.mark.parametrize(("name", "health_checks"), COUNTS)
def test_counts_equal_what_the_client_saw(name: str, health_checks: int) -> None:
    client = [r for r in view(name) if r["path"].startswith("/v1/chat")]
    table = analysis(name).requests.table
    model = table[table["kind"] == "model"]
    assert len(model) == len(client)
    assert int((model["outcome"] == "failed").sum()) == sum(failed(r) for r in client)
    assert int((table["kind"] == "health").sum()) == health_checks


@pytest.mark.parametrize(
    ("name", "tolerance"),
    [("wrapper-debug-sequential", 0.10), ("wrapper-debug-concurrent", 0.15)],
)
def test_debug_mode_per_model_p50_is_the_clients(name: str, tolerance: float) -> None:
    expected = client_p50_by_family(view(name))
    summary = build(analysis(name))
    got = {m["family"]: m for m in summary["models"] if m["latency_s"]}
    assert set(got) == set(expected)
    for family, p50 in expected.items():
        assert got[family]["latency_s"]["p50"] == pytest.approx(p50, rel=tolerance), family
    # The duration records name each start, unless two starts were stamped within the
    # proxy's millisecond (the concurrent capture's bursts: 3 of 40), and those say so.
    ambiguous = summary["data_quality"]["ambiguous_pairings"]
    assert ambiguous == (0 if name == "wrapper-debug-sequential" else 3)
    assert any(m["inferred_share"] > 0 for m in summary["models"]) == (ambiguous > 0)


def test_plain_concurrent_per_model_p50_is_the_clients_or_marked_inferred() -> None:
    expected = client_p50_by_family(view("wrapper-plain-concurrent"))
    summary = build(analysis("wrapper-plain-concurrent"))
    checked = 0
    for m in summary["models"]:
        if not m["latency_s"] or m["family"] not in expected:
            continue
        checked += 1
        close = m["latency_s"]["p50"] == pytest.approx(expected[m["family"]], rel=0.15)
        assert close or m["inferred_share"] > 0, m["family"]
    assert checked >= 3


@pytest.mark.parametrize(
    "name", ["maxproxy-plain-sequential", "maxproxy-debug-concurrent", "maxproxy-crash-restart"]
)
def test_claude_max_api_proxy_never_logs_the_model(name: str) -> None:
    summary = build(analysis(name))
    assert [m["model"] for m in summary["models"]] == [None]
    dialect = "claude-max-api-proxy-debug" if "debug" in name or "crash" in name else None
    found = next(iter(summary["data_quality"]["dialects"].values()))
    assert found == [dialect or "claude-max-api-proxy"]


def test_claude_max_api_proxy_sequential_latencies_are_the_clients() -> None:
    # Sequential: each CLI run's spawn → close is its request; the client's time includes HTTP
    # and the proxy's own work around the run (tens of milliseconds).
    name = "maxproxy-plain-sequential"
    client = sorted(
        elapsed_s(r)
        for r in view(name)
        if r["path"].startswith("/v1/chat") and not failed(r) and not r.get("stream")
    )
    table = analysis(name).requests.table
    ok = table[(table["kind"] == "model") & (table["outcome"] == "succeeded")]
    logs = sorted(ok["latency_s"].dropna())
    assert statistics.median(logs) == pytest.approx(statistics.median(client), rel=0.10)


@pytest.mark.parametrize("name", ["wrapper-debug-sequential", "wrapper-debug-concurrent"])
def test_debug_mode_per_model_counts_and_failures_are_exact(name: str) -> None:
    from collections import Counter

    client = [r for r in view(name) if r["path"].startswith("/v1/chat")]
    table = analysis(name).requests.table
    model = table[table["kind"] == "model"]
    assert Counter(model["model"]) == Counter(r["model"] for r in client)
    got_failed = Counter(model[model["outcome"] == "failed"]["model"])
    assert got_failed == Counter(r["model"] for r in client if failed(r))


@pytest.mark.parametrize(
    ("name", "restarts"),
    [
        ("maxproxy-crash-restart", 1),  # the proxy threw, exited 1, the engine started it again
        ("maxproxy-plain-sequential", 0),
        ("maxproxy-debug-concurrent", 0),
        ("wrapper-debug-concurrent", 0),
        ("wrapper-plain-concurrent", 0),
    ],
)
def test_restarts_from_the_logs_alone_match_the_capture(name: str, restarts: int) -> None:
    """No container facts: a restart is the proxy's start-up banner after requests were served."""
    from claude_perf.analysis.reliability import reliability_of

    r = reliability_of(analysis(name))
    assert (r.facts, r.restarts) == (False, restarts)
    assert len(r.restarts_in_logs) == restarts


# claude-code-openai-wrapper up to v2.0.0 (July-November 2025, `uvicorn main:app` in its
# Dockerfile) kept its modules at the top: the same records, logged by `main` and `claude_cli`
# instead of `src.main` and `src.claude_cli` (or by `__main__` when run as `python main.py`).
@pytest.mark.parametrize("name", ["wrapper-plain-concurrent", "wrapper-debug-concurrent"])
@pytest.mark.parametrize("module", ["main", "__main__"])
def test_the_wrapper_before_v2_1_is_read_as_the_same_session(
    name: str, module: str, tmp_path: Path
) -> None:
    text = (CAPTURES / name / "docker-logs-t.txt").read_text(encoding="utf-8")
    old = text.replace(" - src.main - ", f" - {module} - ").replace(" - src.", " - ")
    assert old != text and " - src." not in old
    path = tmp_path / "docker-logs-t.txt"
    path.write_text(old, encoding="utf-8")
    then = build(analyse(read_logs([str(path)]), Config()))
    now = build(analysis(name))
    for summary in (then, now):  # (the input's path aside)
        summary.pop("inputs", None)
        summary["data_quality"]["dialects"] = list(summary["data_quality"]["dialects"].values())
    assert then["requests"]["total"] == len(view(name))
    assert then == now

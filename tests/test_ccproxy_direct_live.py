"""The REAL ccproxy-api (PyPI 0.2.10, .ci/ccproxy-up.sh) in a container in its DIRECT API mode
(claude_api plugin), forwarding to the fake Anthropic API (fixtures/captures/anthropic_upstream.py)
in the same container, with the access_log plugin on.

Requests one after the other (both routes, three models, a stream, an upstream 500 and a
streamed 429, a health check); the engine's log goes through `claude-perf report` with the
client's records, and the report must be the client's: model requests, failures and their
classes, health checks, every client record joined to its own logged request. Console at INFO
(no model is logged: one "not logged" row) and JSON at DEBUG (the model asked is: per-model p50
of the proxy's logged times within 5% of the client's).
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import pytest

from claude_perf.ingest.client_records import ClientRecord, record_to_json
from tests.ccproxy_direct_support import DIRECT_CHAT, DIRECT_MESSAGES, start_direct
from tests.ccproxy_support import CcStep, run_cc
from tests.conftest import DockerRun
from tests.docker_support import logs_text
from tests.live_support import claude_perf, running

pytestmark = pytest.mark.docker

HAIKU, SONNET, OPUS = (
    "claude-haiku-4-5-20251001",
    "claude-sonnet-4-5-20250929",
    "claude-opus-4-5-20251101",
)
STEPS = [
    CcStep("health", path="/health", method="GET", model=None, timeout_s=10),
    CcStep("chat haiku", DIRECT_CHAT, HAIKU),
    CcStep("messages sonnet stream", DIRECT_MESSAGES, SONNET, stream=True),
    CcStep("upstream 500", DIRECT_MESSAGES, SONNET, prompt="UPSTREAM_500 please"),
    CcStep("messages opus", DIRECT_MESSAGES, OPUS),
    CcStep("upstream 429 stream", DIRECT_CHAT, HAIKU, stream=True, prompt="UPSTREAM_429"),
    CcStep("chat sonnet", DIRECT_CHAT, SONNET),
    CcStep("messages haiku", DIRECT_MESSAGES, HAIKU),
]


@pytest.mark.parametrize(("log_format", "log_level"), [("console", "INFO"), ("json", "DEBUG")])
def test_report_is_the_clients_on_the_real_ccproxy_in_direct_mode(
    docker_run: DockerRun, tmp_path: Path, log_format: str, log_level: str
) -> None:
    probes: list[ClientRecord] = []

    def start(name: str) -> tuple[Any, str]:
        container, url, answered = start_direct(
            docker_run.client,
            name,
            log_format=log_format,
            log_level=log_level,
            access_log="plugin",
            labels=docker_run.labels,
        )
        probes.extend(answered)
        return container, url

    with running(docker_run, start) as (container, url):
        records = probes + run_cc(url, STEPS, prefix="live")
        container.stop(timeout=10)  # the engine holds every line once it is stopped
        (tmp_path / "session.log").write_text(logs_text(container))
    (tmp_path / "client.jsonl").write_text("".join(record_to_json(r) + "\n" for r in records))
    claude_perf(
        "report", "--input", str(tmp_path / "session.log"),
        "--client", str(tmp_path / "client.jsonl"), "-f", "json", "-o", str(tmp_path / "r.json"),
    )  # fmt: skip
    summary = json.loads((tmp_path / "r.json").read_text())

    model = [r for r in records if r.path != "/health"]
    assert summary["requests"]["total"] == len(model) == 7
    assert summary["requests"]["failed"] == sum(not r.ok for r in model) == 2
    assert summary["errors"]["by_class"] == {"server": 1, "rate_limit": 1}
    assert summary["health"]["checks"] == len(records) - len(model)
    found = next(iter(summary["data_quality"]["dialects"].values()))
    assert found == ["ccproxy-api"]
    client = summary["client"]
    assert (client["records"], client["matched"], client["unmatched_client"]) == (
        len(records),
        len(records),
        0,
    ), client
    if log_level == "INFO":  # direct mode names no model below DEBUG
        assert [m["model"] for m in summary["models"]] == [None]
        return
    assert sorted(m["model"] for m in summary["models"]) == [HAIKU, OPUS, SONNET]
    for m in client["models"]:
        mine = [r.latency_s for r in model if r.model_asked == m["model"] and r.ok]
        assert m["server"]["latency_s"]["p50"] == pytest.approx(statistics.median(mine), rel=0.05)

"""The REAL ccproxy-api (PyPI 0.2.10, .ci/ccproxy-up.sh) in a container, SDK mode, stand-in CLI.

Requests one after the other (both APIs, a stream, a CLI crash, a health check), then
`claude-perf load` with 2 in flight; the engine's log goes through `claude-perf report` with
the client's records, and the report's counts must be the client's: model requests, failures,
health checks, every client record joined to its own logged request, and per-model p50 of the
proxy's logged times within 5% of the client's (the client's time is the proxy's plus its
connection: a few ms). Default (console) logging in one container, JSON in another.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import pytest

from claude_perf.ingest.client_records import ClientRecord, record_from_json, record_to_json
from tests.ccproxy_support import CHAT, MESSAGES, CcStep, run_cc, start_ccproxy
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
    CcStep("chat haiku", CHAT, HAIKU),
    CcStep("messages sonnet stream", MESSAGES, SONNET, stream=True),
    CcStep("cli crash", CHAT, SONNET, prompt="CRASH please"),
    CcStep("messages opus", MESSAGES, OPUS),
]


def load_records(url: str, tmp_path: Path) -> list[ClientRecord]:
    out = tmp_path / "load.jsonl"
    claude_perf(
        "load", "--url", f"{url}/claude/sdk/v1", "--model", f"{HAIKU}=50%",
        "--model", f"{SONNET}=50%", "-n", "6", "-c", "2", "--stream-share", "50%",
        "--store", str(tmp_path / "s.db"), "-o", str(out), "--timeout", "60s",
    )  # fmt: skip
    return [record_from_json(json.loads(x), str(out)) for x in out.read_text().splitlines()]


@pytest.mark.parametrize("log_format", ["console", "json"])
def test_report_counts_are_the_clients_on_the_real_ccproxy(
    docker_run: DockerRun, tmp_path: Path, log_format: str
) -> None:
    probes: list[ClientRecord] = []

    def start(name: str) -> tuple[Any, str]:
        container, url, answered = start_ccproxy(
            docker_run.client, name, log_format=log_format, labels=docker_run.labels
        )
        probes.extend(answered)
        return container, url

    with running(docker_run, start) as (container, url):
        records = probes + run_cc(url, STEPS, prefix="live") + load_records(url, tmp_path)
        container.stop(timeout=10)  # the engine holds every line once it is stopped
        (tmp_path / "session.log").write_text(logs_text(container))
    (tmp_path / "client.jsonl").write_text("".join(record_to_json(r) + "\n" for r in records))
    claude_perf(
        "report", "--input", str(tmp_path / "session.log"),
        "--client", str(tmp_path / "client.jsonl"), "-f", "json", "-o", str(tmp_path / "r.json"),
    )  # fmt: skip
    summary = json.loads((tmp_path / "r.json").read_text())

    model = [r for r in records if r.path != "/health"]
    assert summary["requests"]["total"] == len(model) == 10
    assert summary["requests"]["failed"] == sum(not r.ok for r in model) == 1
    assert summary["health"]["checks"] == len(records) - len(model)
    found = next(iter(summary["data_quality"]["dialects"].values()))
    assert found == ["ccproxy-api"]
    client = summary["client"]
    assert (client["records"], client["matched"], client["unmatched_client"]) == (
        len(records),
        len(records),
        0,
    ), client
    # the proxy's own figures per model asked, against the client's (succeeded requests)
    for m in client["models"]:
        mine = [r.latency_s for r in model if r.model_asked == m["model"] and r.ok]
        assert m["latency_s"]["p50"] == pytest.approx(statistics.median(mine), abs=1e-6)
        assert m["server"]["latency_s"]["p50"] == pytest.approx(statistics.median(mine), rel=0.05)

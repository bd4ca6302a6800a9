"""The REAL copilot-api (npm 0.7.0) in a container, against the fake GitHub Copilot API.

One short session with ``--verbose``, one request at a time: the model list, a malformed body
(500), and `claude-perf load` on the Anthropic route over two models and the fake's failing one
(500), half streamed. The report on `docker logs -t` must give the client's counts, statuses,
each model as asked, its p50 near the client's (streams by their time to first byte), and read
it with the `copilot-api-verbose` dialect.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import pytest

from claude_perf.ingest.client_records import ClientRecord, record_from_json
from tests.cli_support import run_cli
from tests.conftest import DockerRun, remove_quietly
from tests.copilot_support import make_tls, send_raw, start_copilot
from tests.docker_support import logs_text

pytestmark = pytest.mark.docker
MODELS = ["claude-sonnet-4-20250514=40%", "gpt-4.1=40%", "broken-model=20%"]
LATENCY_REL = 0.05  # a shared 2-core machine (0.04-0.4 % under the client's on the capture)


def _load(base_url: str, out: Path) -> list[ClientRecord]:
    argv = [sys.executable, "-m", "claude_perf", "load", "--url", base_url, "--api", "anthropic"]
    argv += [a for m in MODELS for a in ("--model", m)]
    argv += ["--requests", "10", "--concurrency", "1", "--stream-share", "50%"]
    argv += ["--max-tokens", "64", "--timeout", "30s"]
    argv += ["--store", str(out.with_suffix(".db")), "-o", str(out)]
    subprocess.run(argv, check=True, timeout=300, capture_output=True)
    lines = out.read_text().splitlines()
    return [record_from_json(json.loads(t), f"{out}:{i}") for i, t in enumerate(lines, 1)]


def test_the_report_on_the_real_copilot_api_is_the_clients(
    docker_run: DockerRun, tmp_path: Path
) -> None:
    name = f"claude-perf-test-copilot-{docker_run.run_id}-{uuid.uuid4().hex[:8]}"
    tls = make_tls(tmp_path / "tls")
    container, base_url, probe = start_copilot(
        docker_run.client, name, tls, args=["--verbose"], labels=docker_run.labels
    )
    docker_run.track(container)
    try:
        records = [
            probe,
            send_raw(base_url, "models", "GET", "/v1/models"),
            send_raw(base_url, "badjson", "POST", "/v1/messages", body=b'{"model": "gpt-4.1",'),
        ]
        records += _load(base_url, tmp_path / "load.jsonl")
        container.stop(timeout=10)
        (tmp_path / "docker-logs-t.txt").write_text(logs_text(container))
    finally:
        remove_quietly(container)

    proc = run_cli("report", "-i", str(tmp_path / "docker-logs-t.txt"), "-f", "json")
    assert proc.returncode == 0, proc.stderr
    s = json.loads(proc.stdout)
    calls = [r for r in records if r.path == "/v1/messages"]
    assert s["requests"]["total"] == len(calls)
    assert s["requests"]["other_endpoints"] == 2
    assert s["requests"]["failed"] == sum(not r.ok for r in calls)
    assert list(s["data_quality"]["dialects"].values()) == [["copilot-api-verbose"]]
    models = {m["model"]: m for m in s["models"]}
    assert {m: v["requests"] for m, v in models.items()} == dict(
        Counter(r.model_asked for r in calls)
    )
    for model, m in models.items():
        ok = [r.latency_s for r in calls if r.model_asked == model and r.ok and not r.stream]
        if ok and m["latency_s"]:
            want = statistics.median(ok)
            assert abs(m["latency_s"]["p50"] - want) <= LATENCY_REL * want, model

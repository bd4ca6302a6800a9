"""The REAL claude-code-router (npm 2.0.0, and 1.0.73 of the 1.0.x line) in a container, routing
to the fake provider.

One short session: health checks, a request without the key (401), a malformed body (400) and
`claude-perf load` over three models and a failing one (503), half streamed, two in flight. The
report on the router's own log file and on `docker logs -t` (the container tails that file)
must both give the client's counts, each model as asked, its p50 near the client's, and tokens
unknown (LOG_LEVEL info); on both versions (the models asked are all `provider,model` names:
1.0.73 logs the routed name, the same here). Without the tail, `docker logs` holds no request
at all.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from claude_perf.ingest.client_records import ClientRecord, record_from_json
from tests.ccr_support import (
    API_KEY,
    CCR1,
    CCR2,
    RouterPackage,
    log_file_text,
    router_config,
    send_raw,
    start_ccr,
    wait_logged,
)
from tests.cli_support import run_cli
from tests.conftest import DockerRun, remove_quietly
from tests.docker_support import logs_text

pytestmark = pytest.mark.docker
MODELS = [
    "fake,fast-model=40%",
    "fake,mid-model=30%",
    "fake,slow-model=20%",
    "fake,broken-model=10%",
]
LATENCY_REL = 0.05  # a shared 2-core machine: the log's p50 against the client's (within 1.6 % on the captures)


def _load(base_url: str, out: Path) -> list[ClientRecord]:
    argv = [sys.executable, "-m", "claude_perf", "load", "--url", base_url, "--api", "anthropic"]
    argv += [a for m in MODELS for a in ("--model", m)]
    argv += ["--requests", "10", "--concurrency", "2", "--stream-share", "50%"]
    argv += ["--max-tokens", "64", "--api-key-env", "CCR_KEY", "--timeout", "30s"]
    argv += ["--store", str(out.with_suffix(".db")), "-o", str(out)]
    env = {**os.environ, "CCR_KEY": API_KEY}
    subprocess.run(argv, check=True, env=env, timeout=300, capture_output=True)
    lines = out.read_text().splitlines()
    return [record_from_json(json.loads(t), f"{out}:{i}") for i, t in enumerate(lines, 1)]


def _session(base_url: str, tmp: Path, probe: ClientRecord) -> list[ClientRecord]:
    bad = b'{"model": "fake,fast-model", "messages": ['
    records = [
        probe,
        send_raw(base_url, "health", "GET", "/health", key=None),
        send_raw(base_url, "nokey", "POST", "/v1/messages", body=b"{}", key=None),
        send_raw(base_url, "badjson", "POST", "/v1/messages", body=bad),
    ]
    return records + _load(base_url, tmp / "load.jsonl")


def _summary(path: Path) -> dict[str, Any]:
    proc = run_cli("report", "-i", str(path), "-f", "json")
    assert proc.returncode == 0, proc.stderr
    out: dict[str, Any] = json.loads(proc.stdout)
    return out


def _start(
    docker_run: DockerRun, home: Path, tail_log: bool, package: RouterPackage = CCR2
) -> tuple[Any, str, ClientRecord]:
    name = f"claude-perf-test-ccr-{docker_run.run_id}-{uuid.uuid4().hex[:8]}"
    config = router_config(log=True, log_level="info")
    container, base_url, probe = start_ccr(
        docker_run.client,
        name,
        home,
        config=config,
        tail_log=tail_log,
        labels=docker_run.labels,
        package=package,
    )
    docker_run.track(container)
    return container, base_url, probe


@pytest.mark.parametrize("package", [CCR2, CCR1], ids=lambda p: p.version)
def test_the_report_on_the_real_router_is_the_clients(
    docker_run: DockerRun, tmp_path: Path, package: RouterPackage
) -> None:
    home = tmp_path / "home"
    container, base_url, probe = _start(docker_run, home, tail_log=True, package=package)
    try:
        records = _session(base_url, tmp_path, probe)
        wait_logged(home, len(records))
        container.stop(timeout=10)
        (tmp_path / "docker-logs-t.txt").write_text(logs_text(container))
    finally:
        remove_quietly(container)
    (tmp_path / "ccr.log").write_text(log_file_text(home))

    calls = [r for r in records if r.path == "/v1/messages"]
    asked = Counter(r.model_asked for r in calls)
    for form in ("ccr.log", "docker-logs-t.txt"):
        s = _summary(tmp_path / form)
        assert s["requests"]["total"] == len(calls), form
        assert s["requests"]["failed"] == sum(not r.ok for r in calls), form
        assert s["health"]["checks"] == 2, form
        models = {m["model"]: m for m in s["models"]}
        assert {m: v["requests"] for m, v in models.items()} == dict(asked), form
        for model, m in models.items():
            ok = [r.latency_s for r in calls if r.model_asked == model and r.ok]
            if ok:
                want = statistics.median(ok)
                assert abs(m["latency_s"]["p50"] - want) <= LATENCY_REL * want, (form, model)
            assert m["tokens"] is None  # LOG_LEVEL info: no usage logged
        assert s["errors"]["by_class"] == {
            "auth": 1,
            "validation": 1,
            "server": asked["fake,broken-model"],
        }


def test_without_a_tail_docker_logs_shows_no_request(docker_run: DockerRun, tmp_path: Path) -> None:
    home = tmp_path / "home"
    container, base_url, probe = _start(docker_run, home, tail_log=False)
    try:
        send_raw(base_url, "health", "GET", "/health", key=None)
        wait_logged(home, 2)
        logs = logs_text(container, timestamps=False)
    finally:
        remove_quietly(container)
    assert logs.strip() == "Loaded JSON config from: /root/.claude-code-router/config.json"
    assert probe.status == 200
    assert log_file_text(home).count('"msg":"request completed"') == 2

"""The collector and the store against a REAL Docker Engine (start one: bash .ci/docker-up.sh).

A known workload goes to the stand-in proxy over 127.0.0.1; we collect through the command
function, report from the store, and compare with what the client saw and with `docker stats`
figures read at the same moment. Synchronisation is by polling with bounded deadlines.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from claude_perf.commands import CollectOptions, ReportOptions, collect, report
from claude_perf.config import Config
from claude_perf.durations import engine_timestamp, now_ns, parse_instant_ns
from claude_perf.store import Store

try:
    from tests.docker_support import (
        BUSYBOX_TAG,
        LABELS,
        Step,
        build_busybox_image,
        drive_workload,
        logs_text,
    )
except ImportError:
    from docker_support import (  # type: ignore[no-redef]
        BUSYBOX_TAG,
        LABELS,
        Step,
        build_busybox_image,
        drive_workload,
        logs_text,
    )

pytestmark = pytest.mark.docker
REPO = Path(__file__).resolve().parent.parent
DEADLINE_S = 120.0

PLAN = [
    Step("haiku 1", "haiku"),
    Step("sonnet 1", "sonnet"),
    Step("opus 1", "opus"),
    Step("haiku 2", "haiku"),
    Step("sonnet 2", "sonnet"),
    Step("opus 2", "opus"),
    Step("haiku 3", "haiku"),
    Step("sonnet 3", "sonnet"),
    Step("login failure", "haiku", prompt="LOGIN_FAIL"),
    Step("usage limit", "haiku", prompt="USAGE_LIMIT"),
    Step("crash", "haiku", prompt="CRASH"),
    Step("bad key", "sonnet", api_key="wrong-key"),
    Step("malformed", "sonnet", raw_body=b'{"model": "sonnet", "messages": [,]}'),
]


def poll(check: Any, what: str, deadline_s: float = DEADLINE_S) -> Any:
    """Call ``check`` until it returns something truthy, or fail after the deadline."""
    end = time.monotonic() + deadline_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise TimeoutError(f"gave up waiting for {what}")
        time.sleep(0.1)


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "claude_perf", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


@pytest.fixture
def busybox(docker_client: Any) -> Iterator[Any]:
    """Run busybox commands in labelled containers; removed afterwards."""
    build_busybox_image(docker_client)
    made: list[Any] = []

    def start(command: list[str]) -> Any:
        container = docker_client.containers.run(
            BUSYBOX_TAG,
            command,
            name=f"claude-perf-test-bb-{uuid.uuid4().hex[:8]}",
            labels=LABELS,
            detach=True,
        )
        made.append(container)
        return container

    yield start
    for container in made:
        with contextlib.suppress(Exception):
            container.remove(force=True)


def exited(container: Any) -> bool:
    container.reload()
    return bool(container.status == "exited")


def test_workload_collected_and_reported_as_the_client_saw_it(
    standin_proxy: tuple[Any, str], tmp_path: Path
) -> None:
    container, base_url = standin_proxy
    since = engine_timestamp(now_ns() - 300 * 10**9)
    outcomes = drive_workload(base_url, PLAN)
    seen = {o.label: o.status for o in outcomes}
    assert seen["bad key"] == 401 and seen["malformed"] == 422 and seen["crash"] == 500
    # every completion is logged when the response is sent: wait for the last access line
    poll(lambda: logs_text(container).count('"POST /v1/chat/completions') >= len(PLAN), "logs")
    until_ns = now_ns()
    store = tmp_path / "store.db"
    options = CollectOptions(
        config=Config(),
        containers=(container.name,),
        since=since,
        until=engine_timestamp(until_ns),
        store=store,
    )
    first = collect(options)
    assert first.lines_new > 0 and first.samples == 1

    # collecting again stores no line twice
    with Store(store) as opened:
        rows_before = opened.line_count()
    again = collect(options)
    assert again.lines_new == 0
    assert again.lines_already > 0
    with Store(store) as opened:
        assert opened.line_count() == rows_before
        distinct = opened.conn.execute(
            "SELECT COUNT(*) FROM (SELECT DISTINCT container_key, ts_ns, stream, line "
            "FROM log_lines)"
        ).fetchone()[0]
        assert distinct == rows_before

    # the store holds exactly what `docker logs -t --until` shows (no line lost or doubled)
    engine_lines = [
        line
        for line in logs_text(container).splitlines()
        if parse_instant_ns(line.split(" ", 1)[0]) <= until_ns
        and parse_instant_ns(line.split(" ", 1)[0]) >= parse_instant_ns(since)
    ]
    assert rows_before == len(engine_lines)

    outcome = report(
        ReportOptions(
            config=Config(),
            format="json",
            store=store,
            containers=(container.name,),
            since=since,
            github_summary=False,
        )
    )
    summary = outcome.summary
    assert summary["lines"]["total"] == len(engine_lines)
    models = {m["model"]: m for m in summary["models"]}
    # what the client saw, per model and outcome
    assert models["sonnet"]["requests"] == 3 and models["sonnet"]["succeeded"] == 3
    assert models["opus"]["requests"] == 2 and models["opus"]["succeeded"] == 2
    assert models["haiku"]["requests"] == 6
    assert models["haiku"]["succeeded"] == 3 and models["haiku"]["failed"] == 3
    assert summary["requests"]["total"] == len(PLAN)
    assert summary["requests"]["succeeded"] == 8
    assert summary["requests"]["failed"] == 5
    assert summary["errors"]["total"] == 5
    # p50 per model within 15 % of the client's own timing
    for model in ("haiku", "sonnet", "opus"):
        client_s = statistics.median(
            o.elapsed_s
            for o in outcomes
            if o.model == model and o.status == 200 and o.label.startswith(model)
        )
        latency = models[model]["latency_s"]
        assert latency is not None, model
        assert latency["p50"] == pytest.approx(client_s, rel=0.15), model
    # health checks: every in-container probe access line in the window is counted
    probes = sum('"GET /health HTTP/1.1" 200' in line for line in engine_lines)
    assert probes > 0
    assert summary["health"]["checks"] == probes
    # resources and container facts from the store
    assert summary["resources"]["samples"] == 2
    assert summary["resources"]["mem_bytes"]["max"] > 0
    assert summary["container"]["name"] == container.name
    assert summary["container"]["health_config"]["interval_s"] == pytest.approx(1.0)
    assert {e["action"] for e in summary["container"]["events"]} >= {"start"}


def test_sample_matches_docker_stats_read_at_the_same_time(busybox: Any, tmp_path: Path) -> None:
    # one core busy, memory held by a shell variable: figures that are not near zero
    container = busybox(["sh", "-c", "x=$(seq 1 200000); while :; do :; done"])
    poll(lambda: container.stats(stream=False)["memory_stats"].get("usage"), "a running busybox")
    reference: dict[str, Any] = {}

    def read_reference() -> None:
        reference["frame"] = container.stats(stream=False)  # as `docker stats --no-stream`

    thread = threading.Thread(target=read_reference)
    thread.start()
    outcome = collect(
        CollectOptions(
            config=Config(),
            containers=(container.name,),
            store=tmp_path / "s.db",
            since=engine_timestamp(now_ns()),
        )
    )
    thread.join(timeout=60)
    assert outcome.samples == 1
    frame = reference["frame"]
    cpu, pre = frame["cpu_stats"], frame["precpu_stats"]
    docker_cpu = (
        (cpu["cpu_usage"]["total_usage"] - pre["cpu_usage"]["total_usage"])
        / (cpu["system_cpu_usage"] - pre["system_cpu_usage"])
        * (cpu.get("online_cpus") or len(cpu["cpu_usage"]["percpu_usage"]))
        * 100
    )
    mem = frame["memory_stats"]
    stats = mem["stats"]
    inactive = stats.get("total_inactive_file", stats.get("inactive_file", 0))
    docker_mem = mem["usage"] - inactive if inactive < mem["usage"] else mem["usage"]
    with Store(tmp_path / "s.db") as store:
        (row,) = store.conn.execute("SELECT cpu_pct, mem_used_bytes FROM samples").fetchall()
    # The busy loop shows up (how much of a core it gets depends on the machine's load); the
    # two readings cover overlapping, not identical, intervals of about a second.
    assert docker_cpu > 20
    assert row[0] == pytest.approx(docker_cpu, abs=20.0)
    assert row[1] == pytest.approx(docker_mem, rel=0.10)


def test_collect_killed_mid_way_then_completed_has_every_line_once(
    busybox: Any, tmp_path: Path
) -> None:
    lines = 500_000
    container = busybox(["seq", "1", str(lines)])
    poll(lambda: exited(container), "seq to finish")
    store = tmp_path / "s.db"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "claude_perf",
            "collect",
            "--container",
            container.name,
            "--store",
            str(store),
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def stored() -> int:
        if not store.exists():
            return 0
        try:
            with sqlite3.connect(store, timeout=5) as conn:
                return int(conn.execute("SELECT COUNT(*) FROM log_lines").fetchone()[0])
        except sqlite3.OperationalError:
            return 0  # the schema is not there yet

    try:
        poll(lambda: stored() > 0 and proc.poll() is None, "the first committed batch")
        assert proc.poll() is None, "the collect finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    partial = stored()
    assert 0 < partial < lines
    result = collect(CollectOptions(config=Config(), containers=(container.name,), store=store))
    with Store(store) as opened:
        assert opened.line_count() == lines
        numbers = [int(r[0]) for r in opened.conn.execute("SELECT line FROM log_lines")]
    assert sorted(numbers) == list(range(1, lines + 1))
    assert result.lines_new == lines - partial


def test_dead_engine_is_one_line_naming_docker_host(tmp_path: Path) -> None:
    result = run_cli(
        "collect",
        "--store",
        str(tmp_path / "s.db"),
        env={"DOCKER_HOST": "unix:///nonexistent.sock"},
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "DOCKER_HOST=unix:///nonexistent.sock" in lines[0]
    assert "Traceback" not in result.stderr


def test_missing_container_lists_running_ones(busybox: Any, tmp_path: Path) -> None:
    running = busybox(["sleep", "300"])
    poll(lambda: not exited(running) and running.status == "running", "sleep to run")
    result = run_cli(
        "collect", "--container", "no-such-container-x", "--store", str(tmp_path / "s.db")
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "no container 'no-such-container-x'" in lines[0]
    assert running.name in lines[0]

"""A collect over two REAL engines: the first (.ci/docker-up.sh) and a second dockerd on its own
socket (.ci/docker2-up.sh, started here when it does not answer).

- 2 engines × 2 containers in one collect: per-replica figures equal each container's own
  single-engine report, fleet counts equal their sums;
- the second engine stopped in the middle of a collect (synchronised on the collector's first
  stored batch of its container, not on a sleep): the first engine's lines are all there, the
  outcome names the missing engine, and the rerun completes it with no line doubled;
- an unreachable --host: the others are stored and the CLI exits 4 naming it.
Containers are busybox (no pulls; the image is built on each engine) that log json-events lines.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from claude_perf.cli.commands import CollectOptions, ReportOptions, collect, report
from claude_perf.collect.dispatch import collect as run_collect
from claude_perf.collect.run import CollectRequest
from claude_perf.config.schema import Config
from claude_perf.store.db import Store
from claude_perf.store.read import line_rows
from tests.cli_support import ROOT, run_cli
from tests.conftest import DockerRun
from tests.docker_support import BUSYBOX_TAG, build_busybox_image, poll

pytestmark = pytest.mark.docker

FIRST = "unix:///var/run/docker.sock"
SECOND_SOCK = Path(os.environ.get("DOCKER2_SOCK", "/var/run/docker2.sock"))
SECOND = f"unix://{SECOND_SOCK}"
SECOND_PIDFILE = Path(os.environ.get("DOCKER2_PIDFILE", "/var/run/docker2.pid"))


def _answers(url: str) -> Any:
    import docker

    try:
        client = docker.DockerClient(base_url=url, timeout=30)
        client.ping()
        return client
    except Exception:
        return None


def start_second_engine() -> Any:
    """A client of the second engine, started by .ci/docker2-up.sh when it does not answer."""
    client = _answers(SECOND)
    if client is not None:
        return client
    done = subprocess.run(
        ["bash", str(ROOT / ".ci" / "docker2-up.sh")],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    client = _answers(SECOND)
    if client is None:
        msg = (
            "THE SECOND DOCKER ENGINE COULD NOT START - two-engine tests not run "
            f"(bash .ci/docker2-up.sh: {(done.stderr or done.stdout).strip()[-300:]})"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    return client


@pytest.fixture(scope="module")
def engines(docker_run: DockerRun) -> Iterator[tuple[DockerRun, DockerRun]]:
    """This run's registries on the first and the second engine (each removes only its own)."""
    second = DockerRun(start_second_engine(), run_id=docker_run.run_id)
    yield docker_run, second
    with contextlib.suppress(Exception):  # the second engine may be down after a failed test
        second.client = start_second_engine()
        second.cleanup()


def events_command(prefix: str, latencies_ms: list[int], failed: int = 0) -> list[str]:
    """busybox sh printing json-events (start, complete or error) lines, then idling (TERM ends it)."""
    lines = []
    for i, ms in enumerate(latencies_ms):
        rid = f"{prefix}-{i}"
        lines.append(json.dumps({"event": "request.start", "requestId": rid, "model": "opus"}))
        if i < failed:
            end = {"event": "request.error", "requestId": rid, "reason": "upstream 500"}
        else:
            end = {"event": "request.complete", "requestId": rid, "model": "opus"}
            end["durationMs"] = ms
        lines.append(json.dumps(end))
    script = "trap 'exit 0' TERM; cat <<'EOF'\n" + "\n".join(lines) + "\nEOF\n"
    script += "while :; do sleep 1; done"
    return ["sh", "-c", script]


def run_busybox(run: DockerRun, name: str, command: list[str]) -> Any:
    build_busybox_image(run.client)
    container = run.client.containers.run(
        BUSYBOX_TAG, command, name=name, labels=run.labels, detach=True
    )
    return run.track(container)


def logged_lines(container: Any) -> int:
    return len(container.logs(timestamps=True).splitlines())


def summary_of(store: Path, containers: tuple[str, ...] = ()) -> dict[str, Any]:
    options = ReportOptions(
        config=Config(), format="json", store=store, containers=containers, github_summary=False
    )
    return report(options).summary


def test_two_engines_two_containers_each_replica_equals_its_own_report(
    engines: tuple[DockerRun, DockerRun], tmp_path: Path
) -> None:
    first, second = engines
    tag = uuid.uuid4().hex[:8]
    # (engine, name, latencies in ms, how many of the first requests failed)
    plans = [
        (first, FIRST, f"cp-fleet-{tag}-a1", [800, 900, 1000, 1100], 0),
        (first, FIRST, f"cp-fleet-{tag}-a2", [300] * 6, 1),
        (second, SECOND, f"cp-fleet-{tag}-b1", [5000, 5200, 6000], 0),
        (second, SECOND, f"cp-fleet-{tag}-b2", [400, 450, 500, 550, 600], 2),
    ]
    started = {
        name: run_busybox(run, name, events_command(name, latencies, failed))
        for run, _, name, latencies, failed in plans
    }
    for _, _, name, latencies, _ in plans:
        container = started[name]
        want = 2 * len(latencies)
        poll(lambda c=container, w=want: logged_lines(c) >= w, f"{name}'s lines")
    names = tuple(started)
    fleet_store = tmp_path / "fleet.db"
    outcome = collect(
        CollectOptions(config=Config(), containers=names, store=fleet_store, hosts=(FIRST, SECOND))
    )
    assert outcome.missing == ()
    assert sorted(c.name for c in outcome.containers) == sorted(names)
    assert {c.engine for c in outcome.containers} == {FIRST, SECOND}
    fleet = summary_of(fleet_store)
    replicas = {r["container"]: r for r in fleet["replicas"]}
    assert sorted(replicas) == sorted(names)
    for _, host, name, latencies, failed in plans:
        assert replicas[name]["engine"] == host
        own_store = tmp_path / f"{name}.db"
        collect(CollectOptions(config=Config(), containers=(name,), store=own_store, hosts=(host,)))
        alone = summary_of(own_store)
        entry = replicas[name]
        assert entry["requests"] == {
            "total": len(latencies),
            "succeeded": len(latencies) - failed,
            "failed": failed,
        }
        assert entry["requests"] == {
            k: alone["requests"][k] for k in ("total", "succeeded", "failed")
        }
        assert entry["latency_s"] == alone["latency_s"]
        assert entry["errors"]["by_class"] == alone["errors"]["by_class"]
        assert entry["resources"]["mem_bytes"] is not None
    for key in ("total", "succeeded", "failed"):
        assert fleet["requests"][key] == sum(r["requests"][key] for r in replicas.values())
    assert fleet["requests"]["total"] == 18
    assert fleet["lines"]["total"] == sum(logged_lines(c) for c in started.values())


def test_second_engine_lost_mid_collect_then_completed(
    engines: tuple[DockerRun, DockerRun], tmp_path: Path
) -> None:
    first, second = engines
    tag = uuid.uuid4().hex[:8]
    small = run_busybox(first, f"cp-fleet-{tag}-small", events_command("s", [100, 200, 300]))
    lines = 60_000
    big = run_busybox(
        second,
        f"cp-fleet-{tag}-big",
        ["sh", "-c", f"trap 'exit 0' TERM; seq 1 {lines}; while :; do sleep 1; done"],
    )
    poll(lambda: logged_lines(small) >= 6, "the small container's lines")
    poll(lambda: logged_lines(big) >= lines, "the big container's lines", 180)
    store = tmp_path / "s.db"
    stopped: list[int] = []

    def big_rows() -> int:
        try:
            with contextlib.closing(sqlite3.connect(store, timeout=5)) as conn:
                row = conn.execute(
                    "SELECT SUM(b.lines) FROM log_blocks b JOIN containers c ON c.key = "
                    "b.container_key WHERE c.id = ?",
                    (big.id,),
                ).fetchone()
                return int(row[0] or 0)
        except sqlite3.OperationalError:
            return 0

    def on_progress(what: str, done: int, total: int | None) -> None:
        # Called by the collector's store writer after each batch it stored: once the big
        # container's first batch is in, stop the second engine (this blocks that writer, so
        # the collect cannot finish the big container before its engine is gone).
        if stopped or what != "logs" or big_rows() == 0:
            return
        pid = int(SECOND_PIDFILE.read_text().strip())
        os.kill(pid, signal.SIGTERM)
        stopped.append(pid)
        poll(lambda: not _alive(pid), "the second dockerd to exit", 60)

    try:
        outcome = run_collect(
            CollectRequest(
                containers=(small.name, big.name),
                store=store,
                hosts=(FIRST, SECOND),
                batch_lines=500,
                progress=on_progress,
            )
        )
    finally:
        second.client = start_second_engine()  # back up for the rerun and other tests
    assert stopped, "the second engine was never stopped"
    assert len(outcome.missing) == 1 and outcome.missing[0].startswith(f"{SECOND}: ")
    assert [c.name for c in outcome.containers] == [small.name]
    with Store(store) as opened:
        key_small = opened.container_key(small.id)
        assert key_small is not None
        assert opened.line_count(key_small) == logged_lines(small)
    partial = big_rows()
    assert 0 < partial < lines
    # a report of the window says the fleet is incomplete
    notes = summary_of(store)["data_quality"]["notes"]
    assert any(f"engine missing from this collect: {SECOND}" in n for n in notes), notes
    # the rerun completes the missing engine's container, nothing doubled
    again = collect(
        CollectOptions(
            config=Config(), containers=(small.name, big.name), store=store, hosts=(FIRST, SECOND)
        )
    )
    assert again.missing == ()
    big_again = second.client.containers.get(big.id)
    assert big_rows() == logged_lines(big_again) >= lines
    with Store(store) as opened:
        big_key = opened.container_key(big.id)
        assert big_key is not None
        numbers = [r[3] for r in line_rows(opened.conn, big_key)]
    assert sorted(int(n) for n in numbers) == list(range(1, lines + 1))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):
        status = Path(f"/proc/{pid}/stat").read_text().split()[2]
        return status != "Z"
    return False


def test_unreachable_host_is_a_partial_collect_exit_4(busybox: Any, tmp_path: Path) -> None:
    container = busybox(["sh", "-c", "echo ready; while :; do sleep 1; done"])
    poll(lambda: logged_lines(container) >= 1, "the container's line")
    store = tmp_path / "s.db"
    done = run_cli(
        "collect",
        "--host", FIRST,
        "--host", "unix:///nonexistent-claude-perf.sock",
        "--container", container.name,
        "--store", str(store),
    )  # fmt: skip
    assert done.returncode == 4, done.stderr
    assert "unix:///nonexistent-claude-perf.sock" in done.stderr
    assert "collect again to fill the gap" in done.stderr
    assert "Traceback" not in done.stderr
    with Store(store) as opened:
        assert opened.line_count() == 1
    bad = run_cli("collect", "--host", "docker.example:2375", "--store", str(store))
    assert bad.returncode == 2 and "is not an engine URL" in bad.stderr


@pytest.fixture
def swarm_manager(docker_run: DockerRun) -> Iterator[Any]:
    """A single-node Swarm on the first engine (advertised on 127.0.0.1), left afterwards when
    this test made it."""
    client = docker_run.client
    state = (client.info().get("Swarm") or {}).get("LocalNodeState")
    made = state == "inactive"
    if made:
        client.swarm.init(advertise_addr="127.0.0.1", listen_addr="127.0.0.1:2377")
    elif state != "active":
        pytest.fail(f"the engine's Swarm is {state!r}: neither inactive nor active")
    try:
        yield client
    finally:
        if made:
            client.swarm.leave(force=True)


def test_service_replicas_are_collected_and_reported(
    swarm_manager: Any, docker_run: DockerRun, tmp_path: Path
) -> None:
    import docker

    client = swarm_manager
    build_busybox_image(client)
    name = f"cp-fleet-svc-{uuid.uuid4().hex[:8]}"
    service = client.services.create(
        BUSYBOX_TAG,
        events_command(name, [700, 800, 900]),
        name=name,
        mode=docker.types.ServiceMode("replicated", replicas=2),
        container_labels=docker_run.labels,
    )
    try:

        def replicas() -> list[Any]:
            found = client.containers.list(
                filters={"label": f"com.docker.swarm.service.name={name}"}, ignore_removed=True
            )
            return found if len(found) == 2 and all(logged_lines(c) >= 6 for c in found) else []

        containers = poll(replicas, "both replicas running with their lines", 180)
        store = tmp_path / "svc.db"
        outcome = collect(CollectOptions(config=Config(), services=(name,), store=store))
        assert sorted(c.id for c in outcome.containers) == sorted(c.id for c in containers)
        summary = summary_of(store)
        entries = summary["replicas"]
        assert [r["service"] for r in entries] == [name, name]
        tasks = {t["ID"] for t in service.tasks(filters={"desired-state": "running"})}
        assert {r["task"] for r in entries} == tasks
        assert [r["requests"]["total"] for r in entries] == [3, 3]
        assert summary["requests"]["total"] == 6
        # The same service saved as users save it (the docker CLI's `service logs -t`, task
        # names before a `|`): one source per task, the same counts.
        saved = tmp_path / "service.log"
        logs = subprocess.run(
            ["docker", "service", "logs", "-t", name], capture_output=True, check=True, timeout=60
        )
        saved.write_bytes(logs.stdout)
        done = run_cli("report", "-i", str(saved), "-f", "json")
        assert done.returncode == 0, done.stderr
        from_file = json.loads(done.stdout)
        assert from_file["requests"]["total"] == 6
        assert sorted(r["requests"]["total"] for r in from_file["replicas"]) == [3, 3]
        assert all("@" in r["container"] for r in from_file["replicas"])
    finally:
        service.remove()
        # ignore_removed: a container removed between the engine's list and its inspect
        poll(lambda: not client.containers.list(
            all=True, filters={"label": f"com.docker.swarm.service.name={name}"},
            ignore_removed=True,
        ), "the service's containers to go", 120)  # fmt: skip


@pytest.fixture
def two_node_swarm(
    swarm_manager: Any, engines: tuple[DockerRun, DockerRun]
) -> Iterator[tuple[Any, Any]]:
    """The second engine joined to the first's Swarm as a worker (its own swarm port, 2378, on
    127.0.0.1), left afterwards when this test joined it."""
    worker = engines[1].client
    state = (worker.info().get("Swarm") or {}).get("LocalNodeState")
    joined = state == "inactive"
    if joined:
        token = swarm_manager.swarm.attrs["JoinTokens"]["Worker"]
        worker.swarm.join(
            remote_addrs=["127.0.0.1:2377"],
            join_token=token,
            listen_addr="127.0.0.1:2378",
            advertise_addr="127.0.0.1:2378",
        )
    try:
        yield swarm_manager, worker
    finally:
        if joined:
            worker.swarm.leave(force=True)


def test_a_task_on_a_node_not_given_comes_through_the_service_logs(
    two_node_swarm: tuple[Any, Any], docker_run: DockerRun, tmp_path: Path
) -> None:
    import docker

    manager, worker = two_node_swarm
    for client in (manager, worker):
        build_busybox_image(client)
    name = f"cp-fleet-svc2-{uuid.uuid4().hex[:8]}"
    service = manager.services.create(
        BUSYBOX_TAG,
        events_command(name, [700, 800, 900]),
        name=name,
        mode=docker.types.ServiceMode("replicated", replicas=2),
        maxreplicas=1,  # one task per node
        container_labels=docker_run.labels,
    )
    label = {"label": f"com.docker.swarm.service.name={name}"}
    try:

        def one_on_each() -> bool:
            here, there = (
                manager.containers.list(filters=label, ignore_removed=True),
                worker.containers.list(filters=label, ignore_removed=True),
            )
            return (
                len(here) == 1
                and len(there) == 1
                and logged_lines(here[0]) >= 6
                and logged_lines(there[0]) >= 6
            )

        poll(one_on_each, "one running task with its lines on each node", 180)
        (remote,) = worker.containers.list(filters=label)
        remote_task = remote.labels["com.docker.swarm.task.id"]
        # only the manager given: the worker's task comes through the service logs
        store = tmp_path / "svc.db"
        outcome = collect(CollectOptions(config=Config(), services=(name,), store=store))
        assert len(outcome.containers) == 1 and outcome.missing == ()
        assert any(remote_task[:12] in n and "service-logs" in n for n in outcome.notes)
        summary = summary_of(store)
        entries = {r["task"]: r for r in summary["replicas"]}
        assert len(entries) == 2
        assert entries[remote_task]["requests"]["total"] == 3
        assert entries[remote_task]["resources"] == {"cpu_pct": None, "mem_bytes": None}
        assert summary["requests"]["total"] == 6
        # both engines given: the task is read on its own engine, and counted once
        again = collect(
            CollectOptions(config=Config(), services=(name,), store=store, hosts=(FIRST, SECOND))
        )
        assert len(again.containers) == 2
        assert not any("service-logs" in n for n in again.notes)
        summary = summary_of(store)
        assert summary["requests"]["total"] == 6
        entries = {r["task"]: r for r in summary["replicas"]}
        assert entries[remote_task]["engine"] == SECOND
        assert entries[remote_task]["resources"]["mem_bytes"] is not None
    finally:
        service.remove()
        for client in (manager, worker):
            poll(lambda c=client: not c.containers.list(all=True, filters=label, ignore_removed=True),
                 "the service's containers to go", 120)  # fmt: skip

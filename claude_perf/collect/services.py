"""Swarm services: ``--service NAME`` collects the replicas (tasks) of a service.

On every engine given, a service's task containers are the ones carrying Swarm's label
``com.docker.swarm.service.name=NAME`` (Swarm sets it on each task's container), so each task is
collected on the engine that runs it, with its resources and facts. On a manager the service's
running tasks are also listed (docker-py ``Service.tasks``); a task on a node whose engine is not
among those collected gets its logs through the manager's service-logs endpoint instead
(``details=1`` names each line's task), stored as a container ``task:ID`` on the manager, with a
note that its resources and container facts are missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from claude_perf.collect.facts import SWARM_SERVICE_LABEL
from claude_perf.errors import TargetError

_TASK_KEY = "com.docker.swarm.task.id="
TASK_PREFIX = "task:"  # the store id of a task read through the service-logs endpoint


@dataclass(frozen=True)
class RemoteTask:
    """A running task of a service on a node other than the manager's."""

    service: str
    service_id: str
    task_id: str
    node_id: str
    slot: int | None


def service_labels(services: Sequence[str]) -> list[str]:
    """The label filters that select the services' task containers on any engine."""
    return [f"{SWARM_SERVICE_LABEL}={name}" for name in services]


def node_of(info: Mapping[str, Any]) -> str:
    """This engine's Swarm node id ('' when not in a swarm)."""
    return str((info.get("Swarm") or {}).get("NodeID") or "")


def remote_tasks(client: Any, info: Mapping[str, Any], services: Sequence[str]) -> list[RemoteTask]:
    """The services' running tasks on other nodes (none when this engine is not a manager)."""
    from docker.errors import NotFound

    if not (info.get("Swarm") or {}).get("ControlAvailable"):
        return []
    node = node_of(info)
    found = []
    for name in services:
        try:
            service = client.services.get(name)
        except NotFound as exc:
            raise TargetError(f"no Swarm service '{name}' (see `docker service ls`)") from exc
        for task in service.tasks(filters={"desired-state": "running"}):
            if task.get("NodeID") and task["NodeID"] != node:
                found.append(
                    RemoteTask(name, service.id, str(task["ID"]), task["NodeID"], task.get("Slot"))
                )
    return found


def collect_service_logs(
    client: Any, store: Any, engine: Mapping[str, Any], tasks: Sequence[RemoteTask], request: Any
) -> list[str]:
    """The tasks' logs through the manager's service-logs endpoint into the store; notes."""
    notes = []
    by_service: dict[str, list[RemoteTask]] = {}
    for task in tasks:
        by_service.setdefault(task.service_id, []).append(task)
    for service_id, mine in by_service.items():
        keys = {
            t.task_id: store.save_container(
                {
                    "id": f"{TASK_PREFIX}{t.task_id}",
                    "name": f"{t.service}.{t.slot}.{t.task_id}" if t.slot else t.task_id,
                    "engine": dict(engine),
                    "service": t.service,
                    "task": t.task_id,
                    "via": "service-logs",
                    "health_log": [],
                }
            )
            for t in mine
        }
        since_ns = _since_ns(store, keys.values(), request.since_ns)
        rows = _service_rows(client.api, service_id, since_ns)
        for task in mine:
            key = keys[task.task_id]
            stored = [(ts, stream, text) for tid, ts, stream, text in rows if tid == task.task_id]
            if stored:
                store.add_lines(key, stored, since_ns)
            notes.append(
                f"task {task.task_id[:12]} of service {task.service} runs on node "
                f"{task.node_id[:12]}, whose engine was not collected: its logs came through the "
                "service-logs endpoint; its resources and container facts are missing"
            )
    return notes


def _since_ns(store: Any, keys: Any, asked: int | None) -> int:
    """From the earliest of the tasks' cursors (re-fetched lines are stored once)."""
    from claude_perf.collect.logs import CURSOR_MARGIN_NS

    starts = []
    for key in keys:
        cursor = store.cursor(key)
        starts.append(0 if cursor is None else max(0, cursor.log_ts_ns - CURSOR_MARGIN_NS))
    return max(asked or 0, min(starts, default=0))


def _service_rows(api: Any, service_id: str, since_ns: int) -> list[tuple[str, int, str, str]]:
    """(task id, ts_ns, stream, text) of a service's log (the service-logs endpoint has no
    `until`; the whole answer is read, a service's log through this path being the fallback)."""
    from claude_perf.collect.frames import FrameParser
    from claude_perf.collect.logstream import read_blocks
    from claude_perf.durations import engine_timestamp

    params: dict[str, Any] = {
        "details": 1,
        "stdout": 1,
        "stderr": 1,
        "timestamps": 1,
        "follow": 0,
        "tail": "all",
    }
    if since_ns:
        params["since"] = engine_timestamp(since_ns)
    response = api._get(api._url("/services/{0}/logs", service_id), params=params, stream=True)
    api._raise_for_status(response)
    rows: list[tuple[int, str, str]] = []
    parser = FrameParser()
    try:
        for block in read_blocks(response.raw):
            parser.feed(block, rows)
        parser.finish(rows)
    finally:
        response.close()
    out = []
    for ts, stream, text in rows:
        details, _, message = text.partition(" ")
        task = ""
        for pair in details.split(","):
            if pair.startswith(_TASK_KEY):
                task = pair[len(_TASK_KEY) :]
        out.append((task, ts, stream, message))
    return out

"""Swarm services: ``--service NAME`` collects the replicas (tasks) of a service.

On every engine given, a service's task containers are the ones carrying Swarm's label
``com.docker.swarm.service.name=NAME`` (Swarm sets it on each task's container), so each task is
collected on the engine that runs it, with its resources. On a manager, the service's tasks are
also listed (docker-py ``Service.tasks``): a running task on a node whose engine is not this one
is named in a note, since its logs and resources come only from its own engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from claude_perf.collect.facts import SWARM_SERVICE_LABEL
from claude_perf.errors import TargetError


def service_labels(services: Sequence[str]) -> list[str]:
    """The label filters that select the services' task containers on any engine."""
    return [f"{SWARM_SERVICE_LABEL}={name}" for name in services]


def tasks_elsewhere(client: Any, services: Sequence[str]) -> list[str]:
    """Notes on the services' running tasks on other nodes (none when not a manager)."""
    from docker.errors import APIError, NotFound

    try:
        node = str((client.info().get("Swarm") or {}).get("NodeID") or "")
        manager = bool((client.info().get("Swarm") or {}).get("ControlAvailable"))
    except APIError:
        return []
    if not manager:
        return []
    notes = []
    for name in services:
        try:
            tasks = client.services.get(name).tasks(filters={"desired-state": "running"})
        except NotFound as exc:
            raise TargetError(f"no Swarm service '{name}' (see `docker service ls`)") from exc
        for task in tasks:
            if task.get("NodeID") and task["NodeID"] != node:
                notes.append(
                    f"task {str(task.get('ID'))[:12]} of service {name} runs on node "
                    f"{str(task['NodeID'])[:12]}: collected only when that node's engine is "
                    "given too (--host or --context)"
                )
    return notes

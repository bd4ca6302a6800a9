"""What the engine says about a container besides its logs: inspect facts and engine events."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from claude_perf.durations import NS_PER_S
from claude_perf.ingest.inspect_facts import (  # re-exported: collect reads facts here
    COMPOSE_SERVICE_LABEL,
    SWARM_SERVICE_LABEL,
    SWARM_TASK_LABEL,
    container_facts,
)

_PROBE_ACTIONS = ("exec_create", "exec_start", "exec_die")
__all__ = [
    "COMPOSE_SERVICE_LABEL",
    "SWARM_SERVICE_LABEL",
    "SWARM_TASK_LABEL",
    "container_facts",
    "created_ns",
    "engine_events",
]


def engine_events(
    client: Any, container_id: str, since_s: int, until_s: int
) -> list[tuple[int, str, dict[str, Any]]]:
    """(time_ns, action, attributes) of a container's events in [since, until], probes left out.

    Health probes appear as exec_create/exec_start/exec_die events, one of each per probe; the
    probes themselves come from inspect's Health log, so those are not stored.
    """
    out = []
    stream = client.events(
        since=since_s, until=until_s, filters={"container": container_id}, decode=True
    )
    try:
        for event in stream:
            action = str(event.get("Action") or event.get("status") or "")
            if event.get("Type", "container") != "container" or action.startswith(_PROBE_ACTIONS):
                continue
            time_ns = event.get("timeNano") or int(event.get("time", 0)) * NS_PER_S
            attributes = (event.get("Actor") or {}).get("Attributes") or {}
            keep = {k: v for k, v in attributes.items() if k in ("exitCode", "signal", "name")}
            out.append((int(time_ns), action, keep))
    finally:
        with contextlib.suppress(Exception):
            stream.close()
    return out


def created_ns(attrs: Mapping[str, Any]) -> int:
    from claude_perf.collect.stats import rfc3339_ns

    return rfc3339_ns(attrs.get("Created")) or 0

"""``report --health``: a saved ``State.Health`` record or ``docker inspect`` output as facts.

Two shapes, both the Engine API's ContainerInspect response or a part of it:

- ``docker inspect --format '{{json .State.Health}}' NAME``: ``Status``, ``FailingStreak`` and
  ``Log`` (the engine's latest probes, each ``Start``, ``End``, ``ExitCode``, ``Output``). It
  names no container: the facts take the ``--stats`` lines' container when they name exactly one.
- ``docker inspect NAME``: a JSON array of one container object; its ``State.Health`` and the
  rest of its facts (Name, Id, State.StartedAt/Status/OOMKilled, RestartCount,
  Config.Healthcheck) through ``ingest.inspect_facts.container_facts``, as ``collect`` reads them.

Neither carries the engine's events (die, start, oom), so uptime and exits in the window stay
unknown: the facts say so with ``"source": "health-file"`` or ``"inspect-file"``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from claude_perf.errors import InputError
from claude_perf.ingest.bounded import read_side_file
from claude_perf.ingest.inspect_facts import container_facts, probe_log

MAX_HEALTH_FILE_BYTES = 64 * 1024 * 1024
HAND_SOURCES = ("health-file", "inspect-file")  # facts without engine events


def _json_of(path: str) -> Any:
    raw = read_side_file(path, "health")
    if len(raw) > MAX_HEALTH_FILE_BYTES:
        raise InputError(f"{path}: over {MAX_HEALTH_FILE_BYTES} bytes: not a health file")
    try:
        return json.loads(raw.decode("utf-8", errors="replace"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: not JSON (a State.Health record)") from None


def _check_health(path: str, health: Any) -> Mapping[str, Any]:
    """The State.Health object, its Log a list of probe objects; else one InputError."""
    if not isinstance(health, Mapping) or "Status" not in health:
        raise InputError(
            f"{path}: not a State.Health record (docker inspect --format "
            "'{{json .State.Health}}') nor docker inspect output"
        )
    log = health.get("Log") or []
    if not isinstance(log, list) or not all(isinstance(p, Mapping) for p in log):
        raise InputError(f"{path}: State.Health.Log is not a list of probes")
    return health


def _health_only_facts(
    health: Mapping[str, Any], name: str | None, cid: str | None
) -> dict[str, Any]:
    """The facts a State.Health record gives: probes and final state, no container identity."""
    return {
        "id": cid,
        "name": name or "unknown",
        "status": None,
        "restart_count": None,
        "oom_killed": None,
        "health_status": health.get("Status"),
        "health_config": None,
        "health_log": probe_log(health),
    }


def read_health_file(
    path: str, stats_containers: tuple[tuple[str, str | None], ...] = ()
) -> dict[str, Any]:
    """The container facts a ``--health`` file gives.

    ``stats_containers``: the (id, name) pairs the ``--stats`` lines named; a State.Health record
    takes that container when there is exactly one, else its name is "unknown".
    """
    data = _json_of(path)
    if isinstance(data, list):
        if len(data) != 1 or not isinstance(data[0], Mapping):
            raise InputError(
                f"{path}: docker inspect output of {len(data)} objects: give one container's"
            )
        attrs = data[0]
        state = attrs.get("State")
        if not isinstance(state, Mapping):
            raise InputError(f"{path}: not docker inspect output of a container (no State)")
        if state.get("Health") is None:
            raise InputError(f"{path}: docker inspect output without State.Health (no HEALTHCHECK)")
        health = _check_health(path, state.get("Health"))
        facts = container_facts(attrs, None)
        facts["failing_streak"] = health.get("FailingStreak")
        facts["source"] = "inspect-file"
        return facts
    health = _check_health(path, data)
    cid, name = stats_containers[0] if len(stats_containers) == 1 else (None, None)
    facts = _health_only_facts(health, name, cid)
    facts["failing_streak"] = health.get("FailingStreak")
    facts["source"] = "health-file"
    return facts

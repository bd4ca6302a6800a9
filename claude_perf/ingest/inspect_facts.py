"""The facts dict of ``claude_perf.ingest.session`` from one container's ``docker inspect`` object.

Shared by ``collect`` (the Docker SDK's ``container.attrs``) and the ``report --health`` reader
(a saved ``docker inspect`` output): both are the Engine API's ContainerInspect response.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from claude_perf.durations import NS_PER_S

SWARM_SERVICE_LABEL = "com.docker.swarm.service.name"
SWARM_TASK_LABEL = "com.docker.swarm.task.id"
COMPOSE_SERVICE_LABEL = "com.docker.compose.service"


def _iso_or_none(value: Any) -> str | None:
    if not isinstance(value, str) or not value or value.startswith("0001-01-01"):
        return None
    return value


def _seconds(value: Any) -> float | None:
    return value / NS_PER_S if isinstance(value, int | float) and value else None


def probe_log(health: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """A State.Health record's Log as the facts' ``health_log`` (each probe's output cut to 200
    characters: it is the probe command's own text)."""
    return [
        {
            "start": p.get("Start"),
            "end": p.get("End"),
            "exit_code": p.get("ExitCode"),
            "output": str(p.get("Output") or "")[:200],
        }
        for p in ((health or {}).get("Log") or [])
    ]


def container_facts(attrs: Mapping[str, Any], cgroup_version: str | None) -> dict[str, Any]:
    """The facts dict of ``claude_perf.ingest.session`` from ``docker inspect`` output."""
    state = attrs.get("State") or {}
    host = attrs.get("HostConfig") or {}
    config = attrs.get("Config") or {}
    check = config.get("Healthcheck") or {}
    test = check.get("Test")
    health_config = None
    if test and test != ["NONE"]:
        health_config = {
            "test": list(test),
            "interval_s": _seconds(check.get("Interval")),
            "timeout_s": _seconds(check.get("Timeout")),
            "retries": check.get("Retries"),
            "start_period_s": _seconds(check.get("StartPeriod")),
        }
    labels = config.get("Labels") or {}
    return {
        "id": attrs.get("Id"),
        "name": str(attrs.get("Name") or "").lstrip("/"),
        "image": config.get("Image"),
        "created": _iso_or_none(attrs.get("Created")),
        "started_at": _iso_or_none(state.get("StartedAt")),
        "finished_at": _iso_or_none(state.get("FinishedAt")),
        "status": state.get("Status"),
        "restart_count": attrs.get("RestartCount"),
        "oom_killed": bool(state.get("OOMKilled")),
        "exit_code": state.get("ExitCode"),
        "health_status": (state.get("Health") or {}).get("Status"),
        "mem_limit_bytes": host.get("Memory") or None,
        "nano_cpus": host.get("NanoCpus") or None,
        "cpu_quota": host.get("CpuQuota") or None,
        "cpu_period": host.get("CpuPeriod") or None,
        "health_config": health_config,
        "health_log": probe_log(state.get("Health")),
        "tty": bool(config.get("Tty")),
        "cgroup_version": cgroup_version,
        # The replica's service and task, from the labels Swarm (or Compose) sets on it.
        "service": labels.get(SWARM_SERVICE_LABEL) or labels.get(COMPOSE_SERVICE_LABEL),
        "task": labels.get(SWARM_TASK_LABEL),
    }

"""Which containers a collect reads: by name or id, label, compose project, or the name pattern."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol

from claude_perf.collect.engine import running_names
from claude_perf.collect.services import service_labels
from claude_perf.config.schema import Collect
from claude_perf.errors import EngineError, TargetError, UsageError

DEFAULT_PATTERN = Collect().pattern  # declared in config.schema ([collect] pattern)
COMPOSE_PROJECT_LABEL = "com.docker.compose.project"


def _running_hint(client: Any) -> str:
    names = running_names(client)
    return f"running: {', '.join(names)}" if names else "no container is running"


class TargetSpec(Protocol):
    """What names the targets (collect.run.CollectRequest has these)."""

    @property
    def containers(self) -> Sequence[str]: ...
    @property
    def labels(self) -> Sequence[str]: ...
    @property
    def compose_project(self) -> str | None: ...
    @property
    def services(self) -> Sequence[str]: ...


def resolve_targets(
    client: Any, request: TargetSpec, pattern: str, *, one_of_several: bool = False
) -> list[Any]:
    """The containers to collect from, by name/id, label, compose project, or the pattern.

    ``one_of_several``: this engine is one of several, so a named container or label that is
    not here may be on another; only an engine with none of them is a TargetError.
    """
    from docker.errors import APIError, NotFound

    targets: dict[str, Any] = {}
    named = bool(
        request.containers or request.labels or request.compose_project or request.services
    )
    try:
        for name in request.containers:
            try:
                container = client.containers.get(name)
            except NotFound as exc:
                if one_of_several:
                    continue
                raise TargetError(f"no container '{name}' ({_running_hint(client)})") from exc
            targets[container.id] = container
        label_filters = list(request.labels) + service_labels(request.services)
        if request.compose_project:
            label_filters.append(f"{COMPOSE_PROJECT_LABEL}={request.compose_project}")
        for label in label_filters:
            found = client.containers.list(all=True, filters={"label": label}, ignore_removed=True)
            if not found and not one_of_several:
                raise TargetError(f"no container has the label {label} ({_running_hint(client)})")
            for container in found:
                targets[container.id] = container
        if targets:
            return sorted(targets.values(), key=lambda c: c.name)
        if named:
            raise TargetError(
                f"none of the named containers runs on this engine ({_running_hint(client)})"
            )
        try:
            regex = re.compile(pattern, re.IGNORECASE)
        except re.error as exc:
            raise UsageError(f"[collect] pattern '{pattern}' is not a valid regex: {exc}") from exc
        running = client.containers.list(ignore_removed=True)
        matching = [
            c
            for c in running
            if regex.search(c.name)
            or any(regex.search(t) for t in (c.image.tags or []))
            or regex.search(str(c.attrs.get("Config", {}).get("Image", "")))
        ]
    except APIError as exc:
        raise EngineError(
            f"the Docker Engine refused to list containers: {exc.explanation}"
        ) from exc
    if len(matching) == 1:
        return matching
    names = sorted(c.name for c in running)
    listing = ", ".join(names) if names else "none"
    if not matching:
        raise TargetError(
            f"no running container's name or image matches '{pattern}'; choose one with "
            f"--container NAME (running: {listing})"
        )
    raise TargetError(
        f"{len(matching)} running containers match '{pattern}' "
        f"({', '.join(sorted(c.name for c in matching))}); choose with --container NAME"
    )

"""Which engines a collect reads: ``--host`` URLs and ``--context`` names, else DOCKER_HOST.

An engine is known in the store by the id it reports (``docker info`` ``ID``), so the same
container id on two engines stays two containers; the label (the host or context as given)
names it to people.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from claude_perf.errors import UsageError

_SCHEMES = ("unix://", "tcp://", "ssh://", "http://", "https://", "npipe://")


@dataclass(frozen=True)
class EngineSpec:
    """One engine as the user named it: a host URL, a docker context, or the environment's."""

    host: str | None = None
    context: str | None = None

    @property
    def label(self) -> str:
        """How notes and the report name this engine."""
        if self.host:
            return self.host
        if self.context:
            return f"context:{self.context}"
        return "default"


def engine_specs(hosts: Sequence[str], contexts: Sequence[str]) -> tuple[EngineSpec, ...]:
    """The engines to collect from, once each, in the order given (the environment's when none)."""
    for host in hosts:
        if not host.startswith(_SCHEMES):
            raise UsageError(
                f"--host '{host}' is not an engine URL: give unix:///PATH, tcp://HOST:PORT or "
                "ssh://USER@HOST (as `docker -H` takes them)"
            )
    specs = [EngineSpec(host=h) for h in hosts] + [EngineSpec(context=c) for c in contexts]
    unique = tuple(dict.fromkeys(specs))
    return unique or (EngineSpec(),)


def engine_facts(info: Mapping[str, Any], spec: EngineSpec) -> dict[str, Any]:
    """What the store keeps of an engine beside each of its containers' facts."""
    return {
        "id": str(info.get("ID") or ""),
        "name": str(info.get("Name") or ""),
        "label": spec.label,
    }

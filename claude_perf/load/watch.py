"""`load --container NAME`: the container's resources sampled through the load, its logs after.

Sampling reuses the collector's own loop (``collect.sampling.sample_containers``) in a thread,
stopped by an event when the load ends; the logs, facts and events are then fetched by one
ordinary collect from the load's start, so the store holds the same session `collect
--duration` would have left, and `report --since` finds logs, samples and client records of the
same window.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from claude_perf.collect.dispatch import collect
from claude_perf.collect.engine import connect
from claude_perf.collect.facts import container_facts
from claude_perf.collect.run import CollectOutcome, CollectRequest
from claude_perf.collect.sampling import sample_containers
from claude_perf.collect.targets import DEFAULT_PATTERN, resolve_targets
from claude_perf.durations import NS_PER_S
from claude_perf.store.db import Store

SAMPLE_INTERVAL_S = 2.0
JOIN_S = 30.0  # a stats call in flight ends within the engine's own timeout


class ContainerWatch:
    """Samples one container while a load runs; ``finish()`` stops and collects its logs."""

    def __init__(
        self,
        name: str,
        store: Path,
        max_duration_s: float,
        interval_s: float = SAMPLE_INTERVAL_S,
        context: str | None = None,
    ) -> None:
        self.name, self.store, self.context = name, store, context
        self.max_duration_s, self.interval_s = max_duration_s, interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.samples = 0
        self.notes: list[str] = []
        self._client: Any = None

    def start(self) -> None:
        """Resolve the container (an EngineError or UsageError now, before any request)."""
        from docker.errors import APIError

        self._client = connect(self.context)
        targets = resolve_targets(
            self._client, CollectRequest(containers=(self.name,)), DEFAULT_PATTERN
        )
        try:
            cgroup = self._client.info().get("CgroupVersion")
        except APIError:
            cgroup = None
        version = f"v{cgroup}" if cgroup else None
        self._thread = threading.Thread(
            target=self._sample,
            args=(targets, version),
            name="claude-perf-load-samples",
            daemon=True,
        )
        self._thread.start()

    def _sample(self, targets: list[Any], cgroup_version: str | None) -> None:
        try:
            with Store(self.store) as store:
                keyed = [
                    (store.save_container(container_facts(c.attrs, cgroup_version)), c)
                    for c in targets
                ]
                counts, notes, _ = sample_containers(
                    self._client,
                    store,
                    keyed,
                    self.max_duration_s,
                    self.interval_s,
                    stop=self._stop,
                )
            self.samples = sum(counts.values())
            self.notes += [n for n in notes if not n.startswith("sampling was interrupted")]
        except Exception as exc:  # the load goes on; the report says what is missing
            self.notes.append(f"resource sampling of {self.name} failed: {exc}")

    def stop(self) -> None:
        """Stop sampling (what was sampled stays in the store)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(JOIN_S)

    def finish(self, since_ns: int) -> CollectOutcome:
        """Stop sampling, then collect the container's logs from ``since_ns`` (a second early:
        the engine's --since has whole seconds)."""
        self.stop()
        if self._client is not None:
            self._client.close()
        return collect(
            CollectRequest(
                containers=(self.name,),
                since_ns=since_ns - NS_PER_S,
                store=self.store,
                context=self.context,
            )
        )

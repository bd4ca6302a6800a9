"""The whole collect: resolve targets, then store facts, events, logs and samples for each.

Per target the events request (which the engine holds open until its ``until``) runs alongside
the log read. Without ``--duration`` one sample is taken, the log pass serving as its CPU
interval; with one, samples are taken each interval and the lines logged meanwhile are read in a
second pass. Ctrl-C and the first SIGTERM stop the collect keeping what it gathered.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from claude_perf.collect.engine import connect, engine_error
from claude_perf.collect.engines import EngineSpec, engine_facts
from claude_perf.collect.facts import container_facts, created_ns, engine_events
from claude_perf.collect.logs import BATCH_LINES, LOGS_INTERRUPTED, Progress, collect_logs
from claude_perf.collect.sampling import INTERRUPTED_NOTE, prime, sample_containers
from claude_perf.collect.services import (
    RemoteTask,
    collect_service_logs,
    node_of,
    remote_tasks,
)
from claude_perf.collect.targets import DEFAULT_PATTERN, resolve_targets
from claude_perf.durations import NS_PER_S, now_ns
from claude_perf.errors import EngineError
from claude_perf.store.db import Store, store_path


@dataclass(frozen=True)
class CollectRequest:
    """Everything `claude-perf collect` was asked to do."""

    containers: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    compose_project: str | None = None
    since_ns: int | None = None
    until_ns: int | None = None
    duration_s: float | None = None
    interval_s: float = 5.0
    store: Path | None = None
    context: str | None = None
    pattern: str = DEFAULT_PATTERN
    batch_lines: int = BATCH_LINES
    progress: Progress | None = field(default=None, compare=False, repr=False)
    hosts: tuple[str, ...] = ()  # engine URLs, as `docker -H` (repeatable --host)
    contexts: tuple[str, ...] = ()  # docker contexts (repeatable --context; `context` too)
    services: tuple[str, ...] = ()  # Swarm services: their tasks' containers (--service)


@dataclass(frozen=True)
class ContainerOutcome:
    """What one container gave."""

    id: str
    name: str
    lines_seen: int
    lines_new: int
    samples: int
    events_new: int
    notes: tuple[str, ...] = ()
    engine: str = ""  # the engine's label (its host or context as given)

    @property
    def lines_already(self) -> int:
        """Lines fetched again that the store already held (boundaries, overlaps)."""
        return self.lines_seen - self.lines_new


@dataclass(frozen=True)
class CollectOutcome:
    """What a collect stored."""

    store: Path
    containers: tuple[ContainerOutcome, ...]
    interrupted: bool = False
    notes: tuple[str, ...] = ()
    # Engines that could not be collected (unreachable, or lost mid-collect), each with why:
    # the others completed; the CLI exits 4 (partial) and the next collect fills the gap.
    missing: tuple[str, ...] = ()
    # --service on a manager: its engine, its Swarm node, and the services' tasks on other
    # nodes (read through the service-logs endpoint unless their own engine was collected).
    manager: EngineSpec | None = None
    node_id: str = ""
    remote_tasks: tuple[RemoteTask, ...] = ()

    @property
    def gaps(self) -> tuple[str, ...]:
        """Notes on data the engine could not give (a container removed, a broken stream).

        These are recorded with the collect in the store, and a report over the same window
        lists them under data quality. An interrupted collect is not a gap: what it gathered is
        complete as far as it went, and the next collect carries on from there.
        """
        own = [n for n in self.notes if n != INTERRUPTED_NOTE]
        for c in self.containers:
            own += [
                n if c.name in n else f"{c.name}: {n}"
                for n in c.notes
                if not n.startswith(LOGS_INTERRUPTED)
            ]
        return tuple(own)

    @property
    def lines_new(self) -> int:
        return sum(c.lines_new for c in self.containers)

    @property
    def lines_already(self) -> int:
        return sum(c.lines_already for c in self.containers)

    @property
    def samples(self) -> int:
        return sum(c.samples for c in self.containers)


def collect_engine(
    spec: EngineSpec, request: CollectRequest, one_of_several: bool = False
) -> CollectOutcome:
    """One engine's targets into the store; engine failures raise EngineError."""
    from docker.errors import APIError

    client = connect(spec.context, host=spec.host)
    try:
        targets = resolve_targets(client, request, request.pattern, one_of_several=one_of_several)
        outcome = _collect_into_store(client, targets, request, spec)
        if request.services:
            info = client.info()
            remote = remote_tasks(client, info, request.services)
            outcome = replace(
                outcome,
                node_id=node_of(info),
                manager=spec if remote else None,
                remote_tasks=tuple(remote),
            )
            if remote and not one_of_several:  # no other engine can give them
                outcome = tasks_from_service_logs(client, spec, outcome, remote, request)
        return outcome
    except APIError as exc:
        raise EngineError(f"the Docker Engine refused: {exc.explanation or exc}") from exc
    except (ConnectionError, OSError) as exc:
        raise engine_error(exc, spec.host) from exc
    except Exception as exc:  # requests/urllib3 errors of an engine lost mid-collect
        if type(exc).__module__.split(".")[0] in ("requests", "urllib3", "docker"):
            raise engine_error(exc, spec.host) from exc
        raise
    finally:
        client.close()


def tasks_from_service_logs(
    client: Any,
    spec: EngineSpec,
    outcome: CollectOutcome,
    tasks: Sequence[RemoteTask],
    request: CollectRequest,
) -> CollectOutcome:
    """The tasks' logs through the manager's service-logs endpoint, added to the outcome."""
    engine = engine_facts(client.info(), spec)
    with Store(outcome.store) as store:
        notes = collect_service_logs(client, store, engine, tasks, request)
    return replace(outcome, notes=(*outcome.notes, *notes))


def _collect_into_store(
    client: Any, targets: Sequence[Any], request: CollectRequest, spec: EngineSpec
) -> Any:
    from docker.errors import APIError

    with _sigterm_as_interrupt():
        try:
            info = client.info()
        except APIError:
            info = {}
        cgroup = info.get("CgroupVersion")
        cgroup_version = f"v{cgroup}" if cgroup else None
        engine = engine_facts(info, spec)
        path = store_path(request.store)
        with Store(path) as store:
            run_id = store.begin_collection(
                {
                    "engine": engine,
                    "containers": [c.name for c in targets],
                    "since_ns": request.since_ns,
                    "until_ns": request.until_ns,
                    "duration_s": request.duration_s,
                    "interval_s": request.interval_s,
                }
            )
            keyed = [
                (
                    store.save_container(
                        {**container_facts(c.attrs, cgroup_version), "engine": engine}
                    ),
                    c,
                )
                for c in targets
            ]
            passes = _LogPasses(client, store, request, cgroup_version, targets, engine)
            per = passes.per
            primed = None
            counts: dict[str, int] = {}
            sample_notes: list[str] = []
            if not request.duration_s:
                primed = prime(client, keyed)  # the log pass serves as the CPU interval
            interrupted = not passes.over(keyed)
            if not interrupted:
                counts, sample_notes, interrupted = sample_containers(
                    client,
                    store,
                    keyed,
                    request.duration_s,
                    request.interval_s,
                    request.progress,
                    primed=primed,
                )
                # The lines logged while we sampled; after an interruption too, as Ctrl-C has
                # always done (the pass is short; a second SIGTERM ends the process at once).
                if request.duration_s and not passes.over(keyed):
                    interrupted = True
            outcomes = tuple(
                ContainerOutcome(
                    id=c.id,
                    name=c.name,
                    lines_seen=per[c.id]["seen"],
                    lines_new=per[c.id]["new"],
                    samples=counts.get(c.id, 0),
                    events_new=per[c.id]["events"],
                    notes=tuple(per[c.id]["notes"]),
                    engine=spec.label,
                )
                for _, c in keyed
            )
            outcome = CollectOutcome(path, outcomes, interrupted, (*store.notes, *sample_notes))
            store.finish_collection(
                run_id,
                {
                    "lines_new": outcome.lines_new,
                    "lines_already": outcome.lines_already,
                    "samples": outcome.samples,
                    "notes": [*outcome.notes, *(n for c in outcomes for n in c.notes)],
                    "gaps": list(outcome.gaps),
                },
                interrupted,
            )
            return outcome


# States in which the engine gives no logs any more ("can not get logs from container which is
# dead or marked for removal"): the container is going away, as good as removed.
_GOING_AWAY = ("removing", "dead")


def _going_away(container: Any) -> bool:
    """Whether the container is gone or being removed now (a failed reload counts as gone)."""
    try:
        container.reload()
    except Exception:  # NotFound, or the engine failing on it: either way no logs come
        return True
    return bool(container.status in _GOING_AWAY)


class _LogPasses:
    """Log passes over the targets: per container its facts again, its events, its logs.

    ``per`` holds each container's tallies (seen, new, events, notes) across passes.
    """

    def __init__(
        self,
        client: Any,
        store: Store,
        request: CollectRequest,
        cgroup_version: str | None,
        targets: Sequence[Any],
        engine: dict[str, Any],
    ) -> None:
        self.client = client
        self.engine = engine
        self.store = store
        self.request = request
        self.cgroup_version = cgroup_version
        self.per: dict[str, dict[str, Any]] = {
            c.id: {"seen": 0, "new": 0, "events": 0, "notes": []} for c in targets
        }

    def over(self, containers: Sequence[tuple[int, Any]]) -> bool:
        """One log pass over every target; False when it was interrupted."""
        try:
            for key, container in containers:
                if not self._fetch(key, container):
                    return False
        except KeyboardInterrupt:  # outside the log fetch (facts, events): stop here
            return False
        return True

    def _fetch(self, key: int, container: Any) -> bool:
        from docker.errors import APIError, NotFound

        client, store, request = self.client, self.store, self.request
        entry = self.per[container.id]
        try:
            container.reload()
        except NotFound:
            entry["notes"].append(
                f"container {container.name} was removed during the collect; "
                "what arrived before is kept"
            )
            return True
        if container.status in _GOING_AWAY:
            entry["notes"].append(
                f"container {container.name} was being removed during the collect; "
                "what arrived before is kept"
            )
            return True
        store.save_container(
            {**container_facts(container.attrs, self.cgroup_version), "engine": self.engine}
        )
        created_s = int(created_ns(container.attrs) // NS_PER_S)
        since_s = max(created_s, (request.since_ns or 0) // NS_PER_S)
        until_s = (request.until_ns or now_ns()) // NS_PER_S + 1
        # The engine holds an events request open until its `until` (up to a second ahead), so
        # the events are fetched while the logs are read, and stored after.
        events_pool = ThreadPoolExecutor(1, thread_name_prefix="claude-perf-events")
        events = events_pool.submit(engine_events, client, container.id, since_s, until_s)
        events_pool.shutdown(wait=False)
        tty = bool(container.attrs.get("Config", {}).get("Tty"))
        try:
            seen, new, notes = collect_logs(
                client.api,
                store,
                key,
                container.id,
                tty,
                request.since_ns,
                request.until_ns,
                request.batch_lines,
                request.progress,
            )
        except NotFound:
            self._store_events(key, entry, events)
            entry["notes"].append(f"container {container.name} was removed")
            return True
        except APIError as exc:
            self._store_events(key, entry, events)
            if _going_away(container):  # "dead or marked for removal", says the engine
                entry["notes"].append(f"container {container.name} was removed")
            else:
                entry["notes"].append(f"logs unavailable: {exc.explanation}")
            return True
        except BaseException:
            with contextlib.suppress(Exception):
                self._store_events(key, entry, events)
            raise
        self._store_events(key, entry, events)
        entry["seen"] += seen
        entry["new"] += new
        entry["notes"] += notes
        return not any(n.startswith(LOGS_INTERRUPTED) for n in notes)

    def _store_events(self, key: int, entry: dict[str, Any], events: Any) -> None:
        from docker.errors import APIError

        try:
            entry["events"] += self.store.add_events(key, events.result())
        except APIError as exc:
            entry["notes"].append(f"events unavailable: {exc.explanation}")


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While collecting, the first SIGTERM stops the collect as Ctrl-C does.

    ``kill`` (docs/ci.md stops a background ``collect --duration`` so) or a CI runner cancelling
    a step sends SIGTERM; by default Python dies at once, losing the final log pass and the
    record of the run. Here the first SIGTERM raises KeyboardInterrupt in the main thread, so
    the collect keeps what it gathered, records itself as interrupted and exits 0; the handler
    is then put back, so a second SIGTERM ends the process at once (every batch is one
    transaction: the store stays consistent either way). Only in the main thread, and only when
    nobody else (an embedding program) has set a SIGTERM handler.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def on_sigterm(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

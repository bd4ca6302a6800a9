"""The collect's entry: one engine collects in this thread (run.collect_engine), several one
thread each (fleet.collect_engines). Above both, so that neither imports the other's caller."""

from __future__ import annotations

from claude_perf.collect import run
from claude_perf.collect.engines import engine_specs
from claude_perf.collect.fleet import collect_engines
from claude_perf.errors import UsageError
from claude_perf.store.db import Store, store_path


def collect(request: run.CollectRequest) -> run.CollectOutcome:
    """Resolve targets, then store facts, events, logs, and samples for each."""
    if request.interval_s <= 0:
        raise UsageError("--interval must be positive")
    if request.since_ns and request.until_ns and request.until_ns < request.since_ns:
        raise UsageError("--until is before --since")
    contexts = (request.context,) if request.context else ()
    specs = engine_specs(request.hosts, (*contexts, *request.contexts))
    if len(specs) == 1:
        return run.collect_engine(specs[0], request)
    # Each engine's thread opens the store: create it, switch it to WAL and migrate it here
    # first, since two first opens race on the journal-mode switch ("database is locked").
    with Store(store_path(request.store)):
        pass
    return collect_engines(specs, request)

"""Several engines in one collect: one thread per engine (docker-py blocks), each running the
single-engine collect (``run.collect_engine``) into its own connection to the store.

An engine that cannot be reached or is lost mid-collect does not hold the others back: it is
named in ``CollectOutcome.missing`` (what it gave before it was lost is kept, and its cursors let
the next collect carry on); the CLI exits 4. An engine that answers but runs none of the targets
is no failure. Ctrl-C or the first SIGTERM (kill of a background ``collect --duration``) stops
every engine's collect as it stops a single one: the main thread takes the signal and raises
KeyboardInterrupt in each engine thread (CPython's ``PyThreadState_SetAsyncExc``: the exception
arrives at that thread's next bytecode, so a thread blocked in a read notices it when the read
returns), whose collect then keeps what it gathered and records itself as interrupted.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from claude_perf.collect import run
from claude_perf.collect.engine import connect
from claude_perf.collect.engines import EngineSpec
from claude_perf.errors import EngineError, TargetError


def collect_engines(specs: Sequence[EngineSpec], request: run.CollectRequest) -> run.CollectOutcome:
    """Every engine's targets into the store at once; see the module docstring."""
    idents: dict[int, int] = {}  # engine index -> its thread
    results: dict[int, run.CollectOutcome | BaseException] = {}
    finished = threading.Condition()
    stop = threading.Event()  # set on Ctrl-C: an engine thread not yet started does not start

    def one(index: int, spec: EngineSpec) -> None:
        # Each thread records its own result: a Ctrl-C may come while the main thread is still
        # handing threads out, before it could hold their futures.
        idents[index] = threading.get_ident()
        try:
            if stop.is_set():
                raise KeyboardInterrupt
            results[index] = run.collect_engine(spec, request, True)
        except BaseException as exc:  # handed to the main thread, which decides
            results[index] = exc
        finally:
            with finished:
                finished.notify_all()

    pool = ThreadPoolExecutor(len(specs), thread_name_prefix="claude-perf-engine")
    submitted = 0
    interrupted = False
    with run._sigterm_as_interrupt():
        try:
            for index, spec in enumerate(specs):
                pool.submit(one, index, spec)
                submitted = index + 1
            _wait_for(finished, results, submitted)
        except KeyboardInterrupt:
            interrupted = True
            stop.set()
            _interrupt(ident for i, ident in list(idents.items()) if i not in results)
            submitted = max(submitted, len(idents))
            # Wait for the engine threads to store what they have (a second Ctrl-C does not
            # abandon them half-way: each batch is one transaction, but the run record would
            # be lost).
            while True:
                try:
                    _wait_for(finished, results, submitted)
                    break
                except KeyboardInterrupt:
                    continue
    # Every thread has recorded its result, so this returns at once. (Waiting here instead,
    # in Thread.join, is not safe against Ctrl-C: an interrupted join marks a running thread
    # as stopped, bpo-45274.)
    pool.shutdown(wait=True)
    outcome = _combined(specs, results, interrupted)
    if outcome.missing:
        _record_missing(outcome, request)
    return _remote_tasks(
        outcome, [r for r in results.values() if isinstance(r, run.CollectOutcome)], request
    )


def _remote_tasks(
    outcome: run.CollectOutcome,
    outcomes: Sequence[run.CollectOutcome],
    request: run.CollectRequest,
) -> run.CollectOutcome:
    """Service tasks on nodes none of the collected engines is: through the service logs."""
    collected = {o.node_id for o in outcomes if o.node_id}
    for o in outcomes:
        tasks = [t for t in o.remote_tasks if t.node_id not in collected]
        if not tasks or o.manager is None:
            continue
        client = connect(o.manager.context, host=o.manager.host)
        try:
            outcome = run.tasks_from_service_logs(client, o.manager, outcome, tasks, request)
        finally:
            client.close()
        collected |= {t.node_id for t in tasks}
    return outcome


def _record_missing(outcome: run.CollectOutcome, request: run.CollectRequest) -> None:
    """Record the missing engines as a gap of this collect, so that a report of the window
    says the fleet is incomplete (store.read.collection_gaps), not only this run's exit code."""
    from claude_perf.store.db import Store

    notes = [f"engine missing from this collect: {m}" for m in outcome.missing]
    with Store(outcome.store) as store:
        run_id = store.begin_collection(
            {
                "engines_missing": list(outcome.missing),
                "containers": [c.name for c in outcome.containers],
                "since_ns": request.since_ns,
                "until_ns": request.until_ns,
            }
        )
        store.finish_collection(run_id, {"notes": notes, "gaps": notes}, outcome.interrupted)


def _wait_for(finished: threading.Condition, results: Mapping[int, object], submitted: int) -> None:
    with finished:
        while len(results) < submitted:
            finished.wait(0.5)


def _interrupt(idents: Iterable[int]) -> None:
    for ident in idents:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(ident), ctypes.py_object(KeyboardInterrupt)
        )


def _combined(
    specs: Sequence[EngineSpec],
    results: Mapping[int, run.CollectOutcome | BaseException],
    interrupted: bool,
) -> run.CollectOutcome:
    outcomes: list[run.CollectOutcome] = []
    missing: list[str] = []
    untargeted: list[TargetError] = []
    for index, spec in enumerate(specs):
        result = results.get(index)
        if isinstance(result, run.CollectOutcome):
            outcomes.append(result)
        elif isinstance(result, TargetError):  # the engine answered: none of the targets is there
            untargeted.append(result)
        elif isinstance(result, EngineError):
            missing.append(f"{spec.label}: {result}")
        elif result is not None and not isinstance(result, KeyboardInterrupt):
            raise result  # a bug in one engine's thread: as in a single-engine collect
    if not outcomes and not missing and untargeted and not interrupted:
        raise untargeted[0]
    if not outcomes and not interrupted:
        raise EngineError(f"no engine could be collected ({'; '.join(missing)})")
    if not outcomes:
        raise KeyboardInterrupt
    return run.CollectOutcome(
        store=outcomes[0].store,
        containers=tuple(c for o in outcomes for c in o.containers),
        interrupted=interrupted or any(o.interrupted for o in outcomes),
        notes=tuple(n for o in outcomes for n in o.notes),
        missing=tuple(missing),
    )

"""The whole `claude-perf load`: the drive, the records to file and store, the container's data.

``run_load`` owns the event loop and the signals: Ctrl-C and SIGTERM stop sending (the first
one) and cancel what is still in flight after the grace (the second one, or the grace's end);
every finished record is kept and written either way.
"""

from __future__ import annotations

import asyncio
import signal
import statistics
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from claude_perf.durations import now_ns
from claude_perf.errors import ClaudePerfError, UnreachableError
from claude_perf.ingest.client_records import ClientRecord
from claude_perf.load.driver import DriveOutcome, Driver, Progress, run_async
from claude_perf.load.plan import LoadPlan
from claude_perf.load.sinks import RecordSink
from claude_perf.load.watch import ContainerWatch
from claude_perf.store.db import store_path


@dataclass(frozen=True)
class ModelFigures:
    """One model as asked, from the client: counts and medians (None: not measured)."""

    model: str
    requests: int
    ok: int
    latency_p50_s: float | None
    ttft_p50_s: float | None
    output_tokens: int | None


@dataclass(frozen=True)
class LoadOutcome:
    """What a load did and where its records went."""

    plan: LoadPlan
    records: tuple[ClientRecord, ...]
    drive: DriveOutcome
    output: Path | None
    store: Path
    container_samples: int | None = None
    container_lines: int | None = None
    notes: tuple[str, ...] = ()

    @property
    def failed(self) -> dict[str, int]:
        """Failed requests per client error class."""
        out: dict[str, int] = {}
        for r in self.records:
            if not r.ok:
                out[r.error_class or "other"] = out.get(r.error_class or "other", 0) + 1
        return out

    @property
    def failure(self) -> ClaudePerfError | None:
        """Exit 1 when not one request could connect (the records are written all the same)."""
        if self.records and all(r.error_class == "connect" for r in self.records):
            return UnreachableError(
                f"no request could connect to {self.plan.url} "
                f"({len(self.records)} tried): is the proxy running there?"
            )
        return None

    def models(self) -> list[ModelFigures]:
        out = []
        for model, _ in self.plan.models:
            mine = [r for r in self.records if r.model_asked == model]
            ok = [r for r in mine if r.ok]
            ttft = [t for r in ok if (t := r.ttft_s) is not None]
            tokens = [r.output_tokens for r in ok if r.output_tokens is not None]
            out.append(
                ModelFigures(
                    model,
                    len(mine),
                    len(ok),
                    statistics.median(r.latency_s for r in ok) if ok else None,
                    statistics.median(ttft) if ttft else None,
                    sum(tokens) if tokens else None,
                )
            )
        return out

    def goodput(self) -> float | None:
        """Share of all records that succeeded and met every --slo (None without --slo).

        A non-streaming answer's first token comes with its whole body: its TTFT for the SLO
        is its latency.
        """
        if not self.plan.slo or not self.records:
            return None
        good = 0
        for r in self.records:
            if not r.ok:
                continue
            meets = True
            for key, limit_s in self.plan.slo:
                value = r.latency_s if key == "latency" or not r.stream else r.ttft_s
                meets = meets and value is not None and value <= limit_s
            good += meets
        return good / len(self.records)


def run_load(
    plan: LoadPlan,
    *,
    output: Path | None = None,
    store: Path | None = None,
    container: str | None = None,
    context: str | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> LoadOutcome:
    """Drive the plan; write the records; with a container, leave its samples and logs too."""
    path = store_path(store)
    watch = None
    sink = RecordSink(output, path)  # an unwritable -o or store fails before anything starts
    try:
        if container is not None:
            limit_s = plan.max_duration_s + plan.timeout_s
            watch = ContainerWatch(container, path, limit_s, context=context)
            watch.start()  # a missing container fails before any request
        started_ns = now_ns()
        drive = run_async(_drive(plan, sink, progress))
    except BaseException:
        if watch is not None:
            watch.stop()
        raise
    finally:
        sink.close()
    samples = lines = None
    notes: list[str] = []
    if drive.cancelled:
        notes.append(
            f"{drive.cancelled} request(s) still in flight after the {plan.grace_s:g} s grace "
            "were cancelled and are not recorded"
        )
    if watch is not None:
        collected = watch.finish(started_ns)
        samples = watch.samples + collected.samples
        lines = collected.lines_new
        notes += watch.notes + list(collected.gaps)
    return LoadOutcome(plan, tuple(sink.records), drive, output, path, samples, lines, tuple(notes))


async def _drive(
    plan: LoadPlan, sink: RecordSink, progress: Callable[[Progress], None] | None
) -> DriveOutcome:
    driver = Driver(plan, sink, progress)
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    handled = threading.current_thread() is threading.main_thread()
    if handled:
        for sig in signals:
            loop.add_signal_handler(sig, driver.stop)
    try:
        return await driver.run()
    finally:
        if handled:
            for sig in signals:
                loop.remove_signal_handler(sig)

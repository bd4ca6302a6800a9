"""Resource samples: one-shot stats frames of every target each interval.

Samples are one-shot stats frames (``one_shot=True``, API 1.41+) with our own previous frame as
the earlier CPU reading, fetched for all containers at once each interval; older engines fall
back to ``stream=False`` (the engine's own two readings, 1-2 s per call) in threads. The figures
of a frame are worked out in ``claude_perf.collect.stats``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from claude_perf.collect.engine import ONE_SHOT_API_VERSION, version_tuple
from claude_perf.collect.logs import Progress
from claude_perf.durations import now_ns
from claude_perf.store.db import Store

INTERRUPTED_NOTE = "sampling was interrupted: the samples gathered so far are kept"


def _read_frame(api: Any, container_id: str, one_shot: bool) -> dict[str, Any]:
    if one_shot:
        frame: dict[str, Any] = api.stats(container_id, stream=False, one_shot=True)
    else:
        frame = api.stats(container_id, stream=False)
    return frame


def sample_containers(
    client: Any,
    store: Store,
    targets: Sequence[tuple[int, Any]],
    duration_s: float | None,
    interval_s: float,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    primed: tuple[float, dict[str, dict[str, Any]]] | None = None,
) -> tuple[dict[str, int], list[str], bool]:
    """Sample every target each interval (one sample without a duration).

    Returns (samples per container id, notes, interrupted). Ctrl-C (and SIGTERM, see
    ``_sigterm_as_interrupt``) stops after the rounds already stored. ``primed`` is (monotonic
    time, frames) read earlier as the first readings.

    Longer than most functions here: each round's reads, the notes on containers that went
    away and the interruption share the live set, the counts and the previous frames.
    """
    from docker.errors import APIError, NotFound

    from claude_perf.collect.stats import sample_row

    api = client.api
    one_shot = version_tuple(str(api.api_version)) >= version_tuple(ONE_SHOT_API_VERSION)
    live = {c.id: (key, c) for key, c in targets}
    counts = {c.id: 0 for _, c in targets}
    notes: list[str] = []
    previous: dict[str, dict[str, Any]] = {}
    rounds = max(1, round(duration_s / interval_s)) if duration_s else 1
    # Without a duration the one sample needs an earlier CPU reading: take it a second before.
    gap_s = interval_s if duration_s else min(interval_s, 1.0)
    interrupted = False

    def read_all(pool: ThreadPoolExecutor) -> dict[str, dict[str, Any]]:
        futures = {cid: pool.submit(_read_frame, api, cid, one_shot) for cid in live}
        frames = {}
        for cid, future in futures.items():
            try:
                frames[cid] = future.result()
            except NotFound:
                name = live[cid][1].name
                notes.append(
                    f"container {name} disappeared at {_now_iso()}: sampling stopped, "
                    f"{counts[cid]} sample(s) kept"
                )
            except APIError as exc:
                notes.append(f"stats of {live[cid][1].name} failed: {exc.explanation}")
            except ValueError:
                # The engine answers the stats of a container being removed with an empty
                # body now and then (seen 2 in 6 runs of the removal test): not JSON, so
                # docker-py raises a JSON error, which is an OSError too and ended the collect.
                notes.append(
                    f"stats of {live[cid][1].name} failed at {_now_iso()}: the engine's answer "
                    f"was not JSON (the container going away?); {counts[cid]} sample(s) kept"
                )
        for cid in [c for c in live if c not in frames]:
            del live[cid]
        return frames

    with ThreadPoolExecutor(max_workers=max(1, min(16, len(live)))) as pool:
        try:
            if one_shot and primed is not None:
                # frames read before the log pass: the pass itself was the gap
                previous = dict(primed[1])
                next_at = primed[0] + gap_s
            elif one_shot:
                previous = read_all(pool)
                next_at = time.monotonic() + gap_s
            else:
                next_at = time.monotonic()
            for done in range(rounds):
                if not live:
                    break
                delay = next_at - time.monotonic()
                if delay > 0 and (stop.wait(delay) if stop else _sleep(delay)):
                    interrupted = True
                    break
                next_at += interval_s
                frames = read_all(pool)
                batch = []
                for cid, frame in frames.items():
                    entry = live.get(cid)
                    if entry is None:
                        continue
                    key, container = entry
                    try:
                        row = sample_row(
                            frame,
                            previous.get(cid),
                            container_id=cid,
                            container_name=container.name,
                        )
                    except ValueError:  # a stopped container's frame has no read time: a gap
                        continue
                    batch.append((key, row))
                if batch:
                    store.add_samples(batch)
                    for key_and_row in batch:  # counted once committed
                        counts[key_and_row[1].container_id] += 1
                previous.update(frames)
                if progress:
                    progress("samples", done + 1, rounds)
        except KeyboardInterrupt:
            interrupted = True
    if interrupted:
        notes.append(INTERRUPTED_NOTE)
    return counts, notes, interrupted


def _sleep(seconds: float) -> bool:
    time.sleep(seconds)
    return False


def _now_iso() -> str:
    from claude_perf.durations import from_ns, iso

    return str(iso(from_ns(now_ns())))


def prime(client: Any, keyed: Sequence[tuple[int, Any]]) -> tuple[float, dict[str, Any]] | None:
    """One-shot frames of every target now, as the earlier CPU reading of a single sample."""
    if version_tuple(str(client.api.api_version)) < version_tuple(ONE_SHOT_API_VERSION):
        return None
    at = time.monotonic()
    frames = {}
    for _, container in keyed:
        with contextlib.suppress(Exception):  # a failure here only costs the primed reading
            frames[container.id] = _read_frame(client.api, container.id, True)
    return at, frames

"""Stage timings: wall seconds and resident memory after each stage of a run, for benchmarks.

Off unless ``CLAUDE_PERF_STAGES`` names a file: then each ``stage(name)`` block records its wall
seconds, the process's resident set size (MB) at its end and its peak so far (which stage
holds the peak: the end figures miss a stage's temporaries), and the records are written there
as JSON when the process exits. `make bench` reads them to print where the time and memory go
(issue 13 asks the benchmark to show it per stage). Off, a block costs one dictionary lookup.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

ENV = "CLAUDE_PERF_STAGES"
_records: list[dict[str, float | str]] = []
_registered = False


def _rss_mb() -> float:
    """Resident set size now (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            pages = int(fh.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def _peak_mb() -> float:
    """The process's peak resident set size so far (ru_maxrss: KiB on Linux; 0 elsewhere)."""
    try:
        import resource
    except ImportError:
        return 0.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def _write(path: str) -> None:
    import json

    try:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(_records, fh)
    except OSError:
        pass  # a benchmark aid: never fail the run for it


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Record the block's wall seconds and RSS at its end (when ``CLAUDE_PERF_STAGES`` is set)."""
    global _registered
    path = os.environ.get(ENV)
    if not path:
        yield
        return
    if not _registered:
        import atexit

        atexit.register(_write, path)
        _registered = True
    started = time.perf_counter()
    try:
        yield
    finally:
        _records.append(
            {
                "stage": name,
                "wall_s": time.perf_counter() - started,
                "rss_mb": _rss_mb(),
                "peak_mb": _peak_mb(),
            }
        )

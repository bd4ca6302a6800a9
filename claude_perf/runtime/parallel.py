"""Arrow helpers: work spread over both cores (freed memory goes back in ``memory``).

Arrow's string kernels and most numpy operations release the GIL but run single-threaded on one
array; on the 2-core machines this tool targets, work split in two takes nearly half the time.
Two levels exist: ``parallel_map`` runs whole stages on parts of the data (the classification of
each half of the lines), ``kernel`` splits one kernel call. Inside ``parallel_map`` kernels run
whole, so the cores are not oversubscribed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

# parse/ and analysis/ import release_unused from here; it lives with the glibc calls.
from claude_perf.runtime.memory import part_state
from claude_perf.runtime.memory import release_unused as release_unused

PARALLEL_MIN_ROWS = 100_000
WORKERS = 2
_executor: Any = None  # one pool of WORKERS threads, made on first use

T = TypeVar("T")
R = TypeVar("R")


# Read by OpenBLAS (numpy's BLAS) when numpy is first imported.
BLAS_THREADS_ENV = "OPENBLAS_NUM_THREADS"


def one_blas_thread() -> None:
    """Ask numpy's OpenBLAS for one thread, unless the user set the variable; call before numpy
    is imported.

    OpenBLAS starts a thread per core and their buffers at import time, and nothing here calls
    BLAS (no matrix products: the work is Arrow kernels and elementwise numpy, split over the
    cores by ``parallel_map``). Measured (whole processes, 10 alternating pairs, 2-core
    machine): ``python -c "import numpy"`` 0.070 s against 0.127 s wall (ratio 0.56), so about
    55 ms off every command's start-up.
    """
    import os

    os.environ.setdefault(BLAS_THREADS_ENV, "1")


def import_in_background(*modules: str) -> None:
    """Start importing modules on a daemon thread, to be ready when first needed.

    pandas takes about 0.2 s to import, nearly all of it holding the GIL; the report first needs
    it after reading the log, which mostly waits on the disk and runs numpy/Arrow code that
    releases the GIL. Importing it meanwhile overlaps the two. An import error is left for the
    real import to raise where the module is used.
    """

    def run() -> None:
        import importlib

        for module in modules:
            try:
                importlib.import_module(module)
            except ImportError:
                return

    threading.Thread(target=run, name="claude-perf-import", daemon=True).start()


def kernel(fn: Any, array: Any, *args: Any, **kwargs: Any) -> Any:
    """fn(array, *args, **kwargs), computed on two halves at once when the array is large."""
    import pyarrow as pa

    n = len(array)
    if n < PARALLEL_MIN_ROWS or getattr(part_state, "inside", False):
        return fn(array, *args, **kwargs)
    halves = parallel_map(
        lambda part: fn(part, *args, **kwargs), [array[: n // 2], array[n // 2 :]]
    )
    return pa.concat_arrays(halves)


def parallel_map(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """[fn(item) for item in items], the items on both cores at once (results in order).

    fn must be safe to run concurrently with itself: pure functions over Arrow/numpy data are.
    An exception in any part is raised here, after every part has finished. Called from inside a
    part, it runs the items one after another.
    """
    global _executor
    if len(items) < 2 or getattr(part_state, "inside", False):
        # Inside a part already: run here (a part waiting on parts of its own could deadlock).
        return [fn(item) for item in items]
    if _executor is None:
        from concurrent.futures import ThreadPoolExecutor

        _executor = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="claude-perf-part")

    def run(item: T) -> R:
        part_state.inside = True
        try:
            return fn(item)
        finally:
            part_state.inside = False

    futures = [_executor.submit(run, item) for item in items]
    errors = [future.exception() for future in futures]
    for error in errors:
        if error is not None:
            raise error
    return [future.result() for future in futures]

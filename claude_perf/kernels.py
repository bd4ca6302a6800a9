"""Arrow compute kernels run on both cores: split large arrays in two and run the halves at once.

Arrow's string kernels release the GIL but run single-threaded on one array; on the 2-core
machines this tool targets, the regex passes over a million lines take nearly half the time
when split in two.
"""

from __future__ import annotations

from typing import Any

PARALLEL_MIN_ROWS = 100_000
_executor: Any = None


def kernel(fn: Any, array: Any, *args: Any, **kwargs: Any) -> Any:
    """fn(array, *args, **kwargs), computed on two halves at once when the array is large."""
    global _executor
    import pyarrow as pa

    n = len(array)
    if n < PARALLEL_MIN_ROWS:
        return fn(array, *args, **kwargs)
    if _executor is None:
        from concurrent.futures import ThreadPoolExecutor

        _executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="claude-perf-kernel")
    half = n // 2
    futures = [_executor.submit(fn, part, *args, **kwargs) for part in (array[:half], array[half:])]
    return pa.concat_arrays([future.result() for future in futures])

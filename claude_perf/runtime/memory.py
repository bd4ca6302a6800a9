"""Freed memory handed back to the system: Arrow's pool, and glibc's malloc behind ONE seam.

The pipeline frees hundreds of MB of temporaries at a million lines. Arrow's allocator
(mimalloc) keeps freed blocks a while, and glibc's malloc keeps freed heap pages; numpy and
pandas cannot reuse either. ``release_unused`` (at each stage's end) hands them back. The glibc
call is looked up through ``_glibc`` only: off Linux, or on a libc without it (musl), it is a
no-op.

malloc_trim is kept: without it the peak at 1M lines was 510-560 MB against 360 MB. The fixed
mmap threshold that was set beside it (mallopt M_MMAP_THRESHOLD = 2 MiB, so that freed arrays of
a few MiB went back to the system at once instead of staying in glibc's heap) no longer pays now
that the frames are compact and the file is read in chunks: every array above 2 MiB was a fresh
mmap whose pages faulted in (430,000 minor faults at 1M lines against 260,000 without). Measured
without it (whole-process report -f json, alternating pairs, 2-core machine): 1M lines CPU 0.88,
wall 0.90 (7 pairs), peak 353 against 342 MiB; 3M lines CPU 0.85 (3 pairs), peak 734 against
698 MiB. glibc's own dynamic threshold (up to 32 MiB) applies again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn


def release_unused() -> None:
    """Hand freed blocks back now: Arrow's allocator (mimalloc) otherwise keeps them a while, and
    a million lines free hundreds of MB of temporaries that numpy and pandas cannot reuse; glibc
    keeps freed heap pages too (malloc_trim gives back the whole free pages inside the heap).

    Inside one part of a ``parallel_map`` only Arrow's pool is released: malloc_trim walks
    every arena and hands back every free page, which the other part (still running) and the
    next chunk fault in again, and whoever joins the parts releases after them anyway
    (parse/chunked.py, after each chunk). Measured (report -f json, whole processes, alternating
    pairs against trimming there too, 2-core machine): 3M lines CPU 0.96 (3 pairs), system time
    1.17 against 1.47 s, peak 562 against 559 MiB; 1M lines CPU 0.985 (6 pairs), peak 305
    against 301 MiB. Skipping malloc_trim everywhere saved more (CPU 0.89 at 3M) but took the
    3M peak to 698 MiB, over the 600 MB bound.
    """
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    if _inside_part():
        return
    trim = _glibc("malloc_trim")
    if trim is not None:
        trim(0)


# ``.inside``: this thread runs one part of a runtime.parallel.parallel_map (set there). Kept in
# this module, which parallel imports, so that release_unused reads it without importing back.
part_state = threading.local()


def _inside_part() -> bool:
    """Whether this thread runs one part of a runtime.parallel.parallel_map."""
    return bool(getattr(part_state, "inside", False))


@contextmanager
def cycle_collector_paused() -> Iterator[None]:
    """Python's cycle collector off for one bounded piece of work (the report's analysis), back
    as it was after.

    The pipeline holds numpy object arrays and pandas frames of millions of references, and each
    of the collector's full passes walks them all (perf: gc_collect_main and its visitors were
    5 % of a 1M-line report's CPU) to find cycles that this work does not make in any number:
    everything it builds is freed by reference counts. Measured (report -f json, 1M lines, 8
    alternating whole-process pairs against the collector left on): CPU 0.94, wall 0.96, the
    same peak (350 vs 351 MiB) and the same output. Used as a decorator on the report command,
    so that the imports (pandas' included) run without it too.
    """
    import gc

    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def exit_without_teardown(code: object) -> NoReturn:
    """End the process as ``sys.exit(code)`` would, without freeing its objects one by one.

    After a report the interpreter's teardown (every module's objects freed, a last full
    collection over what pandas, numpy and Arrow left) takes about 0.1 s, at 1,000 lines as at
    1M; the system takes the memory back whole instead. What a normal exit does that matters is
    kept: the atexit functions run (the stage timings file: runtime/stages.py) and stdout and
    stderr are flushed. A code that is not an int is printed to stderr, status 1, as sys.exit.
    Measured: see cli/app.main, its one caller.
    """
    import atexit
    import os
    import sys

    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can be said
            status = status or 120  # what the interpreter's own exit gives then
    os._exit(status)


def libc_function(name: str) -> Any:
    """A C library function by name (ctypes), None off Linux or where the libc lacks it: the
    one way other rooms reach the C library (memchr: holds_byte)."""
    return _glibc(name)


def holds_byte(address: int, size: int, byte: int) -> bool | None:
    """Whether ``byte`` occurs in the ``size`` bytes at ``address``: the C library's memchr
    (about 10 GB/s), the one place it is set up; None where there is none (the caller scans
    with numpy: parse/text.py, ingest/engine_times.py)."""
    memchr = _glibc("memchr")
    if memchr is None:
        return None
    if size <= 0:
        return False
    import ctypes

    memchr.restype = ctypes.c_void_p
    memchr.argtypes = (ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t)
    return memchr(address, byte, size) is not None


def _glibc(name: str) -> Any:
    """A glibc function from the interpreter's own symbols (no ldconfig run, unlike
    ctypes.util.find_library); None off Linux or where the libc lacks it (musl)."""
    import sys

    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        return getattr(ctypes.CDLL(None), name, None)
    except OSError:
        return None

"""Freed memory handed back to the system: Arrow's pool, and glibc's malloc behind ONE seam.

The pipeline frees hundreds of MB of temporaries at a million lines. Arrow's allocator
(mimalloc) keeps freed blocks a while, and glibc's malloc keeps freed heap pages; numpy and
pandas cannot reuse either. ``return_freed_memory_promptly`` (once, at start-up) and
``release_unused`` (at each stage's end) hand them back. The glibc calls are looked up through
``_glibc`` only: off Linux, or on a libc without them (musl), both are no-ops.

Measured gain of the glibc calls (mallopt's fixed mmap threshold and malloc_trim), kept because
it still shows: `claude-perf report -f json` over a generated 1M-line log, whole process,
medians of 7 paired runs on a 2-core machine, 1M lines: peak memory 480 MiB against 585 MiB
without them (-18 %; without, the README's 600 MB bound is missed), for more CPU: 2.82 s against
2.33 s (ratio of the pairs 1.17), wall ratio 1.18 (the fresh mmaps fault their pages in). Of the
two, the mmap threshold does most: malloc_trim alone gave 550 MiB.
"""

from __future__ import annotations

from typing import Any


def release_unused() -> None:
    """Hand freed blocks back now: Arrow's allocator (mimalloc) otherwise keeps them a while, and
    a million lines free hundreds of MB of temporaries that numpy and pandas cannot reuse; glibc
    keeps freed heap pages too (malloc_trim gives back the whole free pages inside the heap)."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    trim = _glibc("malloc_trim")
    if trim is not None:
        trim(0)


def return_freed_memory_promptly() -> None:
    """Ask glibc's malloc to give large freed blocks back to the system at once.

    glibc serves blocks of 128 KiB and more with mmap and unmaps them on free, but after the
    first such free it raises that threshold (up to 32 MiB, "dynamic mmap threshold", see
    mallopt(3)), so the pipeline's many temporary arrays of a few MiB then come from the heap and
    stay in the process after they are freed: about 100 MB more peak memory at a million lines.
    Setting the threshold explicitly turns the adjustment off. At 2 MiB the many smaller arrays
    still reuse heap pages (release_unused trims what is left free), while each fresh mmap costs
    page faults: measured at a million lines, 1 MiB gave 1.9-2.0 s and 480 MB, 2 MiB 1.7-1.8 s and
    490-505 MB, the dynamic threshold 1.5-1.6 s but up to 595 MB. No-op where libc is not glibc.
    """
    mallopt = _glibc("mallopt")
    if mallopt is not None:
        m_mmap_threshold = -3  # from glibc's malloc.h
        mallopt(m_mmap_threshold, 2 << 20)


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

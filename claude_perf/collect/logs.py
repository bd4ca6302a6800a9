"""A container's logs into the store: from the stored cursor on, in batches, a writer thread
storing one batch while the next is read.

Lines go to the store in batches, one transaction each, keyed so that re-fetching never doubles
a line; the cursor margin re-reads a little before the last stored line because the two streams
are stamped by separate copiers.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any

from claude_perf.collect.frames import FrameParser, frames_of_blocks, parse_log_lines
from claude_perf.collect.logstream import open_log_stream
from claude_perf.durations import NS_PER_S
from claude_perf.store.db import Store

BATCH_LINES = 20_000
BATCH_BYTES = 8 << 20  # a batch is also cut after this much log text (long lines)
# Re-fetch this much before the cursor: stdout and stderr are stamped by separate copiers, so a
# line of one stream may reach the log file just after a later-stamped line of the other.
CURSOR_MARGIN_NS = 2 * NS_PER_S

Progress = Callable[[str, int, int | None], None]  # (what, done, total or None)
LOGS_INTERRUPTED = "the log fetch was interrupted"


def collect_logs(
    api: Any,
    store: Store,
    key: int,
    container_id: str,
    tty: bool,
    since_ns: int | None,
    until_ns: int | None,
    batch_lines: int,
    progress: Progress | None = None,
) -> tuple[int, int, list[str]]:
    """Fetch a container's logs from the stored cursor on; returns (seen, new, notes).

    Longer than most functions here: the read loop, the writer thread and the handling of an
    interrupted or broken stream share the batch queue, the failure slot and the counts; split
    apart, each piece would take all of them as arguments.
    """
    cursor = store.cursor(key)
    asked = since_ns or 0
    start = asked
    if cursor is not None and cursor.from_ns <= asked <= cursor.log_ts_ns + 1:
        start = max(asked, cursor.log_ts_ns - CURSOR_MARGIN_NS)
    elif cursor is not None and cursor.from_ns <= asked:
        start = asked  # after the covered range: a new stretch
    notes: list[str] = []
    body = open_log_stream(api, container_id, start or None, until_ns)
    # A writer thread stores batches while this one reads the engine's stream, so the engine
    # never waits for SQLite; the queue bound keeps memory at a few batches.
    batches: queue.Queue[list[tuple[int, str, str]] | None] = queue.Queue(maxsize=4)
    totals = {"seen": 0, "new": 0}
    failure: list[BaseException] = []

    def write() -> None:
        while True:
            batch = batches.get()
            if batch is None:
                return
            if failure:
                continue  # drain: the reader stops at its next put
            try:
                totals["new"] += store.add_lines(key, batch, start)
                totals["seen"] += len(batch)
            except BaseException as exc:
                failure.append(exc)
            if progress:
                progress("logs", totals["seen"], None)

    writer = threading.Thread(target=write, name="claude-perf-store-writer", daemon=True)
    writer.start()
    rows: list[tuple[int, str, str]] = []
    read = 0
    try:
        if tty:
            for row in parse_log_lines(frames_of_blocks(body.blocks(), tty)):
                rows.append(row)
                if len(rows) >= batch_lines:
                    read += len(rows)
                    batches.put(rows)
                    rows = []
                    if failure:
                        break
        else:
            parser = FrameParser()
            unread = 0  # body bytes parsed into ``rows``
            for block in body.blocks():
                unread += len(block)
                parser.feed(block, rows)
                if len(rows) >= batch_lines or unread >= BATCH_BYTES:
                    read += len(rows)
                    batches.put(rows)
                    rows, unread = [], 0
                    if failure:
                        break
            else:
                if parser.pending:
                    # An HTTP/1.0 body ends when the connection closes, so a stream cut short
                    # shows only here, as a frame left unfinished (the lines before it stay).
                    raise ConnectionError("the engine ended the log stream inside a frame")
                parser.finish(rows)
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (see _sigterm_as_interrupt)
        notes.append(
            f"{LOGS_INTERRUPTED} after {read + len(rows)} line(s): what arrived is kept, "
            "collect again to complete it"
        )
    except Exception as exc:  # the engine dropped the stream (container removed, engine stopped)
        notes.append(
            f"the log stream broke after {read + len(rows)} line(s) ({type(exc).__name__}); "
            "what arrived is kept, collect again to complete it"
        )
    finally:
        # Everything read is stored before returning, even when interrupted: a second Ctrl-C
        # while the writer finishes is ignored here (the writer thread cannot be stopped
        # half-way safely; each batch is one transaction anyway).
        _put_and_join(batches, None if failure or not rows else rows, writer)
        with contextlib.suppress(Exception):
            body.close()
    if failure:
        raise failure[0]
    seen, new = totals["seen"], totals["new"]
    return seen, new, notes


def _put_and_join(
    batches: queue.Queue[list[tuple[int, str, str]] | None],
    rows: list[tuple[int, str, str]] | None,
    writer: threading.Thread,
) -> None:
    pending: list[list[tuple[int, str, str]] | None] = [rows, None] if rows else [None]
    while pending or writer.is_alive():
        try:
            while pending:
                batches.put(pending[0])
                pending.pop(0)
            writer.join()
        except KeyboardInterrupt:
            continue

"""Benchmark: peak memory of `claude-perf report --since` on a store of 1M or 3M generated lines.

Issue 13: reading the store for ``report --since`` is bounded like a large file. The store is
filled through the store's own insert API (Store.add_lines, in collect's batches of 20,000)
from a generated ``docker logs -t`` log (benchmarks/gen_log.py's output, e.g.
``.bench-cache/proxy-1000000.log``), its lines spread over CONTAINERS containers in turns of
1,000 lines (several sources, as replicas give). Then the report runs as a child process
ROUNDS times; its peak RSS (os.wait4) and wall time are printed, with the median.

Run: ``python -m benchmarks.store_report_bench LOG [CONTAINERS] [ROUNDS]``; the store is kept
beside the log as LOG.CONTAINERS.store.db (made once; delete it to fill again). With another
claude-perf on PYTHONPATH (an older checkout) the same store is filled and read by that one.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BATCH_LINES = 20_000
TURN_LINES = 1_000
SINCE = "2000-01-01T00:00:00Z"


def parse_line(line: bytes, cache: dict[bytes, int]) -> tuple[int, str] | None:
    """(ts_ns, text) of a ``docker logs -t`` line; the seconds part of the time is cached."""
    from claude_perf.durations import parse_instant_ns

    if len(line) < 31 or line[30:31] != b" " or line[29:30] != b"Z":
        return None
    head = line[:19]
    base = cache.get(head)
    if base is None:
        base = cache[head] = parse_instant_ns(head.decode("ascii") + "Z")
    return base + int(line[20:29]), line[31:].rstrip(b"\n").decode("utf-8", "replace")


def fill(log: Path, store_path: Path, containers: int) -> int:
    """The log's lines into a new store, spread over ``containers`` containers; lines stored."""
    from claude_perf.store.db import Store

    cache: dict[bytes, int] = {}
    stored = 0
    with Store(store_path) as store, log.open("rb") as fh:
        keys = [
            store.save_container({"id": f"{i:064x}", "name": f"proxy-{i}", "image": "gen"})
            for i in range(containers)
        ]
        batches: list[list[tuple[int, str, str]]] = [[] for _ in keys]
        for number, line in enumerate(fh):
            parsed = parse_line(line, cache)
            if parsed is None:
                continue
            which = (number // TURN_LINES) % containers
            batches[which].append((parsed[0], "stdout", parsed[1]))
            if len(batches[which]) >= BATCH_LINES:
                stored += store.add_lines(keys[which], batches[which], 0)
                batches[which] = []
        for key, batch in zip(keys, batches, strict=True):
            if batch:
                stored += store.add_lines(key, batch, 0)
    return stored


def run_report(store_path: Path, out: Path) -> tuple[float, float, int]:
    """(wall s, peak RSS MB, exit status) of one `report --since` child."""
    argv = [sys.executable, "-m", "claude_perf", "report", "--since", SINCE]
    argv += ["--store", str(store_path), "--format", "json", "--output", str(out)]
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 3) and proc.stderr is not None:  # 3: a gate failed, the report is made
        sys.stderr.write(proc.stderr.read().decode("utf-8", "replace")[-2000:])
    return wall, usage.ru_maxrss / 1024.0, code


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    log = Path(argv[0])
    containers = int(argv[1]) if len(argv) > 1 else 1
    rounds = int(argv[2]) if len(argv) > 2 else 3
    store_path = Path(os.environ.get("STORE_BENCH_DB") or f"{log}.{containers}.store.db")
    if not store_path.exists():
        started = time.perf_counter()
        lines = fill(log, store_path, containers)
        print(f"filled {store_path}: {lines:,} lines in {time.perf_counter() - started:.1f} s")
    runs = []
    with tempfile.TemporaryDirectory(prefix="claude-perf-store-bench-") as tmp:
        for round_ in range(rounds):
            wall, mb, code = run_report(store_path, Path(tmp) / "report.json")
            runs.append((wall, mb))
            print(f"round {round_ + 1}: wall {wall:6.2f} s, peak {mb:6.0f} MB, exit {code}")
    print(
        f"report --since, {containers} container(s): median wall "
        f"{statistics.median(w for w, _ in runs):.2f} s, median peak "
        f"{statistics.median(m for _, m in runs):.0f} MB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

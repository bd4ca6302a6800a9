"""Benchmark: `claude-perf collect` of 1,000,000 log lines against `docker logs -t NAME`.

Targets (issue 3): collect wall time at most 1.2x the docker CLI's on the same container, peak
memory (max RSS of the collect process) at most 150 MB. The docker CLI is used here only as the
yardstick. Both run as child processes; each child's own rusage comes from os.wait4.

The machine's noise (other containers, other sessions) easily moves one run by 30 %, so each
side runs ROUNDS times, alternating (docker, ours, docker, ours, ...), every collect into a fresh
store; the ratio is of the medians, and every run is printed.

Run: ``python -m benchmarks.collect_bench`` (skips with a message when no engine answers);
``CLAUDE_PERF_BENCH_ROUNDS=N`` changes the number of rounds.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

LINES = 1_000_000
ROUNDS = int(os.environ.get("CLAUDE_PERF_BENCH_ROUNDS", "3"))
TIME_RATIO_TARGET = 1.2
PEAK_MB_TARGET = 150.0
REPO = Path(__file__).resolve().parent.parent


def run_child(argv: list[str], stdout: Any) -> tuple[float, float, int, float]:
    """(wall seconds, peak RSS in MB, exit status, CPU seconds) of one child process.

    The CPU time (user + system) is printed beside the wall time: it moves much less with the
    machine's noise, so it shows a change in our own work even when the wall times scatter.
    """
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=stdout, stderr=subprocess.PIPE, cwd=REPO)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0 and proc.stderr is not None:
        sys.stderr.write(proc.stderr.read().decode("utf-8", "replace"))
    cpu = usage.ru_utime + usage.ru_stime
    return wall, usage.ru_maxrss / 1024.0, proc.returncode, cpu


def main() -> int:
    try:
        import docker

        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as exc:
        print(
            f"collect_bench: SKIPPED - no Docker Engine answers ({exc}); "
            "start one with: bash .ci/docker-up.sh"
        )
        return 0
    docker_cli = shutil.which("docker")
    if docker_cli is None:
        print("collect_bench: SKIPPED - the docker CLI (the yardstick) is not installed")
        return 0
    sys.path.insert(0, str(REPO / "tests"))
    from docker_support import BUSYBOX_TAG, LABELS, build_busybox_image

    build_busybox_image(client)
    name = f"claude-perf-bench-{os.getpid()}"
    container = client.containers.run(
        BUSYBOX_TAG, ["seq", "1", str(LINES)], name=name, labels=LABELS, detach=True
    )
    try:
        deadline = time.monotonic() + 300
        while True:
            container.reload()
            if container.status == "exited":
                break
            if time.monotonic() > deadline:
                print("collect_bench: the log writer did not finish within 300 s")
                return 1
            time.sleep(0.2)
        cli_runs: list[tuple[float, float, float]] = []
        our_runs: list[tuple[float, float, float]] = []
        with (
            open(os.devnull, "wb") as null,
            tempfile.TemporaryDirectory(prefix="claude-perf-bench-") as tmp,
        ):
            # warm the page cache so neither side pays for the first read of the log file
            run_child([docker_cli, "logs", "-t", name], null)
            for round_ in range(ROUNDS):
                wall, mb, _, cpu = run_child([docker_cli, "logs", "-t", name], null)
                cli_runs.append((wall, mb, cpu))
                store = Path(tmp) / f"bench-{round_}.db"
                argv = [
                    sys.executable,
                    "-m",
                    "claude_perf",
                    "collect",
                    "--container",
                    name,
                    "--store",
                    str(store),
                ]
                wall, mb, status, cpu = run_child(argv, subprocess.DEVNULL)
                if status != 0:
                    print(f"collect_bench: claude-perf collect failed (exit {status})")
                    return 1
                our_runs.append((wall, mb, cpu))
                print(
                    f"round {round_ + 1}: docker logs -t {cli_runs[-1][0]:6.2f} s "
                    f"(cpu {cli_runs[-1][2]:.2f} s), claude-perf collect {wall:6.2f} s "
                    f"(cpu {cpu:.2f} s) ({wall / cli_runs[-1][0]:.2f}x)"
                )
                import sqlite3

                with contextlib.closing(sqlite3.connect(store)) as conn:
                    stored = conn.execute("SELECT SUM(lines) FROM log_blocks").fetchone()[0] or 0
                store_mb = store.stat().st_size / 2**20
                if stored != LINES:
                    break
    finally:
        container.remove(force=True)
    cli_s = statistics.median(w for w, _, _ in cli_runs)
    cli_mb = max(m for _, m, _ in cli_runs)
    cli_cpu = statistics.median(c for _, _, c in cli_runs)
    ours_s = statistics.median(w for w, _, _ in our_runs)
    ours_mb = max(m for _, m, _ in our_runs)
    ours_cpu = statistics.median(c for _, _, c in our_runs)
    ratio = ours_s / cli_s
    # Each round's pair ran back to back, so its ratio is less moved by noise that drifts.
    paired = statistics.median(o[0] / c[0] for o, c in zip(our_runs, cli_runs, strict=True))
    print(f"lines in the container log: {LINES:,}; stored: {stored:,}; store {store_mb:.0f} MB")
    print(
        f"docker logs -t > /dev/null : median {cli_s:6.2f} s  ({LINES / cli_s:,.0f} lines/s), "
        f"peak {cli_mb:.0f} MB, cpu {cli_cpu:.2f} s"
    )
    print(
        f"claude-perf collect        : median {ours_s:6.2f} s  ({LINES / ours_s:,.0f} lines/s), "
        f"peak {ours_mb:.0f} MB, cpu {ours_cpu:.2f} s"
    )
    ok_time = ratio <= TIME_RATIO_TARGET
    ok_mem = ours_mb <= PEAK_MB_TARGET
    print(
        f"time ratio of the medians {ratio:.2f}x (target <= {TIME_RATIO_TARGET}x): "
        f"{'met' if ok_time else 'MISSED'}; median of the rounds' ratios {paired:.2f}x"
    )
    print(
        f"peak memory {ours_mb:.0f} MB (target <= {PEAK_MB_TARGET:.0f} MB): "
        f"{'met' if ok_mem else 'MISSED'}"
    )
    if stored != LINES:
        print(f"collect_bench: stored {stored:,} lines, expected {LINES:,}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

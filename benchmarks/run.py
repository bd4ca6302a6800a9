"""Benchmark (`make bench`): `claude-perf report` over a generated 1,000,000-line proxy log.

Targets (issue 2, "Speed and memory"): at least 500,000 lines/s end to end on a 2-core machine
(interpreter start-up and imports included), peak memory (max RSS of the report process) at most
600 MB. The log is generated once into ``.bench-cache/`` and reused. The report runs as a child
process; its own rusage comes from os.wait4. Figures are printed with PASS/MISS; a missed figure
never fails the run (the machine may be busy). When ``benchmarks/collect_bench.py`` exists and a
Docker Engine answers, the collect benchmark runs afterwards and prints its own figures; then the
`claude-perf load` driver's benchmark (benchmarks/load_bench.py) prints its overhead figures.
The report's figures are then checked against the generator's truth: counts, max_in_flight, and
per model requests, failures and p50/p95 of succeeded timed requests (tests/test_bench_truth.py
does the same on small logs, with the known gaps).

Run: ``python -m benchmarks.run [--lines N] [--repeat K]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

LINES = 1_000_000
LINES_PER_S_TARGET = 500_000.0
PEAK_MB_TARGET = 600.0
REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".bench-cache"


def ensure_log(lines: int) -> Path:
    """The generated log for this line count, written once into the cache folder."""
    path = CACHE / f"proxy-{lines}.log"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        print(f"generating {lines:,} lines into {path.relative_to(REPO)} ...", flush=True)
        with truth_path(path).open("w") as truth:
            subprocess.run(
                [sys.executable, "-m", "benchmarks.gen_log", str(partial), "--lines", str(lines)],
                cwd=REPO,
                check=True,
                stdout=truth,
            )
        partial.replace(path)
    return path


def truth_path(log: Path) -> Path:
    return log.with_name(log.name + ".truth.json")


# Latencies in the log are exact to this: JSON durationMs is in ms, key=value durations are the
# generator's own centiseconds, and the wrapper's start record is stamped at most 0.4 ms after
# the request arrived (benchmarks/gen_log.py, wrapper_request).
RESOLUTION_S = 0.001


def model_figures(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per model (a model no line names as gen_log.UNNAMED): the figures the truth also has."""
    from benchmarks.gen_log import UNNAMED

    out: dict[str, dict[str, Any]] = {}
    for row in summary["models"]:
        latency = row.get("latency_s") or {}
        out[row["model"] or UNNAMED] = {
            "requests": row["requests"],
            "failed": row["failed"],
            "timed": latency.get("n", 0),
            "p50": latency.get("p50"),
            "p95": latency.get("p95"),
        }
    return out


def figures_match(ours: dict[str, Any] | None, truth: dict[str, Any]) -> bool:
    """Counts equal, p50 and p95 within RESOLUTION_S."""
    if ours is None or any(ours[k] != truth[k] for k in ("requests", "failed", "timed")):
        return False
    for key in ("p50", "p95"):
        if (ours[key] is None) != (truth[key] is None):
            return False
        if ours[key] is not None and abs(ours[key] - truth[key]) > RESOLUTION_S:
            return False
    return True


def check_truth(log: Path, summary: dict[str, Any]) -> None:
    """Fast is worthless if wrong: the report's figures against what the generator wrote."""
    path = truth_path(log)
    if not path.exists():
        print("truth:  no ground truth beside the log (delete the log to regenerate both)")
        return
    truth = json.loads(path.read_text())
    pairs = [
        ("model requests", summary["requests"]["total"], truth["requests"]),
        ("health checks", summary["health"]["checks"], truth["health_checks"]),
        ("other requests", summary["requests"]["other_endpoints"], truth["models_list_requests"]),
        ("failed", summary["requests"]["failed"], sum(truth["failures_by_kind"].values())),
        ("max in flight", summary["throughput"]["max_in_flight"], truth["max_in_flight"]),
    ]
    for name, ours, theirs in pairs:
        verdict = "MATCH" if ours == theirs else f"OFF BY {ours - theirs:+,}"
        print(f"truth:  {name:<15} {ours:>9,} vs {theirs:>9,} generated  {verdict}")
    if "logged_models" not in truth:
        print("truth:  no per-model truth (an older cache: delete the log to regenerate both)")
        return
    ours_by_model = model_figures(summary)
    print(
        "truth:  per model, ours / generated: requests, failed, timed (succeeded with a latency), "
        f"p50 and p95 s (match: counts equal, percentiles within {RESOLUTION_S * 1000:g} ms)"
    )
    for model, theirs in truth["logged_models"].items():
        ours = ours_by_model.get(model)
        cells = [
            f"{_fmt((ours or {}).get(key))}/{_fmt(theirs[key])}"
            for key in ("requests", "failed", "timed", "p50", "p95")
        ]
        verdict = "MATCH" if figures_match(ours, theirs) else "DIFFERS"
        print(f"truth:    {model:<28} {'  '.join(cells)}  {verdict}")


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else f"{value:,}"


def run_child(argv: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, exit status) of one child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0 and proc.stderr is not None:
        sys.stderr.write(proc.stderr.read().decode("utf-8", "replace"))
    if proc.stderr is not None:
        proc.stderr.close()
    return wall, usage.ru_maxrss / 1024.0, code


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def report_bench(lines: int, repeat: int) -> None:
    log = ensure_log(lines)
    cli = Path(sys.executable).with_name("claude-perf")
    command = [str(cli)] if cli.exists() else [sys.executable, "-m", "claude_perf"]
    with tempfile.TemporaryDirectory(prefix="claude-perf-bench-") as tmp:
        out = Path(tmp) / "report.json"
        argv = [*command, "report", "-i", str(log), "-f", "json", "-o", str(out)]
        runs = []
        summary: dict[str, Any] = {}
        for attempt in range(1, repeat + 1):
            wall, peak_mb, code = run_child(argv)
            if code != 0:
                print(f"report run {attempt}: FAILED (exit status {code})")
                return
            runs.append((wall, peak_mb))
            summary = json.loads(out.read_text())
            print(
                f"report run {attempt}: {wall:.2f} s, {lines / wall:,.0f} lines/s, "
                f"peak RSS {peak_mb:.0f} MB"
            )
    best_wall = min(wall for wall, _ in runs)
    peak = max(mb for _, mb in runs)
    rate = lines / best_wall
    print(f"log: {log.relative_to(REPO)} ({lines:,} lines, {log.stat().st_size / 1e6:.0f} MB)")
    print(
        f"speed:  {rate:,.0f} lines/s (best of {len(runs)}, {best_wall:.2f} s wall) "
        f"target >= {LINES_PER_S_TARGET:,.0f}  {_verdict(rate >= LINES_PER_S_TARGET)}"
    )
    print(
        f"memory: {peak:.0f} MB peak RSS (max of {len(runs)}) "
        f"target <= {PEAK_MB_TARGET:.0f}  {_verdict(peak <= PEAK_MB_TARGET)}"
    )
    check_truth(log, summary)


def collect_bench() -> None:
    """The collect benchmark (issue 3), when it exists and an engine answers; figures printed."""
    if not (REPO / "benchmarks" / "collect_bench.py").exists():
        return
    try:
        import docker

        docker.from_env(timeout=10).ping()
    except Exception as exc:
        print(f"collect benchmark: SKIPPED - no Docker Engine answers ({exc})")
        return
    print("collect benchmark:", flush=True)
    result = subprocess.run([sys.executable, "-m", "benchmarks.collect_bench"], cwd=REPO)
    if result.returncode != 0:
        print(f"collect benchmark: exited with status {result.returncode} (not failing the run)")


def load_bench() -> None:
    """The `claude-perf load` driver's own cost (issue 11): benchmarks/load_bench.py."""
    print("load driver benchmark:", flush=True)
    result = subprocess.run([sys.executable, "-m", "benchmarks.load_bench"], cwd=REPO)
    if result.returncode != 0:
        print(
            f"load driver benchmark: exited with status {result.returncode} (not failing the run)"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.run", description=__doc__)
    parser.add_argument("--lines", type=int, default=LINES, help="generated log size")
    parser.add_argument("--repeat", type=int, default=2, help="report runs (best time wins)")
    parser.add_argument("--no-collect", action="store_true", help="skip the collect benchmark")
    parser.add_argument("--no-load", action="store_true", help="skip the load driver benchmark")
    args = parser.parse_args(argv)
    report_bench(args.lines, max(1, args.repeat))
    if not args.no_collect:
        collect_bench()
    if not args.no_load:
        load_bench()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

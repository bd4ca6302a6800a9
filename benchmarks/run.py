"""Benchmark (`make bench`): `claude-perf report` against GoAccess on the same traffic, and memory.

Issue 13. Absolute lines per second do not travel between machines, so the speed figure is a
ratio against GoAccess (a C log analyser) measured in the same run: the generator writes the
proxy log and, beside it, the same traffic's access lines in combined format; `claude-perf report
-f json` (a whole process: interpreter start-up included) and `goaccess FILE -o report.json` run
alternately, ROUNDS rounds each, and the medians of lines/s and the median of the pairs' ratios
are printed. Target: claude-perf's lines/s >= 10x GoAccess's. Each analyses every line of its own
input: the proxy log has about 2.7 lines per HTTP request, the access log one. claude_perf is
byte-compiled first (compileall), as an installed wheel would be: see ``byte_compile``.

Memory: peak RSS (os.wait4) of one report at each size (1M, 3M, 10M lines by default), target
<= 600 MB at every size, with where the time and memory go per stage (runtime/stages.py) and the
report's counts and per-model percentiles checked against the generator's truth at each size.
Nothing here fails the run: a missed figure is printed as MISS (the machine may be busy).
When ``benchmarks/collect_bench.py`` exists and a Docker Engine answers, the collect benchmark
runs afterwards and prints its own figures; then the `claude-perf load` driver's benchmark
(benchmarks/load_bench.py) prints its overhead figures.

Run: ``python -m benchmarks.run [--sizes 1000000,3000000] [--rounds K] [--no-collect] [--no-load]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SIZES = (1_000_000, 3_000_000, 10_000_000)
RATIO_TARGET = 10.0
PEAK_MB_TARGET = 600.0
REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".bench-cache"


def ensure_log(lines: int) -> Path:
    """The generated log for this line count, written once into the cache folder."""
    path = CACHE / f"proxy-{lines}.log"
    if not path.exists() or not access_path(path).exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        print(f"generating {lines:,} lines into {path.relative_to(REPO)} ...", flush=True)
        with truth_path(path).open("w") as truth:
            subprocess.run(
                [
                    *(sys.executable, "-m", "benchmarks.gen_log", str(partial)),
                    *("--lines", str(lines), "--access", str(access_path(path))),
                ],
                cwd=REPO,
                check=True,
                stdout=truth,
            )
        partial.replace(path)
    return path


def truth_path(log: Path) -> Path:
    return log.with_name(log.name + ".truth.json")


def access_path(log: Path) -> Path:
    """The same traffic's combined-format access log (GoAccess's input)."""
    return log.with_name(log.name + ".access")


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


def run_child(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, exit status) of one child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO, env=env
    )
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


def report_argv(log: Path, out: Path) -> list[str]:
    cli = Path(sys.executable).with_name("claude-perf")
    command = [str(cli)] if cli.exists() else [sys.executable, "-m", "claude_perf"]
    return [*command, "report", "-i", str(log), "-f", "json", "-o", str(out)]


def goaccess_argv(access: Path, out: Path) -> list[str] | None:
    """GoAccess over the access lines, non-interactive, JSON out; None when not installed."""
    exe = shutil.which("goaccess")
    if exe is None:
        return None
    return [
        *(exe, str(access), "--log-format=COMBINED", "--no-global-config"),
        *("--no-progress", "-o", str(out)),
    ]


class Run:
    """One report process: wall s, peak MB, its summary and its per-stage records."""

    def __init__(self, log: Path, tmp: Path) -> None:
        self.log, self.tmp = log, tmp
        self.out, self.stages_file = tmp / "report.json", tmp / "stages.json"

    def __call__(self) -> tuple[float, float, dict[str, Any], list[dict[str, Any]]]:
        env = {**os.environ, "CLAUDE_PERF_STAGES": str(self.stages_file)}
        wall, peak_mb, code = run_child(report_argv(self.log, self.out), env)
        if code != 0:
            raise SystemExit(f"claude-perf report failed (exit status {code}) on {self.log}")
        stages = json.loads(self.stages_file.read_text()) if self.stages_file.exists() else []
        return wall, peak_mb, json.loads(self.out.read_text()), stages


def print_stages(stages: list[dict[str, Any]], wall: float) -> None:
    """Where the time and memory went: each stage's wall seconds and RSS at its end."""
    if not stages:
        return
    inside = sum(float(s["wall_s"]) for s in stages)
    cells = [
        f"{s['stage']} {float(s['wall_s']):.2f} s/{float(s['rss_mb']):.0f} MB"
        f" (peak {float(s.get('peak_mb', 0)):.0f})"
        for s in stages
    ]
    cells.append(f"start-up, imports and exit {max(0.0, wall - inside):.2f} s")
    print("stages: " + ", ".join(cells))


def ratio_bench(lines: int, rounds: int) -> None:
    """claude-perf and GoAccess alternately on the same traffic: lines/s and their ratio."""
    log = ensure_log(lines)
    access = access_path(log)
    truth = json.loads(truth_path(log).read_text())
    with tempfile.TemporaryDirectory(prefix="claude-perf-bench-") as name:
        tmp = Path(name)
        goaccess = goaccess_argv(access, tmp / "goaccess.json")
        if goaccess is None:
            print("goaccess: not installed (make bench installs it: apt-get install goaccess)")
        ours_rates, theirs_rates, ratios = [], [], []
        run = Run(log, tmp)
        wall, peak_mb, summary, stages = 0.0, 0.0, {}, []
        for k in range(1, rounds + 1):
            wall, peak_mb, summary, stages = run()
            ours_rates.append(lines / wall)
            line = f"round {k}: claude-perf {wall:.2f} s ({lines / wall:,.0f} lines/s, "
            line += f"{peak_mb:.0f} MB)"
            if goaccess is not None:
                g_wall, g_peak, code = run_child(goaccess)
                if code != 0:
                    print(f"goaccess failed (exit status {code})")
                    goaccess = None
                else:
                    rate = truth["access_lines"] / g_wall
                    theirs_rates.append(rate)
                    ratios.append(ours_rates[-1] / rate)
                    line += f"; goaccess {g_wall:.2f} s ({rate:,.0f} lines/s, {g_peak:.0f} MB)"
            print(line, flush=True)
        if goaccess is not None and (tmp / "goaccess.json").exists():
            general = json.loads((tmp / "goaccess.json").read_text())["general"]
            seen = general.get("total_requests")
            verdict = "MATCH" if seen == truth["access_lines"] else "DIFFERS"
            print(
                f"goaccess: {seen:,} requests read of {truth['access_lines']:,} written  {verdict}"
            )
    ours = statistics.median(ours_rates)
    print(f"log: {log.relative_to(REPO)} ({lines:,} lines, {log.stat().st_size / 1e6:.0f} MB)")
    print(f"claude-perf: {ours:,.0f} lines/s (median of {len(ours_rates)})")
    if ratios:
        print(
            f"goaccess:    {statistics.median(theirs_rates):,.0f} lines/s (median of "
            f"{len(theirs_rates)}; {truth['access_lines']:,} combined-format lines, "
            f"{access.stat().st_size / 1e6:.0f} MB)"
        )
        ratio = statistics.median(ratios)
        print(
            f"ratio: {ratio:.2f}x GoAccess's lines/s (median of the rounds' ratios, "
            f"min {min(ratios):.2f}, max {max(ratios):.2f}) target >= {RATIO_TARGET:g}x  "
            f"{_verdict(ratio >= RATIO_TARGET)}"
        )
    memory_line(lines, peak_mb, wall, stages)
    check_truth(log, summary)


def memory_line(lines: int, peak_mb: float, wall: float, stages: list[dict[str, Any]]) -> None:
    print(
        f"memory at {lines:,} lines: {peak_mb:.0f} MB peak RSS, {wall:.2f} s "
        f"({lines / wall:,.0f} lines/s) target <= {PEAK_MB_TARGET:.0f}  "
        f"{_verdict(peak_mb <= PEAK_MB_TARGET)}"
    )
    print_stages(stages, wall)


def memory_bench(lines: int) -> None:
    """One report at this size: peak RSS, stages, and the truth."""
    log = ensure_log(lines)
    with tempfile.TemporaryDirectory(prefix="claude-perf-bench-") as name:
        wall, peak_mb, summary, stages = Run(log, Path(name))()
    memory_line(lines, peak_mb, wall, stages)
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


def byte_compile() -> None:
    """claude_perf's modules compiled to bytecode before the runs, as an installed wheel has them.

    pip compiles a wheel's modules at install time, but this checkout is installed editable and
    a machine may set PYTHONDONTWRITEBYTECODE=1 (these do): every run would then compile all of
    claude_perf's ~100 modules from source again (about 50 ms of each run's start-up; report -f
    json on 1,000 lines: wall 0.93, CPU 0.90 with the bytecode, 7 alternating pairs). compileall
    writes it once, next to the sources (``__pycache__``, ignored by git), whatever that setting.
    """
    import compileall

    ok = compileall.compile_dir(str(REPO / "claude_perf"), quiet=1)
    print(f"claude_perf byte-compiled first (compileall{'' if ok else ': some modules failed'})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.run", description=__doc__)
    parser.add_argument(
        "--sizes",
        default=",".join(str(n) for n in SIZES),
        help="generated log sizes in lines, comma-separated; the first is the ratio's",
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of each tool")
    parser.add_argument("--no-collect", action="store_true", help="skip the collect benchmark")
    parser.add_argument("--no-load", action="store_true", help="skip the load driver benchmark")
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.sizes.split(",") if n.strip()]
    print(f"machine: {machine()}", flush=True)
    byte_compile()
    ratio_bench(sizes[0], max(1, args.rounds))
    for lines in sizes[1:]:
        memory_bench(lines)
    if not args.no_collect:
        collect_bench()
    if not args.no_load:
        load_bench()
    return 0


def machine() -> str:
    """CPU model and core count, for the figures' context."""
    model = "unknown CPU"
    try:
        for row in Path("/proc/cpuinfo").read_text().splitlines():
            if row.startswith("model name"):
                model = row.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores"


if __name__ == "__main__":
    raise SystemExit(main())

"""report --stats / --health: hand-captured docker stats lines and State.Health as samples and facts.

Known answers from the reference capture's own files (fixtures/capture/stats.txt, health.json:
four ``docker stats --no-stream --format '{{json .}}'`` snapshots and the engine's State.Health
at the end of the run).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from claude_perf.analysis.reliability import health_figures
from claude_perf.analysis.resources import summarise
from claude_perf.analysis.utilisation import utilisation_of
from claude_perf.errors import InputError
from claude_perf.ingest.health_files import read_health_file
from claude_perf.ingest.stats_files import (
    parse_pct,
    parse_size_bytes,
    read_stats_files,
)
from tests.cli_support import ROOT, run_cli

CAPTURE = ROOT / "fixtures" / "capture"
STATS = CAPTURE / "stats.txt"
HEALTH = CAPTURE / "health.json"
LOG = CAPTURE / "docker-logs-t.txt"
MIB = 1024**2
GIB = 1024**3
NO_REQUESTS = pd.DataFrame({"kind": [], "start": [], "end": []})


def test_sizes_read_in_the_units_docker_cli_writes() -> None:
    # go-units: BytesSize is binary (MemUsage), HumanSizeWithPrecision decimal (NetIO, BlockIO).
    assert parse_size_bytes("1.48kB") == pytest.approx(1480)
    assert parse_size_bytes("73.85MiB") == pytest.approx(77_437_337.6)  # 73.85 × 1,048,576
    assert parse_size_bytes("0B") == 0
    assert parse_size_bytes("12.5GB") == pytest.approx(12.5e9)
    assert parse_size_bytes("23.54GiB") == pytest.approx(23.54 * GIB)
    assert parse_size_bytes("886B") == 886
    assert math.isnan(parse_size_bytes("--"))
    assert parse_pct("12.34%") == pytest.approx(12.34)
    assert math.isnan(parse_pct("--"))
    for bad in ("12XB", "1.5 parsecs", "", "12"):
        with pytest.raises(ValueError):
            parse_size_bytes(bad)


def test_the_capture_s_four_snapshots_pool_without_times() -> None:
    read = read_stats_files([str(STATS)])
    samples = read.samples
    assert len(samples) == 4
    assert samples["ts"].isna().all()  # plain lines carry no time: none invented
    assert str(samples["ts"].dtype) == "datetime64[ns, UTC]"
    assert read.notes == (
        f"{STATS}: 4 docker stats snapshot(s) without times: figures pooled over them, not "
        "placed in the window (counters grow in file order)",
    )
    summary = summarise(samples)
    # CPU: (0.27 + 0.27 + 0.24 + 0.28) / 4 = 1.06 / 4 = 0.265
    assert summary.cpu_pct_mean == pytest.approx(0.265)
    assert summary.cpu_pct_max == pytest.approx(0.28)
    # Memory peak 74.23 MiB = 74.23 × 1,048,576 = 77,594,624 + 241,172.48 = 77,835,796.48 B
    assert summary.mem_bytes_max == pytest.approx(77_835_796.48)
    assert summary.mem_bytes_limit == pytest.approx(23.54 * GIB)
    assert summary.pids_max == 5
    # NetIO in decimal units, file order: received 1.48 kB → 13.4 kB, sent 886 B → 15.3 kB.
    assert summary.net_rx_bytes == 13_400 - 1_480
    assert summary.net_tx_bytes == 15_300 - 886
    assert summary.blk_read_bytes == 0


def test_untimed_snapshots_give_no_split_slope_or_span() -> None:
    (u,) = utilisation_of(read_stats_files([str(STATS)]).samples, NO_REQUESTS)
    assert u.container == "claude-perf-trial-ccow"
    assert not u.timed
    assert u.pooled is not None and u.pooled.samples == 4
    assert u.pooled.cpu_pct_mean == pytest.approx(0.265)
    assert u.idle.cpu_pct_mean is None and u.load.cpu_pct_mean is None
    assert u.mem_slope_bytes_per_min is None and u.interval_s is None and u.span_s is None
    assert u.net_rx_bytes == pytest.approx(11_920)  # file order
    assert u.per_request(u.net_rx_bytes) is None


def test_timed_lines_and_the_array_form(tmp_path: Path) -> None:
    lines = STATS.read_text().splitlines()
    timed = tmp_path / "timed.txt"
    timed.write_text(
        "".join(f"2026-11-29T00:50:{40 + 5 * n}.123Z\t{line}\n" for n, line in enumerate(lines))
    )
    samples = read_stats_files([str(timed)]).samples
    assert samples["ts"].notna().all()
    assert samples["ts"].iloc[0] == pd.Timestamp("2026-11-29T00:50:40.123Z")
    (u,) = utilisation_of(samples, NO_REQUESTS)
    assert u.timed and u.interval_s == pytest.approx(5.0) and u.span_s == pytest.approx(15.0)
    wrong = tmp_path / "wrong.txt"
    wrong.write_text(f"2026-11-29T00:50:61Z {lines[0]}\n")
    with pytest.raises(InputError, match=r"wrong.txt:1: time '2026-11-29T00:50:61Z'"):
        read_stats_files([str(wrong)])
    array = tmp_path / "array.json"
    array.write_text(json.dumps([json.loads(line) for line in lines]))
    read = read_stats_files([str(array)])
    assert len(read.samples) == 4 and read.samples["ts"].isna().all()


def test_a_gap_is_nan_never_zero(tmp_path: Path) -> None:
    line = json.loads(STATS.read_text().splitlines()[0])
    line.update(CPUPerc="--", MemUsage="-- / --", PIDs="--")
    path = tmp_path / "gap.txt"
    path.write_text(json.dumps(line) + "\n")
    row = read_stats_files([str(path)]).samples.iloc[0]
    assert math.isnan(row["cpu_pct"]) and math.isnan(row["mem_used_bytes"])
    assert math.isnan(row["pids"])


def test_bad_stats_files_are_one_line_errors_naming_file_and_line(tmp_path: Path) -> None:
    first = STATS.read_text().splitlines()[0]
    cases = {
        "broken.txt": (f"{first}\n{{oops\n", ":2: not JSON"),
        "other.txt": (HEALTH.read_text(), ":1: not a docker stats object"),
        "unit.txt": (first.replace("1.48kB", "1.48XB") + "\n", ":1: size '1.48XB'"),
    }
    for name, (text, expected) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(InputError) as error:
            read_stats_files([str(path)])
        assert str(error.value).startswith(f"{path}{expected}"), str(error.value)
        assert "\n" not in str(error.value)
    with pytest.raises(InputError, match="no such stats file"):
        read_stats_files([str(tmp_path / "missing.txt")])


def test_the_capture_s_health_record_gives_five_probes() -> None:
    facts = read_health_file(str(HEALTH), (("f0ccb7f9bc8d", "claude-perf-trial-ccow"),))
    assert facts["name"] == "claude-perf-trial-ccow"  # the one container the stats lines name
    assert facts["health_status"] == "healthy" and facts["failing_streak"] == 0
    assert len(facts["health_log"]) == 5
    assert read_health_file(str(HEALTH))["name"] == "unknown"
    health = SimpleNamespace(checks=0, failed=0, success_rate=None, median_interval_s=None)
    metrics = SimpleNamespace(health=health, window_start=None, window_end=None)
    figures = health_figures(metrics, (facts,))  # type: ignore[arg-type]
    assert (figures.source, figures.checks, figures.failed) == ("engine", 5, 0)
    # Starts 55.8245, 00.9966, 06.1200, 11.2808, 16.4249 s: gaps 5.1722, 5.1233, 5.1608, 5.1441;
    # median of the middle two (5.1441 + 5.1608) / 2 = 5.1525 s.
    assert figures.interval_measured_s == pytest.approx(5.1525, abs=1e-4)


def test_a_whole_docker_inspect_gives_identity_and_state(tmp_path: Path) -> None:
    health = json.loads(HEALTH.read_text())
    inspect = [
        {
            "Id": "f0ccb7f9bc8d" + "0" * 52,
            "Name": "/proxy",
            "RestartCount": 2,
            "State": {
                "Status": "running",
                "StartedAt": "2026-11-29T00:50:40Z",
                "OOMKilled": False,
                "Health": health,
            },
            "Config": {"Healthcheck": {"Test": ["CMD", "true"], "Interval": 5_000_000_000}},
            "HostConfig": {},
        }
    ]
    path = tmp_path / "inspect.json"
    path.write_text(json.dumps(inspect))
    facts = read_health_file(str(path), (("other", "other"),))
    assert facts["name"] == "proxy" and facts["restart_count"] == 2
    assert facts["status"] == "running" and facts["oom_killed"] is False
    assert facts["health_config"]["interval_s"] == 5.0
    assert len(facts["health_log"]) == 5 and facts["source"] == "inspect-file"
    bad = tmp_path / "bad.json"
    bad.write_text(STATS.read_text().splitlines()[0])
    with pytest.raises(InputError, match=r"not a State\.Health record"):
        read_health_file(str(bad))


def test_report_with_stats_and_health_counts_them() -> None:
    result = run_cli(
        "report", "-i", str(LOG), "--stats", str(STATS), "--health", str(HEALTH), "-f", "json"
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    resources = summary["resources"]
    assert resources["samples"] == 4 and resources["untimed_samples"] == 4
    assert resources["cpu_pct"]["mean"] == pytest.approx(0.265)
    assert resources["mem_bytes"]["max"] == 77_835_796  # 74.23 MiB, rounded
    assert resources["pids_max"] == 5 and resources["net_rx_bytes"] == 11_920
    container = summary["container"]
    assert container["name"] == "claude-perf-trial-ccow"
    assert len(container["health_log"]) == 5 and container["health_status"] == "healthy"


def test_the_markdown_report_measures_resources_and_probes(tmp_path: Path) -> None:
    out = tmp_path / "report.md"
    result = run_cli(
        "report", "-i", str(LOG), "--stats", str(STATS), "--health", str(HEALTH), "-o", str(out)
    )
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    resources = text.split("Resource utilisation", 1)[1].split("\n## ", 1)[0]
    assert "Not measured" not in resources
    assert "All snapshots (n=4)" in resources and "0.27%" in resources  # 0.265 at 2 decimals
    assert "Idle vs under load:** unknown (the snapshots carry no time)" in resources
    assert "shows 5/5 (100.0%) passed" in text
    assert "Engine health status:** claude-perf-trial-ccow: healthy, failing streak 0" in text
    assert "4 docker stats snapshot(s) without times" in text
    summary = text.split("Executive summary", 1)[1].split("\n## ", 1)[0]
    assert "uptime unknown (the --health file holds no start or stop events)" in summary
    # charts are drawn, but none of resources: untimed snapshots have no place on a time axis
    charts = sorted(p.name for p in tmp_path.glob("**/*.png"))
    assert charts == ["latency_by_model.png", "latency_over_time.png", "requests_over_time.png"]


def test_a_broken_stats_line_exits_2_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "stats.txt"
    path.write_text(STATS.read_text().splitlines()[0] + "\n{oops\n")
    result = run_cli("report", "-i", str(LOG), "--stats", str(path), "-f", "json")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{path}:2: not JSON" in lines[0]
    other = run_cli("report", "-i", str(LOG), "--stats", str(HEALTH), "-f", "json")
    assert other.returncode == 2
    assert len(other.stderr.strip().splitlines()) == 1
    assert "not a docker stats object" in other.stderr

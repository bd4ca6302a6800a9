"""Known answers for resources.py: real engine frames (fixtures/docker) and tiny hand-made frames.

Every expected figure is computed here from the JSON fields with the docker/cli formula written
out (cli/command/container/stats_helpers.go), not copied from the code under test.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from claude_perf.analysis.resources import counter_growth, summarise
from claude_perf.collect.stats import sample_row, samples_frame
from claude_perf.ingest.session import SAMPLE_COLUMNS

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "docker"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def docker_cpu_pct(cur: dict[str, Any], pre: dict[str, Any]) -> float:
    """calculateCPUPercentUnix, written out: Δtotal_usage / Δsystem_cpu_usage × online × 100."""
    cpu_delta = cur["cpu_usage"]["total_usage"] - pre["cpu_usage"]["total_usage"]
    system_delta = cur["system_cpu_usage"] - pre["system_cpu_usage"]
    online = cur.get("online_cpus") or len(cur["cpu_usage"]["percpu_usage"])
    return cpu_delta / system_delta * online * 100.0


# ---------------------------------------------------------------- real frames, cgroup v1


def test_cgroup_v1_oneshot_frame_matches_docker_stats_by_hand() -> None:
    frame = load("stats-cgroupv1-standin-oneshot.json")
    row = sample_row(frame)
    # (814129201 - 791283441) / (995810000000 - 993820000000) * 2 * 100
    assert row.cpu_pct == pytest.approx(22845760 / 1990000000 * 2 * 100)
    assert row.cpu_pct == pytest.approx(2.2960563, rel=1e-6)
    assert row.online_cpus == 2
    # v1: usage - total_inactive_file (0 < usage): 39571456 - 0
    assert row.mem_used_bytes == 39571456
    assert row.mem_limit_bytes == 25276502016
    assert row.mem_pct == pytest.approx(39571456 / 25276502016 * 100)
    assert (row.net_rx_bytes, row.net_tx_bytes) == (9832, 9116)
    # io_service_bytes_recursive is [] on this engine: nothing read or written, a real zero
    assert (row.blk_read_bytes, row.blk_write_bytes) == (0, 0)
    assert row.pids == 3
    assert row.cgroup == "v1"
    assert row.container_name == "claude-perf-capture-standin"
    assert row.container_id.startswith("2d67e34308f4")
    assert row.ts_ns == 1795916914177761197  # 2026-11-29T01:48:34.177761197Z, every digit kept


def test_cgroup_v1_stream_first_frame_is_a_cpu_gap_not_zero() -> None:
    frames = load("stats-cgroupv1-busyloop-stream.json")
    first = sample_row(frames[0])
    # preread is Go's zero time and precpu_stats has no system_cpu_usage: docker prints 0 %
    assert math.isnan(first.cpu_pct)
    assert first.mem_used_bytes == 626688


def test_cgroup_v1_stream_busy_loop_pegs_one_core() -> None:
    frames = load("stats-cgroupv1-busyloop-stream.json")
    for previous, frame in itertools.pairwise(frames):
        expected = docker_cpu_pct(frame["cpu_stats"], frame["precpu_stats"])
        by_precpu = sample_row(frame)
        by_own_previous = sample_row(frame, previous)
        assert by_precpu.cpu_pct == pytest.approx(expected)
        # precpu_stats of a streaming frame is the previous frame's cpu_stats
        assert by_own_previous.cpu_pct == pytest.approx(expected)
        assert 95.0 < by_precpu.cpu_pct < 105.0  # `while :; do :; done`: one core of two
    # frame 1 by hand: (1037649588 - 43021247) / (1012290000000 - 1010300000000) * 2 * 100
    assert sample_row(frames[1]).cpu_pct == pytest.approx(994628341 / 1990000000 * 200)


def test_own_previous_frame_serves_one_shot_sampling() -> None:
    frames = load("stats-cgroupv1-busyloop-stream.json")
    one_shot = copy.deepcopy(frames[3])
    one_shot["precpu_stats"] = {"cpu_usage": {"total_usage": 0}}  # as one_shot=True returns
    assert math.isnan(sample_row(one_shot).cpu_pct)
    # frames[1] -> frames[3]: (3044884210 - 1037649588) / (1016280000000 - 1012290000000) * 200
    row = sample_row(one_shot, frames[1])
    assert row.cpu_pct == pytest.approx(2007234622 / 3990000000 * 200)


# ---------------------------------------------------------------- real frames, cgroup v2


def test_cgroup_v2_stream_frame_docker_desktop() -> None:
    frame = load("stats-cgroupv2-dockerdesktop-stream-frame.json")
    row = sample_row(frame)
    # (105675152000 - 105674517000) / (964268510000000 - 964260490000000) * 8 * 100
    assert row.cpu_pct == pytest.approx(635000 / 8020000000 * 800)
    assert row.online_cpus == 8
    # v2: usage - inactive_file: 175489024 - 75161600
    assert row.mem_used_bytes == 175489024 - 75161600
    assert row.mem_limit_bytes == 4113825792
    assert row.mem_pct == pytest.approx((175489024 - 75161600) / 4113825792 * 100)
    # lower-case v2 ops summed over both devices
    assert row.blk_read_bytes == 40759296 + 114688
    assert row.blk_write_bytes == 3485696 + 0
    assert (row.net_rx_bytes, row.net_tx_bytes) == (240518, 6461791)
    assert row.pids == 237
    assert row.cgroup == "v2"


def test_cgroup_v2_oneshot_frame_has_no_cpu_but_everything_else() -> None:
    frame = load("stats-cgroupv2-oneshot-frame.json")
    row = sample_row(frame)
    assert math.isnan(row.cpu_pct)  # precpu_stats all zero: no earlier reading
    assert row.online_cpus == 4
    assert row.mem_used_bytes == 4194304 - 1253376
    assert row.blk_read_bytes == 3383296
    assert row.blk_write_bytes == 0
    assert row.pids == 1
    assert row.cgroup == "v2"


# ---------------------------------------------------------------- hand-made frames


def frame(
    read: str,
    total: int | None,
    system: int | None,
    *,
    pre_total: int | None = None,
    pre_system: int | None = None,
    rx: int | None = 100,
    mem: dict[str, Any] | None = None,
) -> dict[str, Any]:
    cpu: dict[str, Any] = {"cpu_usage": {"percpu_usage": [1, 1, 1, 1]}}
    if total is not None:
        cpu["cpu_usage"]["total_usage"] = total
    if system is not None:
        cpu["system_cpu_usage"] = system
    pre: dict[str, Any] = {"cpu_usage": {}}
    if pre_total is not None:
        pre["cpu_usage"]["total_usage"] = pre_total
    if pre_system is not None:
        pre["system_cpu_usage"] = pre_system
    out: dict[str, Any] = {
        "read": read,
        "id": "abc",
        "name": "/proxy",
        "cpu_stats": cpu,
        "precpu_stats": pre,
        "memory_stats": mem if mem is not None else {},
    }
    if rx is not None:
        out["networks"] = {"eth0": {"rx_bytes": rx, "tx_bytes": 2 * rx}, "eth1": {"rx_bytes": 1}}
    return out


def test_online_cpus_falls_back_to_percpu_length() -> None:
    row = sample_row(
        frame("2025-01-01T00:00:01Z", 2_000, 10_000, pre_total=1_000, pre_system=5_000)
    )
    assert row.online_cpus == 4
    assert row.cpu_pct == pytest.approx(1_000 / 5_000 * 4 * 100)


def test_counter_reset_after_restart_is_a_gap() -> None:
    previous = frame("2025-01-01T00:00:01Z", 9_000_000, 10_000)
    restarted = frame("2025-01-01T00:00:02Z", 1_000, 20_000)  # total_usage went backwards
    assert math.isnan(sample_row(restarted, previous).cpu_pct)


def test_idle_interval_is_a_real_zero() -> None:
    row = sample_row(frame("2025-01-01T00:00:02Z", 500, 20_000, pre_total=500, pre_system=10_000))
    assert row.cpu_pct == 0.0


def test_missing_fields_are_gaps_never_zeros() -> None:
    row = sample_row(frame("2025-01-01T00:00:02Z", None, None, rx=None))
    for name in ("cpu_pct", "mem_used_bytes", "mem_limit_bytes", "mem_pct", "net_rx_bytes"):
        assert math.isnan(getattr(row, name)), name
    assert math.isnan(row.blk_read_bytes) and math.isnan(row.pids)
    assert row.cgroup == "v1"  # no memory figures, but per-CPU usage exists only on v1
    bare = frame("2025-01-01T00:00:02Z", None, None, rx=None)
    del bare["cpu_stats"]["cpu_usage"]["percpu_usage"]
    assert sample_row(bare).cgroup is None


def test_memory_v1_inactive_file_not_smaller_than_usage_falls_back() -> None:
    # docker/cli: v1 branch only when total_inactive_file < usage, then the v2 key, then usage
    mem = {
        "usage": 1000,
        "limit": 4000,
        "stats": {"total_inactive_file": 1000, "inactive_file": 10},
    }
    assert sample_row(frame("2025-01-01T00:00:02Z", 1, 1, mem=mem)).mem_used_bytes == 990
    mem = {"usage": 1000, "limit": 4000, "stats": {"total_inactive_file": 5000}}
    row = sample_row(frame("2025-01-01T00:00:02Z", 1, 1, mem=mem))
    assert row.mem_used_bytes == 1000
    assert row.mem_pct == 25.0


def test_previous_frame_of_another_container_is_not_used() -> None:
    previous = frame("2025-01-01T00:00:01Z", 1_000, 10_000)
    previous["id"] = "other"
    current = frame("2025-01-01T00:00:02Z", 2_000, 20_000)
    assert math.isnan(sample_row(current, previous).cpu_pct)  # its own precpu is empty


def test_network_sums_every_interface() -> None:
    row = sample_row(frame("2025-01-01T00:00:02Z", 1, 1, rx=100))
    assert row.net_rx_bytes == 101  # eth0 100 + eth1 1
    assert math.isnan(row.net_tx_bytes)  # eth1 has no tx_bytes: the sum is unknown


# ---------------------------------------------------------------- summary


def test_counter_growth_across_restart_and_gaps() -> None:
    # 100 -> 150 (+50), gap, 170 (+20), restart to 30 (+30), 80 (+50)
    assert counter_growth([100, 150, float("nan"), 170, 30, 80]) == 150
    assert counter_growth([float("nan")]) is None
    assert counter_growth([]) is None
    assert counter_growth([42]) == 0


def test_summarise_known_answers() -> None:
    base = pd.Timestamp("2025-01-01T00:00:00Z")
    rows = []
    cpu = [10.0, float("nan"), 30.0, 50.0]
    rx = [1_000.0, 1_500.0, 200.0, 700.0]  # restart between the 2nd and 3rd sample
    for i in range(4):
        rows.append(
            {
                "ts": base + pd.Timedelta(seconds=5 * i),
                "container_id": "a",
                "container_name": "proxy",
                "cpu_pct": cpu[i],
                "online_cpus": 2.0,
                "mem_used_bytes": 100.0 * (i + 1),
                "mem_limit_bytes": 1_000.0,
                "mem_pct": 10.0 * (i + 1),
                "net_rx_bytes": rx[i],
                "net_tx_bytes": 10.0,
                "blk_read_bytes": float("nan"),
                "blk_write_bytes": 0.0,
                "pids": float(i + 3),
                "cgroup": "v1",
            }
        )
    rows.append({**rows[0], "container_id": "b", "net_rx_bytes": 5.0, "cpu_pct": 90.0})
    rows.append(
        {
            **rows[0],
            "container_id": "b",
            "ts": base + pd.Timedelta(seconds=5),
            "net_rx_bytes": 9.0,
            "cpu_pct": 70.0,
        }
    )
    samples = pd.DataFrame(rows, columns=list(SAMPLE_COLUMNS))
    result = summarise(samples)
    assert result.samples == 6 and result.containers == 2 and result.cpu_samples == 5
    known_cpu = [10.0, 30.0, 50.0, 90.0, 70.0]
    assert result.cpu_pct_mean == pytest.approx(sum(known_cpu) / 5)
    assert result.cpu_pct_max == 90.0
    # type 7: sorted [10, 30, 50, 70, 90], h = (5 - 1) * 0.95 = 3.8 -> 70 + 0.8 * (90 - 70)
    assert result.cpu_pct_p95 == pytest.approx(86.0)
    # a: +500, restart: +200, +500 = 1200; b: +4
    assert result.net_rx_bytes == 1204
    assert result.net_tx_bytes == 0
    assert result.blk_read_bytes is None  # never known: a gap, not a zero
    assert result.pids_max == 6
    assert result.mem_bytes_max == 400 and result.mem_bytes_limit == 1_000
    as_dict = result.as_dict()
    assert set(as_dict) >= {
        "samples",
        "cpu_pct",
        "mem_bytes",
        "net_rx_bytes",
        "net_tx_bytes",
        "blk_read_bytes",
        "blk_write_bytes",
        "pids_max",
    }
    assert set(as_dict["cpu_pct"]) == {"mean", "p95", "max"}
    assert set(as_dict["mem_bytes"]) == {"mean", "max", "limit"}
    json.dumps(as_dict, allow_nan=False)


def test_samples_frame_has_the_session_schema() -> None:
    frames = load("stats-cgroupv1-busyloop-stream.json")
    table = samples_frame(sample_row(f) for f in frames)
    assert list(table.columns) == list(SAMPLE_COLUMNS)
    assert str(table["ts"].dtype) == "datetime64[ns, UTC]"
    assert table["cpu_pct"].isna().sum() == 1
    assert table["mem_used_bytes"].dtype == "float64"
    summary = summarise(table)
    assert summary.samples == 4 and summary.cpu_samples == 3
    # rx 200 -> 486 -> 646 -> 736: +536
    assert summary.net_rx_bytes == 536

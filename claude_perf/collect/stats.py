"""Resource figures from raw Docker stats frames, computed exactly as `docker stats` computes them.

Source of every formula: docker/cli ``cli/command/container/stats_helpers.go``
(``calculateCPUPercentUnix``, ``calculateMemUsageUnixNoCache``, ``calculateMemPercentUnixNoCache``,
``calculateNetwork``, ``calculateBlockIO``). Two deliberate differences, both about honesty:
where docker prints 0 (no previous reading, a counter that went backwards after a restart, a
missing field) we record NaN, a gap, because a zero would be a measurement that never happened.

Pure: no I/O. ``sample_row`` turns one frame (plus the previous frame of the same container, when
we keep our own) into one row of the samples table described in ``claude_perf.ingest.session``.
The reduction of a samples table to the summary's ``"resources"`` block is analysis: it lives in
``claude_perf.analysis.resources``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from claude_perf.ingest.session import SAMPLE_COLUMNS, Sample

if TYPE_CHECKING:
    import pandas as pd

NAN = float("nan")
_ZERO_TIME_PREFIX = "0001-01-01"  # Go's zero time: the engine's "no previous reading"


def _num(value: Any) -> float:
    """A JSON number as float; anything else (missing, null, text) is a gap."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return NAN
    return float(value)


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def rfc3339_ns(text: Any) -> int | None:
    """The engine's RFC 3339 time (up to nanoseconds) as integer ns; None for zero/unparseable."""
    if not isinstance(text, str) or not text or text.startswith(_ZERO_TIME_PREFIX):
        return None
    from claude_perf.durations import parse_instant_ns
    from claude_perf.errors import UsageError

    try:
        return parse_instant_ns(text)
    except UsageError:
        return None


def cgroup_version(frame: Mapping[str, Any]) -> str | None:
    """'v1' or 'v2' from the payload's shape, None when the frame carries no memory figures.

    cgroup v1 memory stats carry hierarchical ``total_*`` keys (and ``max_usage``); v2 has
    neither but has ``anon``/``file``/``inactive_file`` (see fixtures/docker/README.md).
    """
    memory = _map(frame.get("memory_stats"))
    stats = _map(memory.get("stats"))
    if "max_usage" in memory or any(key.startswith("total_") for key in stats):
        return "v1"
    if stats:
        return "v2"
    percpu = _map(_map(frame.get("cpu_stats")).get("cpu_usage")).get("percpu_usage")
    if isinstance(percpu, list) and percpu:
        return "v1"  # only cgroup v1 reports per-CPU usage
    return None


def cpu_pct(current: Mapping[str, Any], previous_cpu: Mapping[str, Any]) -> tuple[float, float]:
    """(CPU %, online CPUs) between two ``cpu_stats`` readings, as docker/cli does.

    calculateCPUPercentUnix: cpuDelta = Δ cpu_usage.total_usage, systemDelta = Δ
    system_cpu_usage, onlineCPUs = online_cpus or else len(percpu_usage);
    CPU % = cpuDelta / systemDelta × onlineCPUs × 100. docker answers 0 when a delta is not
    positive; we answer NaN when there is no earlier reading (systemDelta ≤ 0) or the usage
    counter went backwards (the container restarted), and 0 only for a real idle interval.
    """
    usage = _map(current.get("cpu_usage"))
    online = _num(current.get("online_cpus"))
    if not online or math.isnan(online):
        percpu = usage.get("percpu_usage")
        online = float(len(percpu)) if isinstance(percpu, list) and percpu else NAN
    previous_usage = _map(previous_cpu.get("cpu_usage"))
    cpu_delta = _num(usage.get("total_usage")) - _num(previous_usage.get("total_usage"))
    previous_system = _num(previous_cpu.get("system_cpu_usage"))
    if not previous_system:  # the engine's all-zero precpu_stats: no earlier reading
        return NAN, online
    system_delta = _num(current.get("system_cpu_usage")) - previous_system
    if math.isnan(cpu_delta) or math.isnan(system_delta) or system_delta <= 0 or cpu_delta < 0:
        return NAN, online
    return cpu_delta / system_delta * online * 100.0, online


def mem_used_bytes(memory_stats: Mapping[str, Any]) -> float:
    """Memory in use without the page cache, as calculateMemUsageUnixNoCache.

    cgroup v1: usage − stats.total_inactive_file; cgroup v2: usage − stats.inactive_file; each
    only when smaller than usage (otherwise usage itself), in that order, exactly as docker/cli.
    """
    usage = _num(memory_stats.get("usage"))
    if math.isnan(usage):
        return NAN
    stats = _map(memory_stats.get("stats"))
    total_inactive = stats.get("total_inactive_file")
    if "total_inactive_file" in stats and _num(total_inactive) < usage:
        return usage - _num(total_inactive)
    inactive = _num(stats.get("inactive_file", 0))
    if not math.isnan(inactive) and inactive < usage:
        return usage - inactive
    return usage


def network_bytes(frame: Mapping[str, Any]) -> tuple[float, float]:
    """(rx, tx) bytes summed over every interface (calculateNetwork); NaN with no ``networks``."""
    networks = frame.get("networks")
    if not isinstance(networks, Mapping):
        return NAN, NAN
    rx = tx = 0.0
    for stats in networks.values():
        rx += _num(_map(stats).get("rx_bytes"))
        tx += _num(_map(stats).get("tx_bytes"))
    return rx, tx


def block_io_bytes(frame: Mapping[str, Any]) -> tuple[float, float]:
    """(read, write) bytes from blkio_stats.io_service_bytes_recursive (calculateBlockIO).

    docker/cli classifies an entry by the first letter of ``op`` ('r'/'R' read, 'w'/'W' write),
    which matches cgroup v1's ``Read``/``Write`` and v2's ``read``/``write``; ``Sync``,
    ``Async``, ``Total`` are skipped. A list, even empty, is data (the engine saw no block I/O);
    a null or missing list is a gap.
    """
    entries = _map(frame.get("blkio_stats")).get("io_service_bytes_recursive")
    if not isinstance(entries, list):
        return NAN, NAN
    read = write = 0.0
    for entry in entries:
        op = _map(entry).get("op")
        if not isinstance(op, str) or not op:
            continue
        if op[0] in "rR":
            read += _num(entry.get("value"))
        elif op[0] in "wW":
            write += _num(entry.get("value"))
    return read, write


def sample_row(
    frame: Mapping[str, Any],
    previous: Mapping[str, Any] | None = None,
    *,
    container_id: str | None = None,
    container_name: str | None = None,
) -> Sample:
    """One samples row from a raw stats frame.

    ``previous`` is our own earlier frame of the same container (one-shot sampling); without
    it the frame's own ``precpu_stats`` is the earlier reading, as in ``docker stats``.
    """
    ts_ns = rfc3339_ns(frame.get("read"))
    if ts_ns is None:
        raise ValueError("a stats frame without a 'read' time")
    cid = container_id or str(frame.get("id") or "")
    name = container_name or str(frame.get("name") or "").lstrip("/")
    usable_previous = previous is not None and (
        not previous.get("id") or not frame.get("id") or previous.get("id") == frame.get("id")
    )
    if previous is not None and usable_previous:
        previous_ts = rfc3339_ns(previous.get("read"))
        if previous_ts is None or previous_ts >= ts_ns:
            usable_previous = False
    previous_cpu = (
        _map(previous.get("cpu_stats"))
        if previous is not None and usable_previous
        else _map(frame.get("precpu_stats"))
    )
    cpu, online = cpu_pct(_map(frame.get("cpu_stats")), previous_cpu)
    memory = _map(frame.get("memory_stats"))
    used = mem_used_bytes(memory)
    limit = _num(memory.get("limit"))
    # calculateMemPercentUnixNoCache: used / limit × 100 (limit 0 means no cgroup data: a gap)
    mem_pct = used / limit * 100.0 if limit and not math.isnan(limit) else NAN
    rx, tx = network_bytes(frame)
    blk_read, blk_write = block_io_bytes(frame)
    pids = _num(_map(frame.get("pids_stats")).get("current"))
    return Sample(
        ts_ns=ts_ns,
        container_id=cid,
        container_name=name,
        cpu_pct=cpu,
        online_cpus=online,
        mem_used_bytes=used,
        mem_limit_bytes=limit if limit else NAN,
        mem_pct=mem_pct,
        net_rx_bytes=rx,
        net_tx_bytes=tx,
        blk_read_bytes=blk_read,
        blk_write_bytes=blk_write,
        pids=pids,
        cgroup=cgroup_version(frame),
    )


def samples_frame(rows: Iterable[Sample]) -> pd.DataFrame:
    """Rows as the samples DataFrame of ``claude_perf.ingest.session`` (ts: datetime64[ns, UTC])."""
    import pandas as pd

    records = [asdict(row) for row in rows]
    frame = pd.DataFrame.from_records(records, columns=["ts_ns", *SAMPLE_COLUMNS[1:]])
    frame.insert(0, "ts", pd.to_datetime(frame.pop("ts_ns").astype("int64"), unit="ns", utc=True))
    for column in SAMPLE_COLUMNS[3:-1]:
        frame[column] = frame[column].astype("float64")
    frame["container_id"] = frame["container_id"].astype("object")
    frame["container_name"] = frame["container_name"].astype("object")
    frame["cgroup"] = frame["cgroup"].astype("object")
    return frame.loc[:, list(SAMPLE_COLUMNS)]

"""A collected test session: log lines, resource samples and container facts, wherever it came from.

Three places make one: saved log files (logs only), the embedded store (``report --since``), and a
session bundle (a folder or ``.tar.gz`` written by ``claude-perf export``, or the bundled sample).

Resource samples (``samples``) are a DataFrame with one row per sample per container:
``ts`` (datetime64[ns, UTC]), ``container_id``, ``container_name``, ``cpu_pct`` (float, NaN for a
gap), ``online_cpus``, ``mem_used_bytes``, ``mem_limit_bytes``, ``mem_pct``, ``net_rx_bytes``,
``net_tx_bytes``, ``blk_read_bytes``, ``blk_write_bytes`` (cumulative counters as the engine
reports them), ``pids``, ``cgroup`` ("v1" or "v2"). Memory and counters are float64 so that a gap
is NaN, never zero.

Container facts (``containers``) are plain dicts: ``id``, ``name``, ``image``, ``created``,
``started_at``, ``finished_at`` (ISO-8601 strings), ``status``, ``restart_count``, ``oom_killed``,
``mem_limit_bytes``, ``nano_cpus``, ``cpu_quota``, ``cpu_period``, ``health_config``
(``test``, ``interval_s``, ``timeout_s``, ``retries``, ``start_period_s``; or None),
``health_log`` (list of ``start``, ``end``, ``exit_code``, ``output``), ``events`` (list of
``time``, ``action``), ``cgroup_version``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from claude_perf.ingest.client_aggregates import ClientAggregate
from claude_perf.ingest.client_records import ClientRecord
from claude_perf.ingest.files import LogLines

if TYPE_CHECKING:
    import pandas as pd

SAMPLE_COLUMNS = (
    "ts",
    "container_id",
    "container_name",
    "cpu_pct",
    "online_cpus",
    "mem_used_bytes",
    "mem_limit_bytes",
    "mem_pct",
    "net_rx_bytes",
    "net_tx_bytes",
    "blk_read_bytes",
    "blk_write_bytes",
    "pids",
    "cgroup",
)


@dataclass(frozen=True)
class Session:
    """Everything one report is made from."""

    logs: LogLines
    samples: pd.DataFrame | None = None
    containers: tuple[dict[str, Any], ...] = ()
    sample_interval_s: float | None = None
    origin: str = "files"  # files | store | bundle
    notes: tuple[str, ...] = field(default_factory=tuple)
    # What the clients of the session saw (`claude-perf load`, k6, AIPerf, ...), in start order.
    clients: tuple[ClientRecord, ...] = ()
    # Aggregate-only client figures (Locust's --csv stats): no per-request records to join.
    client_aggregates: tuple[ClientAggregate, ...] = ()


@dataclass(frozen=True)
class Sample:
    """One container at one instant; counters are cumulative as the engine reports them."""

    ts_ns: int
    container_id: str
    container_name: str
    cpu_pct: float
    online_cpus: float
    mem_used_bytes: float
    mem_limit_bytes: float
    mem_pct: float
    net_rx_bytes: float
    net_tx_bytes: float
    blk_read_bytes: float
    blk_write_bytes: float
    pids: float
    cgroup: str | None

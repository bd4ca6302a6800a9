"""``report --stats``: hand-captured ``docker stats --format '{{json .}}'`` lines as samples.

Each line is one container at one instant, as docker/cli writes it
(cli/command/container/formatter_stats.go): ``CPUPerc`` and ``MemPerc`` as ``"12.34%"``,
``MemUsage`` as ``units.BytesSize(used) + " / " + units.BytesSize(limit)`` (binary units: B, KiB,
MiB, GiB, TiB), ``NetIO`` and ``BlockIO`` as ``units.HumanSizeWithPrecision(x, 3)`` pairs (decimal
units: B, kB, MB, GB, TB; lowercase kB), ``PIDs`` as an integer, and ``"--"`` wherever docker
has no figure (a gap here: NaN, never 0). go-units (github.com/docker/go-units, size.go) defines
both unit lists.

A line may start with an RFC 3339 time and a space or tab (``date -u +%FT%T.%NZ`` in a shell
loop): that is the sample's time. A plain line carries no time: its ``ts`` is NaT, and the
analysis pools such snapshots (CPU and memory figures) without placing them in the window.
Counters (network, block I/O) grow in file order: ``docker stats`` writes its lines in time order.
The ``docker stats --no-stream`` JSON array form (one array of such objects) is read too.
Anything else is one InputError naming the file and line.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from claude_perf.errors import InputError
from claude_perf.ingest.bounded import read_side_file
from claude_perf.ingest.client_files import rfc3339_ns
from claude_perf.ingest.session import SAMPLE_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

MAX_STATS_FILE_BYTES = 256 * 1024 * 1024
STATS_KEYS = ("CPUPerc", "MemUsage")  # a docker stats object has at least these
# go-units size.go: decimalAbbrs (HumanSize*) and binaryAbbrs (BytesSize); both read here, the
# unit itself says which base it is.
_UNIT_BYTES = {
    "B": 1.0,
    "kB": 1e3,
    "KB": 1e3,
    "MB": 1e6,
    "GB": 1e9,
    "TB": 1e12,
    "PB": 1e15,
    "KiB": 1024.0,
    "MiB": 1024.0**2,
    "GiB": 1024.0**3,
    "TiB": 1024.0**4,
    "PiB": 1024.0**5,
}
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*$")
_PCT = re.compile(r"^\s*(-?[0-9]+(?:\.[0-9]+)?)\s*%\s*$")
_TIMED = re.compile(r"^(\d{4}-\d{2}-\d{2}[Tt ][0-9:.]+(?:[Zz]|[+-]\d{2}:?\d{2}))[ \t]+(.*)$")
NO_FIGURE = "--"  # formatter_stats.go writes this where the engine gave no figure


@dataclass(frozen=True)
class StatsFiles:
    """Samples read from ``--stats`` files, with the Data quality notes they call for."""

    samples: pd.DataFrame
    notes: tuple[str, ...] = field(default_factory=tuple)


def parse_size_bytes(text: str) -> float:
    """``"1.48kB"`` → 1480.0, ``"73.85MiB"`` → 77437337.6, ``"--"`` → NaN; else ValueError."""
    text = text.strip()
    if text == NO_FIGURE:
        return math.nan
    match = _SIZE.match(text)
    if match is None or match[2] not in _UNIT_BYTES:
        raise ValueError(f"size {text!r} is not a docker size (like 1.48kB or 73.85MiB)")
    return float(match[1]) * _UNIT_BYTES[match[2]]


def parse_pct(text: str) -> float:
    """``"12.34%"`` → 12.34, ``"--"`` → NaN; else ValueError."""
    if text.strip() == NO_FIGURE:
        return math.nan
    match = _PCT.match(text)
    if match is None:
        raise ValueError(f"percentage {text!r} is not like 12.34%")
    return float(match[1])


def parse_pair_bytes(text: str) -> tuple[float, float]:
    """``"1.48kB / 886B"`` → (1480.0, 886.0); a lone ``"--"`` is two gaps."""
    if text.strip() == NO_FIGURE:
        return math.nan, math.nan
    parts = text.split("/")
    if len(parts) != 2:
        raise ValueError(f"{text!r} is not a pair like '1.48kB / 886B'")
    return parse_size_bytes(parts[0]), parse_size_bytes(parts[1])


def _count(text: str) -> float:
    if text.strip() == NO_FIGURE:
        return math.nan
    try:
        return float(int(text.strip()))
    except ValueError:
        raise ValueError(f"PIDs {text!r} is not a whole number") from None


def sample_of(data: dict[str, Any], ts_ns: int | None) -> dict[str, Any]:
    """One SAMPLE_COLUMNS row from a docker stats object; a malformed figure is a ValueError."""

    def text(key: str) -> str:
        value = data.get(key)
        if value is None:
            return NO_FIGURE
        if not isinstance(value, str):
            raise ValueError(f"{key} {value!r} is not a string")
        return value

    used_bytes, limit_bytes = parse_pair_bytes(text("MemUsage"))
    rx_bytes, tx_bytes = parse_pair_bytes(text("NetIO"))
    read_bytes, write_bytes = parse_pair_bytes(text("BlockIO"))
    name = data.get("Name") or data.get("Container") or data.get("ID")
    return {
        "ts": ts_ns,
        "container_id": str(data.get("ID") or data.get("Container") or name or "unknown"),
        "container_name": str(name) if name else None,
        "cpu_pct": parse_pct(text("CPUPerc")),
        "online_cpus": math.nan,  # docker stats --format does not say
        "mem_used_bytes": used_bytes,
        "mem_limit_bytes": limit_bytes,
        "mem_pct": parse_pct(text("MemPerc")),
        "net_rx_bytes": rx_bytes,
        "net_tx_bytes": tx_bytes,
        "blk_read_bytes": read_bytes,
        "blk_write_bytes": write_bytes,
        "pids": _count(text("PIDs")),
        "cgroup": None,
    }


def _text_of(path: Path) -> str:
    raw = read_side_file(path, "stats")
    if len(raw) > MAX_STATS_FILE_BYTES:
        raise InputError(f"{path}: over {MAX_STATS_FILE_BYTES} bytes: not a stats file")
    return raw.decode("utf-8", errors="replace")


def _objects(path: str, text: str) -> list[tuple[str, int | None, Any]]:
    """(where, time ns or None, decoded JSON) for each non-blank line, or each array item."""
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{exc.lineno}: not JSON (a docker stats array)") from None
        if not isinstance(items, list):
            raise InputError(f"{path}: not a docker stats array")
        return [(f"{path}: item {n}", None, item) for n, item in enumerate(items, start=1)]
    out: list[tuple[str, int | None, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        ts_ns = None
        timed = _TIMED.match(line.strip())
        if timed is not None:
            ts_ns = rfc3339_ns(timed[1].upper().replace(" ", "T"), where)
            line = timed[2]
        try:
            out.append((where, ts_ns, json.loads(line)))
        except json.JSONDecodeError:
            raise InputError(
                f"{where}: not JSON (a stats file's lines are docker stats --format "
                "'{{json .}}' objects, optionally after an RFC 3339 time)"
            ) from None
    return out


def read_stats_file(path: str) -> tuple[list[dict[str, Any]], int]:
    """One file's sample rows in file order, and how many of them carry no time."""
    rows: list[dict[str, Any]] = []
    for where, ts_ns, data in _objects(path, _text_of(Path(path))):
        if not isinstance(data, dict) or not all(k in data for k in STATS_KEYS):
            raise InputError(
                f"{where}: not a docker stats object (no {' / '.join(STATS_KEYS)} keys)"
            )
        try:
            rows.append(sample_of(data, ts_ns))
        except ValueError as exc:
            raise InputError(f"{where}: {exc}") from None
    if not rows:
        raise InputError(f"{path}: no docker stats lines")
    return rows, sum(1 for r in rows if r["ts"] is None)


def read_stats_files(paths: Sequence[str]) -> StatsFiles:
    """Every ``--stats`` file's rows, in the order given, as a SAMPLE_COLUMNS frame."""
    import pandas as pd

    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    for path in paths:
        read, untimed = read_stats_file(path)
        rows += read
        if untimed:
            notes.append(
                f"{path}: {untimed} docker stats snapshot(s) without times: figures pooled over "
                "them, not placed in the window (counters grow in file order)"
            )
    frame = pd.DataFrame(rows, columns=list(SAMPLE_COLUMNS))
    frame["ts"] = pd.to_datetime(frame["ts"], unit="ns", utc=True).astype("datetime64[ns, UTC]")
    for column in SAMPLE_COLUMNS[3:-1]:
        frame[column] = frame[column].astype("float64")
    frame["cgroup"] = frame["cgroup"].astype(object)
    return StatsFiles(frame, tuple(notes))

"""Builders for report tests: log lines in the real proxy's format, request and sample tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from claude_perf.analysis.pipeline import Analysis, analyse
from claude_perf.config.schema import Config
from claude_perf.ingest.files import read_logs

T0 = datetime(2026, 11, 29, 0, 50, 0, tzinfo=UTC)
FIXED_CLOCK = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)


def _stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def _app(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S,") + f"{t.microsecond // 1000:03d}"


def request_lines(
    start_s: float,
    latency_s: float,
    model: str = "sonnet",
    status: int = 200,
    error: str | None = None,
) -> list[str]:
    """One chat completion as claude-code-openai-wrapper logs it (docker logs -t form)."""
    t = T0 + timedelta(seconds=start_s)
    end = t + timedelta(seconds=latency_s)
    lines = [
        f"{_stamp(t)} {_app(t)} - src.main - INFO - Chat completion: session_id=None, total_messages=1",
        f"{_stamp(t)} {_app(t)} - src.parameter_validator - WARNING - Model '{model}' is not in "
        "the known supported models list.",
    ]
    if error is not None:
        e = end - timedelta(milliseconds=2)
        lines.append(f"{_stamp(e)} {_app(e)} - src.main - ERROR - {error}")
    reason = {200: "OK", 500: "Internal Server Error", 429: "Too Many Requests"}.get(status, "X")
    lines.append(
        f'{_stamp(end)} INFO:     172.17.0.1:50000 - "POST /v1/chat/completions HTTP/1.1" '
        f"{status} {reason}"
    )
    return lines


def health_line(at_s: float, status: int = 200, client: str = "127.0.0.1") -> str:
    t = T0 + timedelta(seconds=at_s)
    return f'{_stamp(t)} INFO:     {client}:40000 - "GET /health HTTP/1.1" {status} OK'


def analysis_of(
    tmp_path: Path,
    lines: list[str],
    samples: pd.DataFrame | None = None,
    containers: tuple[dict[str, Any], ...] = (),
    config: Config | None = None,
) -> Analysis:
    path = tmp_path / "docker-logs-t.txt"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return analyse(read_logs([str(path)]), config or Config(), samples, containers)


def requests_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A per-request table with the columns rules read; times as seconds after T0."""
    records = []
    for row in rows:
        start, end = row.get("start"), row.get("end")
        records.append(
            {
                "kind": row.get("kind", "model"),
                "start": None if start is None else T0 + timedelta(seconds=start),
                "end": None if end is None else T0 + timedelta(seconds=end),
                "latency_s": (end - start) if start is not None and end is not None else None,
                "outcome": row.get("outcome", "succeeded"),
                "model": row.get("model", "sonnet"),
                "error_class": row.get("error_class"),
            }
        )
    frame = pd.DataFrame.from_records(
        records, columns=["kind", "start", "end", "latency_s", "outcome", "model", "error_class"]
    )
    for col in ("start", "end"):
        frame[col] = pd.to_datetime(frame[col], utc=True).astype("datetime64[ns, UTC]")
    frame["latency_s"] = frame["latency_s"].astype(float)
    return frame


def samples_frame(
    times_s: list[float],
    cpu_pct: list[float],
    mem_bytes: list[float],
    name: str = "proxy",
    limit_bytes: float = 2 * 2**30,
    net_rx: list[float] | None = None,
) -> pd.DataFrame:
    n = len(times_s)
    return pd.DataFrame(
        {
            "ts": pd.to_datetime([T0 + timedelta(seconds=s) for s in times_s], utc=True),
            "container_id": ["abc123"] * n,
            "container_name": [name] * n,
            "cpu_pct": cpu_pct,
            "online_cpus": [2.0] * n,
            "mem_used_bytes": mem_bytes,
            "mem_limit_bytes": [limit_bytes] * n,
            "mem_pct": [m / limit_bytes * 100 for m in mem_bytes],
            "net_rx_bytes": net_rx if net_rx is not None else [float(i * 1000) for i in range(n)],
            "net_tx_bytes": [float(i * 2000) for i in range(n)],
            "blk_read_bytes": [0.0] * n,
            "blk_write_bytes": [0.0] * n,
            "pids": [5.0] * n,
            "cgroup": ["v2"] * n,
        }
    )

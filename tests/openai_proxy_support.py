"""Helpers for the captures of real "Claude Code -> OpenAI" proxies (fixtures/captures/1rgs-*,
fuergaosi-*; made by fixtures/captures/record_openai_proxies.py): their client records and the
analysis of their ``docker logs -t`` output with the built-in dialects."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from claude_perf.analysis.pipeline import Analysis, analyse
from claude_perf.config.schema import Config
from claude_perf.ingest.client_records import ClientRecord, record_from_json
from claude_perf.ingest.files import read_logs

CAPTURES = Path(__file__).resolve().parent.parent / "fixtures" / "captures"
OTHER_CAPTURES = [
    "maxproxy-plain-sequential",
    "maxproxy-debug-concurrent",
    "maxproxy-crash-restart",
    "wrapper-debug-sequential",
    "wrapper-debug-concurrent",
    "wrapper-plain-concurrent",
]


def log_path(name: str) -> Path:
    return CAPTURES / name / "docker-logs-t.txt"


def log_text(name: str) -> str:
    return log_path(name).read_text(encoding="utf-8")


def clients(name: str) -> list[ClientRecord]:
    path = CAPTURES / name / "client-records.jsonl"
    return [
        record_from_json(json.loads(line), f"{path}:{i}")
        for i, line in enumerate(path.read_text().splitlines(), 1)
    ]


def messages(name: str) -> list[ClientRecord]:
    """The client's /v1/messages requests."""
    return [r for r in clients(name) if r.path == "/v1/messages"]


def analysis(name: str) -> Analysis:
    return analyse(read_logs([str(log_path(name))]), Config())


def rows(a: Analysis, kind: str = "model") -> pd.DataFrame:
    table = a.requests.table
    return table[table["kind"] == kind].reset_index(drop=True)


def count_lines(name: str, pattern: str) -> int:
    """Lines of the capture (engine stamp cut off, ANSI colours removed) matching ``pattern``."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", log_text(name))
    return sum(bool(re.search(pattern, line[31:])) for line in text.splitlines())


def ns(t: pd.Timestamp) -> int:
    return int(pd.Timestamp(t).value)


def around(records: list[ClientRecord], t_ns: int, slack_ns: int = 0) -> list[ClientRecord]:
    """The client requests in flight at ``t_ns`` (the engine's clock is the client's)."""
    return [r for r in records if r.start_ns - slack_ns <= t_ns <= r.end_ns + slack_ns]

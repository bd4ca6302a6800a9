"""The recorded claude-max-api-proxy captures agree with themselves (no Docker needed).

The log and the client's view of each capture in fixtures/captures/ must tell the same
story: one CLI run per chat request that reached the CLI, exit codes matching the failures
the client saw, DEBUG request lines (when on) for every request that got past body parsing,
and times that run forwards.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

CAPTURES = Path(__file__).resolve().parent.parent / "fixtures" / "captures"
NAMES = ["maxproxy-plain-sequential", "maxproxy-debug-concurrent", "maxproxy-crash-restart"]
TS = r"^(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) "
REQUEST_LINE = re.compile(TS + r"\[(?P<iso>[^\]]+Z)\] (?P<method>[A-Z]+) (?P<path>\S+)$", re.M)
SPAWNED = re.compile(TS + r"\[Subprocess\] Process spawned with PID: \d+$", re.M)
CLOSED = re.compile(TS + r"\[Subprocess\] Process closed with code: (?P<code>\S+)$", re.M)


def load(name: str) -> tuple[str, list[dict[str, Any]]]:
    folder = CAPTURES / name
    logs = (folder / "docker-logs-t.txt").read_text(encoding="utf-8")
    view = json.loads((folder / "client-view.json").read_text(encoding="utf-8"))
    return logs, view


def reached_cli(r: dict[str, Any]) -> bool:
    """A chat request the proxy handed to the CLI (it had a model and a parsable body)."""
    return r["path"] == "/v1/chat/completions" and r["model"] is not None and r["status"] != 500


@pytest.mark.parametrize("name", NAMES)
def test_capture_files_exist_and_are_small(name: str) -> None:
    for f in ("docker-logs-t.txt", "client-view.json", "README.md"):
        size = (CAPTURES / name / f).stat().st_size
        assert 0 < size < 300_000, (f, size)


@pytest.mark.parametrize("name", NAMES)
def test_log_and_client_view_agree(name: str) -> None:
    logs, view = load(name)
    crashes = [r for r in view if r["error"] == "Claude CLI exited with code 1 without response"]
    cli_runs = [r for r in view if reached_cli(r)] + crashes
    assert len(SPAWNED.findall(logs)) == len(cli_runs)
    codes = Counter(m["code"] for m in CLOSED.finditer(logs))
    failed = [r for r in cli_runs if r in crashes or r["error"] or r["output_tokens"] == 0]
    assert codes == {"0": len(cli_runs) - len(failed), "1": len(failed)}
    assert logs.rstrip().endswith("[Server] Stopped")


def test_debug_lines_cover_every_parsed_request() -> None:
    logs, view = load("maxproxy-debug-concurrent")
    logged = Counter((m["method"], m["path"]) for m in REQUEST_LINE.finditer(logs))
    malformed = [r for r in view if r["label"] == "malformed json"]
    assert len(malformed) == 1 and "[Server Error]: Unexpected token" in logs
    expected = Counter((r["method"], r["path"]) for r in view if r not in malformed)
    assert logged == expected
    plain_logs, _ = load("maxproxy-plain-sequential")
    assert not REQUEST_LINE.search(plain_logs)


@pytest.mark.parametrize("name", NAMES)
def test_client_times_run_forwards(name: str) -> None:
    _, view = load(name)
    for r in view:
        times = [r["sent_at"], r["first_byte_at"], r["first_content_at"], r["end_at"]]
        parsed = [datetime.fromisoformat(t) for t in times if t is not None]
        assert parsed == sorted(parsed), r["label"]
    if name.endswith("concurrent"):
        # more than one request in flight at some moment (the point of this capture)
        spans = [
            (datetime.fromisoformat(r["sent_at"]), datetime.fromisoformat(r["end_at"]))
            for r in view
        ]
        overlaps = max(sum(s <= t < e for s, e in spans) for t, _ in spans)
        assert 3 <= overlaps <= 4


def test_crash_restart_shows_two_starts_and_the_stack_trace() -> None:
    logs, view = load("maxproxy-crash-restart")
    assert logs.count("Claude Code CLI Provider - Standalone Server") == 2
    assert "TypeError: Cannot read properties of undefined (reading 'includes')" in logs
    [lost] = [r for r in view if r["status"] is None]
    assert lost["error"].startswith("RemoteDisconnected")
    # every request after the crash was answered by the restarted proxy
    after = view[view.index(lost) + 1 :]
    assert after and all(r["status"] == 200 for r in after)
    banner2 = [
        m for m in re.finditer(r"^(\S+) \[Server\] Claude Code CLI provider running", logs, re.M)
    ][1]
    assert datetime.fromisoformat(banner2[1][:26] + "Z") < datetime.fromisoformat(
        after[0]["sent_at"]
    )

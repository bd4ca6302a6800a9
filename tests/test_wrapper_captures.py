"""The recorded wrapper captures (fixtures/captures/wrapper-*) agree with themselves: the client's
view and the engine's log tell the same story, DEBUG records only where DEBUG_MODE was on."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

CAPTURES = Path(__file__).resolve().parent.parent / "fixtures" / "captures"
NAMES = ["wrapper-debug-sequential", "wrapper-debug-concurrent", "wrapper-plain-concurrent"]
TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z ")
ACCESS = re.compile(
    r'INFO:     (?P<ip>[\d.]+):\d+ - "(?P<method>\w+) (?P<path>\S+) HTTP/1\.1" (?P<status>\d{3}) '
)
INCOMING = "🔍 [unknown] Incoming request: POST http://127.0.0.1:"


def load(name: str) -> tuple[list[dict], list[str]]:
    folder = CAPTURES / name
    view = json.loads((folder / "client-view.json").read_text())
    lines = (folder / "docker-logs-t.txt").read_text(encoding="utf-8").splitlines()
    return view, lines


def at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


@pytest.mark.parametrize("name", NAMES)
def test_capture_is_small_and_complete(name: str) -> None:
    folder = CAPTURES / name
    assert {p.name for p in folder.iterdir()} == {
        "README.md",
        "client-view.json",
        "docker-logs-t.txt",
    }
    assert sum(p.stat().st_size for p in folder.iterdir()) < 300_000
    view, lines = load(name)
    assert all(TS.match(line) for line in lines)
    assert len(view) in (22, 40)


@pytest.mark.parametrize("name", NAMES)
def test_client_view_matches_access_lines(name: str) -> None:
    view, lines = load(name)
    access = [m for m in (ACCESS.search(line) for line in lines) if m]
    external = [m for m in access if m["ip"] != "127.0.0.1"]
    assert Counter(int(m["status"]) for m in external) == Counter(v["status"] for v in view)
    assert {m["path"] for m in external} == {v["path"] for v in view}
    probes = [m for m in access if m["ip"] == "127.0.0.1"]
    assert probes and {m["path"] for m in probes} == {"/health"}
    n_probes = f"HEALTHCHECK ran {len(probes)} probes"
    assert n_probes in (CAPTURES / name / "README.md").read_text().replace("\n", " ")
    for v in view:
        assert at(v["sent_at"]) <= at(v["first_byte_at"]) <= at(v["ended_at"]), v
        if v["stream"] and v["status"] == 200:
            assert at(v["first_byte_at"]) < at(v["first_body_at"]) <= at(v["ended_at"]), v


@pytest.mark.parametrize("name", NAMES)
def test_debug_records_only_in_debug_captures(name: str) -> None:
    view, lines = load(name)
    posts = sum(v["method"] == "POST" for v in view)
    incoming = sum(INCOMING in line for line in lines)
    responses = sum(" - src.main - DEBUG - 🔍 Response: " in line for line in lines)
    results = sum("Raw SDK message: ResultMessage(subtype='success'" in line for line in lines)
    if "debug" in name:
        assert incoming == posts
        assert responses == posts + sum(
            "Incoming request: GET http://127.0.0.1:8000/health" in x for x in lines
        )
        assert results > 0 and sum("Raw SDK message type: " in x for x in lines) >= 3 * results
    else:
        assert incoming == responses == results == 0
        assert not any(" - DEBUG - " in line for line in lines)

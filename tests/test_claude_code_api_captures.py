"""The report against what the client saw, on the real codingworkflow/claude-code-api captures.

``fixtures/captures/ccapi-*``: the real gateway (GitHub, commit a80b302; FastAPI + structlog)
in a container with the stand-in ``claude`` (see each README and
``fixtures/captures/record_ccapi.py``), in five logging modes: default (no request logged),
LOG_MIN_LEVEL_WHEN_NOT_DEBUG=INFO (console, sequential; JSON under ``claude-perf load``) and
DEBUG=true (console, sequential; JSON under load); and the version most of its forks carry
(fd618dc: WARNING events and uvicorn's access lines). Known answers: request, failure and health
counts exact wherever the mode logs them, and what it does not log is said (the note of the
default mode; 400s before a session in INFO mode); per-model p50 within 10% of the client's
(sequential, and the INFO mode under load, where every request pairs by its session id) or
marked inferred (DEBUG under load: the access line carries no id). The dialects fire on these
captures only.
"""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from claude_perf.analysis.pipeline import Analysis, analyse
from claude_perf.config.families import family_of
from claude_perf.config.schema import Config
from claude_perf.ingest.files import read_logs
from claude_perf.report.summary import build

CAPTURES = Path(__file__).resolve().parent.parent / "fixtures" / "captures"
NAMES = (
    "ccapi-default-sequential",
    "ccapi-fd618dc-sequential",
    "ccapi-info-console-sequential",
    "ccapi-info-load",
    "ccapi-debug-console-sequential",
    "ccapi-debug-load",
)
DIALECT = {
    "ccapi-default-sequential": "claude-code-api",
    "ccapi-fd618dc-sequential": "claude-code-api",
    "ccapi-info-console-sequential": "claude-code-api-info",
    "ccapi-info-load": "claude-code-api-info",
    "ccapi-debug-console-sequential": "claude-code-api-debug",
    "ccapi-debug-load": "claude-code-api-debug",
}
CHAT = "/v1/chat/completions"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# The gateway's own mapping (claude_code_api/config/models.json at a80b302): an alias or a full
# id to the model it runs; any other name (gpt-4o) to its default, claude-sonnet-4-5-20250929.
RUNS = {
    "haiku": "claude-haiku-4-5-20251001",
    "sonnet": "claude-sonnet-4-5-20250929",
    "opus": "claude-opus-4-6-20260205",
}


@dataclass(frozen=True)
class Seen:
    """One request as its client saw it (the recorder's client-view or a load record)."""

    path: str
    model: str | None  # as asked
    stream: bool
    sent_s: float
    elapsed_s: float
    status: int | None
    error: bool

    @property
    def failed(self) -> bool:
        return self.status is None or self.status >= 400 or self.error

    @property
    def family(self) -> str | None:
        """The family of the model the gateway runs for it (an unknown name: its default)."""
        asked = (self.model or "").lower()
        alias = next((alias for alias in RUNS if alias in asked), "sonnet")
        return family_of(RUNS[alias])


def _epoch_s(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339).timestamp()


@cache
def seen(name: str) -> tuple[Seen, ...]:
    folder = CAPTURES / name
    out = [
        Seen(
            v["path"],
            v["model"],
            bool(v["stream"]),
            _epoch_s(v["sent_at"]),
            _epoch_s(v["end_at"]) - _epoch_s(v["sent_at"]),
            v["status"],
            bool(v["error"]),
        )
        for v in json.loads((folder / "client-view.json").read_text(encoding="utf-8"))
    ]
    records = folder / "client-records.jsonl"
    if records.exists():
        for line in records.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            out.append(
                Seen(
                    r["path"],
                    r["model_asked"],
                    bool(r["stream"]),
                    r["start_ns"] / 1e9,
                    (r["end_ns"] - r["start_ns"]) / 1e9,
                    r["status"],
                    not r["ok"],
                )
            )
    return tuple(sorted(out, key=lambda s: s.sent_s))


def chats(name: str) -> list[Seen]:
    return [s for s in seen(name) if s.path == CHAT]


@cache
def analysis(name: str) -> Analysis:
    return analyse(read_logs([str(CAPTURES / name / "docker-logs-t.txt")]), Config())


@cache
def summary(name: str) -> dict[str, Any]:
    return build(analysis(name))


def model_rows(name: str):
    table = analysis(name).requests.table
    return table[table["kind"] == "model"]


def log_text(name: str) -> str:
    return ANSI.sub("", (CAPTURES / name / "docker-logs-t.txt").read_text(encoding="utf-8"))


# ------------------------------------------------------------------ the captures themselves


@pytest.mark.parametrize("name", NAMES)
def test_capture_files_exist_and_are_bounded(name: str) -> None:
    for f in ("docker-logs-t.txt", "client-view.json", "README.md"):
        size = (CAPTURES / name / f).stat().st_size
        assert 0 < size < 450_000, (f, size)
    commit = "fd618dc" if "fd618dc" in name else "a80b302"
    assert f"commit `{commit}" in (CAPTURES / name / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", NAMES)
def test_the_log_and_the_client_tell_the_same_story(name: str) -> None:
    logs = log_text(name)
    # A session is created for every chat request that got past its body checks (not the 400s).
    sessions = [s for s in chats(name) if s.status != 400]
    created = len(re.findall(r"(?:\"event\": \"|\] )Session created\b", logs))
    access = re.findall(r'INFO: +\S+ - "(?:GET|POST) (\S+) HTTP/1\.1" (\d{3})', logs)
    # fd618dc (most forks) logs nothing below WARNING and leaves uvicorn's access log on
    old = "fd618dc" in name
    if "default" in name or old:
        assert created == 0  # nothing below WARNING but (a80b302) the lifecycle events
    else:
        assert created == len(sessions)
    if "debug" in name or old:  # uvicorn's access lines: one per request
        assert Counter(access) == Counter((s.path, str(s.status)) for s in seen(name))
    else:  # a80b302 sets uvicorn.access to ERROR unless DEBUG=true
        assert access == []
    cli_failures = [s for s in chats(name) if s.status == 503]
    assert logs.count("Failed to create Claude session") == len(cli_failures) >= 1
    # stopped with SIGTERM: the whole life is in the log
    assert ("Application shutdown complete." if old else "Shutdown complete") in logs


# ------------------------------------------------------------------ dialects


def test_each_capture_speaks_its_own_dialect_only() -> None:
    for name in NAMES:
        found = summary(name)["data_quality"]["dialects"]
        assert list(found.values()) == [[DIALECT[name]]], name


def test_the_dialects_fire_on_no_other_capture() -> None:
    others = [p for p in sorted(CAPTURES.glob("*/docker-logs-t.txt")) if p.parent.name not in NAMES]
    others.append(CAPTURES.parent / "capture" / "docker-logs-t.txt")
    assert len(others) >= 7
    for path in others:
        a = analyse(read_logs([str(path)]), Config())
        names = {d for found in a.quality.dialects.values() for d in found}
        assert not any(d.startswith("claude-code-api") for d in names), path.parent.name


# ------------------------------------------------------------------ default logging


def test_default_logging_says_requests_are_not_logged_instead_of_none() -> None:
    name = "ccapi-default-sequential"
    s = summary(name)
    # Before the dialect: "no model requests in the window" and nothing else. The client sent
    # 17 chat requests (4 failed) and 4 health checks; the log holds 2 failures to start the CLI.
    assert s["requests"]["total"] == 0 and len(chats(name)) == 17
    assert s["health"]["checks"] == 0
    notes = s["data_quality"]["notes"]
    [note] = [n for n in notes if n.startswith("no model request is in these logs")]
    assert "claude-code-api" in note and "request counts, success rate, latency" in note
    # the 2 failures, 3 error records each (CLI exited, stopping it failed, session failed)
    assert any(n.startswith("6 error record(s) were outside any request") for n in notes)


def test_a_log_with_requests_gets_no_such_note() -> None:
    for name in NAMES[1:]:  # fd618dc's access lines are requests: no note there
        notes = summary(name)["data_quality"]["notes"]
        assert not any(n.startswith("no model request is in these logs") for n in notes), name


# ------------------------------------------------------------------ counts


# name, what the log cannot count: chat requests refused before a session exists (400s) are not
# logged without access lines (a80b302 without DEBUG); health checks only as access lines.
COUNTS = [
    ("ccapi-fd618dc-sequential", False, 2),
    ("ccapi-info-console-sequential", True, 0),
    ("ccapi-info-load", True, 0),
    ("ccapi-debug-console-sequential", False, 2),
    ("ccapi-debug-load", False, 2),
]


@pytest.mark.parametrize(("name", "without_400s", "health_checks"), COUNTS)
def test_counts_equal_what_the_client_saw(
    name: str, without_400s: bool, health_checks: int
) -> None:
    client = [s for s in chats(name) if not (without_400s and s.status == 400)]
    model = model_rows(name)
    assert len(model) == len(client)
    assert int((model["outcome"] == "failed").sum()) == sum(s.failed for s in client)
    table = analysis(name).requests.table
    assert int((table["kind"] == "health").sum()) == health_checks
    # the generic readers count nothing twice: one row per session in INFO mode (ids), one per
    # access line in DEBUG mode, and no row from a line the dialect reads as info
    if without_400s:
        assert model["request_id"].notna().all() and model["request_id"].is_unique
    else:
        assert len(model) == len(re.findall(r'"POST /v1/chat/completions HTTP', log_text(name)))


@pytest.mark.parametrize("name", ["ccapi-info-console-sequential", "ccapi-info-load"])
def test_info_mode_per_family_counts_and_failures_are_exact(name: str) -> None:
    client = [s for s in chats(name) if s.status != 400]
    model = model_rows(name)
    families = [family_of(m) for m in model["model"]]
    assert Counter(families) == Counter(s.family for s in client)
    failed = [family_of(m) for m in model[model["outcome"] == "failed"]["model"]]
    assert Counter(failed) == Counter(s.family for s in client if s.failed)


# ------------------------------------------------------------------ latency


def client_p50_by_family(name: str, streams: bool) -> dict[str, float]:
    by: dict[str, list[float]] = {}
    for s in chats(name):
        if not s.failed and (streams or not s.stream):
            by.setdefault(str(s.family), []).append(s.elapsed_s)
    return {k: statistics.median(v) for k, v in by.items()}


def _last_before(sent: list[tuple[float, bool]], at_s: float) -> bool:
    """The stream flag of the last request sent before ``at_s``."""
    return [flag for t, flag in sent if t <= at_s][-1]


@pytest.mark.parametrize(
    ("name", "streams"),
    [
        # INFO mode: a stream ends at `Claude process output stream ended`, its whole time
        ("ccapi-info-console-sequential", True),
        ("ccapi-info-load", True),
        # DEBUG mode: a stream's access line comes as it starts: non-streaming ones only
        ("ccapi-debug-console-sequential", False),
    ],
)
def test_per_family_p50_is_the_clients(name: str, streams: bool) -> None:
    expected = client_p50_by_family(name, streams)
    model = model_rows(name)
    ok = model[(model["outcome"] == "succeeded") & model["latency_s"].notna()]
    if not streams:  # no stream flag in DEBUG mode's log: the client's request tells (one at a
        # time: the last one sent before the row's start)
        sent = sorted((s.sent_s, s.stream) for s in chats(name))
        ok = ok[[not _last_before(sent, t.timestamp()) for t in ok["start"]]]
    got: dict[str, list[float]] = {}
    for m, latency in zip(ok["model"], ok["latency_s"], strict=True):
        got.setdefault(str(family_of(m)), []).append(latency)
    assert set(got) == set(expected)
    for family, p50 in expected.items():
        assert statistics.median(got[family]) == pytest.approx(p50, rel=0.10), family


@pytest.mark.parametrize("name", ["ccapi-info-console-sequential", "ccapi-info-load"])
def test_info_mode_pairs_by_session_id_so_nothing_is_inferred(name: str) -> None:
    s = summary(name)
    assert s["data_quality"]["ambiguous_pairings"] == 0
    assert all(m["inferred_share"] == 0 for m in s["models"])


def test_debug_mode_under_load_is_marked_inferred_where_not_the_clients() -> None:
    name = "ccapi-debug-load"
    expected = client_p50_by_family(name, streams=False)
    s = summary(name)
    checked = 0
    for m in s["models"]:
        if not m["latency_s"] or m["family"] not in expected:
            continue
        checked += 1
        close = m["latency_s"]["p50"] == pytest.approx(expected[m["family"]], rel=0.15)
        assert close or m["inferred_share"] > 0, m["family"]
    assert checked == 2
    assert s["data_quality"]["ambiguous_pairings"] > 0


@pytest.mark.parametrize("name", NAMES)
def test_what_the_gateway_never_logs_stays_unknown(name: str) -> None:
    s = summary(name)
    for m in s["models"]:
        assert m["tokens"] is None and m["cost_usd"] is None, m["model"]
    if "info" in name:  # no access line: no status at all
        assert model_rows(name)["status"].isna().all()
    if "fd618dc" in name:  # nothing below WARNING: neither a start nor a model
        assert model_rows(name)["latency_s"].isna().all()
        assert [m["model"] for m in s["models"]] == [None]


# ------------------------------------------------------------------ the load's own records


@pytest.mark.parametrize(
    ("name", "unmatched_server"),
    [
        ("ccapi-info-load", 2),  # the recorder's CLI crash and login failure (no 400, no health)
        ("ccapi-debug-load", 5),  # and its malformed body and 2 health checks (access lines)
    ],
)
def test_the_load_records_join_every_logged_load_request(name: str, unmatched_server: int) -> None:
    from claude_perf.analysis.pipeline import analyse_session
    from claude_perf.ingest.client_files import read_client_file
    from claude_perf.ingest.session import Session

    records = read_client_file(CAPTURES / name / "client-records.jsonl").records
    logs = read_logs([str(CAPTURES / name / "docker-logs-t.txt")])
    view = analyse_session(Session(logs, clients=records), Config()).client
    assert view is not None
    join = view.join
    got = (len(join.pairs), len(join.unmatched_client), len(join.unmatched_server))
    assert got == (len(records), 0, unmatched_server)
    assert abs(join.clock_offset_s) < 0.05  # the same host's clock


# ------------------------------------------------------------------ known answers, by hand


def _json(at: str, event: str, **kv: Any) -> str:
    """One event as a80b302's JSON renderer writes it (keys in call order, then the rest)."""
    tail = {"event": event, "logger": "claude_code_api.x", "level": "info", "timestamp": at}
    return json.dumps({**kv, **tail})


def _console(at: str, event: str, logger: str, **kv: Any) -> str:
    """The same as structlog's ConsoleRenderer writes it, colours stripped (keys sorted)."""
    pairs = " ".join(f"{k}={v}" for k, v in sorted(kv.items()))
    return f"{at} [info     ] {event:<30} [{logger}] {pairs}"


@pytest.mark.parametrize("form", ["json", "console"])
def test_overlapping_requests_pair_by_their_session_id(form: str) -> None:
    # Two requests overlap, the second (haiku) ends first: by id each keeps its own latency.
    from claude_perf.ingest.files import combine, read_log

    ids = ("a" * 8 + "-1111-2222-3333-" + "4" * 12, "b" * 8 + "-1111-2222-3333-" + "4" * 12)
    opus, haiku = "claude-opus-4-6-20260205", "claude-haiku-4-5-20251001"

    def line(t: float, event: str, logger: str, **kv: Any) -> str:
        stamp = f"2026-12-01T00:00:{t:09.6f}Z"
        text = _json(stamp, event, **kv) if form == "json" else _console(stamp, event, logger, **kv)
        if form == "json":
            text = text.replace('"claude_code_api.x"', f'"{logger}"')
        return f"2026-12-01T00:00:{t:09.6f}000Z {text}"

    manager, sessions = (
        "claude_code_api.core.claude_manager",
        "claude_code_api.core.session_manager",
    )
    created = {"project_id": "default-testclient"}
    lines = [
        line(1.0, "Raw request received", "claude_code_api.api.chat", body_size=90),
        line(1.01, "Session created", sessions, session_id=ids[0], **created, model=opus),
        line(1.2, "Raw request received", "claude_code_api.api.chat", body_size=90),
        line(1.21, "Session created", sessions, session_id=ids[1], **created, model=haiku),
        line(1.6, "Claude process output stream ended", manager, session_id=ids[1]),
        line(
            1.62,
            "Creating non-streaming response",
            "claude_code_api.utils.streaming",
            session_id=ids[1],
            model=haiku,
            messages_count=4,
            completion_id="chatcmpl-1",
        ),
        line(2.5, "Claude process output stream ended", manager, session_id=ids[0]),  # a stream
    ]
    table, info, count = read_log("x.log", data=("\n".join(lines) + "\n").encode())
    a = analyse(combine([table], [info], [count]), Config())
    rows = a.requests.table
    got = sorted(zip(rows["model"], rows["latency_s"].round(3), strict=True))
    assert got == [(haiku, 0.41), (opus, 1.49)]
    assert a.quality.dialects == {"x.log": ("claude-code-api-info",)}
    assert a.quality.ambiguous_pairings == 0

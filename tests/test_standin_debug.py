"""Real-engine smoke test: the stand-in wrapper with ``DEBUG_MODE=true`` logs what the real
claude-code-openai-wrapper (v2.2.0, src/main.py and src/claude_cli.py) logs in DEBUG mode.

stdout (uvicorn's access lines) and stderr (every app record) reach the engine through separate
pipes, so in the merged ``docker logs`` an access line can come before the ``🔍 Response`` record
the app wrote first; order is checked within each stream.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

import pytest

from tests.docker_support import DEFAULT_API_KEY, Step, drive_workload

pytestmark = pytest.mark.docker

TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z "
RECORD = re.compile(
    TS + r"(?P<asctime>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) - (?P<logger>[\w.]+) - "
    r"(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL) - (?P<msg>.*)$"
)
ACCESS = re.compile(
    TS
    + r'INFO:     (?P<ip>[\d.]+):\d+ - "(?P<method>\w+) (?P<path>\S+) HTTP/1\.1" (?P<status>\d{3}) '
)
RESPONSE = re.compile(r"🔍 Response: (?P<status>\d{3}) in (?P<ms>\d+\.\d\d)ms$")
BANNER = [
    "🔧 Debug mode enabled - Enhanced logging active",
    "🔧 Environment variables:",
    "   DEBUG_MODE: True",
    "   VERBOSE: False",
    "   PORT: 8000",
    '   CORS_ORIGINS: ["*"]',
    "   MAX_TIMEOUT: 600000",
    "   CLAUDE_CWD: Not set",
    "🔧 Available endpoints:",
    "   POST /v1/chat/completions - Main chat endpoint",
    "   GET  /v1/models - List available models",
    "   POST /v1/debug/request - Debug request validation",
    "   GET  /v1/auth/status - Authentication status",
    "   GET  /health - Health check",
    "🔧 API Key protection: Enabled",
]
COMPAT = (
    "Compatibility report: {'supported_parameters': ['model', 'messages', 'stream'], "
    "'unsupported_parameters': [], 'warnings': [], 'suggestions': []}"
)
MALFORMED = b'{"model": "sonnet", "messages": [,]}'
PLAN: list[Any] = [
    Step("chat alias", "sonnet"),
    Step("chat full id", "claude-haiku-4-5-20251001"),
    Step("stream haiku", "haiku", stream=True),
    Step("invalid model", "gpt-4"),
    Step("bad key", "sonnet", api_key="wrong-key"),
    Step("malformed", "sonnet", raw_body=MALFORMED),
    Step("cli crash", "haiku", prompt="CRASH"),
]
STATUSES = [200, 200, 200, 200, 401, 422, 500]


def records(text: str) -> list[tuple[int, re.Match[str]]]:
    """(line index, match) of every log record in ``text``."""
    lines = text.splitlines()
    return [(i, m) for i, m in enumerate(map(RECORD.match, lines)) if m]


def body_blocks(lines: list[str]) -> list[str]:
    """The multi-line ``🔍 Request body: {...}`` records, joined back (continuation lines carry
    only the engine's timestamp)."""
    blocks = []
    for i, line in enumerate(lines):
        m = RECORD.match(line)
        if not (m and m["msg"] == "🔍 Request body: {"):
            continue
        parts = ["{"]
        for nxt in lines[i + 1 :]:
            if RECORD.match(nxt) or ACCESS.match(nxt):
                break
            parts.append(nxt.split(" ", 1)[1])
        blocks.append("\n".join(parts))
    return blocks


def test_standin_debug_mode_logs_like_the_wrapper(standin_debug_proxy: tuple[Any, str]) -> None:
    container, base_url = standin_debug_proxy
    port = base_url.rsplit(":", 1)[1]
    outcomes = drive_workload(base_url, PLAN)
    assert [o.status for o in outcomes] == STATUSES
    stream = outcomes[2]
    assert stream.stream and stream.first_byte_s is not None and stream.first_body_s is not None
    assert stream.first_byte_s < stream.first_body_s <= stream.elapsed_s

    err = container.logs(timestamps=True, stdout=False, stderr=True).decode()
    out = container.logs(timestamps=True, stdout=True, stderr=False).decode()
    err_lines = err.splitlines()
    recs = [m for _, m in records(err)]
    msgs = [m["msg"] for m in recs]
    assert all(ACCESS.match(line) for line in out.splitlines())  # stdout: access lines only

    # --- start-up: the wrapper's banner, between the SDK check and the cleanup task
    debug_start = msgs.index(BANNER[0])
    assert msgs[debug_start : debug_start + len(BANNER)] == BANNER
    assert msgs[debug_start - 1] == "✅ Claude Agent SDK verified successfully"
    assert msgs[debug_start + len(BANNER)].startswith("Started session cleanup task")
    assert not any("Using selector" in x for x in msgs)

    # --- per external request: Incoming, Headers (raw, key included), body
    incoming = [x for x in msgs if x.startswith("🔍 [unknown] Incoming request: POST ")]
    assert (
        incoming
        == [f"🔍 [unknown] Incoming request: POST http://127.0.0.1:{port}/v1/chat/completions"] * 7
    )
    headers = [
        ast.literal_eval(x.removeprefix("🔍 [unknown] Headers: "))
        for x in msgs
        if x.startswith("🔍 [unknown] Headers: ") and "Python-urllib" in x
    ]
    assert [h["authorization"] for h in headers] == [f"Bearer {DEFAULT_API_KEY}"] * 4 + [
        "Bearer wrong-key"
    ] + [f"Bearer {DEFAULT_API_KEY}"] * 2
    assert all(h["host"] == f"127.0.0.1:{port}" for h in headers)
    sent = [
        {"model": s.model, "messages": [{"role": "user", "content": s.prompt}], "stream": s.stream}
        for s in PLAN
        if s.raw_body is None
    ]
    assert body_blocks(err_lines) == [json.dumps(b, indent=2) for b in sent]
    assert msgs.count(f"🔍 Request body (raw): {MALFORMED.decode()}...") == 1
    # past the API-key check: everything but the 401 and the 422
    assert msgs.count(COMPAT) == 5

    # --- every SDK message, three records each (the crash printed only the init message)
    types = [
        x.removeprefix("Raw SDK message type: ")
        for x in msgs
        if x.startswith("Raw SDK message type: ")
    ]
    kinds = ["SystemMessage", "AssistantMessage", "ResultMessage"]
    assert types == [f"<class 'claude_agent_sdk.types.{k}'>" for k in kinds * 4 + kinds[:1]]
    assert sum(x.startswith("Converted message dict: {") for x in msgs) == len(types)
    results = [x for x in msgs if x.startswith("Raw SDK message: ResultMessage(")]
    ok = re.compile(
        r"Raw SDK message: ResultMessage\(subtype='success', duration_ms=(?P<ms>\d+), "
        r"duration_api_ms=(?P<api>\d+), is_error=False, num_turns=1, session_id='[0-9a-f-]{36}', "
        r"total_cost_usd=0\.\d+, usage=\{'input_tokens': \d+, .*\}, "
        r"result='Stand-in answer from (?P<model>[\w.-]+)\.', structured_output=None\)$"
    )
    matched = [ok.match(x) for x in results[:3]]
    assert all(matched), results[:3]
    assert [m["model"] for m in matched if m] == ["sonnet", "claude-haiku-4-5-20251001", "haiku"]
    assert all(int(m["api"]) < int(m["ms"]) for m in matched if m)
    assert "is_error=True" in results[3] and "total_cost_usd=0," in results[3]
    assert "model='<synthetic>'" in next(
        x for x in reversed(msgs) if x.startswith("Raw SDK message: AssistantMessage(")
    )

    # --- Response records. Requests are sequential, so request k's record lies between its
    # Incoming record and the next one; health probes may share the window (all 200, fast).
    external = [m for m in map(ACCESS.match, out.splitlines()) if m and m["ip"] != "127.0.0.1"]
    assert [int(m["status"]) for m in external] == STATUSES
    starts = [i for i, x in enumerate(msgs) if x.startswith("🔍 [unknown] Incoming request: POST ")]
    windows = [msgs[a:b] for a, b in zip(starts, [*starts[1:], len(msgs)], strict=True)]
    for k, (window, outcome) in enumerate(zip(windows, outcomes, strict=True)):
        found = [m for m in map(RESPONSE.match, window) if m]
        assert STATUSES[k] in [int(m["status"]) for m in found], (k, window)
        assert all(float(m["ms"]) <= outcome.elapsed_s * 1000 + 1.0 for m in found)
    slowest_ms = [max(float(m["ms"]) for m in map(RESPONSE.match, w) if m) for w in windows]
    assert slowest_ms[0] > 800  # sonnet answers after 0.9 s: the record waits for the answer
    assert slowest_ms[2] < stream.first_body_s * 1000  # a stream's: at its headers, before text

    # --- health probes log the same pair, and nothing else
    health_in = [
        x for x in msgs if x == "🔍 [unknown] Incoming request: GET http://127.0.0.1:8000/health"
    ]
    probes = [m for m in map(ACCESS.match, out.splitlines()) if m and m["path"] == "/health"]
    assert health_in and abs(len(probes) - len(health_in)) <= 1  # one may be in flight
    n_responses = sum(bool(RESPONSE.match(x)) for x in msgs)
    assert n_responses - len(STATUSES) in (len(health_in), len(health_in) - 1)
    probe_headers = [
        x for x in msgs if x.startswith("🔍 [unknown] Headers: {'host': '127.0.0.1:8000'")
    ]
    assert len(probe_headers) == len(health_in)
    assert all("'user-agent': 'Wget'" in x for x in probe_headers)

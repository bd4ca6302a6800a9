"""Real-engine smoke test: the stand-in proxy in a container, a known workload, its logs."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest

from tests.docker_support import Step, drive_workload, logs_once

pytestmark = pytest.mark.docker

TS = r"(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) "
ACCESS = re.compile(
    TS + r'INFO:     (?P<ip>[\d.]+):(?P<port>\d+) - "(?P<method>[A-Z]+) (?P<path>\S+) '
    r'HTTP/1\.1" (?P<status>\d{3}) (?P<reason>.+)$'
)
RECORD = re.compile(
    TS + r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} - (?P<logger>[\w.]+) - "
    r"(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL) - (?P<msg>.*)$"
)
CONTINUATION = TS + "Error output: Check stderr output for details"
SUPPORTED = (
    "Supported models: ['claude-haiku-4-5-20251001', 'claude-opus-4-1-20250805', "
    "'claude-opus-4-20250514', 'claude-opus-4-5-20250929', 'claude-sonnet-4-20250514', "
    "'claude-sonnet-4-5-20250929']"
)

PLAN: list[Any] = [
    Step("chat sonnet", "sonnet"),
    Step("chat opus", "opus"),
    Step("chat haiku", "haiku"),
    Step("stream sonnet", "sonnet", stream=True),
    Step("slow haiku", "haiku", prompt="SLEEP=1 please"),
    Step("invalid model", "gpt-4"),
    Step("bad key", "sonnet", api_key="wrong-key"),
    Step("malformed", "sonnet", raw_body=b'{"model": "sonnet", "messages": [,]}'),
    Step("cli auth fail", "haiku", prompt="LOGIN_FAIL"),
    Step("cli crash", "haiku", prompt="CRASH"),
    Step("usage limit", "haiku", prompt="USAGE_LIMIT"),
    (Step("overlap sonnet", "sonnet"), Step("overlap haiku", "claude-haiku-4-5-20251001")),
    Step("burst 1", "haiku"),
    Step("burst 2", "haiku"),
    Step("burst 3", "haiku"),
]
EXPECTED = {
    "chat sonnet": 200,
    "chat opus": 200,
    "chat haiku": 200,
    "stream sonnet": 200,
    "slow haiku": 200,
    "invalid model": 200,
    "bad key": 401,
    "malformed": 422,
    "cli auth fail": 200,
    "cli crash": 500,
    "usage limit": 200,
    "overlap sonnet": 200,
    "overlap haiku": 200,
    "burst 1": 200,
    "burst 2": 200,
    "burst 3": 429,  # the 15th rate-limited request; the 422 is rejected before the limiter
}


def test_standin_proxy_real_engine(standin_proxy: tuple[Any, str]) -> None:
    container, base_url = standin_proxy
    outcomes = drive_workload(base_url, PLAN)
    by_label = {o.label: o for o in outcomes}

    # --- what the client saw
    assert {o.label: o.status for o in outcomes} == EXPECTED
    assert "Invalid API key" in by_label["cli auth fail"].json()["choices"][0]["message"]["content"]
    assert "not_found_error" in by_label["invalid model"].json()["choices"][0]["message"]["content"]
    usage_text = by_label["usage limit"].json()["choices"][0]["message"]["content"]
    assert re.fullmatch(r"Claude AI usage limit reached\|\d{10}", usage_text)
    assert by_label["stream sonnet"].body.rstrip().endswith(b"data: [DONE]")
    assert by_label["chat opus"].elapsed_s > by_label["chat haiku"].elapsed_s
    assert by_label["slow haiku"].elapsed_s > 1.0
    a, b = by_label["overlap sonnet"], by_label["overlap haiku"]
    assert b.started_at < a.started_at + a.elapsed_s, "overlapping requests did not overlap"

    # --- what the engine recorded (stdout and stderr merged, as `docker logs -t`), once every
    # request's access line is in it (they can reach the log after the answers on a loaded
    # machine: a bounded poll, not a time)
    chats = len(EXPECTED)
    chat_line = '"POST /v1/chat/completions'
    text = logs_once(container, lambda t: t.count(chat_line) >= chats, f"{chats} access lines")
    lines = text.splitlines()
    assert lines and all(re.match(TS, line) for line in lines), lines[:5]
    access = [m for m in map(ACCESS.match, lines) if m]
    records = [m for m in map(RECORD.match, lines) if m]

    external = [m for m in access if m["path"] == "/v1/chat/completions"]
    assert {m["ip"] for m in external} == {"172.17.0.1"}
    assert Counter(int(m["status"]) for m in external) == Counter(EXPECTED.values())
    reasons = {int(m["status"]): m["reason"] for m in external}
    assert reasons == {
        200: "OK",
        401: "Unauthorized",
        422: "Unprocessable Entity",
        429: "Too Many Requests",
        500: "Internal Server Error",
    }
    probes = [m for m in access if m["path"] == "/health" and m["ip"] == "127.0.0.1"]
    assert probes, "no in-container health probe from 127.0.0.1 in the logs"

    msgs = Counter((m["logger"], m["level"], m["msg"]) for m in records)
    # plain mode: none of the wrapper's DEBUG records (tests/test_standin_debug.py has those)
    assert not [m for m in records if m["level"] == "DEBUG"]
    assert not any("🔍" in line for line in lines)
    chat = [m for m in records if m["msg"].startswith("Chat completion: ")]
    assert len(chat) == 12  # every non-stream request that got past the key and the limiter
    assert all(m["msg"] == "Chat completion: session_id=None, total_messages=1" for m in chat)
    # 2 at start-up + 13 requests past the API-key check (the 401 and the 429 log nothing)
    assert msgs[("src.auth", "INFO", "Claude Code authentication validated: claude_cli")] == 15
    assert (
        msgs[("src.main", "INFO", "Tools disabled (default behavior for OpenAI compatibility)")]
        == 13
    )
    warned = Counter(
        re.match(r"Model '([^']+)'", m["msg"])[1]  # type: ignore[index]
        for m in records
        if m["logger"] == "src.parameter_validator"
    )
    assert warned == Counter({"haiku": 7, "sonnet": 3, "opus": 1, "gpt-4": 1})
    assert all(
        m["msg"].endswith("It will still be attempted but may fail. " + SUPPORTED)
        for m in records
        if m["logger"] == "src.parameter_validator"
    )

    failed = "Command failed with exit code 1 (exit code: 1)"
    sdk = ("claude_agent_sdk._internal.query", "ERROR", f"Fatal error in message reader: {failed}")
    cli = ("src.claude_cli", "ERROR", f"Claude Agent SDK error: {failed}")
    assert msgs[sdk] == 4 and msgs[cli] == 4  # invalid model, login failure, crash, usage limit
    assert sum(bool(re.fullmatch(CONTINUATION, line)) for line in lines) == 8
    assert any(
        re.search(r"src\.claude_cli - ERROR - Claude AI usage limit reached\|\d+$", x)
        for x in lines
    )

    node = [
        i
        for i, line in enumerate(lines)
        if line.endswith(" Error: connect ECONNREFUSED 127.0.0.1:443")
    ]
    assert len(node) == 1
    assert lines[node[0] + 1].endswith(
        "    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1607:16)"
    )
    crash_access = next(i for i, line in enumerate(lines) if '" 500 Internal Server Error' in line)
    assert node[0] < crash_access

    validation = [m["msg"] for m in records if m["msg"].startswith("❌ ")]
    assert len(validation) == 2
    assert re.fullmatch(
        r"❌ Request validation failed for POST http://127\.0\.0\.1:\d+/v1/chat/completions",
        validation[0],
    )
    assert validation[1].startswith(
        "❌ Validation errors: [{'type': 'json_invalid', 'loc': ('body', "
    )
    assert (
        msgs[
            (
                "slowapi",
                "WARNING",
                "ratelimit 14 per 1 minute (172.17.0.1) exceeded at endpoint: /v1/chat/completions",
            )
        ]
        == 1
    )

"""The REAL claude-max-api-proxy (npm 1.0.0) in a container, with the stand-in ``claude``.

One request of each kind, then the log lines its dist/ code writes, checked against what the
client saw: ``[Subprocess] Process spawned with PID: N``, ``Received N bytes of stdout``,
``Process closed with code: C``, ``[Subprocess stderr]:``, ``[handleChatCompletions] Error:``,
``[Server Error]:`` and, with ``DEBUG=1``, ``[ISO time] METHOD path`` per request. The first
test runs the stand-in alone (no Docker) to pin its stream-json.
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest

from tests.conftest import DockerRun, remove_quietly
from tests.docker_support import logs_once, logs_text
from tests.maxproxy_support import (
    STANDIN_MAX_DIR,
    MaxStep,
    node_binary,
    run_steps,
    standin_spec,
    start_maxproxy,
)

SPEC = standin_spec()
TS = r"^(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) "
REQUEST_LINE = re.compile(TS + r"\[(?P<iso>[^\]]+Z)\] (?P<method>[A-Z]+) (?P<path>\S+)$", re.M)
SPAWNED = re.compile(TS + r"\[Subprocess\] Process spawned with PID: (?P<pid>\d+)$", re.M)
RECEIVED = re.compile(TS + r"\[Subprocess\] Received (?P<n>\d+) bytes of stdout$", re.M)
CLOSED = re.compile(TS + r"\[Subprocess\] Process closed with code: (?P<code>-?\d+|null)$", re.M)
CLI_ARGS = [
    "--print",
    "--output-format",
    "stream-json",
    "--verbose",
    "--include-partial-messages",
    "--model",
]


def settled_logs(container: Any, last: str | None = None) -> str:
    """The container's logs once every spawned CLI has logged its close (and, given ``last``,
    once the log holds that text: the last request's own line).

    The proxy answers the client before its child process exits, so the close line can reach
    the log after the response, and on a loaded machine so can a request's own line: poll the
    log for those conditions (bounded), not for a time.
    """

    def settled(logs: str) -> bool:
        closed = len(CLOSED.findall(logs)) >= len(SPAWNED.findall(logs))
        return closed and (last is None or last in logs)

    return logs_once(container, settled, f"every spawned CLI's close line and {last!r}")


def run_standin(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(node_binary()), str(STANDIN_MAX_DIR / "claude"), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize("alias", ["haiku", "sonnet", "opus"])
def test_standin_speaks_stream_json(alias: str) -> None:
    model = SPEC["models"][alias]
    proc = run_standin(*CLI_ARGS, alias, "--no-session-persistence", "Say hello.")
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    kinds = [e["type"] if e["type"] != "stream_event" else e["event"]["type"] for e in events]
    n_deltas = -(-model["output_tokens"] // SPEC["tokens_per_delta"])
    assert kinds == [
        "system",
        "rate_limit_event",
        "message_start",
        "content_block_start",
        *["content_block_delta"] * n_deltas,
        "content_block_stop",
        "assistant",
        "message_delta",
        "message_stop",
        "result",
    ]
    init, result = events[0], events[-1]
    assert (init["subtype"], init["model"]) == ("init", model["model_id"])
    deltas = [
        e["event"]["delta"] for e in events if kinds[events.index(e)] == "content_block_delta"
    ]
    streamed = "".join(d["text"] for d in deltas)
    assert streamed == result["result"] == events[-4]["message"]["content"][0]["text"]
    assert len(streamed.split()) == result["usage"]["output_tokens"] == model["output_tokens"]
    assert result["is_error"] is False and list(result["modelUsage"]) == [model["model_id"]]
    assert result["duration_ms"] >= model["delay_s"] * 1000 * 0.95
    assert result["total_cost_usd"] > 0


def test_standin_failures_version_and_flags() -> None:
    assert run_standin("--version").stdout.strip() == SPEC["version"]
    no_verbose = run_standin("--print", "--output-format", "stream-json", "--model", "haiku", "x")
    assert no_verbose.returncode == 1 and "requires --verbose" in no_verbose.stderr
    login = run_standin(*CLI_ARGS, "haiku", "LOGIN_FAIL")
    lines = [json.loads(x) for x in login.stdout.splitlines()]
    assert login.returncode == 1
    assert [x["type"] for x in lines] == ["system", "assistant", "result"]
    assert lines[1]["error"] == "authentication_failed"
    assert lines[2]["is_error"] is True and "modelUsage" not in lines[2]
    limit = [
        json.loads(x) for x in run_standin(*CLI_ARGS, "opus", "USAGE_LIMIT").stdout.splitlines()
    ]
    assert limit[-1]["api_error_status"] == 429
    crash = run_standin(*CLI_ARGS, "haiku", "CRASH")
    assert crash.returncode == 1 and "ECONNREFUSED" in crash.stderr
    assert len(crash.stdout.splitlines()) == 1  # system/init only
    tokens = run_standin(*CLI_ARGS, "haiku", "TOKENS=7")
    assert json.loads(tokens.stdout.splitlines()[-1])["usage"]["output_tokens"] == 7


@pytest.fixture
def maxproxy(docker_run: DockerRun) -> Iterator[Callable[..., tuple[Any, str]]]:
    """``start(debug=..., **env)`` runs the real proxy for this run; removed afterwards."""
    made: list[Any] = []

    def start(**kwargs: Any) -> tuple[Any, str]:
        name = f"claude-perf-test-maxproxy-{docker_run.run_id}-{uuid.uuid4().hex[:8]}"
        container, url = start_maxproxy(docker_run.client, name, labels=docker_run.labels, **kwargs)
        made.append(docker_run.track(container))
        return container, url

    yield start
    for container in made:
        remove_quietly(container)
        docker_run.created.pop(container.id, None)


ONE_OF_EACH = [
    MaxStep("health", method="GET", path="/health"),
    MaxStep("models", method="GET", path="/v1/models"),
    MaxStep("chat haiku", "claude-haiku-4"),
    MaxStep("stream sonnet", "claude-sonnet-4", stream=True),
    MaxStep("cli crash", "haiku", prompt="CRASH please"),
    MaxStep("cli login fail", "opus", prompt="LOGIN_FAIL please"),
    MaxStep("stream crash", "sonnet", prompt="CRASH please", stream=True),
    MaxStep("no model", None),
    MaxStep("malformed", raw_body=b'{"model": "haiku", "messages": [,]}'),
    MaxStep("unknown path", method="GET", path="/v1/nope"),
]


@pytest.mark.docker
def test_maxproxy_debug_one_of_each(maxproxy: Callable[..., tuple[Any, str]]) -> None:
    container, url = maxproxy(debug=True)
    seen = {r["label"]: r for r in run_steps(url, ONE_OF_EACH)}
    logs = settled_logs(container, last="] GET /v1/nope")  # the last step's DEBUG line

    # --- the client's view (statuses as dist/server/routes.js and index.js write them)
    assert {k: r["status"] for k, r in seen.items()} == {
        "health": 200,
        "models": 200,
        "chat haiku": 200,
        "stream sonnet": 200,
        "cli crash": 500,
        "cli login fail": 200,  # the CLI's is_error result is passed on as an answer
        "stream crash": 200,  # SSE headers are flushed before the CLI runs
        "no model": 500,
        "malformed": 500,  # the error handler answers 500 even for body-parser's 400
        "unknown path": 404,
    }
    assert seen["chat haiku"]["output_tokens"] == SPEC["models"]["haiku"]["output_tokens"]
    assert seen["stream sonnet"]["output_tokens"] == SPEC["models"]["sonnet"]["output_tokens"]
    assert seen["cli crash"]["error"] == "Claude CLI exited with code 1 without response"
    assert seen["cli login fail"]["content_head"] == "Invalid API key · Please run /login"
    assert seen["stream crash"]["error"] == "Process exited with code 1"
    sent = datetime.fromisoformat(seen["stream sonnet"]["sent_at"])
    first = datetime.fromisoformat(seen["stream sonnet"]["first_content_at"])
    ttft_s = SPEC["ttft_share"] * SPEC["models"]["sonnet"]["delay_s"]
    assert (first - sent).total_seconds() >= ttft_s

    # --- the log: one DEBUG line per request that got past express.json (not the malformed one)
    requests = [(m["method"], m["path"]) for m in REQUEST_LINE.finditer(logs)]
    assert requests == [
        ("GET", "/health"),
        ("GET", "/v1/models"),
        *[("POST", "/v1/chat/completions")] * 6,
        ("GET", "/v1/nope"),
    ]
    # one CLI run per chat request that reached it; codes as the client saw them
    assert len(SPAWNED.findall(logs)) == 5
    assert Counter(m["code"] for m in CLOSED.finditer(logs)) == {"0": 2, "1": 3}
    assert len(RECEIVED.findall(logs)) >= 5
    assert "[Subprocess stderr]: Error: connect ECONNREFUSED 127.0.0.1:443" in logs
    assert (
        "[handleChatCompletions] Error: Cannot read properties of undefined (reading 'replace')"
        in logs
    )
    assert re.search(TS + r"\[Server Error\]: ", logs, re.M)
    # the DEBUG line's own clock and the engine's agree (same host clock; within 1 s)
    for m in REQUEST_LINE.finditer(logs):
        engine = datetime.fromisoformat(m["ts"][:26] + "Z")
        own = datetime.fromisoformat(m["iso"])
        assert abs((engine - own).total_seconds()) < 1.0


@pytest.mark.docker
def test_maxproxy_plain_has_no_request_lines(maxproxy: Callable[..., tuple[Any, str]]) -> None:
    container, url = maxproxy(debug=False)
    seen = run_steps(url, [MaxStep("health", method="GET", path="/health"), MaxStep("chat")])
    assert [r["status"] for r in seen] == [200, 200]
    logs = settled_logs(container)
    assert not REQUEST_LINE.search(logs)
    assert len(SPAWNED.findall(logs)) == 1
    assert [m["code"] for m in CLOSED.finditer(logs)] == ["0"]


@pytest.mark.docker
def test_maxproxy_exits_on_empty_model_usage(maxproxy: Callable[..., tuple[Any, str]]) -> None:
    """A non-streaming CLI error result with ``"modelUsage": {}`` makes cliResultToOpenai read
    ``undefined.includes``: the exception escapes an event handler and the proxy exits 1."""
    container, url = maxproxy(debug=False)
    [seen] = run_steps(url, [MaxStep("login", "haiku", prompt="LOGIN_FAIL MODEL_USAGE_EMPTY")])
    assert seen["status"] is None and seen["error"].startswith("RemoteDisconnected")
    container.wait(timeout=30)
    container.reload()
    assert container.attrs["State"]["ExitCode"] == 1
    logs = logs_text(container)
    assert "TypeError: Cannot read properties of undefined (reading 'includes')" in logs
    assert "at normalizeModelName" in logs

"""Known answers for the error classes, from real error lines: one exact class per case.

``classify_error`` (one request) and ``classify_errors`` (vectorised, Arrow's RE2) read one rule
table, so checking them against each other cannot catch a wrong rule: each case here states the
class a person reading the line would give it. Sources, cited per case:

- CAPTURE: ``fixtures/capture/docker-logs-t.txt``, a real capture of claude-code-openai-wrapper.
- STANDIN: ``fixtures/standin/json-file.log`` (the stand-in proxy; its usage-limit record is
  modelled on the CLI's text, see tests/standin/README.md).
- WRAPPER: RichardAtCT/claude-code-openai-wrapper at f6994d0, ``src/*.py`` (the log calls and the
  status codes they go with; Python logging's ``%(asctime)s - %(name)s - %(levelname)s -`` head).
- MAXPROXY: npm claude-max-api-proxy 1.0.0, ``dist/server/*.js`` and ``dist/subprocess/*.js``.
- CCR: npm @musistudio/claude-code-router 2.0.0 (dist/cli.js) and its captures
  ``fixtures/captures/ccr-*``.
- CLI: texts the Claude CLI (@anthropic-ai/claude-code) prints, as quoted in issues of
  anthropics/claude-code (issue number given); a proxy passes them on as the CLI's stderr or answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from claude_perf.analysis.error_classes import ERROR_CLASSES, classify_error, classify_errors

SDK_EXIT = (
    "2026-11-29 00:51:07,390 - claude_agent_sdk._internal.query - ERROR - Fatal error in message "
    "reader: Command failed with exit code 1 (exit code: 1)",
    "Error output: Check stderr output for details",
    "2026-11-29 00:51:07,390 - src.claude_cli - ERROR - Claude Agent SDK error: Command failed "
    "with exit code 1 (exit code: 1)",
)


@dataclass(frozen=True)
class Case:
    """A failed request as the pipeline sees it: status, its error records, model known."""

    status: int | None
    messages: tuple[str, ...]
    model_known: bool
    expected: str


CASES: dict[str, Case] = {
    # ---- auth
    # CAPTURE 00:51:07.714788525: a wrong API key, the bare access line, no error record.
    "capture bare 401": Case(401, (), True, "auth"),
    # CLI (issue #6459, #12879): an expired subscription login, passed on by the wrapper as a 200.
    "cli oauth expired": Case(
        200,
        (
            'API Error: 401 {"type":"error","error":{"type":"authentication_error","message":'
            '"OAuth token has expired. Please obtain a new token or refresh your existing '
            'token."},"request_id":"req_011CVhkGeSWvhTk7MQh33Lu1"} · Please run /login',
        ),
        True,
        "auth",
    ),
    # STANDIN LOGIN_FAIL / CLI: "Invalid API key · Please run /login" as the answer.
    "cli invalid api key": Case(200, ("Invalid API key · Please run /login",), True, "auth"),
    # WRAPPER src/auth.py validate_claude_code_auth + src/main.py chat_completions: the CLI is not
    # authenticated, logged as below and answered 503.
    "wrapper cli auth failed": Case(
        503,
        (
            "2026-11-29 00:51:07,390 - src.auth - ERROR - Claude Code authentication failed: "
            "['ANTHROPIC_API_KEY environment variable not set']",
        ),
        True,
        "auth",
    ),
    # ---- validation
    # CAPTURE 00:51:08.033: malformed JSON, two src.main ERROR records, then 422.
    "capture 422": Case(
        422,
        (
            "2026-11-29 00:51:08,032 - src.main - ERROR - ❌ Request validation failed for POST "
            "http://127.0.0.1:8766/v1/chat/completions",
            "2026-11-29 00:51:08,033 - src.main - ERROR - ❌ Validation errors: [{'type': "
            "'json_invalid', 'loc': ('body', 9), 'msg': 'JSON decode error', 'input': {}, 'ctx': "
            "{'error': 'Expecting value'}}]",
        ),
        True,
        "validation",
    ),
    # MAXPROXY dist/server/routes.js: no messages -> 400 invalid_request_error, nothing logged.
    "maxproxy 400": Case(400, (), True, "validation"),
    # ---- rate_limit
    # CAPTURE 00:51:18.49: slowapi's WARNING, then 429.
    "capture 429": Case(
        429,
        (
            "2026-11-29 00:51:18,491 - slowapi - WARNING - ratelimit 14 per 1 minute "
            "(172.17.0.1) exceeded at endpoint: /v1/chat/completions",
        ),
        True,
        "rate_limit",
    ),
    # CLI (issue #6119): the API's 429, passed on as a 200 answer.
    "cli api 429": Case(
        200,
        (
            'API Error: 429 {"type":"error","error":{"type":"rate_limit_error","message":"This '
            "request would exceed your account's rate limit. Please try again later.\"},"
            '"request_id":"req_011CSHCYzBstm5tDEsXB7mev"}',
        ),
        True,
        "rate_limit",
    ),
    # An axios-style message (claude-max-api-proxy's fetches, claude-code-router): the number alone.
    "bare status 429": Case(
        500, ("Error: Request failed with status code 429.",), True, "rate_limit"
    ),
    # CAPTURE fixtures/captures (CLIProxyAPI's gin access line): the status between bars.
    "gin 429": Case(
        None, ("[warn ] [gin_logger.go:95] 429 |         352ms |",), True, "rate_limit"
    ),
    # CLI: the API's 529 (overloaded), a server answer that means "back off", as a 500.
    "cli api 529": Case(
        500,
        (
            'API Error: 529 {"type":"error","error":{"type":"overloaded_error","message":'
            '"Overloaded"}}',
        ),
        True,
        "rate_limit",
    ),
    # ---- usage_limit
    # STANDIN 01:52:04.386 / CLI (issue #4375): the subscription's limit, with its reset epoch.
    "standin usage limit": Case(
        200,
        (
            *SDK_EXIT[:2],
            "2026-11-29 01:52:04,386 - src.claude_cli - ERROR - Claude AI usage limit "
            "reached|1795932000",
        ),
        True,
        "usage_limit",
    ),
    # CLI 2.1.x (issue #54698, #22976): the newer wording of the same limit.
    "cli hit your limit": Case(
        200, ("You've hit your limit · resets 1:30am (Asia/Dhaka)",), True, "usage_limit"
    ),
    # ---- routing
    # CAPTURE 00:51:07.153: model gpt-4 (not a Claude model): the CLI exits 1, the API says 200.
    "capture gpt-4": Case(200, SDK_EXIT, False, "routing"),
    # CLI (issue #76619): the API's 404 for a model the account cannot use.
    "cli api 404 model": Case(
        200,
        (
            'API Error: 404 {"type":"error","error":{"type":"not_found_error","message":"model: '
            'claude-opus-4-20250514"}}',
        ),
        True,
        "routing",
    ),
    # CLI 2.1.x (issue #41120): the same 404, in the newer wording.
    "cli selected model": Case(
        200,
        (
            "There's an issue with the selected model (claude-haiku-4-5-20251001). It may not "
            "exist or you may not have access to it. Run /model to pick a different model.",
        ),
        True,
        "routing",
    ),
    # ---- timeout
    # CLI (issue #2728): the API call timed out, passed on as a 200 answer.
    "cli request timed out": Case(200, ("API Error: Request timed out.",), True, "timeout"),
    # MAXPROXY dist/subprocess/manager.js + dist/server/routes.js: its own timer killed the CLI.
    "maxproxy timed out": Case(
        500, ("[NonStreaming] Error: Request timed out after 900000ms",), True, "timeout"
    ),
    # A gateway's 504 in front of the proxy, no record of its own.
    "gateway 504": Case(504, (), True, "timeout"),
    # ---- cli
    # CAPTURE 00:51:08.59: sonnet, the CLI exits 1 (SDK records), the API says 200.
    "capture sdk exit": Case(200, SDK_EXIT, True, "cli"),
    # CAPTURE 00:51:09.21: haiku, the CLI crashed (ECONNREFUSED on stderr), then 500.
    "capture crash 500": Case(
        500,
        (
            "Error: connect ECONNREFUSED 127.0.0.1:443",
            "    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1607:16)",
            *SDK_EXIT,
        ),
        True,
        "cli",
    ),
    # The live gunicorn test (CI, 2026-12-01): the same SDK exit whose record head's milliseconds
    # read 429, and gunicorn's own record from a worker whose pid is 429: neither is a status.
    "sdk exit at ,429": Case(
        500,
        (
            "2026-12-02 02:09:39,429 - claude_agent_sdk._internal.query - ERROR - Fatal error in "
            "message reader: Command failed with exit code 1 (exit code: 1)",
            "[2026-12-02 02:09:39 +0000] [429] [ERROR] Exception in ASGI application, 0.429 s",
        ),
        True,
        "cli",
    ),
    # MAXPROXY dist/server/routes.js: the CLI closed without a result.
    "maxproxy exited": Case(500, ("Claude CLI exited with code 1 without response",), True, "cli"),
    # MAXPROXY dist/subprocess/manager.js: spawn ENOENT.
    "maxproxy not found": Case(
        500,
        (
            "[handleChatCompletions] Error: Claude CLI not found. Install with: npm install -g "
            "@anthropic-ai/claude-code",
        ),
        True,
        "cli",
    ),
    # ---- server
    # CLI (issue #12264, #22796): the API's own 500, passed through with its status.
    "cli api 500": Case(
        500,
        (
            'API Error: 500 {"type":"error","error":{"type":"api_error","message":"Internal '
            'server error"},"request_id":"req_011CVT1TGNi4VcKHaM5xKGTs"}',
        ),
        True,
        "server",
    ),
    # WRAPPER src/main.py chat_completions: an unexpected exception -> "Chat completion error", 500.
    "wrapper chat completion error": Case(
        500,
        (
            "2026-11-29 00:51:07,390 - src.main - ERROR - Chat completion error: 'NoneType' "
            "object has no attribute 'get'",
        ),
        True,
        "server",
    ),
    # CCR fixtures/captures/ccr-info-sequential/ccr.log (req-9): claude-code-router's provider
    # answered 503; its model ("provider,model") has no Claude family, which alone would say routing.
    "ccr provider 503": Case(
        503,
        (
            '{"level":50,"time":1796093916284,"pid":1,"hostname":"5036e159cd60","reqId":"req-9",'
            '"err":{"type":"Error","message":"Error from provider(fake,broken-model: 503): '
            '{\\"error\\":{\\"message\\":\\"service unavailable\\",\\"type\\":'
            '\\"server_error\\"}}"',  # the line's head, up to its stack trace
        ),
        False,
        "server",
    ),
    # PORTKEY fixtures/captures/portkey-sequential/log-stream.sse, as ingest/log_stream.py writes
    # it: an OpenAI model's upstream 500 (no Claude family, which alone would say routing).
    "portkey feed upstream 500": Case(
        500,
        (
            '{"portkey-log-stream":1,"method":"POST","path":"/v1/chat/completions","status":500,'
            '"model":"gpt-4o-mini","error":"server_error openai error: fake upstream 500",'
            '"upstream_failed":true}',
        ),
        False,
        "server",
    ),
    # CCR dist/cli.js: a provider's 404 for a model it does not serve stays routing.
    "ccr provider 404 model": Case(
        404,
        ("Error from provider(openrouter,gpt-9: 404): model not found",),
        False,
        "routing",
    ),
    # ---- other
    # WRAPPER src/main.py: GET /v1/sessions/<id> for an unknown id -> 404, nothing logged.
    "wrapper 404": Case(404, (), True, "other"),
    # MAXPROXY dist/server/index.js: a path it does not serve -> 404 "Not found".
    "maxproxy 404 not found": Case(404, ("Not found",), True, "other"),
}


def test_every_class_has_known_answers() -> None:
    assert {c.expected for c in CASES.values()} == set(ERROR_CLASSES)


@pytest.mark.parametrize("name", list(CASES))
def test_classify_error_known_answer(name: str) -> None:
    case = CASES[name]
    assert classify_error(case.status, case.messages, case.model_known) == case.expected


def test_classify_errors_known_answers() -> None:
    cases = list(CASES.values())
    status = np.array([c.status or 0 for c in cases], dtype=np.int64)
    texts = np.array(["\n".join(c.messages) or None for c in cases], dtype=object)
    known = np.array([c.model_known for c in cases], dtype=bool)
    got = dict(zip(CASES, classify_errors(status, texts, known), strict=True))
    assert got == {name: c.expected for name, c in CASES.items()}

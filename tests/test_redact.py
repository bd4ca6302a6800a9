"""Tests for secret redaction and Markdown escaping of log text."""

from __future__ import annotations

import re

import markdown_it
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claude_perf.report.redact import (
    MARKER,
    as_code,
    escape_code_span,
    escape_markdown,
    redact,
    safe_log_excerpt,
    strip_ansi,
)

ANT_KEY = "sk-ant-api03-Xq3vB7mN2pL9kR4tY8wZ1cF6hJ0dS5gA_e-Tu2IoPaQwErTyUiOp"
OAT_KEY = "sk-ant-oat01-Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp_Oo-NnMmLlKk"
OPENAI_KEY = "sk-4f8Kq2Lm9Np3Rs7Tv1Wx5Yz0Ab6Cd"
OPENAI_PROJ = "sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)

# (input, secrets that must be gone, context that must remain)
KNOWN: list[tuple[str, list[str], list[str]]] = [
    ("Authorization: Bearer abc.DEF-123_x", ["abc.DEF-123_x"], ["Authorization: Bearer "]),
    ("authorization: bearer xyz", ["xyz"], ["authorization: bearer "]),
    ("got BEARER tok3n in header", ["tok3n"], ["got BEARER ", " in header"]),
    ("curl -H 'Bearer xyz'", ["xyz"], ["curl -H 'Bearer "]),
    ("authorization=Basic dXNlcjpwYXNz&x=1", ["dXNlcjpwYXNz"], ["authorization=Basic ", "&x=1"]),
    (
        '{"authorization": "Bearer s3cr3t", "x": 1}',
        ["s3cr3t"],
        ['"authorization": "Bearer ', '"x": 1'],
    ),
    ("{'Authorization': 'tok-9'}", ["tok-9"], ["{'Authorization': '"]),
    ("x-api-key: sk-ant-api03-AAAABBBBCCCCDDDD", ["AAAABBBBCCCCDDDD"], ["x-api-key: "]),
    ("X-Api-Key=abcd1234", ["abcd1234"], ["X-Api-Key="]),
    ("api_key=abcd1234&model=opus", ["abcd1234"], ["api_key=", "&model=opus"]),
    ("apikey=abcd1234 next", ["abcd1234"], ["apikey=", " next"]),
    ('{"api_key": "abcd1234", "model": "opus"}', ["abcd1234"], ['"api_key": "', '"model": "opus"']),
    ("Cookie: session=abc123; theme=dark", ["abc123", "dark"], ["Cookie: "]),
    ("Set-Cookie: sid=zzz999; Path=/; HttpOnly", ["zzz999"], ["Set-Cookie: "]),
    (f"key {ANT_KEY} end", [ANT_KEY[13:]], ["key sk-ant-api03-", " end"]),
    (f"using {OAT_KEY}", [OAT_KEY[13:]], ["using sk-ant-oat01-"]),
    (f"ANTHROPIC_API_KEY={ANT_KEY}", [ANT_KEY], ["ANTHROPIC_API_KEY="]),
    (f"openai {OPENAI_KEY}.", [OPENAI_KEY[3:]], ["openai sk-", "."]),
    (f"openai {OPENAI_PROJ}", [OPENAI_PROJ[8:]], ["openai sk-proj-"]),
    ("aws AKIAIOSFODNN7EXAMPLE ok", ["IOSFODNN7EXAMPLE"], ["aws AKIA", " ok"]),
    (
        "gh ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        ["16C7e42F292c6912E7710c838347Ae178B4a"],
        ["gh ghp_"],
    ),
    ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuv", ["11ABCDEFG0123"], ["github_pat_"]),
    ("password=hunter2 user=bob", ["hunter2"], ["password=", " user=bob"]),
    ("DB_PASSWORD=hunter2", ["hunter2"], ["DB_PASSWORD="]),
    (
        '{"password": "hun\\"ter2", "user": "bob"}',
        ["hun", "ter2"],
        ['"password": "', '"user": "bob"'],
    ),
    ("Password: hunter2", ["hunter2"], ["Password: "]),
    ("secret=s3 token=t0k access_token=a1b2", ["s3", "t0k", "a1b2"], ["secret=", "access_token="]),
    ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG", ["wJalrXUtnFEMI"], ["aws_secret_access_key="]),
    ("GET /cb?code=1&token=abc123&x=2", ["abc123"], ["/cb?code=1&token=", "&x=2"]),
    ("postgres://admin:s3cr3t@db:5432/app", ["s3cr3t"], ["postgres://admin:", "@db:5432/app"]),
    ("redis://:pw123@cache:6379", ["pw123"], ["redis://:", "@cache:6379"]),
    ("https://user:p@ss@host/x", ["p@ss"], ["https://user:", "@host/x"]),
    (f"jwt={JWT}", [JWT[:20], JWT[-20:]], ["jwt="]),
    (f"token {JWT} seen", [JWT[:20], JWT[-20:]], ["token ", " seen"]),
]


@pytest.mark.parametrize(("text", "secrets", "context"), KNOWN)
def test_known_secret_shapes_are_redacted(
    text: str, secrets: list[str], context: list[str]
) -> None:
    out = redact(text)
    assert MARKER in out
    for secret in secrets:
        assert secret not in out, out
    for keep in context:
        assert keep in out, out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc", "Authorization: Bearer [REDACTED]"),
        ("x-api-key: abc", "x-api-key: [REDACTED]"),
        (f"{ANT_KEY}", "sk-ant-api03-[REDACTED]"),
        ("https://user:pass@host", "https://user:[REDACTED]@host"),
        ("Cookie: a=1; b=2", "Cookie: [REDACTED]"),
        (JWT, MARKER),
    ],
)
def test_exact_redaction_shapes(text: str, expected: str) -> None:
    assert redact(text) == expected


NOT_SECRETS = [
    "00:50:49,843 - src.main - INFO - Chat completion: session_id=None, total_messages=1",
    "Model 'claude-3-7-sonnet-20250219' is not in the known supported models list.",
    "claude-sonnet-4-5-20250929 claude-haiku-4-5-20251001 claude-opus-4-1-20250805",
    "2026-11-29T00:50:45.792168672Z INFO:     Uvicorn running on http://0.0.0.0:8000",
    'INFO:     172.17.0.1:50264 - "POST /v1/chat/completions HTTP/1.1" 200 OK',
    "src.auth - INFO - Claude Code authentication validated: claude_cli",
    # "sk-" only counts at a token start and with 20+ key characters after it.
    "task-sk-1 risk-assessment sk-learn disk-usage=5 sk-short",
    "max_tokens=1024 input_tokens=12 tokenizer=cl100k token_count=3 secretary=Ann",
    '{"max_tokens": 1024, "token_count": 5, "input_tokens": 9}',
    "token=None password=null api_key=None",
    '{"api_key": null, "password": ""}',
    "Invalid bearer token supplied",
    "request done model=opus duration=5.91s status=200 request_id=r-9",
    '{"level":"info","event":"request.complete","requestId":"r-000123","status":200}',
    "http://host:8080/path?x=1 and git@github.com:org/repo.git",
    "AKIA is a prefix; AKIAshort",
    "Error: connect ECONNREFUSED 127.0.0.1:443",
]


@pytest.mark.parametrize("text", NOT_SECRETS)
def test_non_secrets_are_left_alone(text: str) -> None:
    assert redact(text) == text


def test_ansi_inside_a_secret_does_not_hide_it() -> None:
    line = "\x1b[1mx-api-key: sk-ant-api03-\x1b[0mAAAABBBBCCCCDDDDEEEE"
    out = safe_log_excerpt(line)
    assert "AAAABBBB" not in out
    assert "\x1b" not in out


def test_redact_before_truncation_catches_long_secrets() -> None:
    out = safe_log_excerpt("x" * 150 + " password=" + "p" * 100, max_len=170)
    assert "ppp" not in out


@pytest.mark.parametrize(
    "text",
    ["a" * 1_000_000, "sk-" * 333_334, "eyJa." * 200_000, "Bearer " * 150_000, "://a:" * 200_000],
)
def test_long_hostile_lines_finish(text: str) -> None:
    # No timing assert (flaky on CI); a catastrophic pattern would hang here instead.
    redact(text)
    safe_log_excerpt(text)


# ---------------------------------------------------------------------------------------------
# Markdown escaping


def unescaped(text: str) -> set[str]:
    """Characters in `text` that are not consumed by a Markdown backslash escape."""
    found: set[str] = set()
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        found.add(text[i])
        i += 1
    return found


HOSTILE = [
    "![x](http://evil/pixel.png)",
    "<script>alert(1)</script>",
    "[click](javascript:alert(1))",
    "<http://x.example>",
    "a | b | c",
    "`code` and ``more``",
    "# heading\n## second\n- item\n1. one",
    "line1\nline2\r\nline3\ttab\x00nul\x07bell",
    "\x1b[31mred\x1b[0m \x1b]8;;http://evil\x07link\x1b]8;;\x07",
    "**bold** _em_ ~~strike~~ $x^2$",
    "\\| escaped pipe \\` escaped tick \\",
    "&lt;already&gt; &amp; <b>",
    "<img src=x onerror=alert(1)>",
    "| --- | --- |",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_escape_markdown_neutralises_hostile_text(text: str) -> None:
    out = escape_markdown(text)
    assert not unescaped(out) & {"|", "`", "\n", "\r", "<", ">", "[", "]", "*", "_"}
    assert "\x1b" not in out and "\x00" not in out


def test_escape_markdown_specifics() -> None:
    assert escape_markdown("a|b") == "a\\|b"
    assert escape_markdown("<b>&") == "&lt;b&gt;&amp;"
    assert escape_markdown("# h") == "\\# h"
    assert escape_markdown("1. item") == "1\\. item"
    assert escape_markdown("a\nb\tc") == "a b c"
    assert escape_markdown("nul\x00") == "nul\\\\x00"  # renders as the visible text "nul\x00"
    assert escape_markdown("\x1b[1;31mred\x1b[0m") == "red"
    assert escape_markdown("![x](y)") == "!\\[x\\](y)"


def test_escape_markdown_truncates_visibly() -> None:
    out = escape_markdown("x" * 500, max_len=50)
    assert out == "x" * 49 + "…"
    assert escape_markdown("x" * 50, max_len=50) == "x" * 50
    assert escape_markdown("x" * 500, max_len=None) == "x" * 500
    # Truncation happens before escaping: an entity is never cut in half.
    assert escape_markdown("<" * 10, max_len=5) == "&lt;" * 4 + "…"


def test_strip_ansi() -> None:
    assert strip_ansi("\x1b[38;5;196mhi\x1b[0m \x1b]0;title\x07x") == "hi x"


def test_code_span_fence_and_table_pipes() -> None:
    assert as_code("plain") == "`plain`"
    assert as_code("a `b` c") == "``a `b` c``"
    assert as_code("`x`") == "`` `x` ``"
    assert as_code("a|b") == "`a\\|b`"
    assert escape_code_span("a|b", in_table=False) == "`a|b`"
    assert as_code("a\nb") == "`a b`"
    # A literal "\|" cannot be written inside a table code span: falls back to escaped text.
    assert as_code("a\\|b") == "a\\\\\\|b"
    assert as_code("") == ""


def test_safe_log_excerpt_pipeline() -> None:
    line = "\x1b[33mWARN\x1b[0m auth failed | Authorization: Bearer abc <script>"
    out = safe_log_excerpt(line)
    assert out == "WARN auth failed \\| Authorization: Bearer \\[REDACTED\\] &lt;script&gt;"


# Rendering through a real CommonMark+tables parser. markdown-it-py is in the dev extras
# (pyproject.toml), so it is imported plainly: a missing parser fails here, never skips.
def render_table_cell(cell: str) -> str:
    md = markdown_it.MarkdownIt("commonmark").enable("table")
    html: str = md.render(f"| a | b |\n| --- | --- |\n| {cell} | end |\n")
    return html


@pytest.mark.parametrize("text", HOSTILE)
def test_rendered_cell_stays_one_plain_cell(text: str) -> None:
    for cell in (escape_markdown(text), as_code(text)):
        html = render_table_cell(cell)
        body = html.split("<tbody>")[1]
        assert body.count("<td>") == 2, html
        assert "<td>end</td>" in body, html
        for tag in ("<a ", "<img", "<script", "<b>", "<em>", "<strong>", "<h1", "<del"):
            assert tag not in body, html


# ---------------------------------------------------------------------------------------------
# Properties

FRAGMENTS = [
    "password",
    "Password",
    "token",
    "api_key",
    "x-api-key",
    "Authorization",
    "authorization",
    "Bearer",
    "bearer",
    "Basic",
    "cookie",
    "Set-Cookie",
    "sk-",
    "sk-ant-",
    "api03-",
    "proj-",
    "AKIA",
    "ghp_",
    "github_pat_",
    "eyJ",
    "eyJhbGci",
    ".",
    "=",
    ":",
    ": ",
    " ",
    "  ",
    '"',
    "'",
    "@",
    "://",
    "http",
    MARKER,
    "[",
    "]",
    "None",
    "null",
    "A" * 20,
    "abcdefghij",
    "0123456789",
    "-",
    "_",
    "\\",
    "\n",
    "&",
    ";",
    ",",
    "\x1b[31m",
    "|",
    "`",
    "<",
    "#",
]
log_like = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), max_size=30).map(
    "".join
)
any_text = st.one_of(st.text(), log_like)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(any_text)
def test_redact_is_idempotent_and_total(text: str) -> None:
    once = redact(text)
    assert redact(once) == once


@settings(max_examples=300)
@given(any_text, st.one_of(st.none(), st.integers(min_value=0, max_value=300)))
def test_escape_markdown_output_is_inert(text: str, max_len: int | None) -> None:
    out = escape_markdown(text, max_len)
    assert not unescaped(out) & {"|", "`", "\n", "\r", "<", ">"}
    assert "<" not in out and "\n" not in out
    if max_len is not None:
        # Visible length bound: each escape adds at most "\\" or an entity around one char.
        assert len(re.sub(r"\\(.)|&(?:lt|gt|amp);", "x", out)) <= max_len + 1


@settings(max_examples=300)
@given(any_text)
def test_code_span_is_single_line_and_fenced(text: str) -> None:
    out = as_code(text)
    assert "\n" not in out and "\r" not in out
    if out.startswith("`"):
        fence = re.match(r"`+", out)
        assert fence is not None and out.endswith(fence.group())
        inner = out[len(fence.group()) : -len(fence.group())]
        assert fence.group() not in re.findall(r"`+", inner)


@settings(max_examples=200)
@given(any_text)
def test_safe_log_excerpt_never_raises_and_is_inert(text: str) -> None:
    out = safe_log_excerpt(text)
    assert "<" not in out and "\n" not in out and "\x1b" not in out

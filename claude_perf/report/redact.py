"""Secret redaction and Markdown-safe quoting for log text that ends up in reports.

Everything here is pure and stdlib-only. Every regex is precompiled and written so that each match
attempt does bounded or linear work (literal anchors, token-boundary lookbehinds, disjoint
character classes), so a hostile 1 MB log line cannot trigger catastrophic backtracking.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = [
    "MARKER",
    "as_code",
    "escape_code_span",
    "escape_markdown",
    "redact",
    "safe_log_excerpt",
    "strip_ansi",
]

MARKER = "[REDACTED]"

# A value that already starts with the marker is left alone: this is what makes redact()
# idempotent even when a value's character class excludes "]" or "[".
_NOT_MARKER = r"(?!\[REDACTED\])"
# Values that are obviously not secrets ("token=None", '"api_key": null').
_NOT_PLACEHOLDER = r"(?!(?:None|null|nil|undefined|true|false)(?![A-Za-z0-9_-]))"
# Start of a token: not glued to a preceding identifier character.
_TOKEN_START = r"(?<![A-Za-z0-9_-])"
_TOKEN_END = r"(?![A-Za-z0-9_-])"

_AUTH_SCHEMES = r"(?:Bearer|Basic|Digest|Token|Negotiate|NTLM|ApiKey|AWS4-HMAC-SHA256)"
# Atomic: once a scheme word is taken as context it is never re-read as the secret itself,
# which would turn "Bearer [REDACTED]" into "[REDACTED]" on a second pass.
_SCHEME_PREFIX = rf"(?>(?:{_AUTH_SCHEMES}[ \t]+)?)"

# Key names whose values are secrets. An optional identifier prefix ("db_password",
# "ANTHROPIC_API_KEY", "aws_secret_access_key") is allowed, bounded so it cannot backtrack far.
_SECRET_KEY = (
    r"(?:[A-Za-z0-9]{1,32}[_-]){0,3}"
    r"(?:password|passwd|secret|token|api[_-]?key|access[_-]?key|secret[_-]?key|private[_-]?key"
    r"|authorization|cookie|session[_-]?token)"
)
# Keys whose values are secrets also after ": " in free text (HTTP headers, "Password: x").
# "token" is deliberately absent: "Invalid token: expired" is prose, not a leak.
_HEADER_KEY = (
    r"(?:[A-Za-z0-9]{1,32}[_-]){0,3}"
    r"(?:authorization|api[_-]?key|auth[_-]?token|password|passwd|secret)"
)


def _keep(group: str) -> Callable[[re.Match[str]], str]:
    """Replacement that keeps the named context group and replaces the rest with the marker."""

    def repl(m: re.Match[str]) -> str:
        return (m.group(group) or "") + MARKER

    return repl


def _keep_around(m: re.Match[str]) -> str:
    """Replacement for patterns with `pre` and `post` context groups around the secret."""
    return (m.group("pre") or "") + MARKER + (m.group("post") or "")


def _quoted_rule(quote: str) -> re.Pattern[str]:
    """`"key": "value"` / `'key': 'value'` (JSON, Python reprs), value in the same quote style."""
    q = re.escape(quote)
    return re.compile(
        rf"(?P<pre>{q}{_SECRET_KEY}{q}[ \t]{{0,8}}[:=][ \t]{{0,8}}{q}{_SCHEME_PREFIX})"
        rf"{_NOT_MARKER}{_NOT_PLACEHOLDER}(?:\\.|[^{q}\\\r\n])+(?P<post>{q})",
        re.IGNORECASE,
    )


# Order matters only for readability of the result; redact() iterates to a fixed point.
_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    # scheme://user:password@host -> scheme://user:[REDACTED]@host
    (
        re.compile(r"(?P<pre>://[^\s:/@]{0,256}:)" + _NOT_MARKER + r"[^\s/]{1,256}(?P<post>@)"),
        _keep_around,
    ),
    # Quoted key/value pairs (JSON logs, dict reprs).
    (_quoted_rule('"'), _keep_around),
    (_quoted_rule("'"), _keep_around),
    # Authorization / x-api-key headers: "Authorization: Bearer abc", "authorization=abc".
    (
        re.compile(
            _TOKEN_START + rf"(?P<pre>(?:{_HEADER_KEY})[ \t]{{0,8}}[:=][ \t]{{0,8}}+"
            rf"{_SCHEME_PREFIX}){_NOT_MARKER}{_NOT_PLACEHOLDER}[^\s,;&'\"]+",
            re.IGNORECASE,
        ),
        _keep("pre"),
    ),
    # Cookie headers: the whole rest of the line (cookie values contain "; " and spaces).
    (
        re.compile(
            _TOKEN_START
            + r"(?P<pre>(?:set-)?cookie[ \t]{0,8}:[ \t]{0,8}+)"
            + _NOT_MARKER
            + r"[^\r\n]+",
            re.IGNORECASE,
        ),
        _keep("pre"),
    ),
    # Bare bearer tokens anywhere ("Bearer xyz"); "bearer token" in prose is not a token.
    (
        re.compile(
            r"(?<![A-Za-z0-9_-])(?P<pre>bearer[ \t]++)(?!token" + _TOKEN_END + r")"
            r"[A-Za-z0-9._~+/-]+=*",
            re.IGNORECASE,
        ),
        _keep("pre"),
    ),
    # Anthropic keys: sk-ant-api03-..., sk-ant-oat01-...; keep the key type.
    (
        re.compile(_TOKEN_START + r"(?P<pre>sk-ant-(?>(?:[a-z]{2,8}\d{0,4}-)?))[A-Za-z0-9_-]{8,}"),
        _keep("pre"),
    ),
    # OpenAI-style keys: sk-..., sk-proj-...; needs 20+ key characters so "sk-learn" survives.
    (
        re.compile(
            _TOKEN_START + r"(?P<pre>sk-(?>(?:proj-|svcacct-|admin-)?))(?!ant-)[A-Za-z0-9_-]{20,}"
        ),
        _keep("pre"),
    ),
    # AWS access key ids.
    (
        re.compile(r"(?<![A-Za-z0-9])(?P<pre>AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])"),
        _keep("pre"),
    ),
    # GitHub tokens: classic ghp_/gho_/ghu_/ghs_/ghr_ and fine-grained github_pat_.
    (
        re.compile(_TOKEN_START + r"(?P<pre>gh[pousr]_|github_pat_)[A-Za-z0-9_]{20,}"),
        _keep("pre"),
    ),
    # JWTs: header.payload.signature, both header and payload base64url JSON objects ("eyJ").
    (
        re.compile(
            _TOKEN_START + r"(?P<pre>)eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"
        ),
        _keep("pre"),
    ),
    # Generic key=value secrets (query strings, key=value logging, env dumps).
    (
        re.compile(
            _TOKEN_START + rf"(?P<pre>{_SECRET_KEY}[ \t]{{0,3}}=[ \t]{{0,3}}+{_SCHEME_PREFIX})"
            rf"{_NOT_MARKER}{_NOT_PLACEHOLDER}[^\s&,;'\"()\[\]{{}}<>]+",
            re.IGNORECASE,
        ),
        _keep("pre"),
    ),
]

# Rules only ever replace non-marker text with the marker, so this converges in a couple of
# passes; the bound is a guard, not something real input reaches.
_MAX_PASSES = 8


def redact(text: str) -> str:
    """Replace secrets in `text` with `[REDACTED]`, keeping the surrounding context.

    Idempotent: redact(redact(x)) == redact(x).
    """
    for _ in range(_MAX_PASSES):
        before = text
        for pattern, repl in _RULES:
            text = pattern.sub(repl, text)
        if text == before:
            break
    return text


# CSI (colours, cursor moves), OSC (titles, hyperlinks; BEL or ST terminated) and the
# two-byte escapes. Quantifiers are bounded so an unterminated sequence cannot scan far.
_ANSI = re.compile(
    r"\x1b\[[0-?]{0,64}[ -/]{0,16}[@-~]"
    r"|\x1b\][^\x07\x1b]{0,4096}(?:\x07|\x1b\\)"
    r"|\x1b[@-Z\\-_]"
    r"|\x9b[0-?]{0,64}[ -/]{0,16}[@-~]"
)


def strip_ansi(text: str) -> str:
    """Remove ANSI escape sequences (colours etc.) from `text`."""
    return _ANSI.sub("", text)


def _control_table() -> dict[int, str]:
    """Map control and invisible-formatting characters to a space or a visible escape."""
    table: dict[int, str] = {}
    for cp in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]:
        table[cp] = f"\\x{cp:02x}"
    for cp in (0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x85, 0x2028, 0x2029):
        table[cp] = " "  # line breaks and tabs read naturally as spaces
    # Bidi overrides and zero-width characters can disguise text ("Trojan Source"): show them.
    for cp in [0x200B, 0x200C, 0x200D, 0xFEFF, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]:
        table[cp] = f"\\u{cp:04x}"
    # Lone surrogates cannot be encoded as UTF-8 and would crash the report writer.
    for cp in range(0xD800, 0xE000):
        table[cp] = "\ufffd"
    return table


_CONTROLS = _control_table()

# Markdown/HTML escapes applied to every character. "&<>" become entities so no HTML tag or
# autolink can form; Markdown punctuation is backslash-escaped (a literal "\" first, so an
# input backslash can never un-escape the next character). Quotes are left as they are:
# they are harmless in text content and JSON log lines stay readable.
_ESCAPES = str.maketrans(
    {
        "\\": "\\\\",
        "|": "\\|",
        "`": "\\`",
        "[": "\\[",
        "]": "\\]",
        "*": "\\*",
        "_": "\\_",
        "~": "\\~",
        "$": "\\$",
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
    }
)
# Block constructs that only matter at the start of a line: headings, list items, setext
# underlines, ordered-list numbers. Our output is a single line, so only its start matters.
# A backslash before a digit is not an escape, so "1." is written "1\.".
_LINE_START = re.compile(r"^([ ]{0,3}(?:[0-9]{1,9}(?=[.)]))?)([#+=.)-])")
_SCHEME = re.compile(r"(?i)\b(https?|ftp|www)(:|\.)")

ELLIPSIS = "…"


def _clean(text: str) -> str:
    """Strip ANSI sequences and make control characters visible or spaces."""
    return strip_ansi(text).translate(_CONTROLS)


def _truncate(text: str, max_len: int | None) -> str:
    if max_len is None or len(text) <= max_len:
        return text
    if max_len <= 0:
        return ""
    return text[: max_len - 1] + ELLIPSIS


def escape_markdown(text: str, max_len: int | None = 200) -> str:
    """Make `text` safe as inline Markdown text or a table cell: one line, no HTML, no links.

    Truncates the visible text to `max_len` characters (ending in "…") before escaping, so an
    escape sequence or entity is never cut in half.
    """
    text = _truncate(_clean(text), max_len)
    text = text.translate(_ESCAPES)
    text = _LINE_START.sub(r"\1\\\2", text, count=1)
    # GFM turns bare "http://x" and "www.x" into links; escaping the ":"/"." after the scheme
    # stops that while rendering the same characters.
    return _SCHEME.sub(r"\1\\\2", text)


def escape_code_span(text: str, max_len: int | None = 200, *, in_table: bool = True) -> str:
    """Quote `text` as a single inline code span, safe in a table cell when `in_table`.

    The fence is one backtick longer than the longest backtick run inside. In a GFM table a
    "|" must be written "\\|" even inside code; a literal "\\|" cannot be represented there,
    so such text (and empty text) falls back to escape_markdown().
    """
    text = _truncate(_clean(text), max_len)
    if not text.strip() or (in_table and "\\|" in text):
        return escape_markdown(text, None)
    if in_table:
        text = text.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    # CommonMark strips one space from each side when both are present; pad when the content
    # touches a backtick or a space so it survives exactly.
    if text[0] in "` " or text[-1] in "` ":
        text = f" {text} "
    return f"{fence}{text}{fence}"


as_code = escape_code_span


def safe_log_excerpt(text: str, max_len: int = 200) -> str:
    """A log line ready for a report: ANSI stripped, secrets redacted, Markdown-escaped.

    ANSI codes are stripped before redaction, not after, because an escape sequence inside a
    secret ("sk-ant-api03-\\x1b[0mXXXX") would otherwise hide it from the patterns.
    Redaction happens before truncation so a cut-off secret is still recognised.
    """
    return escape_markdown(redact(strip_ansi(text)), max_len)

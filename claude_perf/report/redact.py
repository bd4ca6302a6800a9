"""Secret redaction and Markdown-safe quoting for log text that ends up in reports.

The redaction itself is ``claude_perf.secrets.redact`` (one pass for every output), re-exported.
Every regex here is precompiled with bounded quantifiers, so a hostile 1 MB log line cannot
trigger catastrophic backtracking.
"""

from __future__ import annotations

import re

from claude_perf.secrets import MARKER, redact

__all__ = [
    "MARKER",
    "as_code",
    "escape_code_span",
    "escape_markdown",
    "redact",
    "safe_log_excerpt",
    "strip_ansi",
]

# The one redaction pass lives in claude_perf.secrets (below ingest, so bundle export and the CLI
# share it); it is re-exported here for the report's callers.

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

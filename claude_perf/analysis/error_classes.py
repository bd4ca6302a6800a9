"""Error classes of failed requests: the status first, then what the request's error records say."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

ERROR_CLASSES = (
    "auth",
    "validation",
    "rate_limit",
    "usage_limit",
    "routing",
    "timeout",
    "cli",
    "server",
    "other",
)


_TEXT_CLASSES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "usage_limit",
        # "hit your limit": the Claude CLI's newer wording ("You've hit your limit · resets ...").
        re.compile(
            r"usage limit|usage_limit|limit reached|hit your limit|out of (?:extra )?usage", re.I
        ),
    ),
    (
        "auth",
        re.compile(
            # "authentication failed": the wrapper's 503 record when the CLI has no login
            # ("Claude Code authentication failed: [...]", src/auth.py validate_claude_code_auth).
            r"not logged in|please run /login|login required|invalid api key|authentication failed|"
            r"authentication_error|unauthori[sz]ed|oauth token|credentials? (?:expired|invalid)",
            re.I,
        ),
    ),
    (
        "rate_limit",
        re.compile(
            r"rate.?limit|too many requests|overloaded|"
            # A bare 429 is the status only where it is not a fraction's digits (a record head's
            # milliseconds, `02:09:39,429 -`, or `0.429 s`) nor a bracketed pid (gunicorn's
            # `[429] [ERROR]`): the live gunicorn test classed a CLI crash as rate_limit once in
            # about a thousand runs by its record's milliseconds. No lookarounds: Arrow's RE2.
            r"(?:^|[^\d.,\[])429(?:$|[^\d.,\]]|[.,](?:$|\D))",
            re.I,
        ),
    ),
    ("timeout", re.compile(r"timed? ?out|timeout|deadline exceeded", re.I)),
    (
        "routing",
        re.compile(
            r"model not found|invalid model|unknown model|not_found_error|"
            # "may not exist": the CLI's "issue with the selected model (X). It may not exist"
            r"model .{0,40}(?:(?:does|may) not exist|not supported|is not available)",
            re.I,
        ),
    ),
    (
        "cli",
        re.compile(r"command failed|exit code|exited with|claude (?:cli|code)|spawn|ENOENT", re.I),
    ),
)


# A router's provider answered 5xx: the upstream failed, whatever the model's name. Before the
# "unknown model" rule, which would call it routing: a router's models are other providers'
# (claude-code-router: `Error from provider(fake,broken-model: 503): {...}`, its dist/cli.js;
# fixtures/captures/ccr-*), never a Claude family. Portkey's /log/stream records (as
# ingest/log_stream.py writes them) say so of every 5xx: each request there reached a provider.
_PROVIDER_FAILED = re.compile(r'error from provider\(|"upstream_failed":true\b', re.I)


def classify_error(status: int | None, messages: Iterable[str], model_known: bool) -> str:
    """Error class of a failed request: status first, then what its error records say."""
    if status in (401, 403):
        return "auth"
    if status in (400, 422):
        return "validation"
    if status == 429:
        return "rate_limit"
    if status in (408, 504):
        return "timeout"
    text = "\n".join(m for m in messages if m)
    for name, pattern in _TEXT_CLASSES[:-1]:
        if pattern.search(text):
            return name
    if status is not None and status >= 500 and _PROVIDER_FAILED.search(text):
        return "server"
    if not model_known:
        return "routing"
    if _TEXT_CLASSES[-1][1].search(text):
        return "cli"
    if status is not None and status >= 500:
        return "server"
    return "other"


def classify_errors(status: np.ndarray, texts: np.ndarray, model_known: np.ndarray) -> np.ndarray:
    """classify_error over many failed requests at once (the same rules, vectorised)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    # Arrow's RE2 kernels: the same patterns, without a Python call per failed request.
    arrow_texts = pa.array(pd.Series(texts, dtype=object).fillna("").tolist(), pa.large_string())

    # Each pattern runs over every text and the mask is applied after: taking the rows still
    # unclassified first copied their texts once per pattern (Arrow's pool kept the copies:
    # about 170 MB at 10M generated lines, at the assembly's peak).
    def matches(mask: np.ndarray, pattern: re.Pattern[str]) -> np.ndarray:
        hit = pc.match_substring_regex(arrow_texts, "(?i)" + pattern.pattern)
        return np.flatnonzero(mask & np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool))

    out = np.full(len(status), None, dtype=object)
    by_status = {401: "auth", 403: "auth", 400: "validation", 422: "validation", 429: "rate_limit"}
    by_status |= {408: "timeout", 504: "timeout"}
    for code, name in by_status.items():
        out[(out == None) & (status == code)] = name  # noqa: E711
    for name, pattern in _TEXT_CLASSES[:-1]:
        unset = out == None  # noqa: E711
        if unset.any():
            out[matches(unset, pattern)] = name
    unset = (out == None) & (status >= 500)  # noqa: E711
    if unset.any():
        out[matches(unset, _PROVIDER_FAILED)] = "server"
    out[(out == None) & ~model_known] = "routing"  # noqa: E711
    unset = out == None  # noqa: E711
    if unset.any():
        out[matches(unset, _TEXT_CLASSES[-1][1])] = "cli"
    out[(out == None) & (status >= 500)] = "server"  # noqa: E711
    out[out == None] = "other"  # noqa: E711
    return out

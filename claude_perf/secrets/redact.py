"""The one redaction pass: key-name and shape rules, then the gitleaks rule set.

``redact`` serves single texts (report cells, error examples, console lines); ``redact_many``
serves columns (export bundles, the requests CSV): gitleaks' keyword pre-filter and regexes then
run over the whole column in Arrow, and only the few lines that match are worked on one by one.
Both give the same result for the same text. Idempotent: redact(redact(x)) == redact(x).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from claude_perf.secrets.gitleaks import keyword_hits, redact_gitleaks, redact_rule
from claude_perf.secrets.keynames import MARKER, redact_keynames

__all__ = ["MARKER", "redact", "redact_many", "redact_tree"]

# Texts up to this long are remembered with their redaction (4096 of them: at most ~4 MB).
_CACHED_CHARS = 1024
# Below this many texts, per-text keyword checks in Python beat building Arrow columns.
_COLUMN_FROM = 64


def redact(text: str) -> str:
    """`text` with every secret replaced by ``[REDACTED]``, the context around it kept."""
    if len(text) > _CACHED_CHARS:
        return _redact_text.__wrapped__(text)
    return _redact_text(text)


# A report redacts the same texts over and over (the JSON summary's keys recur in every model's
# and every section's dict: 401 strings, 156 distinct, at 1,000 lines; model names in the
# Markdown's tables), and the rules that match a text each cost an Arrow call that compiles its
# regex. redact is a pure function of the text (the rule set is read once), so it is kept.
@functools.lru_cache(maxsize=4096)
def _redact_text(text: str) -> str:
    import pyarrow as pa
    import pyarrow.compute as pc

    text = redact_keynames(text)
    for rule in keyword_hits(text.lower()):
        if pc.match_substring_regex(pa.array([text], pa.string()), rule.regex)[0].as_py():
            text = redact_rule(rule, text, MARKER)
    return text


def redact_many(texts: Sequence[str]) -> list[str]:
    """Every text redacted as ``redact`` would, the gitleaks rules run over the column at once."""
    if len(texts) < _COLUMN_FROM:
        return [redact(t) for t in texts]
    return redact_gitleaks([redact_keynames(t) for t in texts], MARKER)


def redact_tree(value: Any) -> Any:
    """A JSON-like value (dicts, lists, strings, numbers) with every string in it redacted,
    mapping keys included; numbers, booleans and None are kept as they are."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {redact(k) if isinstance(k, str) else k: redact_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_tree(v) for v in value]
    return value

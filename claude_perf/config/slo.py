"""``--slo NAME=VALUE`` (repeatable) over the config's ``[slo]`` table, validated by its schema.

Names as on the command line: ``ttft``, ``latency``, ``itl`` (durations: 2s, 750ms, 1.5) and
``tokens_per_s`` (a number); the ``[slo]`` key names (``ttft_s``, ``output_tokens_per_s``, ...)
are accepted too. A bad name or value is a one-line ConfigError (exit 2), like the file's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

from claude_perf.config.schema import Slo
from claude_perf.errors import UsageError

SLO_NAMES = {
    "ttft": "ttft_s",
    "latency": "latency_s",
    "itl": "itl_s",
    "tokens_per_s": "output_tokens_per_s",
}


def slo_from(items: Sequence[str], base: Slo | None = None) -> Slo:
    """The objectives asked: ``base`` (the config's ``[slo]``) with each ``--slo`` over it."""
    from claude_perf.config.load import read_table

    given: dict[str, object] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise UsageError(f"--slo: '{item}' must be NAME=VALUE (e.g. ttft=2s, latency=10s)")
        field = SLO_NAMES.get(name, name if name in SLO_NAMES.values() else None)
        if field is None:
            raise UsageError(f"--slo: unknown objective '{name}' (known: {', '.join(SLO_NAMES)})")
        given[field] = float(value) if field == "output_tokens_per_s" and _number(value) else value
    if not given:
        return base or Slo()
    current = {k: v for k, v in asdict(base or Slo()).items() if v is not None}
    return read_table(Slo, {**current, **given}, ("slo",))


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True

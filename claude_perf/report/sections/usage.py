"""Server-side usage per model, in the performance section: tokens, cost, output rate, CLI overhead.

The figures are what the proxy's own logs carry (analysis/usage.py): the wrapper's
``ResultMessage`` in DEBUG mode, JSON events with the API's usage. Where no line carries any, the
report says so instead of showing zeros.
"""

from __future__ import annotations

from collections.abc import Sequence

from claude_perf.analysis.metrics import ModelMetrics
from claude_perf.analysis.usage import Spread
from claude_perf.report.cells import fmt_cell_s, fmt_count, row
from claude_perf.report.model import Block, Paragraph, Table, ours, quoted

ABSENT_NOTE = (
    "Server-side tokens and cost: not in these logs. claude-code-openai-wrapper logs them in "
    "DEBUG_MODE (the CLI's ResultMessage); JSON event logs when request.complete carries the "
    "API's usage; claude-max-api-proxy never does (use client records)."
)
COST_NOTE = (
    "Tokens and cost as the proxy logged them (every request with figures, failed ones too). "
    "Cost is the CLI's total_cost_usd: on a Claude subscription (Pro/Max) it is what the same "
    "tokens would cost on the API, not a bill. Output tokens per second are over the CLI's API "
    "time (duration_api_ms) where logged, else over the request's latency, for succeeded "
    "requests. CLI overhead is the CLI's run time minus its API time (duration_ms − "
    "duration_api_ms): its own start-up and work around the model calls."
)
INFERRED_NOTE = (
    "‡ Several requests were open when these figures were logged, with nothing in the line to "
    "name its request: which request they belong to was inferred from timing."
)


def usage_blocks(models: Sequence[ModelMetrics]) -> list[Block]:
    """The usage table and its notes, or one sentence saying the logs carry none."""
    with_usage = [mm for mm in models if mm.usage is not None]
    if not with_usage:
        return [Paragraph(ours(ABSENT_NOTE))]
    blocks: list[Block] = [
        Paragraph(ours("Server-side tokens, cost and CLI overhead, from the proxy's own logs:")),
        _usage_table(with_usage),
        Paragraph(ours(COST_NOTE)),
    ]
    if any(mm.usage is not None and mm.usage.inferred for mm in with_usage):
        blocks.append(Paragraph(ours(INFERRED_NOTE)))
    return blocks


def _p(spread: Spread | None, name: str) -> float | None:
    return None if spread is None else float(getattr(spread, name))


def _usage_table(models: Sequence[ModelMetrics]) -> Table:
    rows = []
    for mm in models:
        u = mm.usage
        assert u is not None  # filtered by the caller
        rate = u.output_tokens_per_s_overall
        note = f"‡ {u.inferred} inferred" if u.inferred else "–"
        rows.append(
            row(
                quoted(mm.model, 60) if mm.model is not None else ours("(model not logged)"),
                fmt_count(u.requests),
                fmt_count(u.input_tokens),
                fmt_count(u.output_tokens),
                fmt_count(u.cache_read_tokens),
                fmt_count(u.cache_creation_tokens),
                "–" if u.cost_usd is None else f"{u.cost_usd:.6f}",
                "–" if rate is None else f"{rate:.1f}",
                fmt_cell_s(_p(u.cli_overhead_s, "p50")),
                fmt_cell_s(_p(u.cli_overhead_s, "p95")),
                note,
            )
        )
    return Table(
        (
            "Model",
            "With usage",
            "Input tok",
            "Output tok",
            "Cache read",
            "Cache write",
            "Cost (USD, API-equiv.)",
            "Output tok/s",
            "CLI overhead p50",
            "CLI overhead p95",
            "Note",
        ),
        tuple(rows),
        ("l", "r", "r", "r", "r", "r", "r", "r", "r", "r", "l"),
    )

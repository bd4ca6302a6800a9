"""The "Client view" section: the session as its clients saw it, beside the proxy's own figures.

Without client records it is one line saying how to get them. Figures come from
analysis/client_view.py (definitions there); model names are the clients' and are quoted.
"""

from __future__ import annotations

from claude_perf.analysis.client_view import ClientModel, ClientView
from claude_perf.analysis.formatting import fmt_pct, fmt_s
from claude_perf.report.cells import fmt_cell_s, fmt_count, fmt_share, row
from claude_perf.report.context import Context, available_charts
from claude_perf.report.model import (
    CHARTS,
    Block,
    Chart,
    Facts,
    Paragraph,
    Section,
    Table,
    Text,
    ours,
    quoted,
)

TITLE = "Client view"
NO_CLIENTS = (
    "No client records: run the session with claude-perf load (it writes them to the store and "
    "with -o to a file), or give report --client FILE (claude-perf JSON lines, k6 --out json, "
    "AIPerf or GenAI-Perf profile exports, Locust --csv stats, llmperf results)."
)
COST_NOTE = (
    "Cost is what the responses reported, API-equivalent: on a subscription plan it is what the "
    "same tokens would cost on the API, not money spent."
)
SERVER_NOTE = (
    "Server p50/p95 are the proxy's logged latencies of the same (matched) requests; client − "
    "server is the median difference over requests timed on both sides: the network, queueing "
    "before the proxy's first log line and the time after its last."
)
INFERRED_NOTE = (
    "‡ Some matched log rows rest on an inferred start–end pairing (no request ids in the log): "
    "their server-side latency may belong to a neighbouring request."
)


def _model_cell(m: ClientModel) -> Text:
    return quoted(m.model, 60) if m.model is not None else ours("(model not recorded)")


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value * 1000:.0f} ms"


def _latency_table(view: ClientView) -> Table:
    rows = []
    for m in view.models:
        lat, ttft, server = m.latency_s, m.ttft_s, m.server
        mark = " ‡" if server.inferred else ""
        rows.append(
            row(
                _model_cell(m),
                fmt_share(m.succeeded, m.requests),
                fmt_cell_s(lat.p50 if lat else None),
                fmt_cell_s(lat.p95 if lat else None),
                fmt_cell_s(lat.p99 if lat else None),
                fmt_cell_s(ttft.p50 if ttft else None),
                fmt_cell_s(ttft.p95 if ttft else None),
                _ms(m.itl_s.mean if m.itl_s else None),
                fmt_cell_s(server.latency_s.p50 if server.latency_s else None) + mark,
                fmt_cell_s(server.latency_s.p95 if server.latency_s else None) + mark,
                _ms(server.difference_p50_s),
            )
        )
    return Table(
        (
            "Model asked",
            "Succeeded",
            "p50",
            "p95",
            "p99",
            "TTFT p50",
            "TTFT p95",
            "ITL mean",
            "Server p50",
            "Server p95",
            "Client − server",
        ),
        tuple(rows),
        ("l", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r"),
    )


def _tokens_table(view: ClientView) -> Table:
    rows = []
    for m in view.models:
        rate = m.output_tokens_per_s
        goodput = m.goodput
        rows.append(
            row(
                _model_cell(m),
                fmt_count(m.tokens.input),
                fmt_count(m.tokens.output),
                fmt_count(m.tokens.cache_read),
                fmt_count(m.tokens.cache_creation),
                "–" if rate is None else f"{rate.p50:.1f}",
                "–"
                if m.output_tokens_per_s_overall is None
                else f"{m.output_tokens_per_s_overall:.1f}",
                "–" if m.cost_usd is None else f"${m.cost_usd:.4f}",
                "–" if goodput is None else fmt_share(goodput.good, m.requests),
            )
        )
    return Table(
        (
            "Model asked",
            "Tokens in",
            "Tokens out",
            "Cache read",
            "Cache created",
            "Out tok/s p50",
            "Out tok/s overall",
            "Cost (API-eq.)",
            "Goodput",
        ),
        tuple(rows),
        ("l", "r", "r", "r", "r", "r", "r", "r", "r"),
    )


def _facts(view: ClientView) -> tuple[tuple[str, Text], ...]:
    join = view.join
    if not view.records:  # aggregate-only files (Locust, llmperf): nothing to match or count
        tools = ", ".join(view.tools) or "no tool"
        return (("Client records", ours(f"none per request ({tools}: aggregates only, below)")),)
    items = [
        ("Client records", ours(f"{view.records} from {', '.join(view.tools) or 'no tool'}")),
        (
            "Matched with the proxy's log",
            ours(
                f"{fmt_share(len(join.pairs), view.records)}"
                + (f", {join.by_id} by request id" if join.by_id else "")
            ),
        ),
        ("Client requests the logs do not show", ours(str(len(join.unmatched_client)))),
        (
            "Logged requests no client sent",
            ours(
                f"{len(join.unmatched_server)} in the clients' window"
                + (f" ({join.outside_window} more outside it)" if join.outside_window else "")
            ),
        ),
    ]
    if join.clock_offset_s is not None and join.tolerance_s is not None:
        items.append(
            (
                "Clock offset (log − client)",
                ours(
                    f"{join.clock_offset_s * 1000:+.1f} ms, matched within "
                    f"±{join.tolerance_s * 1000:.1f} ms (both estimated from the pairs)"
                ),
            )
        )
    if view.goodput is not None:
        slo = view.slo
        asked = [
            f"{name} ≤ {fmt_s(limit)}"
            for name, limit in (
                ("TTFT", slo.ttft_s),
                ("latency", slo.latency_s),
                ("ITL", slo.itl_s),
            )
            if limit is not None
        ]
        if slo.output_tokens_per_s is not None:
            asked.append(f"≥ {slo.output_tokens_per_s:g} output tokens/s")
        per_s = "" if view.goodput.per_s is None else f", {view.goodput.per_s:.3g} good requests/s"
        items.append(
            (
                f"Goodput ({', '.join(asked)})",
                ours(
                    f"{view.goodput.good} of {view.goodput.requests} requests "
                    f"({fmt_pct(view.goodput.share)}){per_s}"
                ),
            )
        )
    if view.error_classes:
        items.append(
            (
                "Client-side failures",
                ours(", ".join(f"{name} {count}" for name, count in view.error_classes)),
            )
        )
    return tuple(items)


# Why each aggregate-only tool's rows cannot be joined; the note lists those in the table.
_AGGREGATE_WHY = {
    "locust": "Locust writes no per-request records",
    "llmperf": "llmperf's records carry no wall-clock time, model or request id",
}
LLMPERF_NOTE = (
    " llmperf's latency and TTFT figures are over its requests without an error code; those of "
    "its individual responses are computed here (linear quantiles, as its summary's)."
)


def _aggregate_note(tools: list[str]) -> Text:
    why = "; ".join(_AGGREGATE_WHY.get(t, f"{t} gives aggregates") for t in tools)
    return ours(
        f"Aggregates only ({why}): not joined with the logs, no per-model split, percentiles as "
        "the tool computed them." + (LLMPERF_NOTE if "llmperf" in tools else "")
    )


def _aggregates(view: ClientView) -> list[Block]:
    tools = list(dict.fromkeys(a.tool for a in view.aggregates))
    # TTFT columns only where a tool measured it: a Locust-only table stays as it was
    ttft = any(a.ttft_p50_s is not None or a.ttft_p95_s is not None for a in view.aggregates)
    rows = [
        row(
            quoted(a.tool, 20),
            quoted(" ".join(p for p in (a.method or "", a.name) if p), 80),
            fmt_count(a.requests),
            fmt_count(a.failures),
            fmt_cell_s(a.mean_s),
            fmt_cell_s(a.p50_s),
            fmt_cell_s(a.p95_s),
            fmt_cell_s(a.p99_s),
            *((fmt_cell_s(a.ttft_p50_s), fmt_cell_s(a.ttft_p95_s)) if ttft else ()),
            "–" if a.requests_per_s is None else f"{a.requests_per_s:.2f}",
        )
        for a in view.aggregates
    ]
    table = Table(
        (
            "Tool",
            "Endpoint" if tools == ["locust"] else "Endpoint or model",
            "Requests",
            "Failures",
            "Mean",
            "p50",
            "p95",
            "p99",
            *(("TTFT p50", "TTFT p95") if ttft else ()),
            "Req/s",
        ),
        tuple(rows),
        ("l", "l", "r", "r", "r", "r", "r", "r", *(("r", "r") if ttft else ()), "r"),
    )
    return [table, Paragraph(_aggregate_note(tools))]


def client_section(c: Context) -> Section:
    """Per model asked: client latency and TTFT beside the server's, tokens, cost, goodput."""
    view = c.analysis.client
    if view is None:
        return Section("client", TITLE, (Paragraph(ours(NO_CLIENTS)),))
    blocks: list[Block] = [Facts(_facts(view))]
    if view.models:
        blocks += [_latency_table(view), _tokens_table(view), Paragraph(ours(SERVER_NOTE))]
        if any(m.server.inferred for m in view.models):
            blocks.append(Paragraph(ours(INFERRED_NOTE)))
        if any(m.cost_usd is not None for m in view.models):
            blocks.append(Paragraph(ours(COST_NOTE)))
    if view.aggregates:
        blocks += _aggregates(view)
    if "client_latency_ttft" in available_charts(c):
        blocks.append(Chart("client_latency_ttft", CHARTS["client_latency_ttft"]))
    return Section("client", TITLE, tuple(blocks))

"""The session as its clients saw it: per model asked, latency, TTFT, tokens, cost and goodput,
each beside the proxy's own figure for the same requests (from the join) and the difference.

Definitions (the same as AIPerf's and vLLM's benchmark_serving where they define one):

- latency: end − start of a succeeded request (the client's clock); percentiles as in
  analysis/metrics.py (type 7).
- TTFT: first content token − start, streamed requests only (a non-streamed answer has no first
  token of its own; for an SLO on TTFT its latency stands in: the user sees nothing before it).
- inter-token latency, per request: the mean gap between content chunks when the client recorded
  them, else (end − first token) / (output tokens − 1).
- output tokens per second, per request: output tokens / latency; overall: all output tokens of
  the model's succeeded requests / the span from its first start to its last end.
- cost: the sum of what responses reported; for a subscription plan it is what the same tokens
  would cost on the API (API-equivalent), not money spent.
- goodput: requests that succeeded and met every ``--slo``, as a share of all requests and per
  second of the clients' window.
- server side: the matched log rows' latency (and time to first byte for streamed requests), and
  the median of client latency − server latency over pairs where both are known: the network,
  the proxy's queueing before its first log line and the time after its last.
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from claude_perf.analysis.client_join import ClientJoin, join_clients
from claude_perf.analysis.metrics import LatencyStats, latency_stats
from claude_perf.config.schema import Config, Slo, is_health_path
from claude_perf.durations import series_ns
from claude_perf.ingest.client_aggregates import ClientAggregate
from claude_perf.ingest.client_records import ClientRecord

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Goodput:
    good: int
    requests: int
    share: float  # of all requests
    per_s: float | None  # over the window of these requests; None for a zero-length window


@dataclass(frozen=True)
class ServerSide:
    """The proxy's figures for the same (matched) requests."""

    matched: int
    latency_s: LatencyStats | None
    ttfb_s: LatencyStats | None  # streamed requests whose log line came as the answer began
    difference_p50_s: float | None  # median of client − server latency, pairs with both
    inferred: int = 0  # matched rows whose start-end pairing in the log was inferred (no ids)


@dataclass(frozen=True)
class TokenSums:
    input: int | None
    output: int | None
    cache_read: int | None
    cache_creation: int | None


@dataclass(frozen=True)
class ClientModel:
    model: str | None  # as asked; None when the client did not record it
    requests: int
    succeeded: int
    failed: int
    latency_s: LatencyStats | None
    ttft_s: LatencyStats | None
    itl_s: LatencyStats | None
    output_tokens_per_s: LatencyStats | None  # per request
    output_tokens_per_s_overall: float | None
    tokens: TokenSums
    cost_usd: float | None
    goodput: Goodput | None
    server: ServerSide


@dataclass(frozen=True)
class ClientView:
    records: int
    tools: tuple[str, ...]
    join: ClientJoin
    models: tuple[ClientModel, ...]
    goodput: Goodput | None  # all models together
    slo: Slo
    aggregates: tuple[ClientAggregate, ...]
    error_classes: tuple[tuple[str, int], ...]  # client-side error class → count


def itl_of(record: ClientRecord) -> float | None:
    """Mean inter-token latency of one request, seconds (see the module docstring)."""
    if record.chunk_gaps_s:
        return sum(record.chunk_gaps_s) / len(record.chunk_gaps_s)
    if record.first_token_ns is not None and (record.output_tokens or 0) > 1:
        return (record.end_ns - record.first_token_ns) / 1e9 / (record.output_tokens - 1)  # type: ignore[operator]
    return None


def tokens_per_s_of(record: ClientRecord) -> float | None:
    if record.output_tokens is None or record.latency_s <= 0:
        return None
    return record.output_tokens / record.latency_s


def is_good(record: ClientRecord, slo: Slo) -> bool:
    """Succeeded and met every objective given (an objective the record cannot show: not met)."""
    if not record.ok:
        return False
    ttft = record.ttft_s if record.ttft_s is not None else record.latency_s
    checks = (
        (slo.latency_s, record.latency_s, False),
        (slo.ttft_s, ttft, False),
        (slo.itl_s, itl_of(record), False),
        (slo.output_tokens_per_s, tokens_per_s_of(record), True),
    )
    for limit, value, at_least in checks:
        if limit is None:
            continue
        if value is None or (value < limit if at_least else value > limit):
            return False
    return True


def _span_s(records: Sequence[ClientRecord]) -> float | None:
    if not records:
        return None
    span = (max(r.end_ns for r in records) - min(r.start_ns for r in records)) / 1e9
    return span if span > 0 else None


def _goodput(records: Sequence[ClientRecord], slo: Slo) -> Goodput | None:
    if not slo.active or not records:
        return None
    good = sum(is_good(r, slo) for r in records)
    span = _span_s(records)
    return Goodput(good, len(records), good / len(records), None if span is None else good / span)


def _sum(values: Sequence[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def server_latencies(
    records: Sequence[ClientRecord], joined: ClientJoin, table: pd.DataFrame
) -> dict[int, float]:
    """Each matched row's latency, seconds (NaN where the log has none).

    Where the log paired a row's start line with its end by order alone (``ambiguous``: no ids
    and another request open), the start may be a neighbour's; the join placed the row by its
    end line, and here the start lines of those rows are paired again with the clients'
    starts: cheapest first (start line − the client's start, moved by the clock offset), each
    at most once, none before the client's start nor after its end (the tolerance aside). A
    request that finds none has no server latency (the log's start was not its own).
    """
    latency = table["latency_s"].to_numpy(dtype=float)
    out = {j: float(latency[j]) for _, j in joined.pairs}
    if joined.clock_offset_s is None or joined.tolerance_s is None:
        return out
    ambiguous = table["ambiguous"].to_numpy(dtype=bool)
    mine = [(i, j) for i, j in joined.pairs if ambiguous[j] and not math.isnan(latency[j])]
    starts_ns, ends_ns = series_ns(table["start"]).tolist(), series_ns(table["end"]).tolist()
    offset, tolerance = round(joined.clock_offset_s * 1e9), round(joined.tolerance_s * 1e9)
    lines = sorted((starts_ns[j] - offset, j) for _, j in mine)
    at = [t for t, _ in lines]
    candidates: list[tuple[int, int, int]] = []
    for i, _ in mine:
        r = records[i]
        low = bisect.bisect_left(at, r.start_ns - tolerance)
        high = bisect.bisect_right(at, r.end_ns + tolerance)
        candidates.extend((abs(t - r.start_ns), i, k) for t, k in lines[low:high])
    row_of = dict(mine)
    done: set[int] = set()
    taken: set[int] = set()
    for _, i, k in sorted(candidates):
        if i in done or k in taken:
            continue
        done.add(i)
        taken.add(k)
        j = row_of[i]
        if ends_ns[j] > starts_ns[k]:
            out[j] = (ends_ns[j] - starts_ns[k]) / 1e9
    for i, j in mine:
        if i not in done:
            out[j] = math.nan  # no start line inside the client's interval: the log's was not its
    return out


def _server_side(
    pairs: Sequence[tuple[ClientRecord, int]], table: pd.DataFrame, latency_of: dict[int, float]
) -> ServerSide:
    latency = {j: latency_of.get(j, math.nan) for _, j in pairs}
    ttfb = table["ttfb_s"].to_numpy(dtype=float)
    ok = (table["outcome"] == "succeeded").to_numpy()
    ambiguous = table["ambiguous"].to_numpy(dtype=bool)
    rows = [j for _, j in pairs]
    differences = [
        r.latency_s - latency[j] for r, j in pairs if r.ok and ok[j] and not math.isnan(latency[j])
    ]
    return ServerSide(
        matched=len(rows),
        latency_s=latency_stats([latency[j] for j in rows if ok[j]]),
        ttfb_s=latency_stats([ttfb[j] for j in rows if ok[j]]),
        difference_p50_s=statistics.median(differences) if differences else None,
        inferred=int(sum(bool(ambiguous[j]) for j in rows)),
    )


def _model(
    model: str | None,
    records: Sequence[ClientRecord],
    matched: Sequence[tuple[ClientRecord, int]],
    table: pd.DataFrame,
    slo: Slo,
    latency_of: dict[int, float],
) -> ClientModel:
    ok = [r for r in records if r.ok]
    out_tokens = _sum([r.output_tokens for r in ok])
    span = _span_s(ok)
    costs = [r.cost_usd for r in records if r.cost_usd is not None]
    return ClientModel(
        model=model,
        requests=len(records),
        succeeded=len(ok),
        failed=len(records) - len(ok),
        latency_s=latency_stats([r.latency_s for r in ok]),
        ttft_s=latency_stats([r.ttft_s for r in ok if r.stream and r.ttft_s is not None]),
        itl_s=latency_stats([v for r in ok if (v := itl_of(r)) is not None]),
        output_tokens_per_s=latency_stats([v for r in ok if (v := tokens_per_s_of(r)) is not None]),
        output_tokens_per_s_overall=(
            None if out_tokens is None or span is None else out_tokens / span
        ),
        tokens=TokenSums(
            input=_sum([r.input_tokens for r in records]),
            output=_sum([r.output_tokens for r in records]),
            cache_read=_sum([r.cache_read_tokens for r in records]),
            cache_creation=_sum([r.cache_creation_tokens for r in records]),
        ),
        cost_usd=sum(costs) if costs else None,
        goodput=_goodput(records, slo),
        server=_server_side(matched, table, latency_of),
    )


def _class_of_status(status: int | None) -> str:
    """A failed record's class when its tool gave none: from its HTTP status where it has one."""
    if status is not None and status >= 500:
        return "http_5xx"
    return "http_4xx" if status is not None and status >= 400 else "other"


def reduce_aggregate(aggregate: ClientAggregate) -> ClientAggregate:
    """An aggregate row whose tool wrote per-request values (llmperf's individual responses)
    with its figures made of them as every latency here is (metrics.latency_stats: type 7,
    the linear method llmperf's own summary uses too); a row of figures as it is."""
    from dataclasses import replace

    if not (aggregate.latencies_s or aggregate.ttfts_s):
        return aggregate
    latency, ttft = latency_stats(aggregate.latencies_s), latency_stats(aggregate.ttfts_s)
    return replace(
        aggregate,
        mean_s=latency.mean if latency else None,
        p50_s=latency.p50 if latency else None,
        p95_s=latency.p95 if latency else None,
        p99_s=latency.p99 if latency else None,
        max_s=latency.max if latency else None,
        ttft_p50_s=ttft.p50 if ttft else None,
        ttft_p95_s=ttft.p95 if ttft else None,
        latencies_s=(),
        ttfts_s=(),
    )


def client_view(
    records: Sequence[ClientRecord],
    aggregates: Sequence[ClientAggregate],
    table: pd.DataFrame,
    config: Config,
) -> ClientView:
    """Join the records with the request table, then the per-model figures (models by count)."""
    joined = join_clients(records, table, config)
    row_of = dict(joined.pairs)
    latency_of = server_latencies(records, joined, table)
    model_records = [r for r in records if not is_health_path(r.path, config.health_paths)]
    by_model: dict[str | None, list[int]] = {}
    for i, record in enumerate(records):
        if not is_health_path(record.path, config.health_paths):
            by_model.setdefault(record.model_asked, []).append(i)
    order = sorted(by_model, key=lambda m: (-len(by_model[m]), m is None, str(m)))
    models = tuple(
        _model(
            name,
            [records[i] for i in by_model[name]],
            [(records[i], row_of[i]) for i in by_model[name] if i in row_of],
            table,
            config.slo,
            latency_of,
        )
        for name in order
    )
    classes: dict[str, int] = {}
    for record in records:
        if not record.ok:
            key = record.error_class or _class_of_status(record.status)
            classes[key] = classes.get(key, 0) + 1
    return ClientView(
        records=len(records),
        tools=tuple(sorted({r.tool for r in records} | {a.tool for a in aggregates})),
        join=joined,
        models=models,
        goodput=_goodput(model_records, config.slo),
        slo=config.slo,
        aggregates=tuple(reduce_aggregate(a) for a in aggregates),
        error_classes=tuple(sorted(classes.items(), key=lambda kv: (-kv[1], kv[0]))),
    )

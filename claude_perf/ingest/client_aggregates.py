"""Aggregate rows of client tools whose records cannot be joined with the proxy's requests.

Locust's ``*_stats.csv`` holds only aggregates (ingest/client_files.py); ray-project/llmperf's
summary holds aggregates and its individual responses carry no time, model or request id
(ingest/llmperf_files.py). Their figures are shown as they are, beside the joined client view,
never mixed into it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClientAggregate:
    """One endpoint's or run's figures from an aggregate-only tool; seconds, None when unknown."""

    tool: str
    name: str  # the endpoint (Locust's Name, "Aggregated" for its total row), or llmperf's model
    method: str | None
    requests: int
    failures: int
    mean_s: float | None
    p50_s: float | None
    p95_s: float | None
    p99_s: float | None
    max_s: float | None
    requests_per_s: float | None
    # time to first token, where the tool measures it (llmperf); None for Locust, which does not
    ttft_p50_s: float | None = None
    ttft_p95_s: float | None = None
    # Per-request values of a tool whose records cannot be joined (llmperf's individual
    # responses: no time, model or request id), as read: the analysis makes the figures above
    # of them with the project's own percentiles (analysis/client_view.reduce_aggregate).
    latencies_s: tuple[float, ...] = ()
    ttfts_s: tuple[float, ...] = ()

"""Aggregate rows of client tools whose records cannot be joined with the proxy's requests.

Locust's ``*_stats.csv`` holds only aggregates (ingest/client_files.py). Their figures are shown
as they are, beside the joined client view, never mixed into it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClientAggregate:
    """One endpoint's figures as an aggregate-only tool (Locust) wrote them; seconds."""

    tool: str
    name: str  # the endpoint (Locust's Name), or "Aggregated" for its total row
    method: str | None
    requests: int
    failures: int
    mean_s: float | None
    p50_s: float | None
    p95_s: float | None
    p99_s: float | None
    max_s: float | None
    requests_per_s: float | None

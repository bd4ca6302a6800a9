"""Per replica and for the fleet: requests, success, latency, errors, resources, restarts.

A replica is one source (a container on an engine, a Swarm task, a Kubernetes pod's container,
or one input file). Its figures are computed by the same ``metrics.compute`` as a whole report,
over its own rows of the request table: each replica's figures equal the report of that
container alone. Fleet counts are the sums; fleet percentiles are pooled over every request of
every replica (an average of percentiles is not a percentile).

The imbalance rules (one replica slower, erroring, or starved of requests) compare each
replica with the pooled rest, and fire only with enough requests on both sides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from claude_perf.analysis.formatting import fmt_pct, fmt_s
from claude_perf.analysis.metrics import LatencyStats, Metrics, compute, latency_stats

if TYPE_CHECKING:
    from claude_perf.analysis.finding import Finding
    from claude_perf.analysis.pipeline import Analysis

# Thresholds of the imbalance rules (why these values: a replica 1.5x slower at p95 than the
# rest, with 10+ timed requests on each side, is beyond the noise of a p95 at that sample size
# in the sessions measured here; a failure rate twice the rest's with 3+ failures; half the
# fair share of requests with 10+ requests per replica on average).
SLOW_RATIO = 1.5
SLOW_MIN_N = 10
ERROR_RATIO = 2.0
ERROR_MIN_FAILED = 3
STARVED_SHARE = 0.5
STARVED_MIN_PER_REPLICA = 10


@dataclass(frozen=True)
class Replica:
    """One source's figures, and where it ran (as far as the facts tell)."""

    source: str
    engine: str | None
    container: str
    service: str | None
    task: str | None
    requests: int
    succeeded: int
    failed: int
    latency_s: LatencyStats | None
    errors_by_class: Mapping[str, int]
    cpu_pct: float | None  # mean of the samples
    mem_bytes: float | None  # peak of the samples
    restarts: int | None
    # The other replicas' succeeded model requests pooled: what the imbalance rules compare with.
    rest_latency_s: LatencyStats | None = None


@dataclass(frozen=True)
class Fleet:
    """Every replica, and the fleet's totals (sums of counts, pooled latency)."""

    replicas: tuple[Replica, ...]
    requests: int
    succeeded: int
    failed: int
    latency_s: LatencyStats | None


def fleet_of(analysis: Analysis) -> Fleet:
    """The replicas of a session (one per source with lines) and the fleet totals."""
    table = analysis.requests.table
    sources = list(analysis.logs.sources)
    facts = {str(c.get("source") or ""): c for c in analysis.containers}
    window = (analysis.metrics.window_start, analysis.metrics.window_end)
    source = table["source"].to_numpy()
    timed = ((table["kind"] == "model") & (table["outcome"] == "succeeded")).to_numpy()
    latency = table["latency_s"].to_numpy(dtype=float)
    replicas = []
    for name in sources:
        mine = source == name
        part = replace(analysis.requests, table=table[mine].reset_index(drop=True))
        replica = _replica(name, compute(part, window), facts.get(name), analysis.samples)
        rest = latency_stats(latency[timed & ~mine])
        replicas.append(replace(replica, rest_latency_s=rest))
    m = analysis.metrics
    return Fleet(tuple(replicas), m.requests, m.succeeded, m.failed, m.overall_latency_s)


def _replica(name: str, m: Metrics, facts: Mapping[str, Any] | None, samples: Any) -> Replica:
    facts = facts or {}
    engine = facts.get("engine") or {}
    cpu = mem = None
    if samples is not None and len(samples) and facts.get("id"):
        mine = samples[samples["container_id"] == facts["id"]]
        if len(mine):
            cpu_mean = mine["cpu_pct"].mean()
            mem_max = mine["mem_used_bytes"].max()
            cpu = None if cpu_mean != cpu_mean else float(cpu_mean)
            mem = None if mem_max != mem_max else float(mem_max)
    restarts = facts.get("restart_count")
    return Replica(
        source=name,
        engine=(engine.get("label") or engine.get("name") or None) if engine else None,
        container=str(facts.get("name") or _bare(name)),
        service=facts.get("service"),
        task=facts.get("task"),
        requests=m.requests,
        succeeded=m.succeeded,
        failed=m.failed,
        latency_s=m.overall_latency_s,
        errors_by_class={e.error_class: e.count for e in m.errors},
        cpu_pct=cpu,
        mem_bytes=mem,
        restarts=None if restarts is None else int(restarts),
    )


def _bare(source: str) -> str:
    """A source's container part: ``store:engine/name`` → name; a kubectl ``pod/P/C`` stays."""
    if source.startswith("store:"):
        return source[len("store:") :].rsplit("/", 1)[-1]
    return source


# ---------------------------------------------------------------- imbalance rules


def imbalance_findings(fleet: Fleet) -> tuple[list[Finding], list[tuple[str, str]]]:
    """The imbalance findings, and the rules that could not run (with why)."""
    from claude_perf.analysis.finding import Finding

    found: list[Finding] = []
    skipped: list[tuple[str, str]] = []
    reps = fleet.replicas
    timed = [r for r in reps if r.latency_s is not None and r.latency_s.n >= SLOW_MIN_N]
    if len(timed) < 2:
        skipped.append(
            ("replica_slow", f"{len(timed)} replica(s) have {SLOW_MIN_N}+ timed requests (needs 2)")
        )
    for r in timed:
        rest = r.rest_latency_s
        if rest is None or rest.n < SLOW_MIN_N or r.latency_s is None:
            continue
        if r.latency_s.p95 > SLOW_RATIO * rest.p95:
            found.append(
                Finding(
                    "replica_slow",
                    "warning",
                    f"Replica {r.container} is slower than the rest",
                    f"p95 {fmt_s(r.latency_s.p95)} over {r.latency_s.n} request(s) vs "
                    f"{fmt_s(rest.p95)} over {rest.n} on the other replicas (pooled)",
                    f"compare {r.container}'s host, limits and upstream account with the others'",
                )
            )
    for r in reps:
        other_total = fleet.requests - r.requests
        other_failed = fleet.failed - r.failed
        if r.failed < ERROR_MIN_FAILED or not r.requests or not other_total:
            continue
        rate, other_rate = r.failed / r.requests, other_failed / other_total
        if rate >= ERROR_RATIO * other_rate and rate > other_rate:
            worst = max(r.errors_by_class.items(), key=lambda kv: kv[1], default=("other", 0))
            found.append(
                Finding(
                    "replica_errors",
                    "warning",
                    f"Replica {r.container} fails more than the rest",
                    f"{r.failed} of {r.requests} failed ({fmt_pct(rate)}, mostly {worst[0]}) vs "
                    f"{other_failed} of {other_total} ({fmt_pct(other_rate)}) on the others",
                    f"read {r.container}'s log around its failures (the others had the same load)",
                )
            )
    fair = fleet.requests / len(reps) if reps else 0.0
    if fair < STARVED_MIN_PER_REPLICA:
        skipped.append(
            (
                "replica_starved",
                f"{fleet.requests} request(s) over {len(reps)} replicas "
                f"(needs {STARVED_MIN_PER_REPLICA} per replica)",
            )
        )
    else:
        for r in reps:
            if r.requests < STARVED_SHARE * fair:
                found.append(
                    Finding(
                        "replica_starved",
                        "info",
                        f"Replica {r.container} received few requests",
                        f"{r.requests} request(s) of {fleet.requests} "
                        f"({fmt_pct(r.requests / fleet.requests)}) where an even spread over "
                        f"{len(reps)} replicas gives {fair:.0f} each",
                        "check the load balancer's spread (sticky sessions, health, weights)",
                    )
                )
    return found, skipped

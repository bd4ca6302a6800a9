"""Per replica and for the fleet: requests, success, latency, errors, resources, restarts.

A replica is one source (a container on an engine, a Swarm task, a Kubernetes pod's container,
or one input file). Its figures are computed by the same ``metrics.compute`` as a whole report,
over its own rows of the request table: each replica's figures equal the report of that
container alone. Fleet counts are the sums; fleet percentiles are pooled over every request of
every replica (an average of percentiles is not a percentile).

The imbalance rules (one replica slower, erroring, or starved of requests) compare each
replica with the pooled rest, and fire only with enough requests on both sides. Latency is
compared model by model: a replica that took only the slow model is not slower than one that
took only the fast one. The thresholds are ``[scoring.rules] replica_*`` keys (config/schema.py).
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from claude_perf.analysis.formatting import fmt_pct, fmt_s
from claude_perf.analysis.metrics import LatencyStats, Metrics, compute, latency_stats

if TYPE_CHECKING:
    import numpy as np

    from claude_perf.analysis.finding import Finding
    from claude_perf.analysis.pipeline import Analysis
    from claude_perf.config.dialect import Dialect


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
    # Per model (None: unnamed) this replica timed: (model, its latency, the others' pooled).
    by_model: tuple[ModelComparison, ...] = ()


@dataclass(frozen=True)
class ModelComparison:
    """One model's timed requests on a replica against the same model's on the other replicas."""

    model: str | None
    latency_s: LatencyStats
    rest_latency_s: LatencyStats | None


@dataclass(frozen=True)
class Fleet:
    """Every replica, and the fleet's totals (sums of counts, pooled latency)."""

    replicas: tuple[Replica, ...]
    requests: int
    succeeded: int
    failed: int
    latency_s: LatencyStats | None


def replica_sources(analysis: Analysis) -> list[str]:
    """The sources that are replicas: all but a front proxy's (analysis/front.py)."""
    front = analysis.front.sources if analysis.front is not None else ()
    return [name for name in analysis.logs.sources if name not in front]


def unlike_proxies(analysis: Analysis) -> tuple[str, str] | None:
    """Two of the replica sources whose logs are of different proxies (different_proxies), or
    None."""
    from claude_perf.config.load import dialects_for

    found = {name: analysis.quality.dialects.get(name, ()) for name in replica_sources(analysis)}
    return different_proxies(found, dialects_for(analysis.config.dialects))


def different_proxies(
    found: Mapping[str, tuple[str, ...]], dialects: Sequence[Dialect]
) -> tuple[str, str] | None:
    """Two sources (``found``: source → the dialects found in it) whose logs are of different
    proxies, or None. A proxy's logging modes are one (a dialect superseding one it is named
    after: ``claude-code-openai-wrapper-debug``); a server or framework beside it (uvicorn,
    fastify, gin) is not the proxy, so two sources differ when each has a dialect the other has
    not: the wrapper under gunicorn beside the wrapper alone is one proxy, LiteLLM and the
    wrapper both under uvicorn's JSON logging are two. Sources with no dialect are not judged."""
    mode_of = {}  # a mode's dialect → the dialect it is named after (the proxy's own)
    for d in dialects:
        bases = [old for old in d.supersedes if d.name.startswith(f"{old}-")]
        if bases:
            mode_of[d.name] = min(bases, key=len)
    seen = {
        source: {mode_of.get(name, name) for name in names}
        for source, names in found.items()
        if names
    }
    for a, mine in seen.items():
        for b, theirs in seen.items():
            if a < b and mine - theirs and theirs - mine:
                return a, b
    return None


# The last fleet made, kept for the same Analysis object: its three readers (the summary's
# replicas part, the imbalance findings, the report's replicas section) each asked for it, and
# each made it anew (a metrics.compute per replica): 3 × 1.3 s of a 3M-line report over three
# containers. An Analysis is frozen and nothing changes its table after the pipeline.
_last_fleet: list[tuple[weakref.ref[Analysis], Fleet]] = []


def fleet_of(analysis: Analysis) -> Fleet:
    """The replicas of a session (one per source with lines) and the fleet totals."""
    if _last_fleet and _last_fleet[0][0]() is analysis:
        return _last_fleet[0][1]
    fleet = _make_fleet(analysis)
    _last_fleet[:] = [(weakref.ref(analysis), fleet)]
    return fleet


def _make_fleet(analysis: Analysis) -> Fleet:
    table = analysis.requests.table
    sources = replica_sources(analysis)
    facts = {str(c.get("source") or ""): c for c in analysis.containers}
    window = (analysis.metrics.window_start, analysis.metrics.window_end)
    source = table["source"].to_numpy()
    timed = ((table["kind"] == "model") & (table["outcome"] == "succeeded")).to_numpy()
    latency = table["latency_s"].to_numpy(dtype=float)
    models = table["model"].astype("category").cat
    model, names = models.codes.to_numpy(), list(models.categories)
    replicas = []
    for name in sources:
        mine = source == name
        part = replace(analysis.requests, table=table[mine].reset_index(drop=True))
        replica = _replica(name, compute(part, window), facts.get(name), analysis.samples)
        rest = latency_stats(latency[timed & ~mine])
        by_model = _by_model(latency, model, names, timed & mine, timed & ~mine)
        replicas.append(replace(replica, rest_latency_s=rest, by_model=by_model))
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


def _by_model(
    latency: np.ndarray,
    model: np.ndarray,
    names: list[Any],
    mine: np.ndarray,
    rest: np.ndarray,
) -> tuple[ModelComparison, ...]:
    """Each model this replica timed, with the same model's latency on the other replicas;
    ``model``: per request a code into ``names`` (-1: no model). Compared as codes: string
    comparisons over every request, per model and replica, were most of the fleet's time."""
    import numpy as np

    unnamed = model < 0
    found = []
    codes = np.unique(model[mine & ~unnamed]).tolist()
    for code in sorted(codes, key=lambda c: str(names[c])) + (
        [-1] if (mine & unnamed).any() else []
    ):
        name = None if code < 0 else names[code]
        same = model == code
        own = latency_stats(latency[mine & same])
        if own is not None:
            found.append(ModelComparison(name, own, latency_stats(latency[rest & same])))
    return tuple(found)


def _p95_ratio(c: ModelComparison) -> float:
    """The replica's p95 over the others' (infinite when theirs is 0 and its own is not)."""
    rest = c.rest_latency_s.p95 if c.rest_latency_s is not None else 0.0
    if rest > 0:
        return c.latency_s.p95 / rest
    return float("inf") if c.latency_s.p95 > 0 else 1.0


def _bare(source: str) -> str:
    """A source's container part: ``store:engine/name`` → name; a kubectl ``pod/P/C`` stays."""
    if source.startswith("store:"):
        return source[len("store:") :].rsplit("/", 1)[-1]
    return source


# ---------------------------------------------------------------- imbalance rules


def imbalance_findings(
    fleet: Fleet, t: Mapping[str, float]
) -> tuple[list[Finding], list[tuple[str, str]]]:
    """The imbalance findings, and the rules that could not run (with why); ``t``: the
    ``[scoring.rules]`` thresholds (replica_*)."""
    from claude_perf.analysis.finding import Finding

    found: list[Finding] = []
    skipped: list[tuple[str, str]] = []
    reps = fleet.replicas
    min_n = t["replica_slow_min_n"]
    compared = [
        (r, c)
        for r in reps
        for c in r.by_model
        if c.latency_s.n >= min_n and c.rest_latency_s is not None and c.rest_latency_s.n >= min_n
    ]
    if not compared:
        skipped.append(
            (
                "replica_slow",
                f"no model has {min_n:.0f}+ timed requests on a replica and on the others",
            )
        )
    for r in reps:
        mine = [c for rep, c in compared if rep is r]
        # The model on which this replica is slowest against the others (ratio of p95s).
        slowest = max(mine, key=_p95_ratio, default=None)
        if slowest is None or slowest.rest_latency_s is None:
            continue
        own, rest = slowest.latency_s, slowest.rest_latency_s
        if _p95_ratio(slowest) > t["replica_slow_ratio"]:
            model = slowest.model or "requests with no model named"
            found.append(
                Finding(
                    "replica_slow",
                    "warning",
                    f"Replica {r.container} is slower than the rest",
                    f"{model}: p95 {fmt_s(own.p95)} over {own.n} request(s) vs "
                    f"{fmt_s(rest.p95)} over {rest.n} on the other replicas (pooled)",
                    f"compare {r.container}'s host, limits and upstream account with the others'",
                )
            )
    for r in reps:
        other_total = fleet.requests - r.requests
        other_failed = fleet.failed - r.failed
        if r.failed < t["replica_error_min_failed"] or not r.requests or not other_total:
            continue
        rate, other_rate = r.failed / r.requests, other_failed / other_total
        if rate >= t["replica_error_ratio"] * other_rate and rate > other_rate:
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
    if fair < t["replica_starved_min_per_replica"]:
        skipped.append(
            (
                "replica_starved",
                f"{fleet.requests} request(s) over {len(reps)} replicas "
                f"(needs {t['replica_starved_min_per_replica']:.0f} per replica)",
            )
        )
    else:
        for r in reps:
            if r.requests < t["replica_starved_share"] * fair:
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

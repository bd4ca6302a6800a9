"""Scores out of 10 from a documented rubric, and capacity derived from measured figures.

Every score is piecewise-linear in a measured figure: a curve is a list of (figure, score) points
with the figure increasing; between points the score is interpolated, outside them it is clamped to
the nearest end. Curves and weights are configurable under ``[scoring]`` (see ``CURVE_DEFAULTS``,
``WEIGHT_DEFAULTS``, ``OTHER_DEFAULTS``). A score whose inputs were not collected is None with the
reason — never a guessed number.

- performance = ½ f(p50 latency) + ½ f(p95 latency), succeeded model requests with a known latency;
  needs at least 5 of them.
- reliability = (1 − h) f(model request success rate) + h f(health-check success rate), h the
  health weight (0 when there are no health checks), minus a penalty per restart, exit in the
  window or OOM kill, floored at 0.
- efficiency = mean of f(p95 CPU under load, % of CPU capacity) and f(peak memory, % of limit);
  needs resource samples.
- scalability = f(p50 latency with other requests in flight / p50 alone); needs requests that
  overlapped (3 or more timed ones), otherwise concurrency was not measured.
- overall = weighted mean of the scores that exist, weights renormalised over them; needs at
  least performance and reliability.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from claude_perf.analysis.concurrency import ConcurrencyLatency
from claude_perf.analysis.findings import cpu_capacity_pct
from claude_perf.analysis.formatting import fmt_bytes, fmt_pct, fmt_s
from claude_perf.analysis.metrics import MIN_RANKABLE, Metrics
from claude_perf.config.schema import Curve, Scoring
from claude_perf.config.schema import curve as parse_curve

if TYPE_CHECKING:
    from claude_perf.analysis.reliability import Reliability
    from claude_perf.analysis.utilisation import Utilisation

# Declared, with their documentation, in config.schema.Scoring ([scoring]).
_SCORING = Scoring()
CURVE_DEFAULTS: Mapping[str, Curve] = {
    f.name: getattr(_SCORING, f.name)
    for f in fields(Scoring)
    if f.metadata.get("parse") is parse_curve
}
WEIGHT_DEFAULTS: Mapping[str, float] = asdict(_SCORING.weights)
OTHER_DEFAULTS: Mapping[str, float] = {
    k: getattr(_SCORING, k) for k in ("health_weight", "restart_penalty", "min_overlapped")
}
NAMES = ("performance", "reliability", "efficiency", "scalability", "overall")


@dataclass(frozen=True)
class Score:
    """A score out of 10 (None when not measurable) and the one line that explains it."""

    name: str
    value: float | None
    why: str


@dataclass(frozen=True)
class Rubric:
    """Validated curves, weights and constants."""

    curves: Mapping[str, Curve]
    weights: Mapping[str, float]
    other: Mapping[str, float]


@dataclass(frozen=True)
class Capacity:
    """What the measured latency and concurrency imply; each None when its inputs are missing."""

    concurrency: int  # most requests in flight at once, observed
    mean_latency_s: float | None
    sustainable_per_min: float | None  # 60 × concurrency / mean latency
    observed_peak_per_min: float
    mem_per_request_bytes: float | None  # mean memory under load − idle
    mem_headroom_bytes: float | None  # limit − peak
    extra_concurrent: int | None  # headroom / per-request memory


def interpolate(curve: Curve, x: float) -> float:
    """Piecewise-linear score at x, clamped to the first and last points."""
    if x <= curve[0][0]:
        return curve[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(curve):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return curve[-1][1]


def rubric_of(scoring: Scoring) -> Rubric:
    """The rubric of a validated [scoring] (config.schema.Scoring), by name."""
    return Rubric(
        curves={k: getattr(scoring, k) for k in CURVE_DEFAULTS},
        weights=asdict(scoring.weights),
        other={k: getattr(scoring, k) for k in OTHER_DEFAULTS},
    )


def score_performance(metrics: Metrics, rubric: Rubric) -> Score:
    stats = metrics.overall_latency_s
    if stats is None or stats.n < MIN_RANKABLE:
        n = 0 if stats is None else stats.n
        return Score(
            "performance",
            None,
            f"not scored: {n} succeeded request(s) with a known latency (needs {MIN_RANKABLE})",
        )
    a = interpolate(rubric.curves["performance_p50_s"], stats.p50)
    b = interpolate(rubric.curves["performance_p95_s"], stats.p95)
    return Score(
        "performance",
        (a + b) / 2,
        f"p50 {fmt_s(stats.p50)} → {a:.1f}, p95 {fmt_s(stats.p95)} → {b:.1f} "
        f"(n={stats.n} timed successful requests)",
    )


def score_reliability(metrics: Metrics, reliability: Reliability, rubric: Rubric) -> Score:
    if not metrics.requests or metrics.success_rate is None:
        return Score("reliability", None, "not scored: no model requests in the window")
    requests = interpolate(rubric.curves["reliability_success"], metrics.success_rate)
    why = (
        f"{fmt_pct(metrics.success_rate)} of {metrics.requests} model requests succeeded "
        f"→ {requests:.1f}"
    )
    health = reliability.health
    value = requests
    if health.checks and health.success_rate is not None:
        h = rubric.other["health_weight"]
        health_score = interpolate(rubric.curves["reliability_health"], health.success_rate)
        value = (1 - h) * requests + h * health_score
        why += (
            f"; health {fmt_pct(health.success_rate)} of {health.checks} checks → "
            f"{health_score:.1f} (weight {h:g})"
        )
    if reliability.facts:
        incidents = (reliability.restarts or 0) + (reliability.exits_in_window or 0)
        incidents += 1 if reliability.oom_killed else 0
        penalty = incidents * rubric.other["restart_penalty"]
        value = max(0.0, value - penalty)
        why += f"; {incidents} restart/exit/OOM incident(s) → −{penalty:g}"
    elif reliability.restarts is not None:
        penalty = reliability.restarts * rubric.other["restart_penalty"]
        value = max(0.0, value - penalty)
        why += f"; {reliability.restarts} restart(s) seen in the logs → −{penalty:g}"
    else:
        why += "; restarts unknown (no container facts)"
    return Score("reliability", value, why)


def score_efficiency(
    utilisation: tuple[Utilisation, ...], containers: tuple[dict[str, Any], ...], rubric: Rubric
) -> Score:
    if not utilisation:
        return Score("efficiency", None, "not scored: no resource samples collected")
    parts: list[float] = []
    notes: list[str] = []
    for util in utilisation:
        cpu = util.load.cpu_pct_p95 if util.load.cpu_pct_p95 is not None else util.cpu_pct_max
        if cpu is not None:
            capacity, _ = cpu_capacity_pct(util, containers)
            share = cpu / capacity * 100
            s = interpolate(rubric.curves["efficiency_cpu_pct"], share)
            parts.append(s)
            label = "p95 CPU under load" if util.load.cpu_pct_p95 is not None else "peak CPU"
            notes.append(f"{label} {share:.1f}% of capacity → {s:.1f}")
        mem_pct = util.mem_pct_peak
        if mem_pct is None and util.mem_bytes_peak is not None and util.mem_limit_bytes:
            mem_pct = util.mem_bytes_peak / util.mem_limit_bytes * 100
        if mem_pct is not None:
            s = interpolate(rubric.curves["efficiency_mem_pct"], mem_pct)
            parts.append(s)
            notes.append(f"peak memory {mem_pct:.1f}% of limit → {s:.1f}")
    if not parts:
        return Score("efficiency", None, "not scored: samples carry no CPU or memory figure")
    prefix = "" if len(utilisation) == 1 else f"{len(utilisation)} containers: "
    return Score("efficiency", sum(parts) / len(parts), prefix + "; ".join(notes))


def score_scalability(
    cl: ConcurrencyLatency, max_in_flight: int, rubric: Rubric, whole_seconds: bool = False
) -> Score:
    need = int(rubric.other["min_overlapped"])
    ratio = cl.ratio
    if whole_seconds:  # (clock.py: the per-request levels are unknown)
        return Score(
            "scalability",
            None,
            "not scored: the log's stamps count whole seconds, too coarse to tell which "
            "requests overlapped others",
        )
    if cl.overlapped_n < need or ratio is None or cl.solo_p50_s is None:
        return Score(
            "scalability",
            None,
            f"not scored: at most {max_in_flight} request(s) in flight and {cl.overlapped_n} "
            f"timed request(s) overlapping others (needs {need}): how latency responds to "
            "concurrency was not measured",
        )
    assert cl.overlapped_p50_s is not None
    s = interpolate(rubric.curves["scalability_latency_ratio"], ratio)
    return Score(
        "scalability",
        s,
        f"p50 {fmt_s(cl.overlapped_p50_s)} with others in flight (n={cl.overlapped_n}) vs "
        f"{fmt_s(cl.solo_p50_s)} alone (n={cl.solo_n}): {ratio:.2f}× → {s:.1f}",
    )


def score_overall(parts: Sequence[Score], rubric: Rubric) -> Score:
    present = {s.name: s.value for s in parts if s.value is not None}
    if "performance" not in present or "reliability" not in present:
        return Score("overall", None, "not scored: performance and reliability are both needed")
    weights = {k: rubric.weights[k] for k in present if rubric.weights[k] > 0}
    total = sum(weights.values())
    if total <= 0:
        return Score("overall", None, "not scored: the measured scores all have weight 0")
    value = sum(present[k] * w for k, w in weights.items()) / total
    terms = " + ".join(f"{w / total:.2f}×{k}" for k, w in weights.items())
    missing = [s.name for s in parts if s.value is None]
    why = f"{terms}"
    if missing:
        why += f"; left out, not measured: {', '.join(missing)}"
    return Score("overall", value, why)


def score_all(
    metrics: Metrics,
    reliability: Reliability,
    utilisation: tuple[Utilisation, ...],
    cl: ConcurrencyLatency,
    containers: tuple[dict[str, Any], ...],
    scoring: Scoring,
) -> tuple[Score, ...]:
    """All five scores, in NAMES order."""
    rubric = rubric_of(scoring)
    parts = [
        score_performance(metrics, rubric),
        score_reliability(metrics, reliability, rubric),
        score_efficiency(utilisation, containers, rubric),
        score_scalability(
            cl,
            metrics.throughput.max_in_flight,
            rubric,
            metrics.throughput.in_flight_range is not None,
        ),
    ]
    return (*parts, score_overall(parts, rubric))


def capacity_of(metrics: Metrics, utilisation: tuple[Utilisation, ...]) -> Capacity:
    """Requests/min sustainable at the observed concurrency, and memory headroom per request."""
    stats = metrics.overall_latency_s
    concurrency = max(metrics.throughput.max_in_flight, 1 if metrics.requests else 0)
    sustainable = None
    if stats is not None and stats.mean > 0 and concurrency:
        sustainable = 60.0 * concurrency / stats.mean
    per_request = headroom = extra = None
    if utilisation:
        util = utilisation[0]
        idle, load = util.idle.mem_bytes_mean, util.load.mem_bytes_mean
        if idle is not None and load is not None:
            per_request = (load - idle) / concurrency if concurrency else None
        if util.mem_limit_bytes and util.mem_bytes_peak is not None:
            headroom = util.mem_limit_bytes - util.mem_bytes_peak
        if per_request is not None and per_request > 0 and headroom is not None:
            extra = int(headroom // per_request)
    return Capacity(
        concurrency=concurrency,
        mean_latency_s=None if stats is None else stats.mean,
        sustainable_per_min=sustainable,
        observed_peak_per_min=metrics.throughput.peak_requests_per_min,
        mem_per_request_bytes=per_request,
        mem_headroom_bytes=headroom,
        extra_concurrent=extra,
    )


def scores_dict(scores: Sequence[Score]) -> dict[str, Any]:
    """JSON-ready scores: value rounded to 0.1 (None when not measured) and the reason."""
    return {
        s.name: {"value": None if s.value is None else round(s.value, 1), "why": s.why}
        for s in scores
    }


__all__ = [
    "CURVE_DEFAULTS",
    "NAMES",
    "OTHER_DEFAULTS",
    "WEIGHT_DEFAULTS",
    "Capacity",
    "Rubric",
    "Score",
    "capacity_of",
    "fmt_bytes",
    "interpolate",
    "rubric_of",
    "score_all",
    "scores_dict",
]

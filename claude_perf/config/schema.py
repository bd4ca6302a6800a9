"""Every configuration key, declared once: name, type, default and one line of documentation.

A table is a frozen dataclass; each of its fields is a key, declared with ``key()`` (or
``table()`` for a sub-table). The field's annotation is the key's type, and the one validator in
``config.load`` reads it: ``float``/``int``/``str``/``bool``, ``X | None`` (absent means None),
``tuple[str, ...]`` (a list), ``tuple[T, ...]`` for a dataclass T (an array of tables,
``[[name]]``), ``Mapping[str, V]`` (a table whose keys are free, e.g. model names) and a dataclass
(a table with exactly its fields). A key that needs more than its type says so with ``parse=`` (a
function raising ValueError with the problem) or ``choices=``/``low=``/``high=``; a check across
the keys of one table is its ``problem()`` method. So a new table type is a declaration here, not
new validation code.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from claude_perf.config.dialect import Dialect, regex_problem
from claude_perf.config.families import DEFAULT_ALIASES
from claude_perf.config.keys import key, table
from claude_perf.config.paths import DEFAULT_MODEL_PATHS
from claude_perf.config.paths import is_health_path as is_health_path  # (callers import here)
from claude_perf.config.paths import is_model_path as is_model_path  # (its callers import it here)

CONFIG_FILE = "claude-perf.toml"
ROLES = ("start", "end", "error", "health", "info")
PATTERN_GROUPS = frozenset(
    {"ts", "level", "model", "status", "method", "path", "duration", "request_id", "client"}
)

# Kubernetes' own probe endpoints are /healthz, /livez and /readyz.
DEFAULT_HEALTH_PATHS = ("/health", "/healthz", "/ready", "/readyz", "/livez")
TIER_STATISTICS = ("p50", "mean", "p95")

Curve = tuple[tuple[float, float], ...]


# ---------------------------------------------------------------- parsers for special values


def duration_s(value: Any) -> float:
    """``8s``, ``750ms``, ``2m`` or a bare number of seconds (``1.5``) → seconds, more than 0."""
    from claude_perf import durations
    from claude_perf.errors import UsageError

    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"'{value}' is not a duration (examples: 8s, 750ms, 1.5 for seconds, 2m)")
    text = str(value).strip()
    try:
        if re.match(r"^(?:\d+(?:\.\d+)?|\.\d+)$", text):
            seconds = float(text)
        else:
            seconds = durations.parse_duration_s(text)
    except UsageError:
        raise ValueError(
            f"'{value}' is not a duration (examples: 8s, 750ms, 1.5 for seconds, 2m)"
        ) from None
    if seconds <= 0:
        raise ValueError(f"'{value}' must be more than zero")
    return seconds


def percent(value: Any) -> float:
    """A percentage 0–100, as a number or a string such as ``"5%"``."""
    text = str(value).strip().removesuffix("%").strip()
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"'{value}' is not a number") from None
    if isinstance(value, bool) or not 0 <= number <= 100:
        raise ValueError(f"'{value}' must be between 0 and 100%")
    return number


def curve(value: Any) -> Curve:
    """Score points [[figure, score], ...]: at least two, figures increasing, scores 0–10."""
    if not isinstance(value, list | tuple) or len(value) < 2:
        raise ValueError("must be a list of at least two [figure, score] pairs")
    points = []
    for point in value:
        if (
            not isinstance(point, list | tuple)
            or len(point) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in point)
        ):
            raise ValueError("each point must be [figure, score] (numbers)")
        if not 0 <= point[1] <= 10:
            raise ValueError("scores must be between 0 and 10")
        points.append((float(point[0]), float(point[1])))
    if any(b[0] <= a[0] for a, b in itertools.pairwise(points)):
        raise ValueError("figures must increase from point to point")
    return tuple(points)


def latency_range(value: Any) -> tuple[float, float]:
    """A latency in seconds, or [low, high]."""
    figures = list(value) if isinstance(value, list | tuple) else [value]
    if not 1 <= len(figures) <= 2 or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in figures
    ):
        raise ValueError("must be a number or [low, high] in seconds")
    return (float(min(figures)), float(max(figures)))


def time_zone(value: Any) -> str:
    """An IANA time zone name that this machine knows (zoneinfo)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not isinstance(value, str) or not value:
        raise ValueError("must be a time zone name such as 'UTC' or 'Europe/Berlin'")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone '{value}' (an IANA name such as 'UTC' or 'Europe/Berlin')"
        ) from None
    return value


# ---------------------------------------------------------------- tables


@dataclass(frozen=True)
class LinePattern:
    """[[patterns]]: a user-supplied line format, a regex with named groups, and its meaning."""

    regex: str = key("", "regex with named groups (ts, level, model, status, ...)", required=True)
    role: str = key("info", "what a matching line is", choices=ROLES)
    name: str = key("", "a label for this pattern")
    duration_unit: str = key(
        "s", "unit of a bare number in the duration group", choices=("s", "ms", "us", "ns")
    )

    def problem(self) -> str | None:
        if not self.regex:
            return "'regex' must be a non-empty string"
        trouble = regex_problem(self.regex)
        if trouble:
            return trouble
        unknown = set(re.compile(self.regex).groupindex) - PATTERN_GROUPS
        if unknown:
            return (
                f"unknown named group(s) {sorted(unknown)}; "
                f"allowed: {', '.join(sorted(PATTERN_GROUPS))}"
            )
        return None


@dataclass(frozen=True)
class Tiers:
    """[tiers]: where the fast and slow tiers of models begin."""

    fast_below_s: float = key(7.0, "a model faster than this (seconds) is fast", low=0)
    slow_above_s: float = key(10.0, "a model slower than this (seconds) is slow", low=0)
    statistic: str = key("p50", "the latency figure compared", choices=TIER_STATISTICS)

    def problem(self) -> str | None:
        if not 0 < self.fast_below_s <= self.slow_above_s:
            return "needs 0 < fast_below_s <= slow_above_s"
        return None


@dataclass(frozen=True)
class Weights:
    """[scoring.weights]: weight of each score in the overall score (renormalised)."""

    performance: float = key(0.3, "weight of the performance score", low=0)
    reliability: float = key(0.4, "weight of the reliability score", low=0)
    efficiency: float = key(0.15, "weight of the efficiency score", low=0)
    scalability: float = key(0.15, "weight of the scalability score", low=0)

    def problem(self) -> str | None:
        if self.performance + self.reliability + self.efficiency + self.scalability <= 0:
            return "must not all be zero"
        return None


@dataclass(frozen=True)
class Rules:
    """[scoring.rules]: thresholds of the findings' rules."""

    error_rate_warning: float = key(0.05, "fraction of model requests failed: warning", low=0)
    error_rate_critical: float = key(0.25, "fraction of model requests failed: critical", low=0)
    error_burst_min: float = key(3, "failures inside one window that make a burst", low=0)
    error_burst_window_s: float = key(60.0, "window of an error burst (seconds)", low=0)
    health_success_critical: float = key(0.9, "below this health-check success: critical", low=0)
    cpu_saturation_fraction: float = key(0.9, "p95 CPU under load / CPU capacity", low=0)
    cpu_single_core_pct: float = key(90.0, "p95 CPU % at which one core is busy", low=0)
    memory_growth_bytes_per_min: float = key(1048576.0, "memory slope that is growth", low=0)
    memory_growth_min_span_s: float = key(300.0, "a slope over less time is noise", low=0)
    memory_limit_critical_h: float = key(24.0, "limit reached sooner at the slope: critical", low=0)
    latency_concurrency_ratio: float = key(1.5, "overlapped p50 / solo p50", low=0)
    latency_concurrency_min_n: float = key(3, "timed requests needed on each side", low=0)
    sequential_busy_fraction: float = key(0.4, "share of the busiest burst one request ran", low=0)
    sequential_min_requests: float = key(3, "requests in the busiest burst needed", low=0)
    slow_model_ratio: float = key(2.0, "a model's p50 / median p50 of the others", low=0)
    # Replica imbalance (analysis/replicas.py): judgement, not measured on unseen fleets, so keys.
    replica_slow_ratio: float = key(
        1.5, "a replica's p95 / the other replicas' pooled p95, model by model", low=0
    )
    replica_slow_min_n: float = key(10, "timed requests of a model needed on each side", low=0)
    replica_error_ratio: float = key(2.0, "a replica's failure rate / the others'", low=0)
    replica_error_min_failed: float = key(
        3, "failures a replica needs before it is compared", low=0
    )
    replica_starved_share: float = key(0.5, "below this share of an even spread: starved", low=0)
    replica_starved_min_per_replica: float = key(
        10, "requests per replica (on average) needed to judge the spread", low=0
    )


@dataclass(frozen=True)
class Scoring:
    """[scoring]: the rubric's curves ([[figure, score], ...]), constants, weights and rules."""

    performance_p50_s: Curve = key(
        ((5.0, 10.0), (30.0, 0.0)), "p50 latency (s) → score", parse=curve
    )
    performance_p95_s: Curve = key(
        ((10.0, 10.0), (60.0, 0.0)), "p95 latency (s) → score", parse=curve
    )
    reliability_success: Curve = key(
        ((0.80, 0.0), (0.95, 5.0), (0.99, 8.0), (1.0, 10.0)),
        "model request success rate → score",
        parse=curve,
    )
    reliability_health: Curve = key(
        ((0.90, 0.0), (0.99, 8.0), (1.0, 10.0)), "health-check success rate → score", parse=curve
    )
    efficiency_cpu_pct: Curve = key(
        ((50.0, 10.0), (95.0, 0.0)), "p95 CPU under load, % of capacity → score", parse=curve
    )
    efficiency_mem_pct: Curve = key(
        ((50.0, 10.0), (90.0, 0.0)), "peak memory, % of limit → score", parse=curve
    )
    scalability_latency_ratio: Curve = key(
        ((1.2, 10.0), (3.0, 0.0)), "p50 overlapped / alone → score", parse=curve
    )
    health_weight: float = key(0.2, "share of reliability from health checks", low=0, high=1)
    restart_penalty: float = key(2.0, "points off reliability per restart, exit or OOM kill", low=0)
    min_overlapped: float = key(3, "timed overlapped requests needed for scalability", low=0)
    weights: Weights = table(Weights, "weight of each score in the overall score")
    rules: Rules = table(Rules, "thresholds of the findings' rules")


@dataclass(frozen=True)
class ReferenceLatency:
    """[references.NAME]: a latency measured elsewhere, shown as a reference, never as ours."""

    latency_s: tuple[float, float] = key(
        (0.0, 0.0), "seconds, or [low, high]", parse=latency_range, required=True
    )
    source: str | None = key(None, "where the figure is from")


@dataclass(frozen=True)
class CompareThresholds:
    """[gates.compare]: when a change between two summaries is more than noise (ci.compare)."""

    latency_rel: float = key(0.15, "relative latency change that counts", low=0)
    latency_abs_s: float = key(0.2, "absolute latency change that counts (seconds)", low=0)
    min_samples: int = key(5, "latency samples needed on each side", low=0)
    rate_abs: float = key(0.05, "rate change that counts (fraction)", low=0)
    z_critical: float = key(1.96, "|z| of the two-proportion test that counts", low=0)
    resource_rel: float = key(0.20, "relative resource change that counts", low=0)
    cpu_abs_pct: float = key(5.0, "CPU change that counts (percentage points)", low=0)
    mem_abs_bytes: float = key(32 * 1024 * 1024, "memory change that counts (bytes)", low=0)


@dataclass(frozen=True)
class GateLimits:
    """[gates]: CI quality gates (command-line options win); absent means that gate is off."""

    fail_under: float | None = key(
        None, "overall score out of 10 below which CI fails", low=0, high=10
    )
    max_error_rate: float | None = key(
        None, "percent of model requests failed above which CI fails", parse=percent
    )
    min_health: float | None = key(
        None, "percent of health checks passed below which CI fails", parse=percent
    )
    max_p95: Mapping[str, float] = key(
        {}, "model = p95 latency limit (8s, 750ms)", parse=duration_s
    )
    max_ttft_p95: Mapping[str, float] = key(
        {}, "model asked = client p95 time-to-first-token limit (2s)", parse=duration_s
    )
    min_goodput: float | None = key(
        None, "percent of client requests meeting every [slo] below which CI fails", parse=percent
    )
    max_replica_p95: float | None = key(
        None, "p95 latency limit of the slowest replica (8s)", parse=duration_s
    )
    compare: CompareThresholds = table(CompareThresholds, "thresholds of `claude-perf compare`")


@dataclass(frozen=True)
class Slo:
    """[slo]: client-side objectives; a request is *good* when it succeeded and meets every one
    given (goodput, as in AIPerf's --goodput and vLLM's benchmark_serving). Absent: not asked."""

    ttft_s: float | None = key(None, "time to first token at most (2s, 750ms)", parse=duration_s)
    latency_s: float | None = key(None, "end-to-end latency at most (10s)", parse=duration_s)
    itl_s: float | None = key(None, "mean inter-token latency at most (50ms)", parse=duration_s)
    output_tokens_per_s: float | None = key(
        None, "output tokens per second of the request at least", low=0
    )

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.ttft_s, self.latency_s, self.itl_s)) or (
            self.output_tokens_per_s is not None
        )


@dataclass(frozen=True)
class Collect:
    """[collect]: what `claude-perf collect` targets when no container is named."""

    pattern: str = key("claude|proxy|api", "regex matching the default container's name or image")

    def problem(self) -> str | None:
        return None if self.pattern else "needs a non-empty pattern (a regex)"


@dataclass(frozen=True)
class Limits:
    """[limits]: caps on what one input may make the tool hold in memory (see README, Security)."""

    # Defaults fit a 2-core, 2 GB machine: the analysis of a 126 MB log peaks at ~480 MB (README,
    # Performance), so 256 MiB of input stays near 1 GB.
    max_input_bytes: int = key(
        256 * 1024**2,
        "bytes one input (or a bundle) may unpack to; beyond it the input is refused (exit 2)",
        low=1,
    )
    max_line_bytes: int = key(
        1024**2,
        "bytes kept of one log line; the rest of a longer line is cut, counted, noted",
        low=1,
    )
    max_bundle_members: int = key(10_000, "files a session bundle may hold", low=1)


@dataclass(frozen=True)
class Config:
    """Everything the pipeline needs to know besides its inputs (the top level of the file)."""

    model_paths: tuple[str, ...] = key(
        DEFAULT_MODEL_PATHS,
        "request paths that are model calls (also behind a path prefix; * is one segment's text)",
    )
    health_paths: tuple[str, ...] = key(
        DEFAULT_HEALTH_PATHS, "request paths that are health checks"
    )
    # Application timestamps (Python's asctime) carry no zone; the container's TZ is usually UTC.
    app_timezone: str = key(
        "UTC", "zone of application timestamps that carry none", parse=time_zone
    )
    # A start record older than this is never paired with a completion (a lost request).
    max_latency_s: float = key(900.0, "a start older than this is never paired", low=0)
    # Requests separated by more than this idle gap belong to different bursts.
    burst_gap_s: float = key(60.0, "idle gap that separates bursts (seconds)", low=0)
    aliases: Mapping[str, str] = key(DEFAULT_ALIASES, "model name as logged → family", merge=True)
    patterns: tuple[LinePattern, ...] = key((), "your proxy's own line formats")
    dialects: tuple[Dialect, ...] = key(
        (), "your proxies' log dialects ([[dialects]]), tried before the built-in ones"
    )
    tiers: Tiers = table(Tiers, "performance tiers")
    scoring: Scoring = table(Scoring, "rubric points, weights and rule thresholds")
    references: Mapping[str, ReferenceLatency] = key({}, "latencies measured elsewhere, by name")
    gates: GateLimits = table(GateLimits, "CI quality gates")
    slo: Slo = table(Slo, "client-side objectives for goodput (report --slo)")
    collect: Collect = table(Collect, "the collector's default target")
    limits: Limits = table(Limits, "caps on input sizes (decompressed bytes, line length)")
    # Not keys of the file: where it was read from, and where each value came from.
    source: str | None = field(default=None, metadata={"internal": True})
    origins: Mapping[tuple[str, ...], str] = field(
        default_factory=lambda: MappingProxyType({}), metadata={"internal": True}, compare=False
    )

"""Quality gates: parse limits from the command line and ``[gates]``, check them against a summary.

Three steps, so that the report is always written and a bad gate never waits for a long run:

1. ``parse_gates`` (before anything runs): the command-line values' syntax and ranges (a malformed
   value is a UsageError) over the ``[gates]`` limits, which config.schema.GateLimits validated.
2. ``check_models`` (right after analysis, before anything is written): every model named by
   ``--max-p95`` must be in the data; otherwise a UsageError that lists the known models. Model
   names come from the logs, so this cannot be known earlier.
3. ``evaluate`` then ``failure_of`` (after the report is written): each gate against the summary; a
   gate whose figure the data cannot give (no health checks, no requests, no score) fails, because
   a CI gate that passes on missing data guards nothing.

Config file form (command-line values win; ``--max-p95`` adds to or overrides per model)::

    [gates]
    fail_under = 7.0            # overall score out of 10
    max_error_rate = 5          # percent of model requests that failed
    min_health = 99             # percent of health checks that succeeded
    min_goodput = 95            # percent of client requests meeting every [slo] / --slo
    [gates.max_p95]
    sonnet = "8s"
    haiku = "750ms"
    [gates.max_ttft_p95]        # client records: p95 time to first token per model asked
    sonnet = "2s"
    [gates.compare]             # thresholds of `claude-perf compare` (see compare.Thresholds)
    latency_rel = 0.15
    min_samples = 5
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from claude_perf.config.schema import GateLimits, duration_s
from claude_perf.errors import GateFailure, UsageError


@dataclass(frozen=True)
class Gates:
    """The limits asked for; None (or no entry) means that gate is off."""

    fail_under: float | None = None  # overall score out of 10
    max_p95_s: tuple[tuple[str, float], ...] = ()  # (model, seconds), in the order given
    max_error_rate_pct: float | None = None
    min_health_pct: float | None = None
    max_ttft_p95_s: tuple[tuple[str, float], ...] = ()  # (model asked, seconds): client records
    min_goodput_pct: float | None = None  # client requests meeting every SLO
    max_replica_p95_s: float | None = None  # the slowest replica's p95

    @property
    def active(self) -> bool:
        return bool(
            self.fail_under is not None
            or self.max_replica_p95_s is not None
            or self.max_p95_s
            or self.max_error_rate_pct is not None
            or self.min_health_pct is not None
            or self.max_ttft_p95_s
            or self.min_goodput_pct is not None
        )


@dataclass(frozen=True)
class GateResult:
    """One gate checked: its figure (None when the data cannot give it) against its limit."""

    gate: str  # e.g. "max-p95 sonnet"
    figure: float | None
    limit: float
    passed: bool
    text: str  # one phrase naming the figure, e.g. "p95 latency of sonnet 9.12 s > 8 s"


def parse_duration_s(text: str, where: str = "duration") -> float:
    """``8s``, ``750ms``, ``1.5`` (seconds), ``2m`` → seconds; a UsageError otherwise.

    The units are those of ``--since`` and ``--interval`` (durations.py); a gate also takes a bare
    number as seconds, which a time option cannot (there it would read as an epoch time). The
    parser is the config's (config.schema.duration_s), so ``[gates.max_p95]`` reads the same.
    """
    try:
        return duration_s(text)
    except ValueError as exc:
        raise UsageError(f"{where}: {exc}") from None


def _number(value: Any, where: str, low: float, high: float, unit: str = "") -> float:
    text = str(value).strip()
    if unit == "%" and text.endswith("%"):
        text = text[:-1].strip()
    try:
        number = float(text)
    except ValueError:
        raise UsageError(f"{where}: '{value}' is not a number") from None
    if isinstance(value, bool) or not math.isfinite(number) or not low <= number <= high:
        raise UsageError(f"{where}: '{value}' must be between {low:g} and {high:g}{unit}")
    return number


def _p95_pair(item: str, where: str) -> tuple[str, float]:
    model, sep, duration = item.partition("=")
    if not sep or not model.strip() or not duration.strip():
        raise UsageError(f"{where}: '{item}' must be MODEL=DURATION (e.g. sonnet=8s)")
    return model.strip(), parse_duration_s(duration, f"{where} {model.strip()}")


def parse_gates(
    limits: GateLimits | None = None,
    *,
    fail_under: str | float | None = None,
    max_p95: Sequence[str] = (),
    max_error_rate: str | float | None = None,
    min_health: str | float | None = None,
    max_ttft_p95: Sequence[str] = (),
    min_goodput: str | float | None = None,
    max_replica_p95: str | None = None,
) -> Gates:
    """The config's ``[gates]`` limits (already validated) under the command-line values (which
    win; ``--max-p95`` adds to or overrides per model)."""
    limits = limits or GateLimits()
    p95 = dict(limits.max_p95)
    for item in max_p95:
        model, seconds = _p95_pair(item, "--max-p95")
        p95[model] = seconds
    ttft = dict(limits.max_ttft_p95)
    for item in max_ttft_p95:
        model, seconds = _p95_pair(item, "--max-ttft-p95")
        ttft[model] = seconds

    def pick(cli: Any, configured: float | None, option: str, high: float, unit: str) -> Any:
        return configured if cli is None else _number(cli, option, 0, high, unit)

    return Gates(
        fail_under=pick(fail_under, limits.fail_under, "--fail-under", 10, ""),
        max_p95_s=tuple(p95.items()),
        max_error_rate_pct=pick(
            max_error_rate, limits.max_error_rate, "--max-error-rate", 100, "%"
        ),
        min_health_pct=pick(min_health, limits.min_health, "--min-health", 100, "%"),
        max_ttft_p95_s=tuple(ttft.items()),
        min_goodput_pct=pick(min_goodput, limits.min_goodput, "--min-goodput", 100, "%"),
        max_replica_p95_s=(
            limits.max_replica_p95
            if max_replica_p95 is None
            else parse_duration_s(max_replica_p95, "--max-replica-p95")
        ),
    )


def known_models(summary: Mapping[str, Any]) -> list[str]:
    """Model names in the summary, in its order (requests without a model are not nameable)."""
    return [m["model"] for m in summary.get("models", []) if m.get("model")]


def _entries_for(summary: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    """The summary's entries for a gate's model: its exact name, else its family name."""
    models = summary.get("models", [])
    exact = [m for m in models if m.get("model") == name]
    if exact:
        return exact
    folded = name.casefold()
    return [m for m in models if (m.get("family") or "").casefold() == folded]


def client_models(summary: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The summary's client models (``client.models``), empty without client records."""
    return list((summary.get("client") or {}).get("models") or [])


def check_models(gates: Gates, summary: Mapping[str, Any]) -> None:
    """Every ``--max-p95`` model must be in the data, every ``--max-ttft-p95`` model among the
    models the clients asked: a UsageError listing the known ones."""
    asked = [m.get("model") for m in client_models(summary)]
    missing_ttft = [model for model, _ in gates.max_ttft_p95_s if model not in asked]
    if missing_ttft:
        listed = ", ".join(str(m) for m in asked if m) or (
            "none: no client records (give --client FILE or use claude-perf load)"
        )
        raise UsageError(
            f"--max-ttft-p95: model {', '.join(repr(m) for m in missing_ttft)} was not asked "
            f"by any client (models asked: {listed})"
        )
    missing = [model for model, _ in gates.max_p95_s if not _entries_for(summary, model)]
    if missing:
        known = known_models(summary)
        listed = ", ".join(known) if known else "none: the data has no model requests"
        raise UsageError(
            f"--max-p95: model {', '.join(repr(m) for m in missing)} is not in the data "
            f"(known models: {listed})"
        )


def overall_score(summary: Mapping[str, Any]) -> float | None:
    """The overall score out of 10, whether ``scores.overall`` is a number or a table."""
    overall = (summary.get("scores") or {}).get("overall")
    if isinstance(overall, Mapping):
        overall = overall.get("score", overall.get("value"))
    if isinstance(overall, int | float) and not isinstance(overall, bool):
        return float(overall)
    return None


def _fmt(value: float) -> str:
    return f"{value:.3g}" if value < 10 else f"{value:.1f}"


def _pct(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") + "%"


def evaluate(gates: Gates, summary: Mapping[str, Any]) -> tuple[GateResult, ...]:
    """Check each active gate against the summary, in a fixed order."""
    results: list[GateResult] = []
    if gates.fail_under is not None:
        score = overall_score(summary)
        limit = gates.fail_under
        if score is None:
            results.append(GateResult("fail-under", None, limit, False, "no overall score"))
        else:
            ok = score >= limit
            op = ">=" if ok else "<"
            results.append(
                GateResult("fail-under", score, limit, ok, f"score {score:g}/10 {op} {limit:g}")
            )
    for model, limit_s in gates.max_p95_s:
        for entry in _entries_for(summary, model) or [{"model": model}]:
            name = entry.get("model") or model
            results.append(
                _p95_at_most(
                    f"max-p95 {name}",
                    f"p95 latency of {name}",
                    entry.get("latency_s") or {},
                    limit_s,
                    "no succeeded request with a known latency",
                )
            )
    if gates.max_replica_p95_s is not None:
        results.append(_replica_p95(gates.max_replica_p95_s, summary))
    if gates.max_error_rate_pct is not None:
        req = summary.get("requests") or {}
        total, failed = int(req.get("total") or 0), int(req.get("failed") or 0)
        limit = gates.max_error_rate_pct
        if total == 0:
            results.append(GateResult("max-error-rate", None, limit, False, "no model requests"))
        else:
            rate = 100.0 * failed / total
            ok = rate <= limit
            op = "<=" if ok else ">"
            text = f"error rate {_pct(rate)} ({failed}/{total}) {op} {_pct(limit)}"
            results.append(GateResult("max-error-rate", rate, limit, ok, text))
    if gates.min_health_pct is not None:
        health = summary.get("health") or {}
        checks = int(health.get("checks") or 0)
        limit = gates.min_health_pct
        if checks == 0:
            results.append(GateResult("min-health", None, limit, False, "no health checks"))
        else:
            ok_checks = checks - int(health.get("failed") or 0)
            rate = 100.0 * ok_checks / checks
            ok = rate >= limit
            op = ">=" if ok else "<"
            text = f"health {_pct(rate)} ({ok_checks}/{checks}) {op} {_pct(limit)}"
            results.append(GateResult("min-health", rate, limit, ok, text))
    results += _client_results(gates, summary)
    return tuple(results)


def _client_results(gates: Gates, summary: Mapping[str, Any]) -> list[GateResult]:
    """``--max-ttft-p95`` and ``--min-goodput`` against the summary's ``client`` key."""
    results = []
    by_model = {m.get("model"): m for m in client_models(summary)}
    for model, limit_s in gates.max_ttft_p95_s:
        ttft = (by_model.get(model) or {}).get("ttft_s") or {}
        results.append(
            _p95_at_most(
                f"max-ttft-p95 {model}",
                f"p95 TTFT of {model}",
                ttft,
                limit_s,
                "no succeeded streamed request from a client",
            )
        )
    if gates.min_goodput_pct is not None:
        limit = gates.min_goodput_pct
        goodput = (summary.get("client") or {}).get("goodput")
        if not goodput:
            why = "no client records" if not summary.get("client") else "no --slo given"
            results.append(GateResult("min-goodput", None, limit, False, why))
        else:
            rate = 100.0 * float(goodput["share"])
            ok = rate >= limit
            op = ">=" if ok else "<"
            text = f"goodput {_pct(rate)} ({goodput['good']} good) {op} {_pct(limit)}"
            results.append(GateResult("min-goodput", rate, limit, ok, text))
    return results


def _replica_p95(limit_s: float, summary: Mapping[str, Any]) -> GateResult:
    """The slowest replica's p95 against the limit (a single source is the one replica)."""
    gate = "max-replica-p95"
    replicas = summary.get("replicas") or [
        {"container": "the only source", "latency_s": summary.get("latency_s")}
    ]
    timed = [
        (float(r["latency_s"]["p95"]), r)
        for r in replicas
        if (r.get("latency_s") or {}).get("p95") is not None
    ]
    if not timed:
        return GateResult(gate, None, limit_s, False, "no replica has a timed request")
    _, slowest = max(timed, key=lambda pair: pair[0])
    label = f"slowest replica {slowest.get('container') or '?'}: p95"
    return _p95_at_most(gate, label, slowest["latency_s"], limit_s)


def _p95_at_most(
    gate: str, label: str, stats: Mapping[str, Any], limit_s: float, unknown: str = ""
) -> GateResult:
    """``stats``' p95 against an upper limit: "LABEL 9.55 s > 5 s (n=10)"; a failure saying
    "LABEL unknown (UNKNOWN)" when there is none."""
    if stats.get("p95") is None:
        return GateResult(gate, None, limit_s, False, f"{label} unknown ({unknown})")
    p95 = float(stats["p95"])
    ok = p95 <= limit_s
    op = "<=" if ok else ">"
    n = f" (n={stats['n']})" if stats.get("n") is not None else ""
    return GateResult(gate, p95, limit_s, ok, f"{label} {_fmt(p95)} s {op} {_fmt(limit_s)} s{n}")


def failure_of(results: Sequence[GateResult]) -> GateFailure | None:
    """One GateFailure naming every failed gate and its figure, or None when all passed."""
    failed = [r for r in results if not r.passed]
    if not failed:
        return None
    noun = "gate" if len(failed) == 1 else "gates"
    details = "; ".join(f"{r.gate}: {r.text}" for r in failed)
    return GateFailure(f"{len(failed)} quality {noun} failed: {details}")


def results_dict(results: Sequence[GateResult]) -> list[dict[str, Any]]:
    """The gate results as JSON-ready data (for the summary's ``gates`` key)."""
    return [
        {"gate": r.gate, "figure": r.figure, "limit": r.limit, "passed": r.passed, "text": r.text}
        for r in results
    ]

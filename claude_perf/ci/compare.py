"""Baseline vs current: two JSON summaries → per-figure deltas: regression, improvement or noise.

The summaries hold percentiles and counts, not the raw latency samples, so no rank test
(Mann-Whitney, bootstrap of medians) is possible here. The verdicts are instead n-aware thresholds:

- Latency (per model p50 and p95): a change counts only when it is at least ``latency_rel`` of
  the baseline (15 %) AND at least ``latency_abs_s`` (0.2 s) AND both sides have at least
  ``min_samples`` (5) latency samples. With fewer samples it is always noise, whatever its size:
  a p95 of three requests is the slowest of three and says little.
- Rates (per model success rate, overall error rate, health-check success): a change counts when it
  is at least ``rate_abs`` (5 percentage points) AND a two-proportion z-test on the counts gives
  ``|z| >= z_critical`` (1.96, about 95 % two-sided). Few requests give a small z, so a 1-in-3
  failure does not make a regression on its own.
- Resources (when both summaries have a ``resources`` section with at least ``min_samples``
  samples): mean and p95 CPU % and peak memory, by ``resource_rel`` (20 %) and an absolute floor
  (``cpu_abs_pct`` 5 points, ``mem_abs_bytes`` 32 MiB).

- Client view (when both summaries have ``client`` records), per model asked: TTFT p50 and p95
  by the latency rules (the same ``latency_rel``, ``latency_abs_s`` and ``min_samples``), and
  the per-request output-token rate p50 by ``latency_rel`` with ``min_samples`` (lower is worse).
- Server-side token rate (per model, from the logs' usage figures: ``models[].
  output_tokens_per_s.per_request``): its p50 by the same rule as the client's token rate. When
  one side's logs carry no usage (null or absent) the model's rate is not compared, and a note
  says so; no verdict is made from one side.

Models present on one side only are listed as added or removed, never as a regression.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from claude_perf.ci.delta import (
    IMPROVEMENT,
    NOISE,
    REGRESSION,
    Delta,
    Thresholds,
    change_of,
    latency_delta,
    pct_text,
    token_rate_delta,
)
from claude_perf.errors import InputError
from claude_perf.ingest.bounded import read_side_file
from claude_perf.report.summary import SCHEMA as SUMMARY_SCHEMA

SCHEMA = "claude-perf/comparison/1"


@dataclass(frozen=True)
class Comparison:
    """Everything compared, plus models that appear on one side only."""

    baseline_path: str
    current_path: str
    baseline_window: Mapping[str, Any]
    current_window: Mapping[str, Any]
    thresholds: Thresholds
    deltas: tuple[Delta, ...]
    added_models: tuple[str, ...] = ()
    removed_models: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def regressions(self) -> tuple[Delta, ...]:
        return tuple(d for d in self.deltas if d.verdict == REGRESSION)

    @property
    def improvements(self) -> tuple[Delta, ...]:
        return tuple(d for d in self.deltas if d.verdict == IMPROVEMENT)


def thresholds_from(raw: Mapping[str, Any] | None) -> Thresholds:
    """Thresholds from a table shaped like ``[gates.compare]`` (unknown keys and bad values are
    ConfigErrors, exit 2)."""
    from claude_perf.config.load import read_table

    return Thresholds() if not raw else read_table(Thresholds, raw, ("gates", "compare"))


def load_summary(path: Path) -> dict[str, Any]:
    """A summary written by ``report --format json``; one clear line (exit 2) when it is not."""
    try:
        text = read_side_file(path, "summary").decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a JSON summary (not UTF-8 text)") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: not a JSON summary (invalid JSON at line {exc.lineno})"
        ) from None
    schema = data.get("schema") if isinstance(data, dict) else None
    if schema != SUMMARY_SCHEMA:
        found = f"schema '{schema}'" if schema else "no schema"
        raise InputError(
            f"{path}: not a claude-perf summary ({found}; expected '{SUMMARY_SCHEMA}', "
            "as written by claude-perf report --format json)"
        )
    if not isinstance(data.get("models"), list) or not isinstance(data.get("requests"), dict):
        raise InputError(f"{path}: summary is missing its 'models' or 'requests' section")
    _check_models(path, data["models"])
    return data


# A model entry's parts that compare reads as objects (null where the logs tell nothing).
_MODEL_SECTIONS = ("latency_s", "output_tokens_per_s")
_STATS_KEYS = ("n", "p50", "p95")


def _check_models(path: Path, models: list[Any]) -> None:
    """Each model entry, and the parts of it that compare reads, of the right kind: an edited
    or foreign summary gets one line naming what is wrong, not an internal error."""
    for i, entry in enumerate(models):
        if not isinstance(entry, dict):
            raise InputError(f"{path}: models[{i}] is not an object")
        for key in _MODEL_SECTIONS:
            part = entry.get(key)
            if part is not None and not isinstance(part, dict):
                raise InputError(f"{path}: models[{i}].{key} is not an object or null")
        stats = entry.get("latency_s")
        missing = [k for k in _STATS_KEYS if stats is not None and k not in stats]
        if missing:
            raise InputError(f"{path}: models[{i}].latency_s has no {', '.join(missing)}")


def two_proportion_z(k1: int, n1: int, k2: int, n2: int) -> float:
    """z of the difference k2/n2 − k1/n1 with the pooled proportion (0 when it is undefined)."""
    if n1 == 0 or n2 == 0:
        return 0.0
    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0
    return (k2 / n2 - k1 / n1) / se


def _rate(
    metric: str,
    scope: str,
    counts_b: tuple[int, int],
    counts_c: tuple[int, int],
    t: Thresholds,
    higher_is_better: bool,
) -> Delta | None:
    (k_b, n_b), (k_c, n_c) = counts_b, counts_c
    if n_b == 0 and n_c == 0:
        return None
    b = k_b / n_b if n_b else None
    c = k_c / n_c if n_c else None
    change, rel = change_of(b, c)
    if change is None:
        return Delta(
            metric, scope, b, c, None, None, NOISE, "no data on one side", higher_is_better
        )
    z = two_proportion_z(k_b, n_b, k_c, n_c)
    basis = f"{k_b}/{n_b} vs {k_c}/{n_c}, z={z:+.2f}"
    if abs(change) >= t.rate_abs and abs(z) >= t.z_critical:
        worse = change < 0 if higher_is_better else change > 0
        verdict = REGRESSION if worse else IMPROVEMENT
        reason = f"{change * 100:+.1f} points ({basis})"
    elif abs(change) >= t.rate_abs:
        verdict = NOISE
        reason = f"{change * 100:+.1f} points but not significant with these counts ({basis})"
    else:
        verdict = NOISE
        reason = f"{change * 100:+.1f} points, within ±{t.rate_abs * 100:g} ({basis})"
    return Delta(metric, scope, b, c, change, rel, verdict, reason, higher_is_better)


def _resource(
    metric: str, base: Any, cur: Any, n_b: int, n_c: int, abs_floor: float, t: Thresholds
) -> Delta | None:
    if base is None and cur is None:
        return None
    change, rel = change_of(base, cur)
    if change is None:
        return Delta(metric, "resources", base, cur, None, None, NOISE, "known on one side only")
    if min(n_b, n_c) < t.min_samples:
        reason = f"too few resource samples ({n_b} vs {n_c}, need {t.min_samples})"
        return Delta(metric, "resources", base, cur, change, rel, NOISE, reason)
    big_rel = rel is None or abs(rel) >= t.resource_rel
    if abs(change) >= abs_floor and big_rel:
        verdict = REGRESSION if change > 0 else IMPROVEMENT
        reason = f"{pct_text(rel)}, beyond ±{t.resource_rel:.0%} and the absolute floor"
    else:
        verdict = NOISE
        reason = f"{pct_text(rel)}, within ±{t.resource_rel:.0%} or the absolute floor"
    return Delta(metric, "resources", base, cur, change, rel, verdict, reason)


def _resources(b_res: Any, c_res: Any, t: Thresholds, notes: list[str]) -> list[Delta]:
    """Mean and p95 CPU % and peak memory, when both summaries have a resources section."""
    if not (isinstance(b_res, Mapping) and isinstance(c_res, Mapping)):
        if b_res is not None or c_res is not None:
            notes.append("resource figures are on one side only: not compared")
        else:
            notes.append("neither summary has resource samples: resources not compared")
        return []
    n_b, n_c = int(b_res.get("samples") or 0), int(c_res.get("samples") or 0)
    b_cpu, c_cpu = b_res.get("cpu_pct") or {}, c_res.get("cpu_pct") or {}
    b_mem, c_mem = b_res.get("mem_bytes") or {}, c_res.get("mem_bytes") or {}
    made = (
        _resource("cpu_pct_mean", b_cpu.get("mean"), c_cpu.get("mean"), n_b, n_c, t.cpu_abs_pct, t),
        _resource("cpu_pct_p95", b_cpu.get("p95"), c_cpu.get("p95"), n_b, n_c, t.cpu_abs_pct, t),
        _resource(
            "mem_bytes_max", b_mem.get("max"), c_mem.get("max"), n_b, n_c, t.mem_abs_bytes, t
        ),
    )
    return [d for d in made if d]


def _counts(section: Mapping[str, Any], ok_key: str, total_key: str) -> tuple[int, int]:
    return int(section.get(ok_key) or 0), int(section.get(total_key) or 0)


def _server_token_rates(
    pairs: list[tuple[str, Mapping[str, Any], Mapping[str, Any]]], t: Thresholds, notes: list[str]
) -> list[Delta]:
    """Per model on both sides: the server-side per-request output-token rate p50, when both
    sides' logs carry usage; a note for each model known on one side, one when on neither."""
    deltas: list[Delta] = []
    known = 0
    for name, b, c in pairs:
        b_rate = (b.get("output_tokens_per_s") or {}).get("per_request")
        c_rate = (c.get("output_tokens_per_s") or {}).get("per_request")
        if b_rate is None and c_rate is None:
            continue
        known += 1
        if b_rate is None or c_rate is None:
            side = "current" if b_rate is None else "baseline"
            notes.append(
                f"server-side output tokens/s of {name}: only the {side} logs carry usage "
                "figures: not compared"
            )
            continue
        delta = token_rate_delta(name, b_rate, c_rate, t)
        if delta:
            deltas.append(delta)
    if pairs and not known:
        notes.append(
            "neither summary has server-side token figures (the logs carry no usage): "
            "server-side token rates not compared"
        )
    return deltas


def compare(
    baseline: Mapping[str, Any],
    current: Mapping[str, Any],
    thresholds: Thresholds | None = None,
    baseline_path: str = "baseline",
    current_path: str = "current",
) -> Comparison:
    """Compare two summaries figure by figure."""
    t = thresholds or Thresholds()
    deltas: list[Delta] = []
    b_models = {m["model"]: m for m in baseline.get("models", []) if m.get("model")}
    c_models = {m["model"]: m for m in current.get("models", []) if m.get("model")}
    for name in [n for n in b_models if n in c_models]:
        b, c = b_models[name], c_models[name]
        for metric in ("p50_latency_s", "p95_latency_s"):
            delta = latency_delta(metric, name, b.get("latency_s"), c.get("latency_s"), t)
            if delta:
                deltas.append(delta)
        rate = _rate(
            "success_rate",
            name,
            _counts(b, "succeeded", "requests"),
            _counts(c, "succeeded", "requests"),
            t,
            higher_is_better=True,
        )
        if rate:
            deltas.append(rate)
    b_req, c_req = baseline.get("requests") or {}, current.get("requests") or {}
    error = _rate(
        "error_rate",
        "overall",
        _counts(b_req, "failed", "total"),
        _counts(c_req, "failed", "total"),
        t,
        higher_is_better=False,
    )
    if error:
        deltas.append(error)
    b_h, c_h = baseline.get("health") or {}, current.get("health") or {}
    b_ok = (int(b_h.get("checks") or 0) - int(b_h.get("failed") or 0), int(b_h.get("checks") or 0))
    c_ok = (int(c_h.get("checks") or 0) - int(c_h.get("failed") or 0), int(c_h.get("checks") or 0))
    health = _rate("health_rate", "overall", b_ok, c_ok, t, higher_is_better=True)
    if health:
        deltas.append(health)
    notes: list[str] = []
    from claude_perf.ci.client_compare import client_deltas

    pairs = [(n, b_models[n], c_models[n]) for n in b_models if n in c_models]
    deltas += _server_token_rates(pairs, t, notes)
    deltas += client_deltas(baseline, current, t, notes)
    deltas += _resources(baseline.get("resources"), current.get("resources"), t, notes)
    notes.append(
        "the summaries hold percentiles, not raw samples: verdicts use n-aware thresholds "
        "and a two-proportion z-test on counts, not a rank test"
    )
    return Comparison(
        baseline_path=baseline_path,
        current_path=current_path,
        baseline_window=dict(baseline.get("window") or {}),
        current_window=dict(current.get("window") or {}),
        thresholds=t,
        deltas=tuple(deltas),
        added_models=tuple(n for n in c_models if n not in b_models),
        removed_models=tuple(n for n in b_models if n not in c_models),
        notes=tuple(notes),
    )


def to_dict(comparison: Comparison) -> dict[str, Any]:
    """The comparison as JSON-ready data (schema ``claude-perf/comparison/1``)."""
    return {
        "schema": SCHEMA,
        "baseline": {"path": comparison.baseline_path, "window": dict(comparison.baseline_window)},
        "current": {"path": comparison.current_path, "window": dict(comparison.current_window)},
        "verdict": REGRESSION if comparison.regressions else "ok",
        "regressions": len(comparison.regressions),
        "improvements": len(comparison.improvements),
        "thresholds": asdict(comparison.thresholds),
        "deltas": [asdict(d) for d in comparison.deltas],
        "added_models": list(comparison.added_models),
        "removed_models": list(comparison.removed_models),
        "notes": list(comparison.notes),
    }


def dumps(comparison: Comparison) -> str:
    return json.dumps(to_dict(comparison), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def md_cell(text: str) -> str:
    """Escape text copied from logs (model names) so it cannot break a table or add markup."""
    from claude_perf.report.redact import escape_markdown

    return escape_markdown(text, None)


def _value(metric: str, value: float | None) -> str:
    if value is None:
        return "–"
    if metric.endswith(("latency_s", "ttft_s")):
        return f"{value:.3f} s"
    if metric.endswith("tokens_per_s"):
        return f"{value:.1f} tok/s"
    if metric.endswith("_rate"):
        return f"{value * 100:.1f}%"
    if metric.startswith("mem_bytes"):
        return f"{value / (1024 * 1024):.1f} MiB"
    if metric.startswith("cpu_pct"):
        return f"{value:.1f}%"
    return f"{value:g}"


def _change(d: Delta) -> str:
    if d.change is None:
        return "–"
    if d.metric.endswith(("latency_s", "ttft_s")):
        text = f"{d.change:+.3f} s"
    elif d.metric.endswith("tokens_per_s"):
        text = f"{d.change:+.1f} tok/s"
    elif d.metric.endswith("_rate"):
        return f"{d.change * 100:+.1f} pts"
    elif d.metric.startswith("mem_bytes"):
        text = f"{d.change / (1024 * 1024):+.1f} MiB"
    else:
        text = f"{d.change:+.1f} pts"
    return text if d.change_rel is None else f"{text} ({d.change_rel:+.0%})"


_MARK = {REGRESSION: "🔴 regression", IMPROVEMENT: "🟢 improvement", NOISE: "⚪ noise"}


def to_markdown(comparison: Comparison) -> str:
    """A Markdown comparison: verdict first, then one table row per figure."""
    from claude_perf.report.redact import escape_code_span

    c = comparison
    n_reg, n_imp = len(c.regressions), len(c.improvements)
    headline = (
        f"**{n_reg} regression{'s' if n_reg != 1 else ''}**" if n_reg else "**No regression**"
    )
    lines = [
        "# claude-perf comparison",
        "",
        f"{headline}, {n_imp} improvement{'s' if n_imp != 1 else ''}, "
        f"{len(c.deltas) - n_reg - n_imp} within noise.",
        "",
        f"- Baseline: {escape_code_span(c.baseline_path, None, in_table=False)} "
        f"({c.baseline_window.get('start') or '?'} – {c.baseline_window.get('end') or '?'})",
        f"- Current: {escape_code_span(c.current_path, None, in_table=False)} "
        f"({c.current_window.get('start') or '?'} – {c.current_window.get('end') or '?'})",
        "",
        "| Scope | Figure | Baseline | Current | Change | Verdict | Why |",
        "| --- | --- | ---: | ---: | ---: | --- | --- |",
    ]
    order = {REGRESSION: 0, IMPROVEMENT: 1, NOISE: 2}
    for d in sorted(c.deltas, key=lambda d: order[d.verdict]):
        lines.append(
            f"| {md_cell(d.scope)} | {d.metric} | {_value(d.metric, d.baseline)} | "
            f"{_value(d.metric, d.current)} | {_change(d)} | {_MARK[d.verdict]} | "
            f"{md_cell(d.reason)} |"
        )
    if c.added_models:
        lines += [
            "",
            "Models only in the current run: " + ", ".join(md_cell(m) for m in c.added_models),
        ]
    if c.removed_models:
        lines += [
            "",
            "Models only in the baseline: " + ", ".join(md_cell(m) for m in c.removed_models),
        ]
    t = c.thresholds
    lines += [
        "",
        "## How verdicts are decided",
        "",
        f"- Latency: at least {t.latency_rel:.0%} and {t.latency_abs_s:g} s, with at least "
        f"{t.min_samples} samples on each side (fewer is always noise).",
        f"- Rates: at least {t.rate_abs * 100:g} points and a two-proportion z-test with "
        f"|z| ≥ {t.z_critical:g}.",
        "- Output tokens/s (p50 per request; server side from the logs' usage, and client "
        f"side): at least {t.latency_rel:.0%} (a drop is a regression), with at least "
        f"{t.min_samples} samples on each side.",
        f"- Resources: at least {t.resource_rel:.0%}, {t.cpu_abs_pct:g} CPU points or "
        f"{t.mem_abs_bytes / (1024 * 1024):g} MiB of memory, "
        f"with at least {t.min_samples} samples.",
    ]
    lines += [f"- Note: {md_cell(n)}" for n in c.notes]
    return "\n".join(lines) + "\n"


def regression_message(comparison: Comparison) -> str:
    """One line naming each regression, for the exit-3 message."""
    parts = [
        f"{d.scope} {d.metric} {_value(d.metric, d.baseline)} → {_value(d.metric, d.current)}"
        for d in comparison.regressions
    ]
    n = len(parts)
    return f"{n} regression{'s' if n != 1 else ''} against the baseline: " + "; ".join(parts)

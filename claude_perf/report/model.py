"""Analysis → ReportModel: every report section computed and formatted, ready for any template.

Everything here is deterministic: fixed number formats, stable ordering, and the "generated at"
time is an argument. Every string copied from logs (model names, error lines, paths) becomes a
``Text`` with a redacted plain form (for HTML, which autoescapes) and a redacted, Markdown-escaped
form (for Markdown); templates never see raw log text.

A section is a title and a list of blocks (paragraph, facts, bullets, table, chart), so the bundled
templates are short loops and a user's template can pick sections by id. When the data cannot say
something, the section says what is missing and why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, cast

from claude_perf.analysis.concurrency import (
    ConcurrencyLatency,
    concurrency_latency,
    timeline_for,
)
from claude_perf.analysis.findings import ERROR_LABELS, RULES, Findings, evaluate
from claude_perf.analysis.formatting import fmt_bytes, fmt_pct, fmt_s, fmt_time
from claude_perf.analysis.metrics import MIN_RANKABLE, QUANTILE_METHOD, LatencyStats
from claude_perf.analysis.reliability import Reliability, reliability_of
from claude_perf.analysis.scores import (
    CURVE_DEFAULTS,
    Capacity,
    Score,
    capacity_of,
    score_all,
)
from claude_perf.analysis.utilisation import Utilisation, utilisation_of
from claude_perf.errors import ConfigError
from claude_perf.report.redact import redact, safe_log_excerpt, strip_ansi

if TYPE_CHECKING:
    import pandas as pd

    from claude_perf.analysis.pipeline import Analysis

TIER_DEFAULTS: Mapping[str, Any] = {"fast_below_s": 7.0, "slow_above_s": 10.0, "statistic": "p50"}
TIER_STATISTICS = ("p50", "mean", "p95")
CHARTS: Mapping[str, str] = {
    "latency_by_model": "Latency per model",
    "latency_over_time": "Latency over time",
    "requests_over_time": "Requests over time by kind",
    "resources": "CPU and memory over time",
}
EXCERPT_CHARS = 200
# Headroom for more than this many extra concurrent requests is not stated as a number: it
# would extrapolate a hundredfold past the concurrency that was measured.
_EXTRAPOLATION_LIMIT = 100


@dataclass(frozen=True)
class Text:
    """One piece of text in two safe forms: plain (HTML autoescapes it) and Markdown-escaped."""

    plain: str
    md: str


def ours(text: str) -> Text:
    """Text this module composed from figures: no markup characters by construction."""
    return Text(text, text)


def _plain(text: str, max_len: int | None) -> str:
    cleaned = "".join(ch if ch.isprintable() else " " for ch in strip_ansi(text))
    if max_len is not None and len(cleaned) > max_len:
        cleaned = cleaned[: max_len - 1] + "…"
    return cleaned


def quoted(text: str, max_len: int | None = EXCERPT_CHARS) -> Text:
    """Text that came from logs (or mixes log text in): redacted, then escaped for Markdown."""
    redacted = redact(strip_ansi(text))
    return Text(_plain(redacted, max_len), safe_log_excerpt(text, max_len or 10**9))


@dataclass(frozen=True)
class Paragraph:
    text: Text
    kind: ClassVar[str] = "paragraph"


@dataclass(frozen=True)
class Facts:
    """Label: value lines."""

    items: tuple[tuple[str, Text], ...]
    kind: ClassVar[str] = "facts"


@dataclass(frozen=True)
class Bullets:
    items: tuple[Text, ...]
    ordered: bool = False
    kind: ClassVar[str] = "bullets"


@dataclass(frozen=True)
class Table:
    """A table; ``align`` per column is "l" or "r"; ``markdown`` renders it padded and aligned."""

    headers: tuple[str, ...]
    rows: tuple[tuple[Text, ...], ...]
    align: tuple[str, ...]
    kind: ClassVar[str] = "table"

    @property
    def markdown(self) -> str:
        cells = [list(self.headers), *[[c.md for c in row] for row in self.rows]]
        widths = [max(3, *(len(r[i]) for r in cells)) for i in range(len(self.headers))]

        def line(row: Sequence[str]) -> str:
            padded = [
                c.rjust(w) if a == "r" else c.ljust(w)
                for c, w, a in zip(row, widths, self.align, strict=True)
            ]
            return "| " + " | ".join(padded) + " |"

        rule = [
            "-" * (w - 1) + ":" if a == "r" else "-" * w
            for w, a in zip(widths, self.align, strict=True)
        ]
        return "\n".join([line(cells[0]), line(rule), *(line(r) for r in cells[1:])])


@dataclass(frozen=True)
class Chart:
    """A chart slot; the renderer fills it when the chart was drawn (see CHARTS)."""

    name: str
    title: str
    kind: ClassVar[str] = "chart"


Block = Paragraph | Facts | Bullets | Table | Chart


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class ReportModel:
    """The whole report, computed; templates only lay it out."""

    title: Text
    generated_at: str
    window: str
    status: str  # ok | info | warning | critical: the most severe finding
    sections: tuple[Section, ...]
    charts: tuple[str, ...]  # chart names the data supports, in CHARTS order
    scores: tuple[Score, ...]
    findings: Findings

    def section(self, section_id: str) -> Section:
        """A section by id (for a user's own template)."""
        for s in self.sections:
            if s.id == section_id:
                return s
        raise KeyError(section_id)


# ---------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Tiers:
    fast_below_s: float
    slow_above_s: float
    statistic: str


def tiers_of(raw: Mapping[str, Any]) -> Tiers:
    """[tiers]: fast_below_s, slow_above_s (seconds) and statistic (p50, mean or p95)."""
    unknown = sorted(set(raw) - set(TIER_DEFAULTS))
    if unknown:
        raise ConfigError(
            f"config: [tiers] unknown key(s) {unknown}; known: {sorted(TIER_DEFAULTS)}"
        )
    values = {**TIER_DEFAULTS, **raw}
    statistic = values["statistic"]
    if statistic not in TIER_STATISTICS:
        raise ConfigError(f"config: [tiers] statistic must be one of {', '.join(TIER_STATISTICS)}")
    try:
        fast, slow = float(values["fast_below_s"]), float(values["slow_above_s"])
    except (TypeError, ValueError) as exc:
        raise ConfigError("config: [tiers] fast_below_s and slow_above_s must be numbers") from exc
    if not 0 < fast <= slow:
        raise ConfigError("config: [tiers] needs 0 < fast_below_s <= slow_above_s")
    return Tiers(fast, slow, str(statistic))


@dataclass(frozen=True)
class Reference:
    name: str
    low_s: float
    high_s: float
    source: str | None


def references_of(raw: Mapping[str, Any]) -> tuple[Reference, ...]:
    """[references.NAME]: latency_s = number or [low, high]; source = where the figure is from."""
    result = []
    for name in sorted(raw):
        entry = raw[name]
        where = f"config: [references.{name}]"
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{where} must be a table with latency_s")
        unknown = sorted(set(entry) - {"latency_s", "source"})
        if unknown:
            raise ConfigError(f"{where} unknown key(s) {unknown}; known: latency_s, source")
        value = entry.get("latency_s")
        figures: list[Any] = (
            list(value) if isinstance(value, Sequence) and not isinstance(value, str) else [value]
        )
        if not 1 <= len(figures) <= 2 or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in figures
        ):
            raise ConfigError(f"{where} latency_s must be a number or [low, high] in seconds")
        source = entry.get("source")
        if source is not None and not isinstance(source, str):
            raise ConfigError(f"{where} source must be a string")
        result.append(Reference(str(name), float(min(figures)), float(max(figures)), source))
    return tuple(result)


# ---------------------------------------------------------------- formatting


def _s(value: float | None) -> str:
    """Latency in a table: seconds, two decimals (fixed, so columns compare at a glance)."""
    return "–" if value is None else f"{value:.2f} s"


def _n(value: int | float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"


def _share(part: int, whole: int) -> str:
    return f"{part}/{whole} ({fmt_pct(part / whole)})" if whole else f"{part}/0"


def _stat(stats: LatencyStats, name: str) -> float:
    return float(getattr(stats, name))


def _r(*cells: str | Text) -> tuple[Text, ...]:
    return tuple(c if isinstance(c, Text) else ours(c) for c in cells)


# ---------------------------------------------------------------- sections


@dataclass(frozen=True)
class _Context:
    analysis: Analysis
    utilisation: tuple[Utilisation, ...]
    reliability: Reliability
    concurrency: ConcurrencyLatency
    findings: Findings
    scores: tuple[Score, ...]
    capacity: Capacity
    tiers: Tiers
    references: tuple[Reference, ...]


def _summary(c: _Context) -> Section:
    m = c.analysis.metrics
    stats = m.overall_latency_s
    if stats is None:
        perf = f"no timed successful request among {m.requests} model requests"
    else:
        perf = (
            f"p50 {fmt_s(stats.p50)}, p95 {fmt_s(stats.p95)}, mean {fmt_s(stats.mean)} over "
            f"{stats.n} timed successful requests (of {m.requests} model requests)"
        )
    if m.requests:
        classes = ", ".join(
            f"{ERROR_LABELS.get(e.error_class, e.error_class)} {e.count}" for e in m.errors
        )
        errors = f"{_share(m.failed, m.requests)} model requests failed" + (
            f": {classes}" if classes else ""
        )
    else:
        errors = "no model requests in the window"
    h = c.reliability.health
    if h.checks and h.success_rate is not None:
        rel = (
            f"health checks {_share(h.checks - h.failed, h.checks)} succeeded (from the {h.source})"
        )
    else:
        rel = "no health checks seen"
    if c.reliability.uptime_fraction is not None:
        rel += f"; uptime {fmt_pct(c.reliability.uptime_fraction)} of the window"
    else:
        rel += "; uptime unknown (no container facts)"
    counts = {
        s: sum(1 for f in c.findings.findings if f.severity == s)
        for s in ("critical", "warning", "info")
    }
    found = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "none"
    overall = next(s for s in c.scores if s.name == "overall")
    items: list[tuple[str, Text]] = [
        ("Performance", ours(perf)),
        ("Errors", ours(errors)),
        ("Reliability", ours(rel)),
        ("Findings", ours(f"{found} (see Bottleneck analysis)")),
        (
            "Overall score",
            ours(f"{overall.value:.1f}/10" if overall.value is not None else overall.why),
        ),
    ]
    if c.findings.findings:
        top = c.findings.findings[0]
        items.insert(0, ("Status", quoted(f"{top.severity.upper()}: {top.title}", None)))
    else:
        items.insert(0, ("Status", ours("OK: no rule fired on the measured figures")))
    return Section("summary", "Executive summary", (Facts(tuple(items)),))


def _kind_counts(c: _Context) -> Table:
    a = c.analysis
    m = a.metrics
    counts = dict(a.entries.kind_counts)
    rows = [
        _r("Model requests", _n(m.requests)),
        _r("Health checks", _n(m.health.checks)),
        _r("Other HTTP requests", _n(m.other_requests)),
        _r("Error records", _n(a.requests.error_records)),
        _r("Unparsed lines", _n(counts.get("other", 0))),
        _r("All log lines", _n(a.logs.total)),
    ]
    return Table(("Entries", "Count"), tuple(rows), ("l", "r"))


def _snapshot(samples: pd.DataFrame) -> Table | None:
    """The last sample of each container, as `docker stats` would show it."""
    rows = []
    frame = samples.sort_values("ts", kind="stable")
    frame = frame.assign(_name=frame["container_name"].fillna(frame["container_id"]).astype(str))
    for name in sorted(frame["_name"].unique()):
        last = frame[frame["_name"] == name].iloc[-1]

        def num(col: str, row: Any = last) -> float | None:
            value = row.get(col)
            return None if value is None or value != value else float(value)

        cpu, used, limit, pct = (
            num("cpu_pct"),
            num("mem_used_bytes"),
            num("mem_limit_bytes"),
            num("mem_pct"),
        )
        mem = "–"
        if used is not None:
            mem = fmt_bytes(used) + (f" / {fmt_bytes(limit)}" if limit else "")
            mem += f" ({pct:.2f}%)" if pct is not None else ""

        def pair(a: str, b: str) -> str:
            x, y = num(a), num(b)
            return "–" if x is None or y is None else f"{fmt_bytes(x)} / {fmt_bytes(y)}"

        pids = num("pids")
        rows.append(
            _r(
                quoted(str(name), 80),
                fmt_time(last["ts"].to_pydatetime(warn=False)),
                "–" if cpu is None else f"{cpu:.2f}%",
                mem,
                pair("net_rx_bytes", "net_tx_bytes"),
                pair("blk_read_bytes", "blk_write_bytes"),
                "–" if pids is None else str(int(pids)),
            )
        )
    if not rows:
        return None
    return Table(
        (
            "Container",
            "Sampled at",
            "CPU",
            "Memory used / limit",
            "Net I/O rx / tx",
            "Block I/O read / write",
            "PIDs",
        ),
        tuple(rows),
        ("l", "l", "r", "r", "r", "r", "r"),
    )


def _sources(c: _Context) -> Section:
    a = c.analysis
    m = a.metrics
    duration = m.duration_s
    window = (
        f"{fmt_time(m.window_start)} → {fmt_time(m.window_end)} ({duration:.1f} s)"
        if duration is not None
        else "unknown: no line carries a time"
    )
    inputs = Table(
        ("Input", "Form", "Lines", "Bytes"),
        tuple(_r(quoted(i.path, 120), i.form, _n(i.lines), _n(i.bytes)) for i in a.logs.inputs),
        ("l", "l", "r", "r"),
    )
    blocks: list[Block] = [
        Facts((("Window analysed", ours(window)), ("Log lines", ours(_n(a.logs.total))))),
        inputs,
        _kind_counts(c),
    ]
    if a.samples is not None and not a.samples.empty:
        snap = _snapshot(a.samples)
        if snap is not None:
            blocks += [Paragraph(ours("Resource snapshot (last sample per container):")), snap]
    else:
        blocks.append(
            Paragraph(
                ours("Resource snapshot: none, no resource samples were collected (logs only).")
            )
        )
    if a.containers:
        rows = []
        for facts in sorted(a.containers, key=lambda f: str(f.get("name") or f.get("id"))):
            hc = facts.get("health_config") or {}
            interval = hc.get("interval_s") if isinstance(hc, Mapping) else None
            rows.append(
                _r(
                    quoted(str(facts.get("name") or facts.get("id") or "?"), 80),
                    quoted(str(facts.get("image") or "?"), 80),
                    quoted(str(facts.get("status") or "?"), 40),
                    "–" if interval is None else f"{float(interval):g} s",
                    str(facts.get("cgroup_version") or "?"),
                )
            )
        blocks.append(
            Table(
                ("Container", "Image", "Status", "Health-check interval", "cgroup"),
                tuple(rows),
                ("l", "l", "l", "r", "l"),
            )
        )
    return Section("sources", "Data collection sources", tuple(blocks))


def _latency(c: _Context) -> Section:
    m = c.analysis.metrics
    if not m.models:
        return Section(
            "latency",
            "Response times per model",
            (Paragraph(ours("No model requests in the window.")),),
        )
    rows = []
    for mm in m.models:
        st = mm.latency_s
        note = []
        if st is None:
            note.append("no timed success")
        elif st.too_few:
            note.append("too few to rank")
        if mm.latency_unknown:
            note.append(f"{mm.latency_unknown} untimed")
        if mm.ambiguous:
            note.append(f"{mm.ambiguous} ambiguous")
        rows.append(
            _r(
                quoted(mm.model, 60) if mm.model is not None else ours("(model not logged)"),
                quoted(mm.family, 40) if mm.family is not None else ours("–"),
                _n(mm.requests),
                _n(st.n if st else 0),
                _s(st.mean if st else None),
                _s(st.p50 if st else None),
                _s(st.p95 if st else None),
                _s(st.p99 if st else None),
                f"{st.min:.2f}–{st.max:.2f} s" if st else "–",
                _s(st.stdev if st else None),
                _share(mm.succeeded, mm.requests),
                ", ".join(note) or "–",
            )
        )
    table = Table(
        (
            "Model",
            "Family",
            "Requests",
            "Timed n",
            "Mean",
            "p50",
            "p95",
            "p99",
            "Min–max",
            "Stdev",
            "Success",
            "Note",
        ),
        tuple(rows),
        ("l", "l", "r", "r", "r", "r", "r", "r", "r", "r", "r", "l"),
    )
    st = m.overall_latency_s
    items: list[tuple[str, Text]] = []
    if st is None:
        items.append(("Overall", ours("no successful request with a known latency")))
    else:
        items += [
            ("Overall mean", ours(f"{fmt_s(st.mean)} (n={st.n})")),
            ("Overall range", ours(f"{fmt_s(st.min)} to {fmt_s(st.max)} (n={st.n})")),
            (
                "Consistency",
                ours(
                    f"± {fmt_s(st.stdev)} standard deviation (n={st.n})"
                    if st.stdev is not None
                    else "one sample: spread unknown"
                ),
            ),
        ]
    items.append(
        (
            "Population",
            ours(
                "succeeded model requests with a known latency; failures are excluded (a fast "
                "failure is not a fast answer); fewer than "
                f"{MIN_RANKABLE} samples is too few to rank"
            ),
        )
    )
    blocks: list[Block] = [table, Facts(tuple(items))]
    if "latency_by_model" in _available(c):
        blocks.append(Chart("latency_by_model", CHARTS["latency_by_model"]))
    if "latency_over_time" in _available(c):
        blocks.append(Chart("latency_over_time", CHARTS["latency_over_time"]))
    return Section("latency", "Response times per model", tuple(blocks))


def processing_statement(c: _Context) -> str:
    """One consistent statement of sequential vs concurrent processing."""
    tp = c.analysis.metrics.throughput
    if tp.in_flight_basis == 0:
        return "unknown: no request has both a start and an end time"
    if tp.overlapped:
        return (
            f"concurrent: up to {tp.max_in_flight} requests in flight at once "
            f"(over {tp.in_flight_basis} requests with known start and end)"
        )
    return (
        f"sequential: requests never overlapped, at most 1 in flight "
        f"(over {tp.in_flight_basis} requests with known start and end)"
    )


def _throughput(c: _Context) -> Section:
    m = c.analysis.metrics
    tp = m.throughput
    rate = (
        f"{tp.requests_per_min:.2f} requests/min ({m.requests} requests over {m.duration_s:.1f} s)"
        if tp.requests_per_min is not None and m.duration_s is not None
        else "unknown: the window has no duration"
    )
    peak = (
        f"{tp.peak_requests_per_min:.0f} requests in the 60 s from {fmt_time(tp.peak_minute_start)}"
        if tp.peak_minute_start is not None
        else "no timed requests"
    )
    facts = Facts(
        (
            ("Average rate", ours(rate)),
            ("Peak", ours(peak)),
            (
                "Most in flight at once",
                ours(f"{tp.max_in_flight} (basis: {tp.in_flight_basis} requests)"),
            ),
            ("Processing", ours(processing_statement(c))),
        )
    )
    blocks: list[Block] = [facts]
    if tp.bursts:
        blocks.append(
            Paragraph(
                ours(
                    "Bursts (requests separated by idle gaps over "
                    f"{c.analysis.config.burst_gap_s:g} s; "
                    "a burst shorter than a minute is rated per minute):"
                )
            )
        )
        blocks.append(
            Table(
                ("Start", "End", "Requests", "Rate"),
                tuple(
                    _r(
                        fmt_time(b.start),
                        fmt_time(b.end),
                        _n(b.requests),
                        f"{b.requests_per_min:.2f}/min",
                    )
                    for b in tp.bursts
                ),
                ("l", "l", "r", "r"),
            )
        )
    if "requests_over_time" in _available(c):
        blocks.append(Chart("requests_over_time", CHARTS["requests_over_time"]))
    return Section("throughput", "Throughput", tuple(blocks))


def _utilisation(c: _Context) -> Section:
    if not c.utilisation:
        return Section(
            "resources",
            "Resource utilisation",
            (
                Paragraph(
                    ours(
                        "Not measured: no resource samples were collected for this window "
                        "(logs only), "
                        "so CPU, memory, network and block I/O cannot be reported."
                    )
                ),
            ),
        )
    blocks: list[Block] = []
    for u in c.utilisation:

        def cpu(v: float | None) -> str:
            return "–" if v is None else f"{v:.1f}%"

        def mem(v: float | None) -> str:
            return "–" if v is None else fmt_bytes(v)

        blocks.append(Paragraph(quoted(f"Container {u.container}: {u.samples} samples", 120)))
        blocks.append(
            Table(
                ("Figure", f"Idle (n={u.idle.samples})", f"Under load (n={u.load.samples})"),
                (
                    _r("CPU mean", cpu(u.idle.cpu_pct_mean), cpu(u.load.cpu_pct_mean)),
                    _r("CPU p95", cpu(u.idle.cpu_pct_p95), cpu(u.load.cpu_pct_p95)),
                    _r("Memory mean", mem(u.idle.mem_bytes_mean), mem(u.load.mem_bytes_mean)),
                ),
                ("l", "r", "r"),
            )
        )
        slope = (
            f"{fmt_bytes(u.mem_slope_bytes_per_min)}/min (least squares, {u.samples} samples over "
            f"{(u.span_s or 0) / 60:.1f} min)"
            if u.mem_slope_bytes_per_min is not None
            else "unknown: fewer than 3 memory samples"
        )

        def io(total: float | None, u: Utilisation = u) -> str:
            if total is None:
                return "unknown (counter not sampled twice)"
            per = u.per_request(total)
            tail = (
                f", {fmt_bytes(per)} per request" if per is not None else ", no request in the span"
            )
            return f"{fmt_bytes(total)}{tail}"

        peak = mem(u.mem_bytes_peak)
        if u.mem_limit_bytes:
            peak += f" of {fmt_bytes(u.mem_limit_bytes)} limit"
        blocks.append(
            Facts(
                (
                    ("CPU max", ours(cpu(u.cpu_pct_max) + " (100% = one core)")),
                    ("Memory peak", ours(peak)),
                    ("Memory growth", ours(slope)),
                    ("Network received", ours(io(u.net_rx_bytes))),
                    ("Network sent", ours(io(u.net_tx_bytes))),
                    ("Block read", ours(io(u.blk_read_bytes))),
                    ("Block written", ours(io(u.blk_write_bytes))),
                    ("PIDs", ours(f"{_n(u.pids_last)} last, {_n(u.pids_max)} max")),
                    (
                        "Split",
                        ours(
                            "a sample is under load when a model request was in flight during "
                            f"its interval ({u.requests_in_span} requests ended inside the "
                            "sampled span)"
                        ),
                    ),
                )
            )
        )
    if "resources" in _available(c):
        blocks.append(Chart("resources", CHARTS["resources"]))
    return Section("resources", "Resource utilisation", tuple(blocks))


def _errors(c: _Context) -> Section:
    a = c.analysis
    m = a.metrics
    if not m.errors:
        text = (
            f"No model request failed (0 of {m.requests})."
            if m.requests
            else "No model requests, so no error rate."
        )
        blocks: list[Block] = [Paragraph(ours(text))]
    else:
        rows = tuple(
            _r(
                ERROR_LABELS.get(e.error_class, e.error_class),
                _n(e.count),
                f"{fmt_pct(e.rate)} of {m.requests}",
                fmt_time(e.first_seen),
                fmt_time(e.last_seen),
            )
            for e in m.errors
        )
        blocks = [
            Table(
                ("Class", "Count", "Rate", "First seen", "Last seen"),
                rows,
                ("l", "r", "r", "l", "l"),
            ),
            Paragraph(ours("Examples (redacted, at most 3 per class):")),
        ]
        examples = []
        for e in m.errors:
            for example in e.examples:
                label = ERROR_LABELS.get(e.error_class, e.error_class)
                q = quoted(example)
                examples.append(Text(f"{label}: {q.plain}", f"{label}: {q.md}"))
        blocks.append(Bullets(tuple(examples)))
    burst = next((f for f in c.findings.findings if f.rule == "error_burst"), None)
    facts: list[tuple[str, Text]] = [
        (
            "Error records in the log",
            ours(
                f"{a.requests.error_records} ({a.quality.orphan_error_records} outside any request)"
            ),
        ),
        ("Bursts", quoted(burst.evidence, None) if burst else ours("no burst of failures found")),
    ]
    blocks.insert(1, Facts(tuple(facts)))  # before the examples: two lists in a row would merge
    return Section("errors", "Error analysis", tuple(blocks))


def _reliability(c: _Context) -> Section:
    r = c.reliability
    h = r.health
    m = c.analysis.metrics
    if r.facts:
        uptime = (
            f"{fmt_pct(r.uptime_fraction)} of the window ({r.downtime_s or 0:.1f} s down)"
            if r.uptime_fraction is not None
            else "unknown: the window has no duration"
        )
        restarts = f"{r.restarts} (engine restart count); {r.exits_in_window} exit(s) in the window"
        oom = "yes" if r.oom_killed else "no"
    else:
        uptime = restarts = oom = "unknown: no container facts were collected (logs only)"
    if h.checks and h.success_rate is not None:
        source = (
            "the engine's Health log (the engine keeps only the latest probes)"
            if h.source == "engine"
            else "the proxy's access log"
        )
        health = f"{_share(h.checks - h.failed, h.checks)} succeeded, from {source}"
        if h.source == "logs":
            health += (
                f" ({m.health.in_container} from inside the container, "
                f"{m.health.external} external)"
            )
            if h.engine_checks:
                engine_ok = h.engine_checks - (h.engine_failed or 0)
                health += (
                    f"; the engine's Health log (it keeps only the latest probes) shows "
                    f"{_share(engine_ok, h.engine_checks)} passed"
                )
    else:
        health = "none seen: no health checks in the logs and no engine Health log"
    interval = (
        f"{h.interval_measured_s:.1f} s measured (median between probes)"
        if h.interval_measured_s
        else "not measurable (fewer than 2 probes)"
    )
    if h.interval_configured_s is not None:
        interval += f"; {h.interval_configured_s:g} s configured"
    blocks: list[Block] = [
        Facts(
            (
                ("Uptime", ours(uptime)),
                ("Restarts", ours(restarts)),
                ("OOM killed", ours(oom)),
                ("Health checks", ours(health)),
                ("Health-check interval", ours(interval)),
            )
        )
    ]
    if m.models:
        blocks.append(
            Table(
                ("Model", "Succeeded", "Failed"),
                tuple(
                    _r(
                        quoted(mm.model, 60)
                        if mm.model is not None
                        else ours("(model not logged)"),
                        _share(mm.succeeded, mm.requests),
                        _n(mm.failed),
                    )
                    for mm in m.models
                ),
                ("l", "r", "r"),
            )
        )
    return Section("reliability", "Reliability", tuple(blocks))


def _tiers(c: _Context) -> Section:
    t = c.tiers
    ranked: dict[str, list[str]] = {"fast": [], "standard": [], "slow": []}
    md: dict[str, list[str]] = {"fast": [], "standard": [], "slow": []}
    unranked_plain, unranked_md = [], []
    for mm in c.analysis.metrics.models:
        if mm.latency_s is None or mm.model is None:
            continue
        value = _stat(mm.latency_s, t.statistic)
        name = quoted(mm.model, 60)
        label = f" ({t.statistic} {fmt_s(value)}, n={mm.latency_s.n})"
        if mm.latency_s.too_few:
            unranked_plain.append(name.plain + label)
            unranked_md.append(name.md + label)
            continue
        tier = (
            "fast" if value < t.fast_below_s else "slow" if value > t.slow_above_s else "standard"
        )
        ranked[tier].append(name.plain + label)
        md[tier].append(name.md + label)
    bounds = {
        "fast": f"< {t.fast_below_s:g} s",
        "standard": f"{t.fast_below_s:g}–{t.slow_above_s:g} s",
        "slow": f"> {t.slow_above_s:g} s",
    }
    rows = tuple(
        (
            ours(tier),
            ours(bounds[tier]),
            Text(", ".join(ranked[tier]) or "–", ", ".join(md[tier]) or "–"),
        )
        for tier in ("fast", "standard", "slow")
    )
    blocks: list[Block] = [
        Paragraph(
            ours(f"Models by {t.statistic} latency of succeeded requests; thresholds from [tiers].")
        ),
        Table(("Tier", f"{t.statistic} range", "Models"), rows, ("l", "l", "l")),
    ]
    if unranked_plain:
        blocks.append(
            Facts(
                (
                    (
                        f"Too few to rank (n < {MIN_RANKABLE})",
                        Text(", ".join(unranked_plain), ", ".join(unranked_md)),
                    ),
                )
            )
        )
    return Section("tiers", "Performance tiers", tuple(blocks))


def _bottlenecks(c: _Context) -> Section:
    f = c.findings
    blocks: list[Block] = []
    if f.findings:
        blocks.append(
            Table(
                ("Severity", "Finding", "Evidence"),
                tuple(
                    _r(x.severity, quoted(x.title, None), quoted(x.evidence, None))
                    for x in f.findings
                ),
                ("l", "l", "l"),
            )
        )
    else:
        blocks.append(Paragraph(ours("No rule fired on the figures that were measured.")))
    fired = {x.rule for x in f.findings}
    skipped = {r for r, _ in f.not_evaluated}
    clear = [r for r in RULES if r not in fired and r not in skipped]
    if clear:
        blocks.append(Facts((("Evaluated, nothing found", ours(", ".join(clear))),)))
    if f.not_evaluated:
        blocks.append(Paragraph(ours("Not evaluated (inputs missing):")))
        blocks.append(Bullets(tuple(ours(f"{r}: {why}") for r, why in f.not_evaluated)))
    return Section("bottlenecks", "Bottleneck analysis", tuple(blocks))


def _scaling(c: _Context) -> Section:
    cap = c.capacity
    m = c.analysis.metrics
    items: list[tuple[str, Text]] = []
    if cap.sustainable_per_min is not None and cap.mean_latency_s is not None:
        items.append(
            (
                "Sustainable rate",
                ours(
                    f"about {cap.sustainable_per_min:.1f} requests/min at the observed concurrency "
                    f"of {cap.concurrency} (60 s × {cap.concurrency} / mean latency "
                    f"{fmt_s(cap.mean_latency_s)}, "
                    f"n={m.overall_latency_s.n if m.overall_latency_s else 0})"
                ),
            )
        )
        items.append(
            (
                "Observed peak",
                ours(
                    f"{cap.observed_peak_per_min:.0f} requests in the busiest minute "
                    f"({fmt_pct(cap.observed_peak_per_min / cap.sustainable_per_min)} "
                    "of the sustainable rate)"
                ),
            )
        )
    else:
        items.append(
            ("Sustainable rate", ours("unknown: no successful request with a known latency"))
        )
    if cap.mem_per_request_bytes is not None and cap.mem_per_request_bytes <= 0:
        items.append(
            (
                "Memory per request",
                ours("no measurable increase: mean memory under load was not above idle"),
            )
        )
    elif cap.mem_per_request_bytes is not None:
        line = (
            f"{fmt_bytes(cap.mem_per_request_bytes)} more memory under load than idle, "
            "per request in flight"
        )
        if cap.mem_headroom_bytes is not None:
            line += f"; {fmt_bytes(cap.mem_headroom_bytes)} headroom below the limit"
            if cap.extra_concurrent is not None and cap.extra_concurrent > _EXTRAPOLATION_LIMIT:
                # A figure in the thousands extrapolates far past anything measured.
                line += "; memory will not be the limit at any load near the one measured"
            elif cap.extra_concurrent is not None:
                line += (
                    f", room for about {cap.extra_concurrent} more concurrent requests by memory"
                )
        items.append(("Memory per request", ours(line)))
    else:
        items.append(
            ("Memory per request", ours("unknown: needs resource samples both idle and under load"))
        )
    assumptions = [
        "latency stays at the measured mean as load rises "
        "(not measured beyond the observed concurrency)",
        "each in-flight slot serves requests back to back",
        "the upstream (Claude subscription or API) limits are not reached",
    ]
    if not m.throughput.overlapped:
        assumptions.insert(
            0,
            "requests never overlapped, so the capacity of concurrent requests is unknown: "
            "the figure above is for one request at a time",
        )
    return Section(
        "scaling",
        "Scaling considerations",
        (
            Facts(tuple(items)),
            Paragraph(ours("Assumptions:")),
            Bullets(tuple(ours(a) for a in assumptions)),
        ),
    )


def _references(c: _Context) -> Section:
    if not c.references:
        return Section(
            "references",
            "Reference comparison",
            (
                Paragraph(
                    ours(
                        "No reference latencies configured. Add [references.NAME] with latency_s "
                        "(a number or [low, high]) and source to compare against published figures."
                    )
                ),
            ),
        )
    st = c.analysis.metrics.overall_latency_s
    measured = f"p50 {fmt_s(st.p50)}, p95 {fmt_s(st.p95)} (n={st.n})" if st else "no timed requests"
    rows = tuple(
        _r(
            quoted(r.name, 60),
            f"{r.low_s:g} s" if r.low_s == r.high_s else f"{r.low_s:g}–{r.high_s:g} s",
            quoted(r.source, 120) if r.source else ours("not given"),
        )
        for r in c.references
    )
    return Section(
        "references",
        "Reference comparison",
        (
            Paragraph(
                ours(
                    "Reference figures from the configuration: not measured here, "
                    "shown for context only."
                )
            ),
            Table(("Reference", "Latency (reference)", "Source"), rows, ("l", "r", "l")),
            Facts((("Measured here", ours(measured)),)),
        ),
    )


def _recommendations(c: _Context) -> Section:
    if not c.findings.findings:
        return Section(
            "recommendations",
            "Recommendations",
            (Paragraph(ours("None: no finding calls for action.")),),
        )
    seen: list[Text] = []
    for f in c.findings.findings:
        q = quoted(f"{f.recommendation} (from: {f.title})", None)
        if q not in seen:
            seen.append(q)
    return Section("recommendations", "Recommendations", (Bullets(tuple(seen), ordered=True),))


def _scores(c: _Context) -> Section:
    rows = tuple(
        _r(s.name, "–" if s.value is None else f"{s.value:.1f}/10", ours(s.why)) for s in c.scores
    )
    rubric = (
        "Rubric: each score is piecewise-linear between configurable points ([scoring]); "
        f"performance from p50 ({_curve(CURVE_DEFAULTS['performance_p50_s'])}) and p95; "
        "reliability from the request and health-check success rates minus restarts; "
        "efficiency from CPU and memory use against capacity; scalability from latency with "
        "requests overlapping vs alone; overall is the weighted mean of the scores measured."
    )
    return Section(
        "scores",
        "Scores",
        (Table(("Score", "Value", "Why"), rows, ("l", "r", "l")), Paragraph(ours(rubric))),
    )


def _curve(points: Sequence[tuple[float, float]]) -> str:
    return ", ".join(f"{x:g} s → {y:g}" for x, y in points)


def _quality(c: _Context) -> Section:
    a = c.analysis
    q = a.quality
    m = a.metrics
    st = m.overall_latency_s
    counts = dict(a.entries.kind_counts)
    items: list[tuple[str, Text]] = [
        (
            "Timed requests",
            ours(
                f"{st.n if st else 0} of {m.succeeded} succeeded model requests "
                "have a known latency"
            ),
        ),
        ("Unparsed lines", ours(f"{counts.get('other', 0)} of {a.logs.total}")),
        ("Ambiguous pairings", ours(str(q.ambiguous_pairings))),
        ("Unmatched starts", ours(f"{q.unmatched_starts} ({q.stale_starts} stale, dropped)")),
        ("Lines without a time", ours(str(q.lines_without_time))),
        ("Duplicate lines", ours(str(q.duplicate_lines))),
        (
            "Invalid UTF-8 / broken JSON lines",
            ours(f"{q.invalid_utf8_lines} / {q.broken_json_lines}"),
        ),
        ("Quantile method", ours(QUANTILE_METHOD)),
    ]
    if c.utilisation:
        for u in c.utilisation:
            items.append(
                (
                    "Resource samples",
                    quoted(
                        f"{u.container}: {u.samples} samples, {u.cpu_gaps} without CPU figure, "
                        f"interval {u.interval_s:.2f} s, cgroup {u.cgroup or 'unknown'}"
                        if u.interval_s is not None
                        else f"{u.container}: {u.samples} sample(s), "
                        f"cgroup {u.cgroup or 'unknown'}",
                        None,
                    ),
                )
            )
    else:
        items.append(("Resource samples", ours("none collected")))
    items.append(
        (
            "Container facts",
            ours(f"{len(a.containers)} container(s)" if a.containers else "none collected"),
        )
    )
    items.append(("Inputs", quoted(", ".join(i.path for i in a.logs.inputs) or "none", 300)))
    items.append(("Configuration", quoted(a.config.source or "defaults", 200)))
    blocks: list[Block] = [Facts(tuple(items))]
    if q.notes:
        blocks.append(Paragraph(ours("Notes:")))
        blocks.append(Bullets(tuple(quoted(n, None) for n in q.notes)))
    return Section("quality", "Data quality", tuple(blocks))


def _available(c: _Context) -> tuple[str, ...]:
    """Charts the data can draw."""
    m = c.analysis.metrics
    names = []
    if any(mm.latency_s is not None for mm in m.models):
        names += ["latency_by_model", "latency_over_time"]
    if m.requests or m.health.checks:
        names.append("requests_over_time")
    if c.utilisation:
        names.append("resources")
    return tuple(n for n in CHARTS if n in names)


def build(analysis: Analysis, generated_at: datetime) -> ReportModel:
    """Compute every section; ``generated_at`` is written as given (in UTC), never read here."""
    utilisation = utilisation_of(analysis.samples, analysis.requests.table)
    reliability = reliability_of(analysis)
    concurrency = concurrency_latency(timeline_for(analysis))
    found = evaluate(analysis, utilisation, reliability, concurrency)
    scores = score_all(
        analysis.metrics,
        reliability,
        utilisation,
        concurrency,
        cast("tuple[dict[str, Any], ...]", analysis.containers),
        analysis.config.scoring,
    )
    c = _Context(
        analysis=analysis,
        utilisation=utilisation,
        reliability=reliability,
        concurrency=concurrency,
        findings=found,
        scores=scores,
        capacity=capacity_of(analysis.metrics, utilisation),
        tiers=tiers_of(analysis.config.tiers),
        references=references_of(analysis.config.references),
    )
    sections = (
        _summary(c),
        _sources(c),
        _latency(c),
        _throughput(c),
        _utilisation(c),
        _errors(c),
        _reliability(c),
        _tiers(c),
        _bottlenecks(c),
        _scaling(c),
        _references(c),
        _recommendations(c),
        _scores(c),
        _quality(c),
    )
    m = analysis.metrics
    names = sorted({str(f.get("name")) for f in analysis.containers if f.get("name")})
    if not names and analysis.samples is not None and not analysis.samples.empty:
        names = sorted({str(n) for n in analysis.samples["container_name"].dropna()})
    title = "Performance report" + (f": {', '.join(names)}" if names else "")
    window = (
        f"{fmt_time(m.window_start)} → {fmt_time(m.window_end)}"
        if m.window_start is not None
        else "unknown"
    )
    return ReportModel(
        title=quoted(title, 200),
        generated_at=fmt_time(generated_at.astimezone(UTC)),
        window=window,
        status=found.findings[0].severity if found.findings else "ok",
        sections=sections,
        charts=_available(c),
        scores=scores,
        findings=found,
    )


def report_time(fixed: datetime | None = None) -> datetime:
    """The "generated at" time: ``fixed`` if given, else $SOURCE_DATE_EPOCH, else now (UTC)."""
    import os

    if fixed is not None:
        return fixed
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), UTC)
    return datetime.now(UTC)

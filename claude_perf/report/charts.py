"""Report charts as PNG bytes, drawn with matplotlib's Agg canvas (no pyplot, no display).

Deterministic: a fixed size, dpi and style, times in UTC, and no "Software"/date metadata, so the
same data gives the same bytes on the same matplotlib. Labels taken from logs (model names) are
redacted and shortened; mathtext is off, so a ``$`` in a name is drawn as it is.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from claude_perf.durations import series_ns

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from claude_perf.analysis.client_view import ClientView
    from claude_perf.analysis.pipeline import Analysis

SIZE_IN = (8.0, 4.0)
DPI = 100
_STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "svg.hashsalt": "claude-perf",
    "date.converter": "concise",
    "text.parse_math": False,  # a "$" in a model name must not start mathtext
}
_KIND_COLOURS = {"model": "#1f77b4", "health": "#2ca02c", "error": "#d62728"}


def _label(text: str | None) -> str:
    from claude_perf.report.redact import redact

    if not isinstance(text, str):
        return "(model not logged)"
    clean = "".join(ch if ch.isprintable() else " " for ch in redact(text))
    clean = clean if len(clean) <= 30 else clean[:29] + "…"
    return clean


def _figure() -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=SIZE_IN, dpi=DPI, layout="constrained")
    return fig, fig.add_subplot()


def _png(fig: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _utc_axis(ax: Axes) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(tz="UTC")
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz="UTC"))
    ax.set_xlabel("time (UTC)")


def _naive(series: pd.Series) -> Any:
    """UTC times as naive datetimes (matplotlib's date converter, UTC axis)."""
    return series.dt.tz_convert("UTC").dt.tz_localize(None)


def latency_by_model(requests: pd.DataFrame) -> bytes | None:
    """Box plot with every sample as a dot, one row per model (succeeded, known latency)."""
    model = requests[
        (requests["kind"] == "model")
        & (requests["outcome"] == "succeeded")
        & requests["latency_s"].notna()
    ]
    if model.empty:
        return None
    # "\0" stands for "no model logged" so that it groups and sorts with the names.
    # as objects: map and value_counts of a categorical would keep the unused categories
    keys = model["model"].astype(object).map(lambda m: m if isinstance(m, str) else "\0")
    counts = keys.value_counts()
    names = sorted(counts.index, key=lambda n: (-int(counts[n]), str(n)))
    data = [model[keys == n]["latency_s"].to_numpy(dtype=float) for n in names]
    inferred = [model[keys == n]["ambiguous"].to_numpy(dtype=bool) for n in names]
    fig, ax = _figure()
    ax.boxplot(data, orientation="horizontal", showfliers=False, widths=0.5)
    for i, (values, guess) in enumerate(zip(data, inferred, strict=True), start=1):
        # Requests paired by inference (several in flight, no ids) are hollow dots.
        ax.scatter(values[~guess], [i] * int((~guess).sum()), s=14, alpha=0.7, color="#1f77b4")
        if guess.any():
            ax.scatter(
                values[guess],
                [i] * int(guess.sum()),
                s=14,
                facecolors="none",
                edgecolors="#ff7f0e",
                zorder=3,
            )

    def label(name: str, values: np.ndarray, guess: np.ndarray) -> str:
        text = f"{_label(None if name == chr(0) else name)} (n={len(values)}"  # chr(0): not logged
        return text + (f", {guess.mean():.0%} inferred)" if guess.any() else ")")

    ax.set_yticks(
        range(1, len(names) + 1),
        [label(n, d, g) for n, d, g in zip(names, data, inferred, strict=True)],
    )
    ax.invert_yaxis()
    ax.set_xlabel("latency (s)")
    hollow = any(g.any() for g in inferred)
    ax.set_title(
        "Latency per model (succeeded; hollow dots: inferred pairing)"
        if hollow
        else "Latency per model (succeeded requests; dots are requests)"
    )
    return _png(fig)


def latency_over_time(requests: pd.DataFrame) -> bytes | None:
    """Each timed request's latency at its completion time, one series per model."""
    model = requests[(requests["kind"] == "model") & requests["latency_s"].notna()]
    model = model[model["end"].notna()]
    if model.empty:
        return None
    fig, ax = _figure()
    keys = model["model"].astype(object).where(model["model"].notna(), None)
    for name in sorted({k for k in keys if k is not None}) + ([None] if keys.isna().any() else []):
        group = model[keys == name] if name is not None else model[keys.isna()]
        ok = group["outcome"] == "succeeded"
        line = ax.plot(
            _naive(group["end"][ok]), group["latency_s"][ok], "o-", ms=4, label=_label(name)
        )
        if (~ok).any():
            ax.plot(
                _naive(group["end"][~ok]),
                group["latency_s"][~ok],
                "x",
                color=line[0].get_color(),
                ms=7,
            )
    ax.plot([], [], "x", color="grey", label="failed")
    _utc_axis(ax)
    ax.set_ylabel("latency (s)")
    ax.set_title("Latency over time (at completion)")
    ax.legend(loc="upper left", fontsize=8)
    return _png(fig)


def requests_over_time(requests: pd.DataFrame, errors_ts: pd.Series | None = None) -> bytes | None:
    """Requests per bin, stacked: model requests, health checks, failed model requests."""
    import numpy as np
    import pandas as pd

    ends = requests[requests["end"].notna()]
    if ends.empty:
        return None
    kinds = {
        "model": ends[(ends["kind"] == "model") & (ends["outcome"] == "succeeded")]["end"],
        "health": ends[ends["kind"] == "health"]["end"],
        "error": ends[(ends["kind"] == "model") & (ends["outcome"] == "failed")]["end"],
    }
    first, last = ends["end"].min(), ends["end"].max()
    span_s = max((last - first).total_seconds(), 1.0)
    # about 30 bins over the window, rounded to a readable width
    width_s = next((w for w in (1, 5, 10, 30, 60, 300, 600, 1800, 3600) if span_s / w <= 40), 7200)
    edges = pd.date_range(
        first.floor(f"{width_s}s"), last + pd.Timedelta(seconds=width_s), freq=f"{width_s}s"
    )
    edges_ns = np.asarray(edges.as_unit("ns").asi8)
    fig, ax = _figure()
    bottom = np.zeros(len(edges) - 1)
    labels = {
        "model": "model requests (ok)",
        "health": "health checks",
        "error": "failed model requests",
    }
    left = _naive(pd.Series(edges[:-1]))
    for kind, times in kinds.items():
        t = series_ns(times)
        counts, _ = np.histogram(t, bins=edges_ns)
        ax.bar(
            left,
            counts,
            width=pd.Timedelta(seconds=width_s),
            bottom=bottom,
            align="edge",
            color=_KIND_COLOURS[kind],
            label=labels[kind],
        )
        bottom = bottom + counts
    _utc_axis(ax)
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(f"requests per {width_s} s")
    ax.set_title("Requests over time by kind (at completion)")
    ax.legend(loc="upper left", fontsize=8)
    return _png(fig)


def resources(samples: pd.DataFrame, requests: pd.DataFrame) -> bytes | None:
    """CPU % and memory over time per container, with model requests in flight shaded."""
    from matplotlib.figure import Figure

    from claude_perf.analysis.utilisation import model_intervals

    if samples is not None:
        samples = samples[samples["ts"].notna()]  # snapshots without a time are not drawn
    if samples is None or samples.empty:
        return None
    fig = Figure(figsize=(SIZE_IN[0], SIZE_IN[1] * 1.4), dpi=DPI, layout="constrained")
    cpu_ax, mem_ax = fig.subplots(2, 1, sharex=True)
    frame = samples.sort_values("ts", kind="stable")
    names = frame["container_name"].fillna(frame["container_id"]).astype(str)
    for name in sorted(names.unique()):
        group = frame[names == name]
        ts = _naive(group["ts"])
        cpu_ax.plot(ts, group["cpu_pct"].astype(float), label=_label(name), lw=1.2)
        mem_ax.plot(ts, group["mem_used_bytes"].astype(float) / 2**20, label=_label(name), lw=1.2)
    import pandas as pd

    starts, ends = model_intervals(requests)
    for i, (s, e) in enumerate(zip(starts, ends, strict=True)):
        for ax in (cpu_ax, mem_ax):
            ax.axvspan(
                pd.Timestamp(int(s)).to_pydatetime(warn=False),
                pd.Timestamp(int(max(e, s + 50_000_000))).to_pydatetime(
                    warn=False
                ),  # ≥ 50 ms: visible
                color="#ff7f0e",
                alpha=0.15,
                lw=0,
                label="model request in flight" if i == 0 and ax is cpu_ax else None,
            )
    cpu_ax.set_ylabel("CPU (%; 100 = one core)")
    cpu_ax.set_title("CPU and memory over time (shaded: model requests in flight)")
    mem_ax.set_ylabel("memory used (MiB)")
    cpu_ax.legend(loc="upper left", fontsize=8)
    _utc_axis(mem_ax)
    return _png(fig)


def client_latency_ttft(view: ClientView | None) -> bytes | None:
    """Per model asked: client latency and TTFT, p50 as a bar and p95 as a tick above it."""
    import numpy as np

    models = [m for m in (view.models if view else ()) if m.latency_s is not None]
    if not models:
        return None
    fig, ax = _figure()
    y = np.arange(len(models))
    height = 0.38
    for offset, (label, colour, pick) in enumerate(
        (
            ("latency", "#1f77b4", lambda m: m.latency_s),
            ("time to first token (streamed)", "#ff7f0e", lambda m: m.ttft_s),
        )
    ):
        stats = [pick(m) for m in models]
        p50 = [s.p50 if s is not None else np.nan for s in stats]
        p95 = [s.p95 if s is not None else np.nan for s in stats]
        rows = y + (offset - 0.5) * height
        ax.barh(rows, p50, height=height, color=colour, label=f"{label} p50")
        ax.plot(p95, rows, "|", color="black", ms=12, mew=2)
    ax.plot([], [], "|", color="black", ms=10, mew=2, label="p95")
    names = [
        f"{_label(m.model) if m.model is not None else '(model not recorded)'} (n={m.requests})"
        for m in models
    ]
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlabel("seconds, from the client")
    ax.set_title("Client latency and time to first token per model (bars p50, ticks p95)")
    ax.legend(loc="lower right", fontsize=8)
    return _png(fig)


def draw(analysis: Analysis, names: Iterable[str]) -> dict[str, bytes]:
    """The named charts (see report.model.CHARTS) that the data can draw, in the given order."""
    import matplotlib

    table = analysis.requests.table
    makers = {
        "latency_by_model": lambda: latency_by_model(table),
        "latency_over_time": lambda: latency_over_time(table),
        "requests_over_time": lambda: requests_over_time(table),
        "resources": lambda: (
            resources(analysis.samples, table) if analysis.samples is not None else None
        ),
        "client_latency_ttft": lambda: client_latency_ttft(analysis.client),
    }
    result: dict[str, bytes] = {}
    with matplotlib.rc_context(cast(Any, _STYLE)):
        for name in names:
            png = makers[name]() if name in makers else None
            if png is not None:
                result[name] = png
    return result

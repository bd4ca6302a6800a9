"""What the CLI prints to the terminal besides the report: the headline table and collect progress.

Everything goes to stderr through rich, so stdout carries only the report (or nothing). rich is
imported inside each function: ``claude-perf --help`` must not pay for it.
"""

from __future__ import annotations

from typing import Any


def print_report_summary(summary: dict[str, Any]) -> None:
    """The headline figures as a rich table on stderr (after a report file was written)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from claude_perf.secrets import redact

    table = Table(title="claude-perf report", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    requests = summary.get("requests", {})
    latency = summary.get("latency_s") or {}
    health = summary.get("health", {})
    duration_s = (summary.get("window") or {}).get("duration_s")
    table.add_row(
        "Window", "unknown (no line has a time)" if duration_s is None else f"{duration_s} s"
    )
    table.add_row(
        "Model requests",
        f"{requests.get('total', 0)} ({requests.get('failed', 0)} failed, "
        f"success {100 * (requests.get('success_rate') or 0):.1f}%)",
    )
    if latency:
        table.add_row(
            "Latency", f"p50 {latency['p50']:.2f} s, p95 {latency['p95']:.2f} s (n={latency['n']})"
        )
    table.add_row("Health checks", f"{health.get('checks', 0)} ({health.get('failed', 0)} failed)")
    client = summary.get("client")
    if client:
        table.add_row(
            "Client records",
            f"{client['records']} ({client['matched']} matched with the log, "
            f"{client['unmatched_client']} not in it, {client['unmatched_server']} log-only)",
        )
    items = (summary.get("findings") or {}).get("items", [])
    table.add_row(
        "Findings",
        escape(redact(", ".join(f"{f['severity']}: {f['title']}" for f in items)) or "none"),
    )
    for name, score in (summary.get("scores") or {}).items():
        value = score.get("value")
        table.add_row(f"Score: {name}", "not measured" if value is None else f"{value:.1f}/10")
    Console(stderr=True, highlight=False).print(table)


class CollectProgress:
    """A rich progress display on stderr: log lines stored, samples taken out of planned."""

    def __enter__(self) -> CollectProgress:
        self.bar: Any = None  # started at the first report, so a failure prints nothing extra
        self.tasks: dict[str, Any] = {}
        return self

    def __call__(self, what: str, done: int, total: int | None) -> None:
        if self.bar is None:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed:,.0f}{task.fields[of]}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self.bar.start()
        if what not in self.tasks:
            label = "log lines" if what == "logs" else "resource samples"
            self.tasks[what] = self.bar.add_task(label, total=total, of="")
        of = f" of {total:,}" if total else ""
        self.bar.update(self.tasks[what], completed=done, total=total, of=of)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def print_collect(outcome: Any) -> None:
    """One line per container collected, its notes, then the store totals."""
    from rich.console import Console

    console = Console(stderr=True, highlight=False, soft_wrap=True)
    several = len({c.engine for c in outcome.containers}) > 1 or outcome.missing
    for c in outcome.containers:
        where = f" on {c.engine}" if several else ""
        console.print(
            f"[bold]{c.name}[/bold] ({c.id[:12]}){where}: {c.lines_new:,} new line(s), "
            f"{c.lines_already:,} already stored, {c.samples} sample(s), "
            f"{c.events_new} new event(s)"
        )
        for note in c.notes:
            console.print(f"  note: {note}")
    for note in outcome.notes:
        console.print(f"note: {note}")
    for engine in outcome.missing:
        console.print(f"note: engine missing from this collect: {engine}")
    console.print(
        f"stored in {outcome.store}: new={outcome.lines_new} already={outcome.lines_already} "
        f"samples={outcome.samples} containers={len(outcome.containers)}"
        + (" (interrupted)" if outcome.interrupted else "")
    )


class LoadProgress:
    """`load`'s live line on stderr (done, in flight, errors, running p50); silent off a TTY."""

    def __enter__(self) -> LoadProgress:
        import sys

        self.live: Any = None
        self.enabled = sys.stderr.isatty()
        return self

    def __call__(self, snap: Any) -> None:
        if not self.enabled:
            return
        from rich.text import Text

        p50 = "–" if snap.p50_s is None else f"{snap.p50_s:.2f} s"
        of = f"/{snap.planned}" if snap.planned else ""
        line = Text(
            f"load: {snap.done}{of} done · {snap.in_flight} in flight · {snap.errors} errors · "
            f"p50 {p50} · {snap.elapsed_s:.0f} s"
        )
        if self.live is None:
            from rich.console import Console
            from rich.live import Live

            self.live = Live(line, console=Console(stderr=True), transient=True, auto_refresh=False)
            self.live.start()
        self.live.update(line, refresh=True)

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.stop()


def print_load(outcome: Any) -> None:
    """Per model: requests, ok, p50 latency and TTFT; then errors, goodput and where it went."""
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True, highlight=False, soft_wrap=True)
    table = Table(title="claude-perf load (client side)")
    for name in ("model", "requests", "ok", "latency p50", "TTFT p50", "output tokens"):
        table.add_column(name, justify="left" if name == "model" else "right")
    for m in outcome.models():
        table.add_row(
            m.model,
            str(m.requests),
            str(m.ok),
            "–" if m.latency_p50_s is None else f"{m.latency_p50_s:.3f} s",
            "–" if m.ttft_p50_s is None else f"{m.ttft_p50_s:.3f} s",
            "–" if m.output_tokens is None else f"{m.output_tokens:,}",
        )
    console.print(table)
    drive = outcome.drive
    failed = outcome.failed
    errors = ", ".join(f"{k} {v}" for k, v in sorted(failed.items())) or "none"
    console.print(
        f"{drive.finished} request(s) in {drive.elapsed_s:.1f} s (ended by {drive.ended_by}); "
        f"failed: {errors}"
    )
    goodput = outcome.goodput()
    if goodput is not None:
        slo = ", ".join(f"{k} ≤ {v:g} s" for k, v in outcome.plan.slo)
        console.print(f"goodput: {100 * goodput:.1f}% of requests ok and within {slo}")
    for note in outcome.notes:
        console.print(f"note: {note}")
    if outcome.container_samples is not None:
        console.print(
            f"container: {outcome.container_samples} resource sample(s), "
            f"{outcome.container_lines} new log line(s)"
        )
    where = [str(outcome.output)] if outcome.output else []
    console.print(f"records: {', '.join([*where, f'store {outcome.store}'])}")

"""Each CLI command as a few lines over library calls: options in, files written, outcome out.

The CLI builds the frozen options, calls one function here, and prints the outcome; nothing here
prints or exits, so every command is testable without a terminal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from claude_perf.ci.gates import Gates
from claude_perf.config.schema import Config, Limits
from claude_perf.errors import ClaudePerfError, InputError, UsageError
from claude_perf.runtime.stages import stage

if TYPE_CHECKING:  # the heavy modules load only when a command runs
    from claude_perf.collect.run import CollectOutcome
    from claude_perf.ingest.files import LogLines
    from claude_perf.ingest.session import Session

FORMATS = ("markdown", "json", "html")


@dataclass(frozen=True)
class ReportOptions:
    """Everything `claude-perf report` was asked to do."""

    config: Config
    inputs: tuple[str, ...] = ()
    format: str = "markdown"
    output: Path | None = None
    requests_csv: Path | None = None
    charts: bool = True
    template: Path | None = None
    gates: Gates = field(default_factory=Gates)
    github_summary: bool | None = None  # None: when GITHUB_STEP_SUMMARY is set
    generated_at: datetime | None = None  # the report's "generated at"; None: now (reproducible)
    # The store branch (no --input): a window of the store, collected first with --live.
    since: str | None = None
    until: str | None = None
    containers: tuple[str, ...] = ()
    store: Path | None = None
    live: bool = False
    context: str | None = None
    clients: tuple[str, ...] = ()  # --client files, joined with the logs
    stats: tuple[str, ...] = ()  # --stats files: docker stats --format '{{json .}}' lines
    health: str | None = None  # --health file: State.Health or docker inspect output


@dataclass(frozen=True)
class ReportOutcome:
    """What was produced: the text when it goes to stdout, the paths written, the summary."""

    summary: dict[str, Any]
    stdout_text: str | None
    written: tuple[Path, ...]
    failure: ClaudePerfError | None = None  # a gate failed: the CLI exits with it after printing


def load_inputs(
    inputs: Sequence[str], limits: Limits | None = None, chunked: bool = False
) -> LogLines:
    """Read log inputs (files, stdin) into merged lines, within the ``[limits]`` caps.

    ``chunked``: a large file is left for the analysis to read chunk by chunk (its memory then
    stays bounded: ingest/chunks.py); only a report, which analyses and drops the text, asks.
    """
    from claude_perf.ingest.chunks import pending_lines
    from claude_perf.ingest.files import read_logs

    if not inputs:
        raise UsageError("nothing to analyse: give --input PATH (repeatable, '-' for stdin)")
    pending = pending_lines(list(inputs), limits=limits) if chunked else None
    return pending if pending is not None else read_logs(list(inputs), limits)


def load_session(
    inputs: Sequence[str], limits: Limits | None = None, chunked: bool = False
) -> Session:
    """A Session from log files, or from one session bundle (folder or .tar.gz)."""
    from claude_perf.ingest.bundle import BundleLimits, is_bundle, read_bundle
    from claude_perf.ingest.session import Session

    bundles = [i for i in inputs if i != "-" and is_bundle(i)]
    if bundles:
        if len(inputs) > 1:
            raise UsageError(
                f"--input {bundles[0]} is a session bundle: give it as the only --input"
            )
        caps = BundleLimits()
        if limits is not None:
            caps = BundleLimits(limits.max_bundle_members, limits.max_input_bytes)
        return read_bundle(bundles[0], caps)
    return Session(logs=load_inputs(inputs, limits, chunked))


def report_session(options: ReportOptions) -> Session:
    """The Session a report reads: --input files, else the store (collected first with --live)."""
    from claude_perf.durations import parse_instant_ns
    from claude_perf.store import db as store_mod
    from claude_perf.store.read import load_session as load_stored

    store_options = {
        "--since": options.since,
        "--until": options.until,
        "--container": options.containers,
        "--store": options.store,
        "--live": options.live,
    }
    store_asked = any(store_options.values())
    if options.inputs:
        # An input is analysed whole; silently ignoring a window the user asked for would
        # report on traffic they did not mean.
        given = [flag for flag, value in store_options.items() if value]
        if given:
            raise UsageError(
                f"{', '.join(given)} select from the store and cannot be combined with --input "
                "(an input file is analysed whole)"
            )
        return load_session(options.inputs, options.config.limits, chunked=True)
    if not (store_asked or options.live):
        return load_session(
            options.inputs, options.config.limits
        )  # the usual "nothing to analyse" message
    since_ns = parse_instant_ns(options.since) if options.since else None
    until_ns = parse_instant_ns(options.until) if options.until else None
    if options.live:
        collect(
            CollectOptions(
                config=options.config,
                containers=options.containers,
                since=options.since,
                until=options.until,
                store=options.store,
                context=options.context,
            )
        )
    # Chunked: a window larger than a chunk is read by the analysis chunk by chunk (issue 13).
    return load_stored(
        store_mod.store_path(options.store), since_ns, until_ns, options.containers, chunked=True
    )


def with_clients(session: Session, paths: Sequence[str]) -> Session:
    """The session with the records of ``--client`` files added to its own (bundle, store)."""
    from dataclasses import replace

    from claude_perf.ingest.client_files import read_client_files

    if not paths:
        return session
    read = read_client_files(paths)
    return replace(
        session,
        clients=tuple(
            sorted((*session.clients, *read.records), key=lambda r: (r.start_ns, r.end_ns))
        ),
        client_aggregates=(*session.client_aggregates, *read.aggregates),
        notes=(*session.notes, *read.notes),
    )


def with_engine_files(session: Session, stats: Sequence[str], health: str | None) -> Session:
    """The session with ``--stats`` samples and ``--health`` facts added to its own."""
    from dataclasses import replace

    import pandas as pd

    from claude_perf.ingest.health_files import read_health_file
    from claude_perf.ingest.stats_files import read_stats_files

    if stats:
        read = read_stats_files(stats)
        parts = [f for f in (session.samples, read.samples) if f is not None and len(f)]
        samples = pd.concat(parts, ignore_index=True) if len(parts) > 1 else read.samples
        session = replace(session, samples=samples, notes=(*session.notes, *read.notes))
    if health is not None:
        named: tuple[tuple[str, str | None], ...] = ()
        if session.samples is not None and len(session.samples):
            pairs = session.samples[["container_id", "container_name"]].drop_duplicates()
            named = tuple((str(i), None if pd.isna(n) else str(n)) for i, n in pairs.to_numpy())
        facts = read_health_file(health, named)
        session = replace(session, containers=(*session.containers, facts))
    return session


@dataclass(frozen=True)
class CollectOptions:
    """Everything `claude-perf collect` was asked to do (times and durations as typed)."""

    config: Config
    containers: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    compose_project: str | None = None
    since: str | None = None
    until: str | None = None
    duration: str | None = None
    interval: str = "5s"
    store: Path | None = None
    context: str | None = None
    progress: Any = field(default=None, compare=False, repr=False)  # (what, done, total)
    hosts: tuple[str, ...] = ()
    contexts: tuple[str, ...] = ()
    services: tuple[str, ...] = ()


def collect(options: CollectOptions) -> CollectOutcome:
    """Store logs, samples and facts of the target containers; returns a CollectOutcome."""
    from claude_perf.collect.dispatch import collect as run_collect
    from claude_perf.collect.run import CollectRequest
    from claude_perf.durations import parse_duration_s, parse_instant_ns

    if any(not label or label.startswith("=") for label in options.labels):
        raise UsageError("--label must be KEY or KEY=VALUE")
    pattern = options.config.collect.pattern
    request = CollectRequest(
        containers=options.containers,
        labels=options.labels,
        compose_project=options.compose_project,
        since_ns=parse_instant_ns(options.since) if options.since else None,
        until_ns=parse_instant_ns(options.until) if options.until else None,
        duration_s=parse_duration_s(options.duration) if options.duration else None,
        interval_s=parse_duration_s(options.interval),
        store=options.store,
        context=options.context,
        pattern=pattern,
        progress=options.progress,
        hosts=options.hosts,
        contexts=options.contexts,
        services=options.services,
    )
    return run_collect(request)


def write_text(path: Path, text: str) -> Path:
    """Write a report file, creating its folder; a failure is one clear line."""
    from claude_perf.runtime.private_files import write_private_text

    try:
        write_private_text(path, text)
    except OSError as exc:
        raise InputError(f"{path}: cannot write ({exc.strerror or exc})") from exc
    return path


def report(options: ReportOptions) -> ReportOutcome:
    """Analyse the inputs and write the report in the asked format."""
    from claude_perf.analysis.pipeline import analyse_session
    from claude_perf.report import summary as summary_mod
    from claude_perf.report.build import build, report_time
    from claude_perf.secrets import redact_tree

    if options.format not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not '{options.format}'")
    # The session goes in as a temporary, so that the analysis can free its line text early.
    # Nothing after the assembly reads the entries' rows here: give them up (memory).
    analysis = analyse_session(
        with_clients(
            with_engine_files(_read_session(options), options.stats, options.health),
            options.clients,
        ),
        options.config,
        keep_events=False,
    )
    with stage("summary"):
        summary = summary_mod.build(analysis)
        model = build(analysis, report_time(options.generated_at))
        summary.update(summary_mod.summary_extras(model))
        # Every text of the summary leaves the tool (JSON, console, step summary, gates): redacted.
        summary = redact_tree(summary)
    gate_results = check_gates(options.gates, summary)
    written: list[Path] = []
    if options.requests_csv is not None:
        written.append(write_requests_csv(analysis.requests.table, options.requests_csv))
    if options.format == "json":
        text = summary_mod.dumps(summary)
    else:
        from claude_perf.report.render import report_text

        text, charts = report_text(
            analysis, model, options.format, options.output, options.charts, options.template
        )
        written.extend(charts)
    if options.output is None:
        return finish_report(options, summary, text, True, written, gate_results)
    written.insert(0, write_text(options.output, text))
    return finish_report(options, summary, text, False, written, gate_results)


def _read_session(options: ReportOptions) -> Session:
    """report_session, timed as the "read" stage (returned, not kept: see report())."""
    with stage("read"):
        return report_session(options)


def check_gates(gates: Gates, summary: dict[str, Any]) -> tuple[Any, ...]:
    """Gates against the summary, before anything is written.

    A model unknown to the data is a usage error here (model names are only known after
    analysis); the results join the summary under ``gates``; a failure waits for the writing.
    """
    from claude_perf.ci.gates import check_models, evaluate, results_dict

    if not gates.active:
        return ()
    check_models(gates, summary)
    results = evaluate(gates, summary)
    summary["gates"] = results_dict(results)
    return results


def finish_report(
    options: ReportOptions,
    summary: dict[str, Any],
    text: str,
    to_stdout: bool,
    written: list[Path],
    gate_results: tuple[Any, ...],
) -> ReportOutcome:
    """After the report is written: the step summary, then the gate verdict (exit 3 in the CLI)."""
    from claude_perf.ci.gates import failure_of
    from claude_perf.ci.github import append_step_summary, step_summary_path, summary_markdown

    target = step_summary_path(options.github_summary)
    if target is not None:
        if options.format == "markdown":
            markdown = text
            if gate_results:
                markdown += "\n## Quality gates\n\n" + "".join(
                    f"- {'✅' if r.passed else '❌'} {r.gate}: {r.text}\n" for r in gate_results
                )
        else:
            lines = [f"{'✅' if r.passed else '❌'} {r.gate}: {r.text}" for r in gate_results]
            markdown = summary_markdown(summary, lines)
        written.append(append_step_summary(markdown, target).path)
    return ReportOutcome(
        summary, text if to_stdout else None, tuple(written), failure_of(gate_results)
    )


def write_requests_csv(table: Any, path: Path) -> Path:
    """The per-request table as CSV (ISO times, empty cells for unknowns).

    Every text cell is redacted and made spreadsheet-safe (a leading ``'`` before ``=``, ``+``,
    ``-``, ``@``, tab or CR); number columns are left alone, so negative numbers stay numbers.
    """
    import pandas as pd
    from pandas.api.types import is_bool_dtype, is_object_dtype, is_string_dtype

    from claude_perf.secrets import redact_many
    from claude_perf.secrets.spreadsheet import spreadsheet_safe

    frame = table.copy()
    for column in frame.columns:
        if column.endswith("_tokens"):  # counts: 7, not 7.0 (float only to hold the NaN gaps)
            frame[column] = frame[column].astype("Int64")
            continue
        kind = frame[column].dtype
        categorical = isinstance(kind, pd.CategoricalDtype)  # paths, clients, models: text too
        if not (categorical or is_object_dtype(kind) or is_string_dtype(kind)) or is_bool_dtype(
            kind
        ):
            continue
        values = frame[column].astype(object) if categorical else frame[column]
        # Each distinct text once (paths, models, clients repeat on most rows): the whole report
        # with the CSV of a 300k-line log in 0.72x the wall time of text-by-text redaction
        # (farm-bench, 5 pairs), the same bytes written.
        distinct = list(dict.fromkeys(v for v in values if isinstance(v, str)))
        safe = dict(zip(distinct, map(spreadsheet_safe, redact_many(distinct)), strict=True))
        frame[column] = [safe[v] if isinstance(v, str) else v for v in values]
    from claude_perf.runtime.private_files import write_private_text

    try:
        # CRLF rows (RFC 4180): a CR inside a cell is then quoted, never a row break.
        text = frame.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ", lineterminator="\r\n")
        write_private_text(path, text)
    except OSError as exc:
        raise InputError(f"{path}: cannot write ({exc.strerror or exc})") from exc
    return path


@dataclass(frozen=True)
class CompareOptions:
    """Everything `claude-perf compare` was asked to do."""

    config: Config
    baseline: Path
    current: Path
    format: str | None = None  # markdown or json; None: json when --output ends in .json
    output: Path | None = None
    github_summary: bool | None = None
    thresholds: dict[str, Any] = field(default_factory=dict)  # command-line overrides


@dataclass(frozen=True)
class CompareOutcome:
    """The comparison as data, the text when it goes to stdout, the paths written."""

    comparison: dict[str, Any]
    stdout_text: str | None
    written: tuple[Path, ...]
    failure: ClaudePerfError | None = None  # something regressed: exit 3 after printing


def compare(options: CompareOptions) -> CompareOutcome:
    """Compare two JSON summaries; a regression is reported after everything is written."""
    from claude_perf.ci import compare as compare_mod
    from claude_perf.ci.github import append_step_summary, step_summary_path
    from claude_perf.errors import GateFailure

    fmt = options.format
    if fmt is None:
        json_name = options.output is not None and options.output.suffix == ".json"
        fmt = "json" if json_name else "markdown"
    if fmt not in ("markdown", "json"):
        raise UsageError(f"--format must be markdown or json for compare, not '{fmt}'")
    configured = asdict(options.config.gates.compare)
    thresholds = compare_mod.thresholds_from({**configured, **options.thresholds})
    target = step_summary_path(options.github_summary)
    baseline = compare_mod.load_summary(options.baseline)
    current = compare_mod.load_summary(options.current)
    result = compare_mod.compare(
        baseline, current, thresholds, str(options.baseline), str(options.current)
    )
    text = compare_mod.dumps(result) if fmt == "json" else compare_mod.to_markdown(result)
    written: list[Path] = []
    if options.output is not None:
        written.append(write_text(options.output, text))
    if target is not None:
        written.append(append_step_summary(compare_mod.to_markdown(result), target).path)
    failure = GateFailure(compare_mod.regression_message(result)) if result.regressions else None
    stdout_text = text if options.output is None else None
    return CompareOutcome(compare_mod.to_dict(result), stdout_text, tuple(written), failure)


@dataclass(frozen=True)
class ExportOptions:
    """Everything `claude-perf export` was asked to do."""

    config: Config
    output: Path
    store: Path | None = None
    since: str | None = None
    until: str | None = None
    containers: tuple[str, ...] = ()
    report: bool = True  # include the Markdown report, its charts and the JSON summary
    raw: bool = False  # keep the logs unredacted (export --raw)


@dataclass(frozen=True)
class ExportOutcome:
    """The bundle written and what it holds."""

    bundle: Path
    summary: dict[str, Any]
    files: tuple[str, ...]


def export(options: ExportOptions) -> ExportOutcome:
    """Store → Session → bundle, with the report made from the bundle itself (so it re-makes)."""
    import tempfile

    from claude_perf.durations import parse_instant_ns
    from claude_perf.ingest.bundle import write_bundle
    from claude_perf.report import summary as summary_mod
    from claude_perf.store import db as store_mod
    from claude_perf.store.read import load_session as load_stored

    since_ns = parse_instant_ns(options.since) if options.since else None
    until_ns = parse_instant_ns(options.until) if options.until else None
    path = store_mod.store_path(options.store)
    session = load_stored(path, since_ns, until_ns, options.containers)
    with tempfile.TemporaryDirectory(prefix="claude-perf-export-") as tmp:
        plain = write_bundle(session, Path(tmp) / "session", redacted=not options.raw)
        report_dir = Path(tmp) / "report"
        # One analysis of the bundle itself (so the report re-makes from it): the Markdown
        # report with its charts when asked, and the JSON summary beside it.
        outcome = report(
            ReportOptions(
                config=options.config,
                inputs=(str(plain),),
                format="markdown" if options.report else "json",
                output=report_dir / ("report.md" if options.report else "summary.json"),
                charts=options.report,
                github_summary=False,
            )
        )
        if options.report:
            write_text(report_dir / "summary.json", summary_mod.dumps(outcome.summary))
        extra = {
            "report/" + file.relative_to(report_dir).as_posix(): file
            for file in sorted(p for p in report_dir.rglob("*") if p.is_file())
        }
        written = write_bundle(session, options.output, extra_files=extra, redacted=not options.raw)
    return ExportOutcome(written, outcome.summary, tuple(extra))

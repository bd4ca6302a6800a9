"""The one-way pipeline: lines → entries → requests → metrics, plus what the data cannot tell."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

from claude_perf.analysis.assemble import Requests, assemble
from claude_perf.analysis.client_view import ClientView, client_view
from claude_perf.analysis.clock import (
    whole_second_clock,
    whole_second_note,
    with_whole_second_clock,
)
from claude_perf.analysis.correlate import CARRY_WINDOW_NS
from claude_perf.analysis.echoes import Echoes, merge_echoes
from claude_perf.analysis.front import FrontTier, set_apart
from claude_perf.analysis.id_lives import RACE_NS
from claude_perf.analysis.metrics import Metrics, compute
from claude_perf.analysis.restarts import restarts_seen, startup_times, startups_known
from claude_perf.config.load import dialects_for
from claude_perf.config.schema import Config
from claude_perf.ingest.files import LogLines
from claude_perf.ingest.session import Session
from claude_perf.parse.chunked import classify_pending
from claude_perf.parse.classify import classify
from claude_perf.parse.entries import Entries, source_name
from claude_perf.runtime.parallel import release_unused
from claude_perf.runtime.stages import stage

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class DataQuality:
    """Counts of everything the analysis had to guess about, skip, or could not know."""

    ambiguous_pairings: int
    unmatched_starts: int
    stale_starts: int
    latency_unknown: int
    lines_without_time: int
    orphan_error_records: int
    invalid_utf8_lines: int
    broken_json_lines: int
    partial_lines_merged: int
    duplicate_lines: int
    notes: tuple[str, ...]
    # source name → the log dialects found in it (parse/dialect_match.py)
    dialects: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    arrivals_only: int = 0  # health checks / other requests seen only as they arrived
    echoes_merged: int = 0  # access lines counted once with the application's line (echoes.py)


@dataclass(frozen=True)
class Analysis:
    """Everything later stages (findings, scores, report) read; nothing here does I/O."""

    config: Config
    logs: LogLines
    entries: Entries  # its events frame is empty when analysed with keep_events=False
    requests: Requests
    metrics: Metrics
    quality: DataQuality
    samples: pd.DataFrame | None = None  # resource samples, when collected
    containers: tuple[dict[str, object], ...] = ()  # container facts, when collected
    client: ClientView | None = None  # what the clients saw, when client records were given
    front: FrontTier | None = None  # a front proxy's log set apart (analysis/front.py)
    # start-up banners that were restarts, per source (restarts.restarts_seen), and whether
    # any source's dialect logs its start-up at all (else restarts are unknown from the logs)
    restarts_seen: Mapping[str, tuple[datetime, ...]] = field(default_factory=dict)
    startups_logged: bool = False


def window_of(logs: LogLines, entries: Entries) -> tuple[datetime | None, datetime | None]:
    """First and last known time among all lines (engine time, else application time)."""
    import pandas as pd

    times = []
    ts = logs.table.column("ts")
    if len(ts) - ts.null_count:
        import pyarrow.compute as pc

        bounds = pc.min_max(ts)
        times += [bounds["min"].as_py(), bounds["max"].as_py()]
    if len(entries.events) and entries.events["ts"].notna().any():
        event_ts = entries.events["ts"].dropna()
        times += [
            event_ts.min().to_pydatetime(warn=False),
            event_ts.max().to_pydatetime(warn=False),
        ]
    if not times:
        return None, None
    stamps = [
        pd.Timestamp(t).tz_convert("UTC") if pd.Timestamp(t).tzinfo else pd.Timestamp(t, tz="UTC")
        for t in times
    ]
    return min(stamps).to_pydatetime(warn=False), max(stamps).to_pydatetime(warn=False)


def analyse(
    logs: LogLines,
    config: Config,
    samples: pd.DataFrame | None = None,
    containers: tuple[dict[str, object], ...] = (),
) -> Analysis:
    """Run every pure stage over lines already read."""
    return analyse_session(Session(logs, samples, containers), config)


def analyse_session(session: Session, config: Config, keep_events: bool = True) -> Analysis:
    """Run every pure stage over a session, releasing the line text once it is classified.

    Later stages need only the lines' times, so the text (about 100 MB per million lines) is
    dropped after classification. It is freed only if nothing else holds it: pass the session
    as a temporary, ``analyse_session(load(), config)``, to keep peak memory down.

    ``keep_events=False`` (the report command): the entries' rows are given up to the assembly,
    which drops their columns as it decodes them, and the Analysis keeps the entries' counts
    with an empty ``events`` frame (no stage after assembly reads the rows).
    """
    logs = session.logs
    if session.notes:  # e.g. gaps a collect recorded
        logs = replace(logs, notes=(*logs.notes, *session.notes))
    samples, containers = session.samples, session.containers
    clients, aggregates = session.clients, session.client_aggregates
    del session
    if logs.pending is not None:  # a large file: read and classified chunk by chunk
        with stage("read+classify chunks"):
            entries, logs = classify_pending(logs, config)
            release_unused()
    else:
        with stage("classify"):
            entries = classify(logs.table, config)
            logs = replace(logs, table=logs.table.drop_columns(["text"]))
            release_unused()
    window = window_of(logs, entries)
    startups = startup_times(entries, logs)  # before the assembly gives the entries up
    with stage("assemble"):
        echoes = merge_echoes(entries.events)  # one response logged by two loggers, once
        entries = replace(entries, events=echoes.events)
        release_unused()  # its temporaries (about 150 MB at 10M bench lines), before the assembly
        if keep_events:
            requests = assemble(entries, config, logs.sources)
        else:
            counts_only = replace(entries, events=entries.events.head(0).copy())
            requests = assemble(entries, config, logs.sources, consume=True)
            entries = counts_only
            release_unused()
    outcome = set_apart(requests, _dialects_by_name(logs, entries), config, bool(clients))
    requests, front = outcome.requests, outcome.front
    if outcome.note is not None:
        logs = replace(logs, notes=(*logs.notes, outcome.note))
    with stage("metrics"):
        metrics = compute(requests, window, burst_gap_s=config.burst_gap_s)
        if whole_second_clock(entries, logs.table.num_rows):
            metrics = with_whole_second_clock(metrics)
        quality = _quality(logs, entries, requests, metrics, config, _named(echoes, logs))
        release_unused()  # the metrics' column temporaries, about 300 MB at 10M lines
    if outcome.view is not None and not (clients or aggregates):
        client: ClientView | None = outcome.view
    elif clients or aggregates:
        client = client_view(clients, aggregates, requests.table, config)
    else:
        client = None
    return Analysis(
        config,
        logs,
        entries,
        requests,
        metrics,
        quality,
        samples,
        containers,
        client,
        front,
        restarts_seen=restarts_seen(startups, requests.table),
        startups_logged=startups_known(entries, config),
    )


def _orphan_notes(requests: Requests) -> list[str]:
    """What the error records outside any request were: records their dialect says no request
    can be told from (written before or after the completion they belong to), and the others
    (start-up or background errors)."""
    unattributed = requests.unattributed_error_records
    others = requests.orphan_error_records - unattributed
    notes = []
    if unattributed:
        notes.append(
            f"{unattributed} error record(s) belong to some request but are given to none: their "
            "proxy writes them before or after that request's completion line (the dialect says "
            "so under what it cannot tell): each failed request is classed without them"
        )
    if others:
        notes.append(
            f"{others} error record(s) were outside any request (start-up or background errors)"
        )
    return notes


def _quality(
    logs: LogLines,
    entries: Entries,
    requests: Requests,
    metrics: Metrics,
    config: Config,
    echoes: Mapping[str, int],
) -> DataQuality:
    notes = [*logs.notes, *entries.notes]
    latency_unknown = sum(m.latency_unknown for m in metrics.models)
    untimed_ends = _untimed_completions(requests) if latency_unknown else 0
    if untimed_ends:
        notes.append(
            f"{untimed_ends} succeeded model request(s) have a start with a time but a completion "
            "line without one (no engine timestamp, no stamp of its own: `docker logs` without "
            "-t): their latency is unknown, not guessed"
        )
    if latency_unknown - untimed_ends:
        notes.append(
            f"{latency_unknown - untimed_ends} succeeded model request(s) have no known latency: "
            "no start record "
            "and no explicit duration (their source logs only a completion for them, such as an "
            "access log without response times, or claude-code-openai-wrapper's streams: they "
            "log no start line, and uvicorn logs the access line when the response starts)"
        )
    if requests.ambiguous_pairings:
        notes.append(
            f"{requests.ambiguous_pairings} completion(s) carry no request id and could be "
            "another request's (several were in flight, or a request that logs no start line, "
            "such as a stream in claude-code-openai-wrapper's plain mode, was about): paired "
            "first-in-first-out, so per-model latency of these requests may be swapped"
        )
    if requests.ambiguous_pairings:
        notes.append(
            "the mean latency of all overlapping requests together is exact whatever the "
            "pairing (the sum of their completion times minus the sum of their start times)"
        )
    notes.extend(_echo_notes(echoes))
    rounded = (
        int((requests.table["latency_source"] == "rounded").sum()) if len(requests.table) else 0
    )
    if rounded:
        notes.append(
            f"{rounded} request(s) have no time but the one their logger rounded to whole seconds "
            "(`2s`: no start line pairs with them without engine times): each counts as logged, "
            "off by up to half a second"
        )
    if requests.arrivals_only:
        notes.append(
            f"{requests.arrivals_only} health check(s) or other request(s) are logged only as "
            "they arrive: counted, with their outcome and latency unknown"
        )
    if requests.usage_models_differ:
        notes.append(
            f"{requests.usage_models_differ} request(s) name another model than their usage "
            "record (a router's or an account's mapping, or a record given to the wrong request "
            "among several in flight): each keeps its own"
        )
    if requests.durations_unmatched:
        notes.append(
            f"{requests.durations_unmatched} logged response time(s) found no completion "
            f"within {CARRY_WINDOW_NS / 1e6:g} ms in their source"
        )
    if requests.unmatched_starts and not len(requests.table):
        notes.append(
            f"{requests.unmatched_starts} request(s) started and not one completion is in these "
            "logs: the access log looks switched off (uvicorn --no-access-log or --log-level "
            "warning, gunicorn without --access-logfile); their count, outcome and latency need "
            "it on, or client records"
        )
    elif requests.unmatched_starts:
        notes.append(
            f"{requests.unmatched_starts} request start(s) have no completion in the window "
            "(still running at the end, or their completion was not logged)"
        )
    notes += _dialect_limits(requests, entries, config)
    if requests.stale_starts:
        notes.append(
            f"{requests.stale_starts} request start(s) had no completion within max_latency_s "
            f"({config.max_latency_s:g} s): set aside as never completed before pairing"
        )
    if entries.no_time_lines and entries.no_time_lines == logs.table.num_rows:
        untimed_ends = bool(len(requests.table)) and bool(requests.table["end"].isna().any())
        notes.append(
            "no line carries an engine timestamp: times come from the application's own "
            "timestamps where lines have them; latency is unavailable where they do not"
            + (
                "; an error record beside completions without a time is given to one of them "
                "by the lines' order alone (under concurrency, perhaps another request's)"
                if untimed_ends
                else ""
            )
            + whole_second_note(metrics)
        )
    elif entries.no_time_lines:
        notes.append(f"{entries.no_time_lines} line(s) carry no engine timestamp")
    notes.extend(_orphan_notes(requests))
    duration = metrics.duration_s
    if duration is not None and duration < 60:
        notes.append(
            f"the window is only {duration:.1f} s long: per-minute rates extrapolate "
            "from less than a minute of traffic"
        )
    return DataQuality(
        ambiguous_pairings=requests.ambiguous_pairings,
        unmatched_starts=requests.unmatched_starts,
        stale_starts=requests.stale_starts,
        latency_unknown=latency_unknown,
        lines_without_time=entries.no_time_lines,
        orphan_error_records=requests.orphan_error_records,
        invalid_utf8_lines=logs.invalid_utf8_lines,
        broken_json_lines=logs.broken_json_lines,
        partial_lines_merged=logs.partial_merged,
        duplicate_lines=logs.duplicate_lines,
        notes=tuple(notes),
        dialects=_dialects_by_name(logs, entries),
        arrivals_only=requests.arrivals_only,
        echoes_merged=sum(echoes.values()),
    )


def _untimed_completions(requests: Requests) -> int:
    """Succeeded model requests without a latency whose start has a time and completion none."""
    t = requests.table
    unknown = (t["kind"] == "model") & (t["outcome"] == "succeeded") & t["latency_s"].isna()
    return int((unknown & t["start"].notna() & t["end"].isna()).sum())


def _named(echoes: Echoes, logs: LogLines) -> dict[str, int]:
    """The access lines merged as echoes, per source name."""
    names = list(logs.sources)
    return {source_name(names, s): n for s, n in echoes.merged.items()}


def _echo_notes(echoes: Mapping[str, int]) -> list[str]:
    """Per source whose requests were each logged twice (analysis/echoes.py): how many."""
    return [
        f"{source}: {n} request(s) were each logged twice, by two loggers (an access line and the "
        "application's own completion line written with it: same path, status and method, "
        f"within {RACE_NS / 1e6:g} ms, or next to each other or crossed without times): each "
        "counted once"
        for source, n in echoes.items()
    ]


def _dialect_limits(requests: Requests, entries: Entries, config: Config) -> list[str]:
    """What each dialect found says its log cannot tell: the limits of the figures that no
    count shows (which request an id-less error record was, a model the proxy does not log).
    Without one model request read it leads: a proxy whose logging mode writes no request at
    all (codingworkflow/claude-code-api by default) must not read as "no requests in the
    window" alone."""
    table = requests.table
    silent = not (len(table) and bool((table["kind"] == "model").any()))
    found = {name for names in entries.dialects.values() for name in names}
    return [
        f"no model request is in these logs, and {d.name} ({d.proxy}) is found: its log "
        f"cannot tell {d.cannot}"
        if silent
        else f"what the {d.name} log ({d.proxy}) cannot tell: {d.cannot}"
        for d in dialects_for(config.dialects)
        if d.name in found and d.cannot
    ]


def _dialects_by_name(logs: LogLines, entries: Entries) -> dict[str, tuple[str, ...]]:
    """Source name → the dialects found in it, for every source (empty: generic formats only)."""
    names = list(logs.sources) or ["input"]
    found: dict[str, tuple[str, ...]] = {name: () for name in names}
    for key, dialects in entries.dialects.items():
        found[source_name(names, key)] = dialects
    return found

"""Client files of other tools → ClientRecords (or aggregate rows), the format found by content.

``report --client FILE`` reads, per file, whichever of these it is (``.gz`` is read transparently):

- claude-perf's own JSON lines (``claude-perf/client-record/1``, ingest/client_records.py). A last
  line cut short (the writer was stopped mid-line) is counted and noted, not fatal.
- k6 ``--out json``: ``{"type":"Point","metric":"http_req_duration","data":{"time","value",
  "tags"}}`` lines (https://grafana.com/docs/k6/latest/results-output/real-time/json/). k6 writes
  no request id: every ``http_req_*`` sample of one request carries the same time (the request's
  end, ``Trail.EndTime`` in k6's lib/netext/httpext/tracer.go) and the same tags, so a request is
  the group of points with equal time and tags. Values are milliseconds; duration = sending +
  waiting + receiving, so start = end − duration and the first byte = end − receiving.
- AIPerf ``profile_export.jsonl``: ``{"metadata": {"x_request_id", "request_start_ns",
  "request_ack_ns", "request_end_ns", ...}, "metrics": {"time_to_first_token": {"value",
  "unit"}, ...}, "error": {"code", "type", "message"} | null}`` (AIPerf docs, "Working with
  Profile Export Files"). AIPerf sends ``x_request_id`` as X-Request-ID, so it can meet a
  proxy's own request id.
- GenAI-Perf ``profile_export.json``: one document ``{"experiments": [{"requests": [{"timestamp",
  "request_inputs": {"payload"}, "response_timestamps": [...]}]}]}`` (nanoseconds; the first
  response is the first token, the last the end).
- Locust ``--csv PREFIX`` → ``PREFIX_stats.csv`` (``Type,Name,Request Count,Failure Count,...``,
  times in ms): aggregates only, one row per endpoint; Locust writes no per-request records.
- ray-project/llmperf's ``<model>_<in>_<out>_summary.json`` (token_benchmark_ray.py's
  ``metrics_summary``, flattened) and ``<model>_<in>_<out>_individual_responses.json`` (a JSON
  array): one aggregate row each (ingest/llmperf_files.py); llmperf writes no wall-clock time,
  model per request or request id, so nothing in them can be joined.

Anything else is one InputError naming the file. Formats are told apart by their first line;
llmperf's files (``indent=4``: the first line is a lone bracket) by their whole document.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from claude_perf.errors import InputError
from claude_perf.ingest import llmperf_files
from claude_perf.ingest.bounded import read_side_file
from claude_perf.ingest.client_aggregates import ClientAggregate
from claude_perf.ingest.client_records import (
    SCHEMA,
    ClientRecord,
    record_from_json,
    record_to_json,
)

CLIENTS_FILE = "clients.jsonl"  # a session bundle's client records, in claude-perf's own form
MAX_CLIENT_FILE_BYTES = 2 * 1024**3  # read whole; a larger client file is surely not one
_LOCUST_HEADER = ("Type", "Name", "Request Count", "Failure Count")
_K6_METRICS = {
    "http_req_duration": "duration",
    "http_req_waiting": "waiting",
    "http_req_receiving": "receiving",
    "http_req_sending": "sending",
    "http_req_failed": "failed",
}
_UNIT_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "sec": 1.0}
KNOWN_FORMATS = (
    "claude-perf JSON lines, k6 --out json, AIPerf profile_export.jsonl, "
    "GenAI-Perf profile_export.json, Locust --csv *_stats.csv, "
    "llmperf *_summary.json and *_individual_responses.json"
)


@dataclass(frozen=True)
class ClientFile:
    """What one client file held, and what had to be said about it."""

    path: str
    format: str  # claude-perf | k6 | aiperf | genai-perf | locust | llmperf
    records: tuple[ClientRecord, ...] = ()
    aggregates: tuple[ClientAggregate, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)


def _text_of(path: Path) -> str:
    raw = read_side_file(path, "client")
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError):
            raise InputError(f"{path}: a gzip file cut short or damaged") from None
    if len(raw) > MAX_CLIENT_FILE_BYTES:
        raise InputError(f"{path}: over {MAX_CLIENT_FILE_BYTES} bytes: not a client file")
    return raw.decode("utf-8", errors="replace")


def read_client_file(path: str | Path) -> ClientFile:
    """One client file, its format found by content; an unknown shape is an InputError."""
    where = Path(path)
    text = _text_of(where)
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    reader = _reader_for(first, text)
    if reader is None:
        raise InputError(f"{where}: not a client file claude-perf knows ({KNOWN_FORMATS})")
    return reader(str(where), text)


def _reader_for(first: str, text: str) -> Callable[[str, str], ClientFile] | None:
    if first.startswith("{"):
        try:
            head = json.loads(first)
        except json.JSONDecodeError:
            head = None
        if isinstance(head, dict):
            if head.get("schema") == SCHEMA:
                return read_own
            if head.get("type") in ("Metric", "Point") and "metric" in head:
                return read_k6
            if isinstance(head.get("metadata"), dict) and "metrics" in head:
                return read_aiperf
        # is_summary refuses a document with GenAI-Perf's "experiments" key: every GenAI-Perf
        # export still reaches the unchanged test below
        if llmperf_files.is_summary(head, text):
            return read_llmperf_summary
        if '"experiments"' in text[:4096] or (head is None and '"experiments"' in text):
            return read_genai_perf
        return None
    if first.startswith("["):  # no other format is a JSON array
        return read_llmperf_responses if llmperf_files.is_individual_responses(text) else None
    if tuple(c.strip() for c in first.split(",")[:4]) == _LOCUST_HEADER:
        return read_locust
    return None


def _lines(text: str) -> list[tuple[int, str]]:
    return [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]


def _json_lines(path: str, text: str) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    """Decoded lines with their ``file:line``; a broken last line is a note, any other an error."""
    lines = _lines(text)
    decoded: list[tuple[str, dict[str, Any]]] = []
    notes: list[str] = []
    for i, (number, line) in enumerate(lines):
        where = f"{path}:{number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            if i == len(lines) - 1:
                notes.append(f"{path}: last line {number} is cut short (half written): skipped")
                continue
            raise InputError(
                f"{where}: not JSON (a client file's lines are JSON objects)"
            ) from None
        if not isinstance(data, dict):
            raise InputError(f"{where}: not a JSON object")
        decoded.append((where, data))
    return decoded, notes


def records_jsonl(records: Iterable[ClientRecord]) -> bytes:
    """Records as claude-perf's own JSON lines (what read_own reads back)."""
    return "".join(record_to_json(r) + "\n" for r in records).encode("utf-8")


def read_own(path: str, text: str) -> ClientFile:
    """claude-perf's own records (``claude-perf load`` writes them)."""
    decoded, notes = _json_lines(path, text)
    records = tuple(record_from_json(data, where) for where, data in decoded)
    return ClientFile(path, "claude-perf", _by_start(records), notes=tuple(notes))


_RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")


def rfc3339_ns(text: str, where: str) -> int:
    """RFC 3339 time with up to nanoseconds (Go's RFC3339Nano, as k6 writes) → epoch ns."""
    match = _RFC3339.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise InputError(f"{where}: time {text!r} is not RFC 3339")
    zone = "+00:00" if match[3] == "Z" else match[3]
    try:
        seconds = int(datetime.fromisoformat(match[1] + zone).timestamp())
    except ValueError:  # the shape of one, but no such instant (second 61, month 13, +25:00)
        raise InputError(f"{where}: time {text!r} is not a real instant") from None
    return seconds * 1_000_000_000 + int((match[2] or "0").ljust(9, "0"))


def _path_of(url: Any) -> str | None:
    if not isinstance(url, str) or not url:
        return None
    return urlsplit(url).path or "/"


def _status(value: Any) -> int | None:
    try:
        status = int(value)
    except (TypeError, ValueError):
        return None
    return status if 100 <= status <= 599 else None  # k6 writes status "0" for no response


def _error_class(status: int | None) -> str:
    if status is None:
        return "connect"
    return "http_5xx" if status >= 500 else "http_4xx" if status >= 400 else "other"


def read_k6(path: str, text: str) -> ClientFile:
    """k6 ``--out json``: one record per (time, tags) group of ``http_req_*`` points."""
    decoded, notes = _json_lines(path, text)
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for where, line in decoded:
        name = _K6_METRICS.get(str(line.get("metric")))
        data = line.get("data")
        if line.get("type") != "Point" or name is None or not isinstance(data, dict):
            continue
        tags = data.get("tags") or {}
        key = (str(data.get("time")), json.dumps(tags, sort_keys=True))
        group = groups.setdefault(key, {"tags": tags, "where": where, "time": data.get("time")})
        value = data.get("value")
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or not math.isfinite(value)
        ):
            raise InputError(f"{where}: {line.get('metric')} value {value!r} is not a number")
        group[name] = float(value)
    records = []
    for n, group in enumerate(groups.values(), start=1):
        if "duration" not in group:
            continue  # a request is known by its duration; other points alone are not one
        records.append(_k6_record(n, group))
    if not records:
        notes.append(f"{path}: k6 output without any http_req_duration point")
    return ClientFile(path, "k6", _by_start(records), notes=tuple(notes))


def _k6_record(n: int, group: dict[str, Any]) -> ClientRecord:
    tags = group["tags"]
    end_ns = rfc3339_ns(group["time"], group["where"])
    start_ns = end_ns - round(group["duration"] * 1e6)
    first_byte = None
    if "receiving" in group:
        first_byte = end_ns - round(group["receiving"] * 1e6)
    elif "waiting" in group:
        first_byte = start_ns + round((group.get("sending", 0.0) + group["waiting"]) * 1e6)
    status = _status(tags.get("status"))
    ok = group["failed"] == 0 if "failed" in group else status is not None and status < 400
    model = tags.get("model")
    return ClientRecord(
        id=f"k6-{n}",
        tool="k6",
        start_ns=start_ns,
        end_ns=end_ns,
        method=str(tags.get("method") or "POST"),
        path=_path_of(tags.get("url") or tags.get("name")),
        model_asked=model if isinstance(model, str) else None,
        first_byte_ns=first_byte,
        status=status,
        ok=ok,
        error_class=None if ok else _error_class(status),
        error=tags.get("error") if isinstance(tags.get("error"), str) else None,
    )


def _metric_s(metrics: dict[str, Any], name: str) -> float | None:
    entry = metrics.get(name)
    if not isinstance(entry, dict) or not isinstance(entry.get("value"), int | float):
        return None
    scale = _UNIT_S.get(str(entry.get("unit")))
    return None if scale is None else float(entry["value"]) * scale


def _metric_count(metrics: dict[str, Any], *names: str) -> int | None:
    for name in names:
        entry = metrics.get(name)
        if isinstance(entry, dict) and isinstance(entry.get("value"), int | float):
            return int(entry["value"])
    return None


def read_aiperf(path: str, text: str) -> ClientFile:
    """AIPerf ``profile_export.jsonl``: one record per line, times in epoch nanoseconds."""
    decoded, notes = _json_lines(path, text)
    records = []
    for n, (where, line) in enumerate(decoded, start=1):
        meta, metrics = line.get("metadata") or {}, line.get("metrics") or {}
        start, end = meta.get("request_start_ns"), meta.get("request_end_ns")
        if not isinstance(start, int) or not isinstance(end, int) or end < start:
            raise InputError(f"{where}: AIPerf record without request_start_ns/request_end_ns")
        ttft = _metric_s(metrics, "time_to_first_token")
        gaps = metrics.get("inter_chunk_latency")
        gap_values = gaps.get("value") if isinstance(gaps, dict) else None
        scale = _UNIT_S.get(str(gaps.get("unit"))) if isinstance(gaps, dict) else None
        chunk_gaps = (
            tuple(float(g) * scale for g in gap_values)
            if isinstance(gap_values, list) and scale is not None
            else ()
        )
        error = line.get("error")
        status = _status(error.get("code")) if isinstance(error, dict) else 200
        ack = meta.get("request_ack_ns")
        records.append(
            ClientRecord(
                id=str(meta.get("x_request_id") or f"aiperf-{n}"),
                tool="aiperf",
                start_ns=start,
                end_ns=end,
                stream=True if isinstance(ack, int) else None,
                first_byte_ns=ack if isinstance(ack, int) else None,
                first_token_ns=None if ttft is None else start + round(ttft * 1e9),
                status=status,
                ok=error is None,
                error_class=None if error is None else _error_class(status),
                error=str(error.get("message")) if isinstance(error, dict) else None,
                chunks=len(chunk_gaps) + 1 if chunk_gaps else None,
                chunk_gaps_s=chunk_gaps,
                input_tokens=_metric_count(metrics, "input_sequence_length"),
                output_tokens=_metric_count(
                    metrics, "output_sequence_length", "output_token_count"
                ),
            )
        )
    return ClientFile(path, "aiperf", _by_start(records), notes=tuple(notes))


def read_genai_perf(path: str, text: str) -> ClientFile:
    """GenAI-Perf ``profile_export.json``: requests with their response timestamps."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: GenAI-Perf export is not valid JSON (line {exc.lineno})"
        ) from None
    experiments = document.get("experiments") if isinstance(document, dict) else None
    if not isinstance(experiments, list):
        raise InputError(f"{path}: not a client file claude-perf knows ({KNOWN_FORMATS})")
    records: list[ClientRecord] = []
    for experiment in experiments:
        for request in (experiment or {}).get("requests") or []:
            records.append(_genai_record(path, len(records) + 1, request))
    return ClientFile(path, "genai-perf", _by_start(records))


def _genai_record(path: str, n: int, request: dict[str, Any]) -> ClientRecord:
    start = request.get("timestamp")
    stamps = [t for t in request.get("response_timestamps") or [] if isinstance(t, int)]
    if not isinstance(start, int) or not stamps:
        raise InputError(f"{path}: GenAI-Perf request {n} has no timestamp or responses")
    payload: Any = (request.get("request_inputs") or {}).get("payload")
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except json.JSONDecodeError:
            payload = None
    payload = payload if isinstance(payload, dict) else {}
    stream = payload.get("stream") if isinstance(payload.get("stream"), bool) else None
    model = payload.get("model") if isinstance(payload.get("model"), str) else None
    gaps = tuple((b - a) / 1e9 for a, b in itertools.pairwise(stamps))
    return ClientRecord(
        id=f"genai-perf-{n}",
        tool="genai-perf",
        start_ns=start,
        end_ns=max(stamps[-1], start),
        model_asked=model,
        stream=stream,
        first_byte_ns=stamps[0],
        first_token_ns=stamps[0] if stream else None,
        status=200,
        ok=True,
        chunks=len(stamps) if stream else None,
        chunk_gaps_s=gaps if stream else (),
    )


def _float_cell(row: dict[str, str], name: str, scale: float = 1.0) -> float | None:
    try:
        value = float(row.get(name) or "")
    except ValueError:
        return None
    return value * scale if math.isfinite(value) else None


def read_locust(path: str, text: str) -> ClientFile:
    """Locust ``*_stats.csv``: one aggregate per endpoint, no per-request records."""
    rows = list(csv.DictReader(io.StringIO(text)))
    aggregates = []
    for number, row in enumerate(rows, start=2):
        try:
            requests = int(row.get("Request Count") or 0)
            failures = int(row.get("Failure Count") or 0)
        except ValueError:
            raise InputError(f"{path}:{number}: Locust counts are not integers") from None
        aggregates.append(
            ClientAggregate(
                tool="locust",
                name=row.get("Name") or "",
                method=row.get("Type") or None,
                requests=requests,
                failures=failures,
                mean_s=_float_cell(row, "Average Response Time", 1e-3),
                p50_s=_float_cell(row, "50%", 1e-3),
                p95_s=_float_cell(row, "95%", 1e-3),
                p99_s=_float_cell(row, "99%", 1e-3),
                max_s=_float_cell(row, "Max Response Time", 1e-3),
                requests_per_s=_float_cell(row, "Requests/s"),
            )
        )
    note = f"{path}: Locust writes aggregates only: no per-request records to join or rank"
    return ClientFile(path, "locust", aggregates=tuple(aggregates), notes=(note,))


def read_llmperf_summary(path: str, text: str) -> ClientFile:
    """llmperf ``*_summary.json``: one aggregate row, as llmperf computed it."""
    aggregate, note = llmperf_files.read_summary(path, text)
    return ClientFile(path, "llmperf", aggregates=(aggregate,), notes=(note,))


def read_llmperf_responses(path: str, text: str) -> ClientFile:
    """llmperf ``*_individual_responses.json``: one aggregate row of its records' values."""
    aggregate, note = llmperf_files.read_individual_responses(path, text)
    return ClientFile(path, "llmperf", aggregates=(aggregate,), notes=(note,))


def _by_start(records: Iterable[ClientRecord]) -> tuple[ClientRecord, ...]:
    return tuple(sorted(records, key=lambda r: (r.start_ns, r.end_ns)))


@dataclass(frozen=True)
class ClientInputs:
    """Every client file of one report, merged: records in start order, aggregates, notes."""

    records: tuple[ClientRecord, ...] = ()
    aggregates: tuple[ClientAggregate, ...] = ()
    notes: tuple[str, ...] = ()
    formats: tuple[str, ...] = ()  # one per file, in the order given


def read_client_files(paths: Sequence[str | Path]) -> ClientInputs:
    """Each file read on its own, then merged (records in start order)."""
    files = [read_client_file(p) for p in paths]
    return ClientInputs(
        records=_by_start(r for f in files for r in f.records),
        aggregates=tuple(a for f in files for a in f.aggregates),
        notes=tuple(n for f in files for n in f.notes),
        formats=tuple(f.format for f in files),
    )

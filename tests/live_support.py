"""Helpers for the live tests of the whole pipeline against real proxies (tests/test_real_proxies.py).

- ``Seen`` / ``seen_max`` / ``seen_wrapper``: one request as the client saw it, from either
  proxy's client (``tests/maxproxy_support.py``, ``tests/docker_support.py``).
- ``claude_perf`` / ``collect`` / ``report``: the real CLI as a child process; ``Report`` is the
  JSON summary plus the ``--requests-csv`` rows.
- ``assert_counts``, ``unmatched_latencies`` (one-to-one matching of logged latencies to the
  client's), ``assert_p50_within``.
- ``running`` / ``stop_when_logged`` / ``engine_probes_in_log``: a container's life, bounded.
"""

from __future__ import annotations

import contextlib
import csv
import json
import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from claude_perf.durations import parse_instant_ns
from tests.cli_support import run_cli
from tests.conftest import DockerRun, run_container
from tests.docker_support import Outcome, logs_once, logs_text

CHAT = "/v1/chat/completions"
MESSAGES = "/v1/messages"  # the wrapper's Anthropic Messages API: never streamed
MODEL_PATHS = (CHAT, MESSAGES)
LOG_DEADLINE_S = 30.0  # the engine copies log lines within milliseconds; this is a bound only
CLI_TIMEOUT_S = 180.0
LATENCY_REL = 0.10  # per-request latency: within 10 % of the client's elapsed ...
LATENCY_ABS_S = 0.05  # ... plus 50 ms (process start, HTTP, the engine's log copier)
# A CLI run or a wrapper request starts (in the log) after the client sent it, by a few ms
# on an idle machine; allow for a loaded one.
START_SLACK_S = 0.5
# uvicorn's own access lines (`INFO:     ` head, reason phrase), gunicorn's (neither),
# hypercorn's (its logger's head, `- - [time]` after the client, a bare HTTP version), or
# uvicorn's through a JSON formatter (the line is the record's message, quotes escaped), or
# granian's (`[time] client - "..."`, no port)
_HEAD = r'(?:INFO:     |\[[^\]]+\] (?:\[\d+\] \[INFO\] )?|\{.*"message": ")?'
_IDENT = r'- (?:- \[[^\]]+\] )?\\?"'
PROBE = re.compile(
    rf"^(\S+) {_HEAD}127\.0\.0\.1(?::\d+)? {_IDENT}GET /health (?:HTTP/)?1\.1\\?\" \d{{3}}(?: |$|\")",
    re.M,
)
EXTERNAL_ACCESS = re.compile(rf"^\S+ {_HEAD}(?!127\.0\.0\.1[: ])[\d.]+(?::\d+)? {_IDENT}", re.M)
MAXPROXY_CLOSED = "[Subprocess] Process closed with code: "


# --------------------------------------------------------------------------- client view


@dataclass(frozen=True)
class Seen:
    """One request as the client saw it (both proxies' clients, in one shape)."""

    label: str
    path: str
    model: str | None
    stream: bool
    sent_s: float  # epoch seconds
    elapsed_s: float  # to the last body byte
    failed: bool  # an HTTP error, no response, or an error event in a 200 stream

    @property
    def is_model(self) -> bool:
        return self.path in MODEL_PATHS

    @property
    def is_health(self) -> bool:
        return self.path == "/health"


def _epoch_s(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339).timestamp()


def seen_max(records: Sequence[dict[str, Any]]) -> list[Seen]:
    """claude-max-api-proxy client records (``send_max``): ``error`` holds in-band errors."""
    return [
        Seen(
            r["label"],
            r["path"],
            r["model"],
            bool(r["stream"]),
            _epoch_s(r["sent_at"]),
            _epoch_s(r["end_at"]) - _epoch_s(r["sent_at"]),
            r["status"] != 200 or r["error"] is not None,
        )
        for r in records
    ]


def _sse_error(body: bytes) -> bool:
    """An ``error`` event in a streamed answer (how the wrapper reports a CLI crash mid-stream)."""
    for line in body.decode("utf-8", "replace").splitlines():
        if line.startswith("data: {") and "error" in json.loads(line[6:]):
            return True
    return False


def seen_wrapper(outcomes: Sequence[Outcome]) -> list[Seen]:
    return [
        Seen(
            o.label,
            o.path,
            o.model if o.path in MODEL_PATHS else None,
            o.stream and o.path == CHAT,  # /v1/messages answers one JSON whatever was asked
            o.started_at,
            o.elapsed_s,
            o.status != 200 or (o.stream and _sse_error(o.body)),
        )
        for o in outcomes
    ]


def client_p50_by_model(seen: Sequence[Seen]) -> dict[str, float]:
    """Median elapsed of the non-streaming succeeded requests, per model as asked."""
    by_model: dict[str, list[float]] = {}
    for s in seen:
        if s.is_model and s.model and not s.stream and not s.failed:
            by_model.setdefault(s.model, []).append(s.elapsed_s)
    return {m: statistics.median(v) for m, v in by_model.items()}


# --------------------------------------------------------------------------- claude-perf


@dataclass(frozen=True)
class Report:
    """``report -f json`` and its ``--requests-csv`` rows."""

    summary: dict[str, Any]
    rows: list[dict[str, str]]

    def models(self) -> dict[str | None, dict[str, Any]]:
        return {m["model"]: m for m in self.summary["models"]}

    def timed_model_rows(self) -> list[dict[str, str]]:
        return [r for r in self.rows if r["kind"] == "model" and r["latency_s"]]


def claude_perf(*args: str) -> str:
    """Run the real CLI; its stdout. A non-zero exit fails the test with its stderr."""
    proc = run_cli(*args, timeout=CLI_TIMEOUT_S)
    assert proc.returncode == 0, (
        f"claude-perf {' '.join(args)} exited {proc.returncode}: {proc.stderr[-3000:]}"
    )
    return proc.stdout


def collect(name: str, store: Path) -> None:
    claude_perf("collect", "--container", name, "--store", str(store))


def report(store: Path, out: Path, since: str = "1h", until: str | None = None) -> Report:
    window = ["--since", since] + (["--until", until] if until else [])
    json_path, csv_path = out.with_suffix(".json"), out.with_suffix(".csv")
    claude_perf(
        "report",
        "--store",
        str(store),
        *window,
        "-f",
        "json",
        "-o",
        str(json_path),
        "--requests-csv",
        str(csv_path),
    )
    with csv_path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return Report(json.loads(json_path.read_text(encoding="utf-8")), rows)


def assert_counts(rep: Report, seen: Sequence[Seen], health_checks: int | None = None) -> None:
    """Model requests and failures (and health checks, when given) exactly as many as the
    client saw."""
    model = [s for s in seen if s.is_model]
    failed = [s.label for s in model if s.failed]
    got = rep.summary["requests"]
    assert (got["total"], got["failed"]) == (len(model), len(failed)), (
        f"claude-perf counted {got['total']} model requests ({got['failed']} failed); the "
        f"client sent {len(model)} ({len(failed)} failed: {failed})"
    )
    if health_checks is not None:
        assert rep.summary["health"]["checks"] == health_checks, rep.summary["health"]


# --------------------------------------------------------------------------- latencies


def unmatched_latencies(rows: Sequence[dict[str, str]], seen: Sequence[Seen]) -> list[str]:
    """Timed model rows that no client request explains, one to one: a row needs a request
    sent at most START_SLACK_S before its logged start whose elapsed is within LATENCY_REL
    (+ LATENCY_ABS_S) of its latency. Maximum bipartite matching (augmenting paths), so
    similar requests cannot steal each other's partner."""
    requests = [s for s in seen if s.is_model]
    starts = [_epoch_s(r["start"]) for r in rows]
    latencies = [float(r["latency_s"]) for r in rows]
    fits = [
        [
            j
            for j, s in enumerate(requests)
            if s.sent_s - 0.05 <= start <= s.sent_s + START_SLACK_S
            and abs(latency - s.elapsed_s) <= LATENCY_REL * s.elapsed_s + LATENCY_ABS_S
        ]
        for start, latency in zip(starts, latencies, strict=True)
    ]
    partner: dict[int, int] = {}  # request index -> row index

    def augment(i: int, visited: set[int]) -> bool:
        for j in fits[i]:
            if j not in visited:
                visited.add(j)
                if j not in partner or augment(partner[j], visited):
                    partner[j] = i
                    return True
        return False

    return [
        f"row started {rows[i]['start']} latency {latencies[i]:.3f} s"
        for i in range(len(rows))
        if not augment(i, set())
    ]


def assert_p50_within(
    rep: Report, client_p50: dict[str, float], rel: float, abs_s: float = 0.0
) -> None:
    """Each model's report p50 within ``rel`` (plus ``abs_s``) of the client's p50.

    ``abs_s`` allows for the client's own share of the latency (docker-proxy, client threads),
    which does not scale with the model's delay and grows when the machine is loaded.
    """
    models = rep.models()
    wrong = {
        m: (
            round(models[m]["latency_s"]["p50"], 3) if models.get(m, {}).get("latency_s") else None,
            round(p50, 3),
        )
        for m, p50 in client_p50.items()
        if not (
            models.get(m, {}).get("latency_s")
            and models[m]["latency_s"]["p50"] == pytest.approx(p50, rel=rel, abs=abs_s)
        )
    }
    assert not wrong, f"per-model p50 (report, client) off by more than {rel:.0%}: {wrong}"


# --------------------------------------------------------------------------- containers


def running(
    docker_run: DockerRun, start: Callable[[str], tuple[Any, str]]
) -> contextlib.AbstractContextManager[tuple[Any, str]]:
    """A proxy container of this run, removed afterwards whatever happens."""
    return run_container(docker_run, start, "live")


def stop_when_logged(container: Any, check: Callable[[str], bool], what: str) -> str:
    """Wait until the log shows the end of the workload, stop the container (SIGTERM; the
    engine has copied every line once it reports the container stopped) and return the log."""
    logs_once(container, check, what, LOG_DEADLINE_S)
    container.stop(timeout=10)
    return logs_text(container)


def engine_probes_in_log(container: Any, log: str) -> tuple[int, list[str]]:
    """The engine's own Health log (its last five probes) against the probe access lines: every
    probe that exited 0 must have its line, between the probe's start and end (+1 s for the
    log copier). Returns how many probes were checked and the starts of those without a line."""
    container.reload()
    probes = (container.attrs["State"].get("Health") or {}).get("Log") or []
    lines_ns = [parse_instant_ns(m[1]) for m in PROBE.finditer(log)]
    checked, missing = 0, []
    for probe in probes:
        if probe["ExitCode"] != 0:
            continue  # e.g. cut off by the stop
        checked += 1
        start_ns, end_ns = parse_instant_ns(probe["Start"]), parse_instant_ns(probe["End"])
        if not any(start_ns <= t <= end_ns + 10**9 for t in lines_ns):
            missing.append(probe["Start"])
    return checked, missing


def succeeded_by_model(seen: Sequence[Seen]) -> dict[str, int]:
    """Per model as asked, how many requests succeeded in the client's eyes."""
    counts: dict[str, int] = {}
    for s in seen:
        if s.is_model and s.model and not s.failed:
            counts[s.model] = counts.get(s.model, 0) + 1
    return counts

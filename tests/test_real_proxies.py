"""The whole pipeline against the REAL proxies on a real Docker Engine (issue 10).

Each test starts a proxy container (published on 127.0.0.1 only), drives a known plan of
requests with bounded loops, stops the container (so its log is complete and no more probes
run), then runs the real CLI as a child process, as a user would:
``claude-perf collect --container NAME --store TMP`` and
``claude-perf report --store TMP --since 1h -f json -o out.json --requests-csv rows.csv``.
The report must tell what the client saw: the same number of model requests, failures and
health checks; latencies only as far as the proxy's logs can tell, and flagged where they
cannot.

- claude-max-api-proxy (npm, pinned; ``tests/maxproxy_support.py``) never logs the model, the
  HTTP status or a request id: its requests are CLI runs (``spawned`` .. ``closed``), paired
  first-in-first-out. Health checks are logged only with DEBUG=1, and only as arrivals.
- The stand-in claude-code-openai-wrapper (``tests/docker_support.py``) runs an in-container
  HEALTHCHECK every second. Those probes are in the logs but not in the client's view: the
  report must count them as in-container (we count them ourselves from their access lines
  ``127.0.0.1 ... "GET /health"`` in the final log, and check the engine's own Health log
  against those lines) and the client's GET /health as external.

Runtime: about 1.5 minutes on 2 shared cores (the stand-ins' per-model delays are known and
short; the plans are small).
"""

from __future__ import annotations

import contextlib
import csv
import json
import re
import statistics
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from claude_perf.durations import parse_instant_ns
from tests.cli_support import run_cli
from tests.conftest import DockerRun, remove_quietly
from tests.docker_support import (
    Outcome,
    Step,
    drive_concurrent,
    drive_workload,
    logs_text,
    rfc3339_utc,
    start_standin_proxy,
)
from tests.maxproxy_support import MaxStep, run_steps, start_maxproxy

pytestmark = pytest.mark.docker

CHAT = "/v1/chat/completions"
LOG_DEADLINE_S = 30.0  # the engine copies log lines within milliseconds; this is a bound only
CLI_TIMEOUT_S = 180.0
LATENCY_REL = 0.10  # per-request latency: within 10 % of the client's elapsed ...
LATENCY_ABS_S = 0.05  # ... plus 50 ms (process start, HTTP, the engine's log copier)
# A CLI run or a wrapper request starts (in the log) after the client sent it, by a few ms
# on an idle machine; allow for a loaded one.
START_SLACK_S = 0.5
# The stand-in wrapper's per-model delays (tests/standin/claude): short, and far enough apart
# that a swapped pairing shows.
WRAPPER_DELAYS = "haiku=0.3,sonnet=0.6,opus=1.0"
WRAPPER_MODELS = (
    "sonnet",
    "claude-haiku-4-5-20251001",
    "opus",
    "haiku",
    "claude-opus-4-1-20250805",
)
PROBE = re.compile(r'^(\S+) INFO:     127\.0\.0\.1:\d+ - "GET /health HTTP/1\.1" \d{3} ', re.M)
EXTERNAL_ACCESS = re.compile(r'^\S+ INFO:     (?!127\.0\.0\.1:)[\d.]+:\d+ - "', re.M)
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
        return self.path == CHAT

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
            o.model if o.path == CHAT else None,
            o.stream,
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


def assert_p50_within(rep: Report, client_p50: dict[str, float], rel: float) -> None:
    models = rep.models()
    wrong = {
        m: (
            round(models[m]["latency_s"]["p50"], 3) if models.get(m, {}).get("latency_s") else None,
            round(p50, 3),
        )
        for m, p50 in client_p50.items()
        if not (
            models.get(m, {}).get("latency_s")
            and models[m]["latency_s"]["p50"] == pytest.approx(p50, rel=rel)
        )
    }
    assert not wrong, f"per-model p50 (report, client) off by more than {rel:.0%}: {wrong}"


# --------------------------------------------------------------------------- containers


def poll(check: Callable[[], bool], what: str, deadline_s: float = LOG_DEADLINE_S) -> None:
    """Until ``check()`` is true; fail after the deadline (bounded, never a fixed sleep)."""
    end = time.monotonic() + deadline_s
    while not check():
        if time.monotonic() > end:
            raise TimeoutError(f"gave up waiting for {what} after {deadline_s} s")
        time.sleep(0.1)


@contextlib.contextmanager
def running(docker_run: DockerRun, start: Callable[[str], tuple[Any, str]]) -> Iterator[Any]:
    """A proxy container of this run, removed afterwards whatever happens."""
    name = f"claude-perf-test-live-{docker_run.run_id}-{uuid.uuid4().hex[:8]}"
    container, base_url = start(name)
    docker_run.track(container)
    try:
        yield container, base_url
    finally:
        remove_quietly(container)
        docker_run.created.pop(container.id, None)


def stop_when_logged(container: Any, check: Callable[[str], bool], what: str) -> str:
    """Wait until the log shows the end of the workload, stop the container (SIGTERM; the
    engine has copied every line once it reports the container stopped) and return the log."""
    poll(lambda: check(logs_text(container)), what)
    container.stop(timeout=10)
    return logs_text(container)


def engine_probes_in_log(container: Any, log: str) -> list[str]:
    """The engine's own Health log (its last five probes) against the probe access lines: every
    probe that exited 0 must have its line, between the probe's start and end (+1 s for the
    log copier). Returns the probes without a line."""
    container.reload()
    probes = (container.attrs["State"].get("Health") or {}).get("Log") or []
    lines_ns = [parse_instant_ns(m[1]) for m in PROBE.finditer(log)]
    missing = []
    for probe in probes:
        if probe["ExitCode"] != 0:
            continue  # e.g. cut off by the stop
        start_ns, end_ns = parse_instant_ns(probe["Start"]), parse_instant_ns(probe["End"])
        if not any(start_ns <= t <= end_ns + 10**9 for t in lines_ns):
            missing.append(probe["Start"])
    return missing


# --------------------------------------------------------------------------- claude-max-api-proxy

HEALTH = MaxStep("health", method="GET", path="/health", timeout_s=10)
MAX_MODELS = ("claude-haiku-4", "claude-sonnet-4", "claude-opus-4")


def maxproxy_plan(chats: int, stream_every: int) -> list[MaxStep]:
    plan = [
        MaxStep(
            f"chat {i} {MAX_MODELS[i % 3]}",
            MAX_MODELS[i % 3],
            stream=i % stream_every == stream_every - 1,
        )
        for i in range(chats)
    ]
    plan.insert(4, MaxStep("cli crash", "claude-sonnet-4", prompt="CRASH please"))
    plan.insert(9, MaxStep("no model", None))
    return plan


def run_maxproxy(
    docker_run: DockerRun, tmp_path: Path, plan: Sequence[MaxStep], *, debug: bool, in_flight: int
) -> tuple[list[Seen], Report, str, str]:
    """Start the proxy, drive ``plan``, stop, collect, report: (seen, report, name, store)."""
    with running(docker_run, lambda n: start_maxproxy(docker_run.client, n, debug=debug)) as (
        container,
        url,
    ):
        seen = seen_max(run_steps(url, plan, in_flight=in_flight))
        # one CLI run per chat request with a model (its body parsed), the crash included
        runs = sum(s.is_model and s.model is not None for s in seen)
        stop_when_logged(
            container, lambda log: log.count(MAXPROXY_CLOSED) >= runs, f"{runs} CLI runs"
        )
        store = tmp_path / "store.db"
        collect(container.name, store)
        return seen, report(store, tmp_path / "report"), container.name, str(store)


def test_maxproxy_debug_concurrent_counts_and_latency_as_far_as_the_logs_tell(
    docker_run: DockerRun, tmp_path: Path
) -> None:
    """DEBUG=1, 3 in flight: 24 requests (18 chats, every other one streamed, haiku/sonnet/
    opus; a CLI crash; a request without a model; 4 GET /health from the client)."""
    plan = maxproxy_plan(18, stream_every=2)
    for at in (0, 7, 15, len(plan) + 3):
        plan.insert(at, HEALTH)
    assert len(plan) == 24
    seen, rep, name, store = run_maxproxy(docker_run, tmp_path, plan, debug=True, in_flight=3)
    assert sum(s.failed for s in seen) == 2 and not any(s.failed for s in seen if not s.is_model)

    health = sum(s.is_health for s in seen)
    assert_counts(rep, seen, health_checks=health)
    # DEBUG logs every arrival: the client's health checks are external, their outcome unknown
    assert rep.summary["health"]["external"] == health
    assert rep.summary["data_quality"]["dialects"] == {
        f"store:{name}": ["claude-max-api-proxy-debug"]
    }
    # The proxy never logs the model: one "model not logged" group holding every request.
    assert [(m["model"], m["requests"]) for m in rep.summary["models"]] == [(None, 20)]
    markdown = claude_perf("report", "--store", store, "--since", "1h", "--no-charts")
    assert "(model not logged)" in markdown

    # Latency, as far as the logs tell. Every CLI run is timed (spawned .. closed) ...
    cli_runs = [s for s in seen if s.is_model and s.model is not None]
    timed = rep.timed_model_rows()
    assert len(timed) == len(cli_runs)
    # ... but with 3 in flight and no request id on `closed`, pairing is first-in-first-out:
    # a row the pipeline did not flag as ambiguous must be the client's request to within 10 %
    # (+50 ms); a flagged one may be swapped, and the report says so (inferred_share > 0).
    clear = [r for r in timed if r["ambiguous"] == "False"]
    assert not unmatched_latencies(clear, seen)
    if len(clear) < len(timed):
        assert rep.summary["models"][0]["inferred_share"] > 0
    # The mean over all of them does not depend on the pairing (sum of ends − sum of starts).
    mean_log = statistics.fmean(float(r["latency_s"]) for r in timed)
    mean_client = statistics.fmean(s.elapsed_s for s in cli_runs)
    assert abs(mean_log - mean_client) <= LATENCY_REL * mean_client + LATENCY_ABS_S, (
        mean_log,
        mean_client,
    )


def test_maxproxy_plain_sequential_counts_exact_and_health_checks_not_logged(
    docker_run: DockerRun, tmp_path: Path
) -> None:
    """Default logging, one request at a time: 8 chats, a CLI crash, a request without a model
    and 2 GET /health the proxy does not log without DEBUG=1."""
    plan = maxproxy_plan(8, stream_every=3)
    plan.insert(3, HEALTH)
    plan.append(HEALTH)
    seen, rep, name, _ = run_maxproxy(docker_run, tmp_path, plan, debug=False, in_flight=1)
    assert sum(s.failed for s in seen) == 2

    # Health checks are not logged without DEBUG: none counted, and the report says it saw none.
    assert_counts(rep, seen, health_checks=0)
    not_evaluated = {f["rule"]: f["reason"] for f in rep.summary["findings"]["not_evaluated"]}
    assert "no health checks in the logs" in not_evaluated["health_failing"]
    assert rep.summary["data_quality"]["dialects"] == {f"store:{name}": ["claude-max-api-proxy"]}
    assert [(m["model"], m["requests"]) for m in rep.summary["models"]] == [(None, 10)]
    # One at a time the first-in-first-out pairing is right (a stream's `closed` line may come
    # after the next request's `spawned`, which the pipeline flags, but the order holds): every
    # CLI run's latency is the client's to within 10 % (+50 ms).
    timed = rep.timed_model_rows()
    assert len(timed) == sum(s.is_model and s.model is not None for s in seen)
    assert not unmatched_latencies(timed, seen)


# --------------------------------------------------------------------------- the stand-in wrapper


def wrapper_steps(n: int, prefix: str, stream_every: int) -> list[Step]:
    """``n`` ordinary requests cycling through aliases and full ids; every ``stream_every``-th
    streams."""
    steps = []
    for i in range(n):
        model, stream = (
            WRAPPER_MODELS[i % len(WRAPPER_MODELS)],
            i % stream_every == stream_every - 1,
        )
        steps.append(Step(f"{prefix}{i:02d} {model}", model, stream=stream))
    return steps


CLIENT_HEALTH = Step("client health", method="GET", path="/health")
MALFORMED = b'{"model": "sonnet", "messages": [,]}'


def wrapper_run(
    docker_run: DockerRun, store: Path, debug: bool, drive: Callable[[str], list[Outcome]]
) -> tuple[list[Seen], str, str]:
    """Start the stand-in wrapper, drive it, stop it, collect into ``store``:
    (seen, container name, its whole log)."""
    with running(
        docker_run,
        lambda n: start_standin_proxy(
            docker_run.client,
            n,
            debug=debug,
            RATE_LIMIT_PER_MIN="0",
            STANDIN_MODEL_DELAYS=WRAPPER_DELAYS,
        ),
    ) as (container, url):
        seen = seen_wrapper(drive(url))
        log = stop_when_logged(
            container,
            lambda text: len(EXTERNAL_ACCESS.findall(text)) >= len(seen),
            f"{len(seen)} access lines",
        )
        missing = engine_probes_in_log(container, log)
        assert not missing, f"engine probes without an access line: {missing}"
        collect(container.name, store)
        return seen, container.name, log


def assert_wrapper_counts(rep: Report, seen: Sequence[Seen], log: str) -> None:
    """Counts exact: the client's requests, and the in-container probes from the log."""
    probes = len(PROBE.findall(log))
    client_health = sum(s.is_health for s in seen)
    assert probes > 0  # the HEALTHCHECK ran every second
    assert_counts(rep, seen, health_checks=probes + client_health)
    h = rep.summary["health"]
    assert (h["in_container"], h["external"]) == (probes, client_health), h


def test_wrapper_debug_sequential_then_concurrent(docker_run: DockerRun, tmp_path: Path) -> None:
    """DEBUG_MODE=true: 15 requests one at a time (12 chats, every 4th streamed; a CLI crash,
    a bad API key, a client health check), then 21 with 4 in flight (18 chats; malformed JSON,
    a CLI crash mid-stream, a client health check). The phases are reported separately
    (``--since``/``--until``) for the per-model p50s, the whole run for the counts."""
    seq = wrapper_steps(12, "s", 4)
    seq[3:3] = [Step("cli crash", "haiku", prompt="CRASH please")]
    seq[8:8] = [Step("bad key", "sonnet", api_key="wrong-key")]
    seq[10:10] = [CLIENT_HEALTH]
    conc = wrapper_steps(18, "c", 4)
    conc[5:5] = [Step("malformed", "sonnet", raw_body=MALFORMED)]
    conc[11:11] = [Step("stream cli crash", "opus", prompt="CRASH please", stream=True)]
    conc[14:14] = [CLIENT_HEALTH]
    marks: list[str] = []

    def drive(url: str) -> list[Outcome]:
        marks.append(rfc3339_utc(time.time()))
        out = drive_workload(url, seq)
        marks.append(rfc3339_utc(time.time()))
        out += drive_concurrent(url, conc, in_flight=4)
        marks.append(rfc3339_utc(time.time()))
        return out

    store = tmp_path / "store.db"
    seen, name, log = wrapper_run(docker_run, store, True, drive)
    assert [s.label for s in seen if s.failed] == [
        "cli crash",
        "bad key",
        "malformed",
        "stream cli crash",
    ]

    whole = report(store, tmp_path / "whole")
    assert_wrapper_counts(whole, seen, log)
    assert whole.summary["data_quality"]["dialects"] == {
        f"store:{name}": ["claude-code-openai-wrapper-debug"]
    }
    # DEBUG logs each response's own time: nothing rests on an inferred pairing.
    assert [m["inferred_share"] for m in whole.summary["models"]] == [0.0] * len(
        whole.summary["models"]
    )

    n_seq = len(seq)
    first = report(store, tmp_path / "sequential", since=marks[0], until=marks[1])
    assert_counts(first, seen[:n_seq])
    assert_p50_within(first, client_p50_by_model(seen[:n_seq]), rel=0.10)
    second = report(store, tmp_path / "concurrent", since=marks[1], until=marks[2])
    assert_counts(second, seen[n_seq:])
    assert second.summary["throughput"]["max_in_flight"] >= 3
    assert_p50_within(second, client_p50_by_model(seen[n_seq:]), rel=0.15)


def test_wrapper_plain_concurrent_counts_exact_and_p50_or_flagged(
    docker_run: DockerRun, tmp_path: Path
) -> None:
    """Default logging, 3 in flight: 19 requests (16 chats, every 4th streamed; malformed JSON,
    a CLI crash mid-stream, a client health check). Without DEBUG the wrapper logs no start
    and no request id, so a p50 must be the client's (15 %) or marked as resting on inferred
    pairings; full ids in its supported list are not logged at all ("model not logged")."""
    steps = wrapper_steps(16, "c", 4)
    steps[5:5] = [Step("malformed", "sonnet", raw_body=MALFORMED)]
    steps[11:11] = [Step("stream cli crash", "opus", prompt="CRASH please", stream=True)]
    steps[14:14] = [CLIENT_HEALTH]

    store = tmp_path / "store.db"
    seen, name, log = wrapper_run(
        docker_run, store, False, lambda url: drive_concurrent(url, steps, in_flight=3)
    )
    assert [s.label for s in seen if s.failed] == ["malformed", "stream cli crash"]
    rep = report(store, tmp_path / "report")
    assert_wrapper_counts(rep, seen, log)
    assert rep.summary["data_quality"]["dialects"] == {
        f"store:{name}": ["claude-code-openai-wrapper"]
    }
    client_p50 = client_p50_by_model(seen)
    checked = 0
    for m in rep.summary["models"]:
        if m["model"] is None or not m["latency_s"]:
            continue
        assert m["model"] in client_p50, m["model"]
        p50, truth = m["latency_s"]["p50"], client_p50[m["model"]]
        assert p50 == pytest.approx(truth, rel=0.15) or m["inferred_share"] > 0, (
            f"{m['model']}: p50 {p50:.3f} s vs the client's {truth:.3f} s, and not flagged "
            f"as inferred (inferred_share {m['inferred_share']})"
        )
        checked += 1
    assert checked >= 2

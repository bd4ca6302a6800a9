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

Helpers: ``tests/live_support.py``. Runtime: about 45 s on 2 shared cores (the stand-ins'
per-model delays are known and short; the plans are small).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from tests.conftest import DockerRun
from tests.docker_support import (
    Outcome,
    Step,
    drive_concurrent,
    drive_workload,
    logs_once,
    rfc3339_utc,
    start_standin_proxy,
)
from tests.live_support import (
    EXTERNAL_ACCESS,
    LATENCY_ABS_S,
    LATENCY_REL,
    MAXPROXY_CLOSED,
    PROBE,
    Report,
    Seen,
    assert_counts,
    assert_p50_within,
    claude_perf,
    client_p50_by_model,
    collect,
    engine_probes_in_log,
    report,
    running,
    seen_max,
    seen_wrapper,
    stop_when_logged,
    succeeded_by_model,
    unmatched_latencies,
)
from tests.maxproxy_support import MaxStep, run_steps, start_maxproxy

pytestmark = pytest.mark.docker

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


Drive = Callable[[str, Callable[[int], None]], list[Outcome]]


def wrapper_run(
    docker_run: DockerRun, store: Path, debug: bool, drive: Drive, server: str = "uvicorn"
) -> tuple[list[Seen], str, str]:
    """Start the stand-in wrapper, drive it, stop it, collect into ``store``:
    (seen, container name, its whole log). ``drive(url, logged)`` may call ``logged(n)`` to
    wait until the log shows ``n`` client access lines (the engine stamps a line when it reads
    the pipe, which lags behind the client under load)."""
    with running(
        docker_run,
        lambda n: start_standin_proxy(
            docker_run.client,
            n,
            debug=debug,
            server=server,
            RATE_LIMIT_PER_MIN="0",
            STANDIN_MODEL_DELAYS=WRAPPER_DELAYS,
        ),
    ) as (container, url):

        def logged(n: int) -> None:
            logs_once(
                container, lambda text: len(EXTERNAL_ACCESS.findall(text)) >= n, f"{n} access lines"
            )

        seen = seen_wrapper(drive(url, logged))
        log = stop_when_logged(
            container,
            lambda text: len(EXTERNAL_ACCESS.findall(text)) >= len(seen),
            f"{len(seen)} access lines",
        )
        checked, missing = engine_probes_in_log(container, log)
        assert checked >= 3 and not missing, f"{checked} engine probes, without a line: {missing}"
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

    def drive(url: str, logged: Callable[[int], None]) -> list[Outcome]:
        # Each phase mark is taken once the log holds the phase's lines, so that no line of a
        # request is stamped on the other side of a mark.
        marks.append(rfc3339_utc(time.time()))
        out = drive_workload(url, seq)
        logged(len(seq))
        marks.append(rfc3339_utc(time.time()))
        out += drive_concurrent(url, conc, in_flight=4)
        logged(len(seq) + len(conc))
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
    # DEBUG logs each response's own time, which names its start: a pairing is inferred only
    # where another start was stamped within the proxy's millisecond slack (correlate.py
    # APP_MATCH_S), which only the concurrent phase can do.
    assert whole.summary["data_quality"]["ambiguous_pairings"] <= len(conc)

    n_seq = len(seq)
    first = report(store, tmp_path / "sequential", since=marks[0], until=marks[1])
    assert_counts(first, seen[:n_seq])
    assert [m["inferred_share"] for m in first.summary["models"]] == [0.0] * len(
        first.summary["models"]
    )
    assert_p50_within(first, client_p50_by_model(seen[:n_seq]), rel=0.10)
    # Every request is under the model it asked for, failures included, in both phases: a
    # body record that reaches the log after its own access line (stdout and stderr are
    # separate pipes) still names its request, and a streamed CLI crash's error records never
    # go to a request that started after them.
    got = {m: v["succeeded"] for m, v in first.models().items() if m and v["succeeded"]}
    assert got == succeeded_by_model(seen[:n_seq])
    by_model = {m: (v["requests"], v["failed"]) for m, v in whole.models().items()}
    want: dict[str | None, tuple[int, int]] = {}
    for s in seen:
        if s.is_model:
            requests, failed = want.get(s.model, (0, 0))
            want[s.model] = (requests + 1, failed + int(s.failed))
    if by_model != want:
        # Under load a request's body can be read after another request started: which body is
        # whose is then unknown, and both rows are marked inferred (never one sure row with the
        # other's model). Seen in loaded full runs: haiku 6 of 7, or opus 6 of 7, one model
        # unknown. A model with more requests than the client sent has a marked row; the
        # requests missing from the others are no more than the marked rows.
        marked = [r["model"] or None for r in whole.rows if r["ambiguous"] == "True"]
        surplus = {m for m in by_model if by_model[m][0] > want.get(m, (0, 0))[0]}
        missing = sum(max(want[m][0] - by_model.get(m, (0, 0))[0], 0) for m in want)
        assert surplus <= set(marked) and missing <= len(marked), (by_model, want, marked)
    second = report(store, tmp_path / "concurrent", since=marks[1], until=marks[2])
    assert_counts(second, seen[n_seq:])
    assert second.summary["throughput"]["max_in_flight"] >= 3
    # Concurrent requests queue in docker-proxy and the client's threads: on a loaded 2-core
    # machine that added 0.14 s to every request's client-side time (haiku: report 0.383 s,
    # client 0.520 s), the proxy's own time unchanged. A model swap moves a p50 by >= 0.3 s:
    # a model whose p50 is off by more must be one the report marks as resting on inferred
    # pairings (a fresh-clone CI run saw haiku 0.17 against the client's 0.334 s).
    client_p50 = client_p50_by_model(seen[n_seq:])
    marked = {m["model"] for m in second.summary["models"] if m["inferred_share"] > 0}
    assert_p50_within(
        second, {m: p for m, p in client_p50.items() if m not in marked}, rel=0.15, abs_s=0.15
    )


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
        docker_run, store, False, lambda url, _logged: drive_concurrent(url, steps, in_flight=3)
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


@pytest.mark.parametrize(
    ("server", "marker", "access_dialect"),
    [
        ("gunicorn", "Booting worker with pid", "gunicorn"),
        ("hypercorn", "Running on", "hypercorn"),
        ("uvicorn-json", '"name": "uvicorn.error"', "uvicorn-access-json"),
        ("granian", "Starting granian", "granian"),
    ],
)
def test_wrapper_under_other_servers_counts_exact_and_p50_or_flagged(
    docker_run: DockerRun, tmp_path: Path, server: str, marker: str, access_dialect: str
) -> None:
    """The same app served as FastAPI images often serve it: by gunicorn with two uvicorn
    workers (bare access lines through gunicorn's handler, gunicorn's own records, two
    processes interleaving), by hypercorn (its own access format after its logger's head), or
    by uvicorn with every record as JSON (python-json-logger), or by granian (its access line
    at the response's end, with the whole response time).
    8 requests one at a time (malformed JSON among them: its validation errors
    are logged between a 200 and its own 422), then 11 with 3 in flight (every 4th streamed, a
    CLI crash mid-stream, a client health check)."""
    steps = wrapper_steps(16, "g", 4)
    steps[5:5] = [Step("malformed", "sonnet", raw_body=MALFORMED)]
    steps[11:11] = [Step("stream cli crash", "opus", prompt="CRASH please", stream=True)]
    steps[14:14] = [CLIENT_HEALTH]

    def drive(url: str, _logged: Callable[[int], None]) -> list[Outcome]:
        return drive_workload(url, steps[:8]) + drive_concurrent(url, steps[8:], in_flight=3)

    store = tmp_path / "store.db"
    seen, name, log = wrapper_run(docker_run, store, False, drive, server=server)
    assert marker in log
    assert [s.label for s in seen if s.failed] == ["malformed", "stream cli crash"]
    rep = report(store, tmp_path / "report")
    assert_wrapper_counts(rep, seen, log)
    assert rep.summary["errors"]["by_class"] == {"validation": 1, "cli": 1}
    assert rep.summary["data_quality"]["dialects"] == {
        f"store:{name}": ["claude-code-openai-wrapper", access_dialect]
    }
    client_p50 = client_p50_by_model(seen)
    for m in rep.summary["models"]:
        if m["model"] is None or not m["latency_s"]:
            continue
        p50, truth = m["latency_s"]["p50"], client_p50[m["model"]]
        assert p50 == pytest.approx(truth, rel=0.15) or m["inferred_share"] > 0, m["model"]


def test_wrapper_messages_api_requests_have_their_start_and_model(
    docker_run: DockerRun, tmp_path: Path
) -> None:
    """The wrapper's /v1/messages (Anthropic Messages API, v2.2.0) logs its start with the
    model as asked, full ids included: one at a time, beside chats, each /v1/messages request
    is timed and named for sure, its p50 the client's (15 %). A `stream: true` is ignored by
    the proxy (one JSON answer), and the report does not call it a stream either."""
    messages = [
        Step(f"msg {i}", model, path="/v1/messages", stream=(i == 4))
        for i, model in enumerate(
            ["opus", "claude-haiku-4-5-20251001", "sonnet", "opus", "claude-haiku-4-5-20251001"]
        )
    ]
    steps = [*messages[:2], Step("chat 1", "sonnet"), *messages[2:], Step("chat 2", "haiku")]

    def drive(url: str, _logged: Callable[[int], None]) -> list[Outcome]:
        return drive_workload(url, steps)

    store = tmp_path / "store.db"
    seen, _name, log = wrapper_run(docker_run, store, False, drive)
    assert "Anthropic Messages API request: model=claude-haiku-4-5-20251001" in log
    assert not [s.label for s in seen if s.failed]
    rep = report(store, tmp_path / "report")
    assert_wrapper_counts(rep, seen, log)
    rows = [r for r in rep.rows if r["path"] == "/v1/messages"]
    assert len(rows) == len(messages)
    assert [r["model"] for r in rows] == [s.model for s in messages]
    assert all(r["latency_source"] == "paired" and r["ambiguous"] == "False" for r in rows), rows
    assert all(r["stream"] != "True" for r in rows)
    client_p50 = client_p50_by_model([s for s in seen if s.path == "/v1/messages"])
    by_model = {m["model"]: m for m in rep.summary["models"]}
    for model, truth in client_p50.items():
        assert by_model[model]["latency_s"]["p50"] == pytest.approx(truth, rel=0.15), model

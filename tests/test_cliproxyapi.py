"""CLIProxyAPI (router-for-me/CLIProxyAPI, Go): the report against what the client saw.

The fixtures in fixtures/cliproxy/ are lines made from CLIProxyAPI's format strings for a known
request list, not a run (it could not be built here: fixtures/cliproxy/README.md), with the
client's view of the same plan. Known answers: request, failure, health-check and other-endpoint
counts exact; latency within 2% of the client's per model wherever the model is logged (the
logged time is cut to the millisecond, or to the second over a minute; the client's adds the
network); the model is "not logged" where CLIProxyAPI does not log it, never guessed; every
request line is one request, once.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claude_perf.analysis.pipeline import Analysis, analyse, analyse_session
from claude_perf.config.families import family_of
from claude_perf.config.schema import Config
from claude_perf.ingest.client_records import ClientRecord
from claude_perf.ingest.files import read_log, read_logs
from claude_perf.ingest.session import Session
from claude_perf.report.summary import build

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "cliproxy"
NAMES = [
    "cliproxy-default-sequential",
    "cliproxy-debug-concurrent",
    "cliproxy-v6-legacy-sequential",
]
MODEL_PATHS = ("/v1/messages", "/v1/chat/completions")
REQUEST_LINE = re.compile(r"\[gin_logger\.go:\d+\] ")


def view(name: str) -> list[dict[str, Any]]:
    return json.loads((FIXTURES / name / "client-view.json").read_text(encoding="utf-8"))


def analysis(name: str) -> Analysis:
    return analyse(read_logs([str(FIXTURES / name / "docker-logs-t.txt")]), Config())


def elapsed_s(r: dict[str, Any]) -> float:
    end, sent = (datetime.fromisoformat(r[k]) for k in ("end_at", "sent_at"))
    return (end - sent).total_seconds()


def is_model(r: dict[str, Any]) -> bool:
    return r["path"] in MODEL_PATHS


def by_kind(table: Any, kind: str) -> Any:
    return table[table["kind"] == kind]


def _generator() -> Any:
    """fixtures/cliproxy/make_cliproxy.py, the fixtures' generator, as a module."""
    sys.path.insert(0, str(FIXTURES))
    try:
        import make_cliproxy
    finally:
        sys.path.remove(str(FIXTURES))
    return make_cliproxy


def test_the_fixtures_are_what_the_generator_makes() -> None:
    for name in NAMES:
        logs, client = _generator().render(name)
        assert (FIXTURES / name / "docker-logs-t.txt").read_text(encoding="utf-8") == logs
        assert (FIXTURES / name / "client-view.json").read_text(encoding="utf-8") == client


@pytest.mark.parametrize("name", NAMES)
def test_counts_equal_what_the_client_saw(name: str) -> None:
    client = view(name)
    a = analysis(name)
    table = a.requests.table
    model = by_kind(table, "model")
    assert len(model) == sum(map(is_model, client))
    assert int((model["outcome"] == "failed").sum()) == sum(
        is_model(r) and r["status"] >= 400 for r in client
    )
    assert len(by_kind(table, "health")) == sum(r["path"] == "/healthz" for r in client)
    others = [r for r in client if not is_model(r) and r["path"] != "/healthz"]
    assert len(by_kind(table, "other")) == len(others)
    assert a.quality.dialects[str(FIXTURES / name / "docker-logs-t.txt")] == ("cliproxyapi",)


@pytest.mark.parametrize("name", NAMES)
def test_every_request_line_is_one_request_and_nothing_else_is(name: str) -> None:
    # The warnings with duration= and model= fields, gin's route table (debug: true) and the
    # thinking lines are read by no generic reader as requests (the dialect is exclusive).
    logs = (FIXTURES / name / "docker-logs-t.txt").read_text(encoding="utf-8")
    lines = sum(1 for line in logs.splitlines() if REQUEST_LINE.search(line))
    a = analysis(name)
    assert len(a.requests.table) == lines == len(view(name))
    assert a.requests.unmatched_starts == 0
    assert a.requests.error_records == 0


@pytest.mark.parametrize("name", NAMES)
def test_latency_is_the_logged_whole_time_of_each_request(name: str) -> None:
    # Each request's own latency against the client's, in plan order (both are in end order
    # for the sequential plans; by start for the concurrent one).
    client = sorted((r for r in view(name) if is_model(r)), key=lambda r: r["end_at"])
    model = by_kind(analysis(name).requests.table, "model").sort_values("end")
    assert len(model) == len(client)
    for r, latency in zip(client, model["latency_s"], strict=True):
        truth = elapsed_s(r)
        # cut to the millisecond (to the second over a minute); the client adds 0.4-1.0 ms
        cut = 1.0 if truth > 60 else 0.001
        assert truth - cut - 0.0015 <= latency <= truth, (r["label"], latency, truth)


def test_a_stream_over_a_minute_is_timed_to_the_second() -> None:
    # gin_logger.go cuts a latency over a minute to the second: "1m12s" (Go's Duration text).
    table = by_kind(analysis("cliproxy-default-sequential").requests.table, "model")
    longest = table.sort_values("latency_s").iloc[-1]
    assert longest["latency_s"] == 72.0
    truth = next(r for r in view("cliproxy-default-sequential") if r["label"] == "opus long stream")
    assert 72.0 <= elapsed_s(truth) < 73.0


def test_debug_mode_per_model_p50_is_the_clients() -> None:
    name = "cliproxy-debug-concurrent"
    expected: dict[str, list[float]] = {}
    for r in view(name):
        if is_model(r) and r["status"] == 200:
            expected.setdefault(family_of(r["model"]) or "", []).append(elapsed_s(r))
    summary = build(analysis(name))
    got = {m["family"]: m for m in summary["models"]}
    assert set(got) == set(expected)
    for family, times in expected.items():
        assert got[family]["latency_s"]["p50"] == pytest.approx(statistics.median(times), rel=0.02)
        assert got[family]["inferred_share"] == 0.0  # by request id, whatever was in flight
    assert summary["data_quality"]["ambiguous_pairings"] == 0
    assert summary["data_quality"]["latency_unknown"] == 0


def test_default_mode_says_model_not_logged_for_every_request() -> None:
    # Without debug: true only the upstream-failure warnings name a model: read, they would
    # put the failed attempts under their models and the rest under "model not logged".
    name = "cliproxy-default-sequential"
    summary = build(analysis(name))
    assert [m["model"] for m in summary["models"]] == [None]
    unnamed = summary["models"][0]
    assert unnamed["requests"] == sum(map(is_model, view(name)))
    truth = [elapsed_s(r) for r in view(name) if is_model(r) and r["status"] == 200]
    assert unnamed["latency_s"]["p50"] == pytest.approx(statistics.median(truth), rel=0.02)
    for legacy in build(analysis("cliproxy-v6-legacy-sequential"))["models"]:
        assert legacy["model"] is None


def test_a_failed_upstream_call_recovered_on_another_credential_is_a_success() -> None:
    for name, label in [
        ("cliproxy-default-sequential", "sonnet retried"),
        ("cliproxy-debug-concurrent", "haiku 13"),
    ]:
        truth = next(r for r in view(name) if r["label"] == label)
        table = by_kind(analysis(name).requests.table, "model")
        row = table.iloc[(table["latency_s"] - elapsed_s(truth)).abs().argmin()]
        assert truth["status"] == 200
        assert (row["status"], row["outcome"]) == (200, "succeeded")
        model = row["model"] if isinstance(row["model"], str) else None  # not logged: NaN
        assert model == (truth["model"] if "debug" in name else None)


@pytest.mark.parametrize(
    ("name", "classes"),
    [
        ("cliproxy-default-sequential", {"auth": 1, "rate_limit": 1, "server": 1}),
        ("cliproxy-debug-concurrent", {"rate_limit": 1, "server": 1}),
        ("cliproxy-v6-legacy-sequential", {"rate_limit": 1, "server": 1}),
    ],
)
def test_failures_are_classed_by_their_status(name: str, classes: dict[str, int]) -> None:
    assert build(analysis(name))["errors"]["by_class"] == classes


def test_count_tokens_with_its_model_line_is_another_endpoint_not_a_model_request() -> None:
    # debug: true logs "Use OAuth ... for model" for /v1/messages/count_tokens too, under its id
    table = analysis("cliproxy-debug-concurrent").requests.table
    other = by_kind(table, "other")
    assert list(other["path"]) == ["/v1/messages/count_tokens"]
    assert "/v1/messages/count_tokens" not in set(by_kind(table, "model")["path"])


@pytest.mark.parametrize("name", NAMES)
def test_without_engine_stamps_the_counts_and_latencies_stay(name: str) -> None:
    # CLIProxyAPI's own output (logging-to-file's main.log, or `docker logs` without -t): its
    # stamps have whole seconds, in the container's zone; the latency is in the line itself.
    logs = (FIXTURES / name / "docker-logs-t.txt").read_text(encoding="utf-8")
    plain = "".join(line.split(" ", 1)[1] + "\n" for line in logs.splitlines())
    table_, info, count = read_log("main.log", data=plain.encode())
    from claude_perf.ingest.files import combine

    a = analyse(combine([table_], [info], [count]), Config(app_timezone="Asia/Shanghai"))
    stamped = analysis(name).requests.table
    got = a.requests.table
    assert len(by_kind(got, "model")) == len(by_kind(stamped, "model"))
    assert sorted(by_kind(got, "model")["latency_s"]) == sorted(
        by_kind(stamped, "model")["latency_s"]
    )
    # the proxy's stamps (UTC+8) read in the container's zone: the same instants, to the second
    first_end = by_kind(got, "model")["end"].min()
    assert abs((first_end - by_kind(stamped, "model")["end"].min()).total_seconds()) < 1.0


def client_records(name: str) -> tuple[ClientRecord, ...]:
    def ns(value: str | None) -> int | None:
        return None if value is None else round(datetime.fromisoformat(value).timestamp() * 1e9)

    return tuple(
        ClientRecord(
            id=f"{name}-{i}",
            tool="fixture",
            start_ns=ns(r["sent_at"]) or 0,
            end_ns=ns(r["end_at"]) or 0,
            method=r["method"],
            path=r["path"],
            model_asked=r["model"],
            stream=r["stream"],
            first_byte_ns=ns(r["first_byte_at"]),
            first_token_ns=ns(r["first_content_at"]) if r["stream"] else None,
            status=r["status"],
            ok=r["status"] == 200,
        )
        for i, r in enumerate(view(name))
    )


@pytest.mark.parametrize("name", NAMES)
def test_the_client_records_join_every_logged_request(name: str) -> None:
    logs = read_logs([str(FIXTURES / name / "docker-logs-t.txt")])
    client = analyse_session(Session(logs, clients=client_records(name)), Config()).client
    assert client is not None
    join = client.join
    # every request, health checks and other endpoints too, meets its client record
    assert (len(join.pairs), len(join.unmatched_client), len(join.unmatched_server)) == (
        len(view(name)),
        0,
        0,
    )
    assert abs(join.clock_offset_s) < 0.01


def test_the_dialect_fires_on_no_other_capture() -> None:
    others = [
        *sorted((ROOT / "fixtures" / "captures").glob("*/docker-logs-t.txt")),
        ROOT / "fixtures" / "capture" / "docker-logs-t.txt",
        ROOT / "fixtures" / "standin" / "docker-logs-t.txt",
    ]
    assert len(others) >= 8
    for path in others:
        dialects = analyse(read_logs([str(path)]), Config()).quality.dialects
        assert all("cliproxyapi" not in found for found in dialects.values()), path


def test_the_redaction_takes_only_the_auth_field_of_the_upstream_warnings() -> None:
    # conductor_execution.go writes "auth=provider=claude auth_file=NAME.json" (the credential
    # that failed, named, not the secret itself): its value is taken as a secret by its key
    # name and redacted. Over-cautious, and the only change the redaction makes to these lines.
    from claude_perf.secrets import redact

    changed = []
    for name in NAMES:
        for line in (
            (FIXTURES / name / "docker-logs-t.txt").read_text(encoding="utf-8").splitlines()
        ):
            if redact(line) != line:
                changed.append((line, redact(line)))
    assert len(changed) == 6
    for line, out in changed:
        assert "upstream execution failed: " in line
        assert out == line.replace("auth=provider=claude ", "auth=[REDACTED] ")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1m12s", 72.0), ("1h0m5s", 3605.0), ("1m0.5s", 60.5), ("2.814s", 2.814), ("913ms", 0.913)],
)
def test_go_duration_text_is_read(text: str, seconds: float) -> None:
    import numpy as np

    from claude_perf.parse.text import _durations

    assert _durations(np.array([text], dtype=object), "s")[0] == pytest.approx(seconds)


def test_a_malformed_duration_stays_unknown() -> None:
    import numpy as np

    from claude_perf.parse.text import _durations

    # "5m" and "1h" (not Go's spelling, which ends in seconds, but people's) are read; a unit
    # without its number is not.
    got = _durations(np.array(["5m", "1h", "m5s", "1.5.2s", "ms"], dtype=object), "s")
    assert got[:2].tolist() == [300.0, 3600.0]
    assert np.isnan(got[2:]).all()


@pytest.mark.parametrize("name", NAMES)
def test_a_second_start_up_banner_after_requests_is_a_restart(name: str) -> None:
    from datetime import timedelta

    from claude_perf.analysis.reliability import reliability_of
    from claude_perf.ingest.files import combine

    lines = (FIXTURES / name / "docker-logs-t.txt").read_text(encoding="utf-8").splitlines()
    again = []
    other_ids = str.maketrans("0123456789abcdef", "fedcba9876543210")
    for line in lines:  # the same session once more, ten minutes later, with its own ids
        stamp, text = line.split(" ", 1)
        later = datetime.fromisoformat(stamp[:26] + "+00:00") + timedelta(minutes=10)
        text = re.sub(r"\] \[([0-9a-f]{8})\] ", lambda m: f"] [{m[1].translate(other_ids)}] ", text)
        again.append(f"{later:%Y-%m-%dT%H:%M:%S.%f}{stamp[26:29]}Z {text}")
    data = ("\n".join(lines + again) + "\n").encode()
    table, info, count = read_log("docker-logs-t.txt", data=data)
    a = analyse(combine([table], [info], [count]), Config())
    r = reliability_of(a)
    assert (r.facts, r.restarts, len(r.restarts_in_logs)) == (False, 1, 1)  # from the logs
    assert len(by_kind(a.requests.table, "model")) == 2 * sum(map(is_model, view(name)))
    assert reliability_of(analysis(name)).restarts_in_logs == ()


def test_an_id_that_comes_back_hours_later_is_another_request() -> None:
    # CLIProxyAPI's ids are 8 random hex digits: in a log of 100,000 requests about one pair
    # shares an id (n^2 / 2^33). Two completions of one id further apart than max_latency_s
    # are two requests, each with the model logged under it before its completion.
    from claude_perf.ingest.files import combine

    def lines(at: str, model: str, took: str) -> list[str]:
        head = "[2026-11-30 17:00:00] [1840f7dc] [{}] [{}]"
        return [
            f"2026-11-30T{at}.100000000Z {head.format('debug', 'conductor_execution.go:1508')}"
            f" Use OAuth provider=claude auth_file=a.json for model {model}",
            f"2026-11-30T{at}.900000000Z {head.format('info ', 'gin_logger.go:97')} 200 |"
            f'        {took} |      172.17.0.1 | POST    "/v1/messages"',
        ]

    log = lines("09:00:01", "claude-opus-4-1-20250805", "2.814s")
    log += lines("11:00:01", "claude-haiku-4-5-20251001", "913ms")
    table, info, count = read_log("x.log", data=("\n".join(log) + "\n").encode())
    got = by_kind(analyse(combine([table], [info], [count]), Config()).requests.table, "model")
    assert list(got["model"]) == ["claude-opus-4-1-20250805", "claude-haiku-4-5-20251001"]
    assert list(got["latency_s"]) == [2.814, 0.913]


def test_id_occurrences_split_only_completions_far_apart() -> None:
    import numpy as np

    from claude_perf.analysis.id_lives import id_occurrences
    from claude_perf.durations import NAT_NS

    s = 1_000_000_000
    ids = np.array([0, 0, 1, 0, 0, 1, 0, 0])
    end = np.array([0, 1, 0, 1, 1, 1, 0, 0], dtype=bool)
    ts = np.array([0, 1, 2, 3, 3000, 3001, 3002, 9000]) * s
    got = id_occurrences(ids, end, ts, 900 * s)
    # id 0: completions at 1 s and 3 s are one request (close: the last wins, as before); the
    # one at 3000 s another, with the record at 3002 s (within 900 s after it); the record at
    # 9000 s is alone (a start whose completion is not in the log); id 1 is one request.
    assert got[0] == got[1] == got[3]
    assert got[4] == got[6] != got[0]
    assert len({got[7], got[0], got[4]}) == 3
    assert got[2] == got[5] and got[2] not in (got[0], got[4], got[7])
    assert id_occurrences(ids, end, np.full(8, NAT_NS), 900 * s) is ids  # no times: as before
    assert id_occurrences(ids, end, np.arange(8) * s, 900 * s) is ids  # none far: as before


_REQUESTS = st.lists(
    st.tuples(
        st.sampled_from([200, 200, 200, 401, 429, 500, 502]),
        st.integers(0, 200_000),  # latency, ms
        st.sampled_from(["/v1/messages", "/v1/chat/completions", "/healthz", "/v1/models"]),
        st.booleans(),  # with the debug and warning lines around it
        st.sampled_from(["v7", "v6"]),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_REQUESTS)
def test_property_each_request_line_is_one_request_with_its_logged_time(requests: list) -> None:
    # Whatever the mix of shapes, statuses, latencies and the lines around them (model lines,
    # warnings with duration= and model=, thinking lines with model=), the report has one
    # request per request line and its latency is the line's; no generic reader adds any.
    from datetime import UTC, timedelta

    from claude_perf.ingest.files import combine

    gen = _generator()
    t0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    lines, expected = [], []
    for i, (status, ms, path, noisy, shape) in enumerate(requests):
        at = t0 + timedelta(seconds=300 * i)
        rid = f"{i:08x}" if path != "/healthz" else "--------"
        step = gen.Step(
            "x", "POST" if "/v1/m" in path or "/chat" in path else "GET", path, status=status
        )
        stamp = f"{at:%Y-%m-%dT%H:%M:%S}.000000000Z "
        if noisy and shape == "v7":
            lines.append(
                stamp
                + f"{gen.head(at, rid, 'debug', 'conductor_execution.go:1508')} Use OAuth provider=claude auth_file=a.json for model claude-opus-4-1"
            )
            lines.append(
                stamp
                + f"{gen.head(at, '--------', 'debug', 'apply.go:286')} thinking: no config found, passthrough | provider=claude model=claude-opus-4-1"
            )
            lines.append(
                stamp
                + f"{gen.head(at, rid, 'warn', 'conductor_execution.go:1602')} upstream execution failed: provider=claude model=claude-opus-4-1 auth=provider=claude auth_file=a.json duration=1.5s err=500 status=500"
            )
        latency = gen.gin_latency(ms / 1000)
        lines.append(stamp + gen.gin_line(at, rid, step, latency, shape == "v6"))
        expected.append(ms // 1000 if ms > 60_000 else ms / 1000)  # cut as gin_logger.go does
    table, info, count = read_log("p.log", data=("\n".join(lines) + "\n").encode())
    got = analyse(combine([table], [info], [count]), Config()).requests.table.sort_values("end")
    assert len(got) == len(requests)
    assert list(got["latency_s"]) == pytest.approx(expected)

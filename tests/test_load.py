"""`claude-perf load`: the plan's validation, and every answer shape read against a fake proxy.

Known answers come from tests/load_fake.py: "one two three" in three chunks 50 ms apart, usage
11 in / 3 out / 5 cache read (/ 2 cache creation, Anthropic), cost 0.0012 (OpenAI).
"""

from __future__ import annotations

import itertools
import json
import statistics
from dataclasses import replace
from pathlib import Path

import pytest

from claude_perf.errors import UnreachableError, UsageError
from claude_perf.ingest.client_records import ClientRecord, record_from_json
from claude_perf.load.plan import Chooser, build_plan, endpoint_url
from claude_perf.load.run import LoadOutcome, run_load
from claude_perf.store.clients import read_client_records
from claude_perf.store.read import load_session
from tests.load_fake import GAP_S, fake_proxy


def plan_of(url: str, *models: str, **kw: object) -> object:
    options: dict[str, object] = {"requests": 1, "concurrency": 1, **kw}
    return build_plan(url=url, models=models, **options)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the plan


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"models": ["a=60%", "b=30%"]}, "--model weights must sum to 100%, got 90%"),
        ({"models": ["a=60%", "b"]}, "with several --model, give each a share"),
        ({"models": ["a=60%", "a=40%"]}, "--model a is given twice"),
        ({"models": []}, "give at least one --model"),
        ({"requests": None}, "give --requests N or --duration D"),
        ({"concurrency": None}, "give exactly one of --concurrency N or --rate R"),
        ({"rate": "2/s"}, "give exactly one of --concurrency N or --rate R"),
        ({"concurrency": None, "rate": "fast"}, "--rate 'fast' is not a positive rate"),
        ({"stream_share": "150%"}, "--stream-share '150%' is not a share"),
        ({"slo": ["p99=2s"]}, "--slo 'p99=2s' is not ttft=DURATION"),
        ({"timeout": "0s"}, "--timeout must be positive"),
        ({"api": "gemini"}, "--api 'gemini' is not one of: openai, anthropic"),
        ({"url": "127.0.0.1:3456"}, "is not an http(s) URL"),
        ({"api_key_env": "NO_SUCH_KEY_VAR"}, "the environment variable NO_SUCH_KEY_VAR is not set"),
        ({"prompt_tokens": 0}, "--prompt-tokens must be from 1"),
        ({"duration": "90x"}, "'90x' is not a duration"),
    ],
)
def test_a_bad_option_is_one_line(options: dict[str, object], message: str) -> None:
    given: dict[str, object] = {
        "url": "http://127.0.0.1:1",
        "models": ["sonnet"],
        "requests": 5,
        "concurrency": 1,
        **options,
    }
    with pytest.raises(UsageError) as err:
        build_plan(**given, environ={})  # type: ignore[arg-type]
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_the_plan_reads_its_options() -> None:
    plan = build_plan(
        url="http://127.0.0.1:3456/v1",
        models=["sonnet=60%", "haiku=40%"],
        duration="5m",
        rate="30/min",
        stream_share="50%",
        prompt_tokens=4,
        slo=["ttft=2s", "latency=10s"],
        api_key_env="LOAD_KEY",
        environ={"LOAD_KEY": "sk-secret"},
    )
    assert plan.url == "http://127.0.0.1:3456/v1/chat/completions"
    assert plan.models == (("sonnet", 0.6), ("haiku", 0.4))
    assert (plan.duration_s, plan.rate_per_s, plan.stream_share) == (300.0, 0.5, 0.5)
    assert plan.prompt == "hello hello hello hello"
    assert plan.slo == (("ttft", 2.0), ("latency", 10.0))
    assert plan.api_key == "sk-secret"
    assert "sk-secret" not in repr(plan)


def test_requests_accept_json_as_the_sdks_send_it() -> None:
    # not "application/json, text/event-stream": ccproxy-api then answered a plain request with
    # an empty stream (fixtures/captures/ccproxy-direct-*-concurrent)
    from claude_perf.load.driver import base_headers

    for api in ("openai", "anthropic"):
        plan = build_plan(
            url="http://127.0.0.1:1",
            api=api,
            models=["m=100%"],
            requests=1,
            concurrency=1,
            environ={},
        )
        assert base_headers(plan)["accept"] == "application/json"


def test_endpoints_of_both_apis() -> None:
    assert endpoint_url("http://h:1", "anthropic") == "http://h:1/v1/messages"
    assert endpoint_url("http://h:1/v1/", "openai") == "http://h:1/v1/chat/completions"
    assert endpoint_url("http://h:1/x/v1/messages", "anthropic") == "http://h:1/x/v1/messages"


def test_models_and_streams_get_their_exact_shares() -> None:
    plan = build_plan(
        url="http://h:1",
        models=["a=60%", "b=40%"],
        requests=10,
        concurrency=1,
        stream_share="50%",
    )
    chooser = Chooser(plan)
    picks = [chooser.next() for _ in range(10)]
    assert sorted(m for m, _ in picks).count("a") == 6
    # each model streams half of its own requests, not one model all of them
    assert sum(s for m, s in picks if m == "a") == 3
    assert sum(s for m, s in picks if m == "b") == 2


# --------------------------------------------------------------------------- answers


def drive(tmp_path: Path, url: str, *models: str, **kw: object) -> LoadOutcome:
    plan = plan_of(url, *models, **kw)
    return run_load(plan, output=tmp_path / "r.jsonl", store=tmp_path / "s.db")  # type: ignore[arg-type]


def only(outcome: LoadOutcome) -> ClientRecord:
    assert len(outcome.records) == 1
    return outcome.records[0]


def test_openai_non_streaming(tmp_path: Path) -> None:
    with fake_proxy() as fake:
        r = only(drive(tmp_path, fake.url, "ok"))
        ((path, sent_id, body),) = fake.seen
    assert r.ok and r.status == 200 and r.error_class is None
    assert (r.model_asked, r.model_answered, r.stream) == ("ok", "answered-ok", False)
    assert (r.input_tokens, r.output_tokens, r.cache_read_tokens) == (11, 3, 5)
    assert r.cost_usd == 0.0012
    assert r.server_request_id == "chatcmpl-fake1"
    assert r.first_token_ns is None and r.chunks is None
    assert path == "/v1/chat/completions" and sent_id == r.id
    assert body["messages"][0]["content"] and body["max_tokens"] == 256
    assert r.start_ns < r.first_byte_ns <= r.end_ns  # type: ignore[operator]


def test_openai_stream_with_usage(tmp_path: Path) -> None:
    with fake_proxy() as fake:
        r = only(drive(tmp_path, fake.url, "ok", stream_share="100%"))
        body = fake.seen[0][2]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert r.ok and r.stream and r.chunks == 3  # the empty role chunk is not a token
    assert len(r.chunk_gaps_s) == 2
    assert all(GAP_S * 0.8 <= g <= GAP_S * 10 for g in r.chunk_gaps_s), r.chunk_gaps_s
    # The fake writes the headers, the role chunk and the first word at once: times are the
    # chunks' arrivals, so the first byte and the first token may be the same instant.
    assert r.start_ns < r.first_byte_ns <= r.first_token_ns < r.end_ns  # type: ignore[operator]
    assert (r.input_tokens, r.output_tokens, r.cache_read_tokens, r.cost_usd) == (11, 3, 5, 0.0012)
    assert r.server_request_id == "srv-1"  # the header wins over the body's id
    assert r.model_answered == "answered-ok"


def test_anthropic_non_streaming_and_stream(tmp_path: Path) -> None:
    with fake_proxy() as fake:
        plain = only(drive(tmp_path, fake.url, "ok", api="anthropic"))
        streamed = only(drive(tmp_path, fake.url, "ok", api="anthropic", stream_share="100%"))
        assert {p for p, _, _ in fake.seen} == {"/v1/messages"}
    for r in (plain, streamed):
        assert r.ok and r.api == "anthropic" and r.model_answered == "answered-ok"
        assert (r.input_tokens, r.output_tokens) == (11, 3)
        assert (r.cache_read_tokens, r.cache_creation_tokens) == (5, 2)
    assert plain.server_request_id == "msg_fake1" and plain.chunks is None
    # message_start says 1 output token so far; message_delta's cumulative 3 replaces it
    assert streamed.chunks == 3 and len(streamed.chunk_gaps_s) == 2
    assert streamed.first_token_ns is not None


FAILURES = [
    ("apierror", "0%", "error_in_content", 200),
    ("streamerror", "100%", "error_in_content", 200),
    ("cut", "100%", "stream_cut", 200),
    ("crash", "0%", "http_5xx", 500),
]


@pytest.mark.parametrize(
    ("api", "model", "stream", "error_class", "status"),
    [("openai", *f) for f in FAILURES]
    + [("anthropic", *f) for f in FAILURES]
    + [("openai", "apierror", "100%", "error_in_content", 200)],
)
def test_failures_from_the_clients_view(
    tmp_path: Path, api: str, model: str, stream: str, error_class: str, status: int
) -> None:
    with fake_proxy() as fake:
        r = only(drive(tmp_path, fake.url, model, api=api, stream_share=stream))
    assert (r.ok, r.error_class, r.status) == (False, error_class, status), r.error
    assert r.error and "\n" not in r.error


def test_cut_stream_keeps_what_came(tmp_path: Path) -> None:
    with fake_proxy() as fake:
        r = only(drive(tmp_path, fake.url, "cut", stream_share="100%"))
    assert r.chunks == 2 and r.first_token_ns is not None


def test_refused_key_is_http_4xx_and_the_key_is_sent_not_written(tmp_path: Path) -> None:
    env = {"LOAD_KEY": "right-key"}
    with fake_proxy(key="right-key") as fake:
        good = build_plan(
            url=fake.url,
            models=["ok"],
            requests=1,
            concurrency=1,
            api_key_env="LOAD_KEY",
            environ=env,
        )
        ok = only(run_load(good, output=tmp_path / "a.jsonl", store=tmp_path / "s.db"))
        bad = only(drive(tmp_path, fake.url, "ok"))
    assert ok.ok
    assert (bad.ok, bad.status, bad.error_class, bad.error) == (
        False,
        401,
        "http_4xx",
        "invalid x-api-key",
    )
    assert "right-key" not in (tmp_path / "a.jsonl").read_text()


def test_unreachable_url_is_connect_records_and_a_failure(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on: bound, never listening
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
        outcome = drive(tmp_path, url, "ok", requests=3, concurrency=2)
    assert [r.error_class for r in outcome.records] == ["connect"] * 3
    assert isinstance(outcome.failure, UnreachableError)
    assert "no request could connect" in str(outcome.failure)


def test_timeout_is_its_own_class(tmp_path: Path) -> None:
    with fake_proxy() as fake:
        r = only(drive(tmp_path, fake.url, "slow", timeout="300ms"))
    assert (r.ok, r.error_class, r.status) == (False, "timeout", None)  # no headers came
    assert 0.29 <= r.latency_s < 5


# --------------------------------------------------------------------------- outputs


def test_records_go_to_the_file_and_the_store_and_the_session(tmp_path: Path) -> None:
    with fake_proxy() as fake:
        outcome = drive(
            tmp_path,
            fake.url,
            "ok=50%",
            "crash=50%",
            requests=6,
            concurrency=3,
            stream_share="50%",
        )
        ids = sorted(i for _, i, _ in fake.seen)
    lines = (tmp_path / "r.jsonl").read_text().splitlines()
    from_file = [record_from_json(json.loads(x), "r.jsonl") for x in lines]
    assert sorted(r.id for r in from_file) == ids == sorted(r.id for r in outcome.records)
    assert len(set(ids)) == 6
    stored = read_client_records(tmp_path / "s.db")
    assert sorted(stored, key=lambda r: r.id) == sorted(from_file, key=lambda r: r.id)
    first = min(r.start_ns for r in stored)
    assert len(read_client_records(tmp_path / "s.db", first + 1, None)) == 5
    session = load_session(tmp_path / "s.db", since=first, until=None)
    assert len(session.clients) == 6
    assert [r.start_ns for r in session.clients] == sorted(r.start_ns for r in stored)
    assert outcome.failed == {"http_5xx": 3}
    assert [(m.model, m.requests, m.ok) for m in outcome.models()] == [
        ("ok", 3, 3),
        ("crash", 3, 0),
    ]


def test_goodput_counts_requests_within_every_slo(tmp_path: Path) -> None:
    with fake_proxy() as fake:
        outcome = drive(
            tmp_path,
            fake.url,
            "ok=50%",
            "crash=50%",
            requests=4,
            concurrency=1,
            stream_share="100%",
            slo=["ttft=5s"],
        )
    assert outcome.goodput() == 0.5


def test_goodput_of_a_plain_answer_takes_its_latency_as_its_ttft(tmp_path: Path) -> None:
    """The fake's streams take at least 2 x 50 ms (two gaps), its JSON answers come at once."""
    with fake_proxy() as fake:
        outcome = drive(tmp_path, fake.url, "ok", requests=4, stream_share="50%")
    streamed = [r for r in outcome.records if r.stream]
    plain = [r for r in outcome.records if not r.stream]
    assert len(streamed) == len(plain) == 2
    assert all(r.latency_s >= 2 * GAP_S for r in streamed)
    slow_plain = max(r.latency_s for r in plain)
    assert slow_plain < 2 * GAP_S, "the JSON answers were not quick enough for this check"
    latency_slo = (2 * GAP_S + slow_plain) / 2  # between the plain answers and the streams
    both = LoadOutcome(
        replace(outcome.plan, slo=(("latency", latency_slo),)), *astuple_rest(outcome)
    )
    assert both.goodput() == 0.5
    ttft_slo = max(slow_plain, *(r.ttft_s or 0 for r in streamed)) + 0.001
    first = LoadOutcome(replace(outcome.plan, slo=(("ttft", ttft_slo),)), *astuple_rest(outcome))
    assert first.goodput() == 1.0


def astuple_rest(outcome: LoadOutcome) -> tuple[object, ...]:
    return (outcome.records, outcome.drive, outcome.output, outcome.store)


def test_rate_and_duration_bound_the_run(tmp_path: Path) -> None:
    """20/s for 0.5 s: starts at 0, 50, ..., 450 ms, so 10 requests (11 if the 500 ms one wins
    the race with the deadline); the duration ends it, not the count."""
    with fake_proxy() as fake:
        plan = build_plan(url=fake.url, models=["ok"], requests=1000, rate="20/s", duration="500ms")
        outcome = run_load(plan, store=tmp_path / "s.db")
    assert outcome.drive.ended_by == "duration"
    assert 10 <= len(outcome.records) <= 11
    assert all(r.ok for r in outcome.records)
    starts = sorted(r.start_ns for r in outcome.records)
    gaps_s = [(b - a) / 1e9 for a, b in itertools.pairwise(starts)]
    assert statistics.median(gaps_s) == pytest.approx(0.05, abs=0.01)


def test_requests_end_a_run_before_its_duration(tmp_path: Path) -> None:
    with fake_proxy() as fake:
        plan = build_plan(url=fake.url, models=["ok"], requests=5, concurrency=5, duration="1h")
        outcome = run_load(plan, store=tmp_path / "s.db")
    assert (outcome.drive.ended_by, len(outcome.records), outcome.drive.sent) == ("requests", 5, 5)


def test_an_anthropic_stream_may_end_with_done_after_message_stop() -> None:
    # ccproxy-api and 1rgs/claude-code-proxy (LiteLLM; fixtures/captures/1rgs-default) send
    # `data: [DONE]` after an Anthropic stream's message_stop; Anthropic's
    # SDKs stop reading at it. Without message_stop it is still a cut stream.
    from claude_perf.load.answers import Reading

    def stream(*events: tuple[str, str]) -> ClientRecord:
        reading = Reading("r-1", "anthropic", "/v1/messages", "haiku", True)
        reading.headers(200, None, 1)
        for i, (name, data) in enumerate(events):
            reading.event(name, data, 2 + i)
        return reading.record(10)

    delta = ("content_block_delta", '{"type":"content_block_delta","delta":{"text":"hi"}}')
    stop = ("message_stop", '{"type":"message_stop"}')
    done = ("message", "[DONE]")
    ended = stream(delta, stop, done)
    assert (ended.ok, ended.error_class, ended.chunks) == (True, None, 1)
    cut = stream(delta, done)
    assert (cut.ok, cut.error_class) == (False, "stream_cut")

"""Known answers on the real fuergaosi233/claude-code-proxy (FastAPI + openai) in Docker.

fixtures/captures/fuergaosi-{info,debug,warning} (see their READMEs): the same plan at
LOG_LEVEL INFO, DEBUG and WARNING: 40 POST /v1/messages (2 refused with 422, one upstream 500
and one 429 not streamed, the same two streamed: those fail after the stream started, 200 then
cut) and 3 GET /health. Non-streamed answers take 0.3 s (haiku) or 1.2 s (sonnet, opus) at the
fake upstream. Tolerance: a sequential request's latency within 3 % or 30 ms of the client's.
"""

from __future__ import annotations

import pandas as pd
import pytest

from claude_perf.analysis.pipeline import Analysis, analyse
from claude_perf.config.schema import Config
from claude_perf.ingest.files import read_logs
from claude_perf.report.summary import build
from tests.openai_proxy_support import (
    OTHER_CAPTURES,
    analysis,
    around,
    clients,
    count_lines,
    log_path,
    log_text,
    messages,
    ns,
    rows,
)

ACCESS_POST = r'^INFO: +\S+ - "POST /v1/messages HTTP/1\.1" \d{3} '
PLAIN = "fuergaosi233-claude-code-proxy"
DEBUG = "fuergaosi233-claude-code-proxy-debug"


@pytest.fixture(scope="module")
def info():
    return analysis("fuergaosi-info")


@pytest.fixture(scope="module")
def debug():
    return analysis("fuergaosi-debug")


def cut_streams(name: str) -> int:
    return sum(r.error_class == "stream_cut" for r in messages(name))


@pytest.mark.parametrize("name", ["fuergaosi-info", "fuergaosi-debug"])
def test_requests_and_health_checks_are_counted_once(name: str) -> None:
    a = analysis(name)
    assert len(rows(a)) == len(messages(name)) == 40
    # one request per access line: the openai client's `HTTP Request: POST <upstream>` lines,
    # its retries and (DEBUG) the request bodies and httpcore records are not requests
    assert count_lines(name, ACCESS_POST) == 40
    health = rows(a, "health")
    assert len(health) == sum(r.path == "/health" for r in clients(name)) == 3
    assert (health["outcome"] == "succeeded").all() and not health["in_container"].any()
    assert rows(a, "other").empty
    assert a.quality.dialects == {str(log_path(name)): (DEBUG if "debug" in name else PLAIN,)}


def test_info_statuses_are_the_clients_but_a_cut_stream_looks_ok(info) -> None:
    got = rows(info)
    client = messages("fuergaosi-info")
    # every status the client saw, from the access lines
    assert sorted(got["status"].astype(int)) == sorted(int(r.status or 0) for r in client)
    # the two streams that failed after they started answered 200 first: INFO mode cannot
    # tell them (its tracebacks name no request), so they count as succeeded
    assert cut_streams("fuergaosi-info") == 2
    assert (got["outcome"] == "failed").sum() == sum(not r.ok for r in client) - 2 == 4
    # neither model nor latency is logged at INFO: unknown, not invented
    assert got["model"].isna().all() and got["latency_s"].isna().all()
    assert build(info)["latency_s"] is None


def test_debug_outcomes_are_the_clients(debug) -> None:
    got = rows(debug)
    client = messages("fuergaosi-debug")
    # here the cut streams fail too: the tracebacks go to the streamed response before them
    assert (got["outcome"] == "failed").sum() == sum(not r.ok for r in client) == 6
    assert sorted(got["status"].astype(int)) == sorted(int(r.status or 0) for r in client)


def test_debug_latency_of_sequential_requests_is_the_clients(debug) -> None:
    got = rows(debug)
    client = [r for r in messages("fuergaosi-debug") if r.stream is False and r.status != 422]
    timed = got[got["latency_s"].notna()]
    matched = 0
    for _, row in timed.iterrows():
        inside = around(client, ns(row["start"]))
        if len(inside) != 1 or len(around(messages("fuergaosi-debug"), ns(row["start"]))) != 1:
            continue  # requests in flight together: the pairing is a guess (checked below)
        truth = inside[0]
        assert row["model"] == truth.model_asked
        assert abs(row["latency_s"] - truth.latency_s) <= max(0.03 * truth.latency_s, 0.03)
        matched += 1
    assert matched == 8  # the sequential part's non-streamed requests, failures included


def test_debug_streams_have_their_model_and_first_byte(debug) -> None:
    # A streamed request's start line and its access line race on the engine's two pipes
    # (twice here the access line was stamped first, by 30-38 µs): the start is put back before
    # it, so that the stream is paired with its own start, never left startless to shift every
    # pairing after it by one.
    got = rows(debug)
    client = messages("fuergaosi-debug")
    streams = got[got["stream"] == True]  # noqa: E712
    assert len(streams) == sum(bool(r.stream) for r in client) == 18
    assert streams["latency_s"].isna().all()  # its line comes as it starts: no whole time
    sequential = 0
    for _, row in streams.iterrows():
        inside = around(client, ns(row["start"]))
        if len(inside) != 1:
            continue
        truth = inside[0]
        assert truth.stream and row["model"] == truth.model_asked
        assert (row["outcome"] == "succeeded") == truth.ok
        # the proxy's side of the time to first byte: never over the client's (plus slack)
        assert 0 <= row["ttfb_s"] <= (truth.first_byte_ns - truth.start_ns) / 1e9 + 0.005
        sequential += 1
    assert sequential == 6
    # requests in flight together pair first-in-first-out: every model's figures say inferred
    summary = build(debug)
    for model in summary["models"]:
        if model["model"] is not None:
            assert model["inferred_share"] > 0


def test_warning_logs_no_request(info) -> None:
    a = analysis("fuergaosi-warning")
    assert rows(a).empty and rows(a, "health").empty
    assert a.quality.dialects == {str(log_path("fuergaosi-warning")): (PLAIN,)}
    # the two failed streams' tracebacks are all there is: outside any request
    assert a.requests.orphan_error_records == 2


def test_before_the_dialects_debug_latency_was_invented(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without them, the DEBUG capture's key=value lines (`retries_taken=0`, the request body)
    # were read as starts: a p50 of 17.9 s against the client's 0.3-1.3 s.
    from claude_perf.config import load

    builtins = load.builtin_dialects
    mine = (PLAIN, DEBUG)
    monkeypatch.setattr(
        load, "builtin_dialects", lambda: tuple(d for d in builtins() if d.name not in mine)
    )
    before = build(analysis("fuergaosi-debug"))
    assert before["latency_s"]["p50"] > 10


@pytest.mark.parametrize("other", [*OTHER_CAPTURES, "1rgs-default"])
def test_the_dialects_are_not_found_elsewhere(other: str) -> None:
    for found in analysis(other).quality.dialects.values():
        assert PLAIN not in found and DEBUG not in found


def _without_engine_times(name: str, tmp_path) -> Analysis:
    """The capture as `docker logs` without -t gives it."""
    plain = tmp_path / f"{name}.log"
    plain.write_text("".join(line[31:] + "\n" for line in log_text(name).splitlines()))
    return analyse(read_logs([str(plain)]), Config())


def test_debug_lines_without_engine_times_keep_their_own_stamps(tmp_path) -> None:
    # the dialect's lines name no time; their head stamp (Python logging's asctime) is read
    a = _without_engine_times("fuergaosi-debug", tmp_path)
    ev = a.entries.events
    starts = ev[ev["role"] == "start"]
    # one start line per request but the 422s (refused before the handler)
    assert len(starts) == sum(r.status != 422 for r in messages("fuergaosi-debug"))
    assert starts["ts"].notna().all()
    first = next(line for line in log_text("fuergaosi-debug").splitlines() if "Processing" in line)
    asctime = first[31:54]  # its own stamp, after the engine's
    assert starts["ts"].iloc[0] == pd.Timestamp(asctime.replace(",", "."), tz="UTC")
    assert ev.loc[ev["kind"] == "access", "ts"].isna().all()  # uvicorn's line has no stamp


def test_debug_without_engine_times_pairs_each_stream_with_its_start(debug, tmp_path) -> None:
    # Without engine times the access line still comes first twice (it reached the engine
    # first); the first line with a stamp after it bounds when it was written, so its streamed
    # start within the race is put back before it, as with engine times (before: every pairing
    # after the first such stream shifted by one, models and stream flags with it).
    got = rows(_without_engine_times("fuergaosi-debug", tmp_path))
    timed = rows(debug)
    client = messages("fuergaosi-debug")
    # the plan's sequential part: the requests before the first that overlapped another
    alone = [
        len(around(client, r.start_ns)) == 1 and len(around(client, r.end_ns)) == 1 for r in client
    ]
    sequential = slice(0, alone.index(False))
    assert sequential.stop >= 10
    for column in ("status", "model", "stream"):
        assert got[column][sequential].tolist() == timed[column][sequential].tolist(), column
    # the first cut stream's traceback goes to it (the 429 after it had not started)
    cut = next(i for i, r in enumerate(client) if r.error_class == "stream_cut")
    assert got["outcome"][cut] == timed["outcome"][cut] == "failed"

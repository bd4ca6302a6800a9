"""Known answers on the real LiteLLM proxy (PyPI ``litellm[proxy]`` 1.108.7) captured in Docker.

fixtures/captures/litellm-*-mixed (see their READMEs; made by
fixtures/captures/record_litellm.py): the same plan in four logging modes (default, JSON_LOGS=True,
LITELLM_LOG=INFO, ``--detailed_debug``): model requests over both APIs one at a time and 4 in
flight, half streamed, upstream 500s and 429s (after LiteLLM's retries), an unknown model and a
wrong key (400s), a body over 100 KB, liveness and readiness probes. The client records are
the truth: the report must count every request once with the client's status, and where the
logs tell the model or the time, tell them right; where they do not, say so (unknown, never
invented).
"""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from pathlib import Path

import pandas as pd
import pytest

from claude_perf.analysis.pipeline import Analysis, analyse
from claude_perf.config.schema import Config
from claude_perf.ingest.client_records import ClientRecord, record_from_json
from claude_perf.ingest.files import read_logs
from claude_perf.report.summary import build

CAPTURES = Path(__file__).resolve().parent.parent / "fixtures" / "captures"
PLAIN, DEBUG = "litellm-proxy", "litellm-proxy-debug"
# capture → the dialects found in it (JSON: uvicorn's access lines are uvicorn-access-json's)
BELOW_DEBUG = {
    "litellm-default-mixed": (PLAIN,),
    "litellm-json-mixed": (PLAIN, "uvicorn-access-json"),
    "litellm-info-mixed": (PLAIN,),
    # JSON_LOGS=True with --detailed_debug: read as below DEBUG (see test_json_debug_...)
    "litellm-jsondebug-mixed": (PLAIN, "uvicorn-access-json"),
}
DEBUG_CAPTURE = "litellm-debug-mixed"
ALL = [*BELOW_DEBUG, DEBUG_CAPTURE]
MODEL_PATHS = ("/v1/chat/completions", "/v1/messages")


def refused(record: ClientRecord) -> bool:
    """The wrong key's request: refused by the key check (400; without a database LiteLLM
    answers `No connected db.`) before its body is logged."""
    return record.status == 400 and "No connected db" in (record.error or "")


def log_path(name: str) -> Path:
    plain = CAPTURES / name / "docker-logs-t.txt"
    return plain if plain.exists() else plain.with_suffix(".txt.gz")


@cache
def log_text(name: str) -> str:
    """The capture's `docker logs -t` output (DEBUG's is gzip'd to stay under 500 KB)."""
    import gzip

    path = log_path(name)
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return f.read()
    return path.read_text(encoding="utf-8")


@cache
def analysis(name: str) -> Analysis:
    return analyse(read_logs([str(log_path(name))]), Config())


def clients(name: str) -> list[ClientRecord]:
    path = CAPTURES / name / "client-records.jsonl"
    lines = path.read_text().splitlines()
    return [record_from_json(json.loads(line), f"{path}:{i}") for i, line in enumerate(lines, 1)]


def model_clients(name: str) -> list[ClientRecord]:
    return [r for r in clients(name) if r.path in MODEL_PATHS]


def rows(name: str, kind: str = "model") -> pd.DataFrame:
    table = analysis(name).requests.table
    return table[table["kind"] == kind].reset_index(drop=True)


def ns(t: pd.Timestamp) -> int:
    return int(pd.Timestamp(t).value)


def error_lines(name: str) -> int:
    """LiteLLM's records of a request's failure, as each dialect reads them: the handler's ERROR
    (below DEBUG) or its `An error occurred:` right before the access line (DEBUG, the OpenAI
    route only), and the key check's ERROR."""
    marks = (
        ("An error occurred: ",)
        if name == DEBUG_CAPTURE
        else ("_handle_llm_api_exception(): Exception occured",)
    ) + ("user_api_key_auth(): Exception occured",)
    return sum(any(m in line for m in marks) for line in log_text(name).splitlines())


# ---------------------------------------------------------------- every mode


@pytest.mark.parametrize("name", ALL)
def test_every_request_is_counted_once_with_the_clients_status(name: str) -> None:
    got, client = rows(name), model_clients(name)
    assert len(got) == len(client) >= 25
    assert Counter(got["status"].astype(int)) == Counter(r.status for r in client)
    assert (got["outcome"] == "failed").sum() == sum(not r.ok for r in client) == 6
    # the probes (GET /health/liveliness, /health/readiness): requests, not model requests
    others = rows(name, "other")
    assert sorted(others["path"]) == sorted(
        r.path for r in clients(name) if r.path not in MODEL_PATHS
    )
    summary = build(analysis(name))
    assert summary["requests"]["total"] == len(client)
    assert summary["requests"]["failed"] == 6


@pytest.mark.parametrize("name", ALL)
def test_the_dialect_found_is_litellms_and_no_other(name: str) -> None:
    want = BELOW_DEBUG.get(name, (DEBUG,))
    assert analysis(name).quality.dialects == {str(log_path(name)): want}


@pytest.mark.parametrize("name", ALL)
def test_each_error_record_goes_to_a_failed_request(name: str) -> None:
    got = rows(name)
    # below DEBUG one record per failure (the 500s, 429s and both 400s); at DEBUG the
    # Anthropic route's 429s have none the dialect reads (their status says it)
    want = 4 if name == DEBUG_CAPTURE else 6
    assert error_lines(name) == want
    assert got["error_records"].sum() == want
    assert analysis(name).quality.orphan_error_records == 0
    assert (got.loc[got["error_records"] > 0, "outcome"] == "failed").all()
    # the upstream's failures keep their class: 500 server, 429 rate limit (after the retries)
    classes = Counter(got.loc[got["outcome"] == "failed", "error_class"])
    assert classes == {"server": 2, "rate_limit": 2, "validation": 2}


# ---------------------------------------------------------------- below DEBUG


@pytest.mark.parametrize("name", list(BELOW_DEBUG))
def test_below_debug_model_and_latency_are_not_logged(name: str) -> None:
    got = rows(name)
    # no line names a request's model (the error texts name a failure's: not given, so that
    # failures do not stand alone under their models) and none its start
    assert got["model"].isna().all()
    assert got["start"].isna().all() and got["latency_s"].isna().all()
    summary = build(analysis(name))
    assert summary["latency_s"] is None
    assert [m["model"] for m in summary["models"]] == [None]


def without_litellm(monkeypatch: pytest.MonkeyPatch) -> None:
    """The built-in dialects less LiteLLM's: the report as it was before them."""
    from claude_perf.config import load

    builtins = load.builtin_dialects
    monkeypatch.setattr(
        load,
        "builtin_dialects",
        lambda: tuple(d for d in builtins() if d.name not in (PLAIN, DEBUG)),
    )


def test_before_the_dialect_an_error_text_named_a_model(monkeypatch: pytest.MonkeyPatch) -> None:
    # The 400's error text (`Invalid model name passed in model=claude-3-unknown. Call ...`) was
    # read as key=value: a model "claude-3-unknown." (with the sentence's full stop).
    without_litellm(monkeypatch)
    before = analyse(read_logs([str(log_path("litellm-default-mixed"))]), Config())
    table = before.requests.table
    assert list(table["model"].dropna()) == ["claude-3-unknown."]
    assert rows("litellm-default-mixed")["model"].isna().all()


# ---------------------------------------------------------------- DEBUG


def test_debug_models_and_stream_flags_are_the_clients() -> None:
    got, client = rows(DEBUG_CAPTURE), model_clients(DEBUG_CAPTURE)
    # Each request's body is logged with its start, except two: the wrong key's (refused by
    # the key check before it) and the one over 100 KB (`payload too large to log`, its keys
    # only). Their model and stream flag are not logged: unknown, never guessed.
    unlogged = [r for r in client if refused(r)]
    unlogged += [r for r in client if r.input_tokens and r.input_tokens > 10_000]
    assert len(unlogged) == 2
    want = Counter((r.model_asked, r.stream, r.ok) for r in client if r not in unlogged)
    want += Counter((None, None, r.ok) for r in unlogged)
    model = got["model"].astype(object).where(got["model"].notna(), None)
    stream = got["stream"].astype(object).where(got["stream"].notna(), None)
    assert Counter(zip(model, stream, got["outcome"] == "succeeded", strict=True)) == want
    # the unknown model's 400 is logged under the name asked (it had a start and a body)
    assert (model == "claude-3-unknown").sum() == 1


def sequential(name: str) -> list[ClientRecord]:
    """The client's model requests that overlapped no other request."""
    client = model_clients(name)
    return [
        r
        for r in client
        if not any(o is not r and o.start_ns < r.end_ns and r.start_ns < o.end_ns for o in client)
    ]


def row_of(got: pd.DataFrame, record: ClientRecord) -> pd.Series:
    """The one row whose logged start falls inside the client's request."""
    starts = got["start"].map(lambda t: ns(t) if pd.notna(t) else 0)
    found = got[(starts >= record.start_ns) & (starts <= record.end_ns)]
    assert len(found) == 1, record.id
    return found.iloc[0]


# The start line is written once the key is checked and the body parsed (20-80 ms after the
# client sent it on the capture), the access line up to 30 ms after the client had its answer
# (the engine stamps stdout late): a logged time is the client's within -150 ms / +30 ms.
EARLY_S, LATE_S = 0.15, 0.03


def test_debug_sequential_latency_and_first_byte_are_the_clients() -> None:
    got = rows(DEBUG_CAPTURE)
    records = [r for r in sequential(DEBUG_CAPTURE) if not refused(r)]
    assert len(records) >= 12
    first_messages = min((r for r in records if r.path == "/v1/messages"), key=lambda r: r.start_ns)
    streamed = 0
    for record in records:
        row = row_of(got, record)
        if record.stream:
            # a streamed answer: its access line comes with the response's head, so the time
            # logged is to the first byte (the big body's start says no stream: its "latency")
            streamed += 1
            assert pd.isna(row["latency_s"]) or pd.isna(row["stream"])
            logged = row["ttfb_s"] if pd.notna(row["ttfb_s"]) else row["latency_s"]
            truth = (record.first_byte_ns - record.start_ns) / 1e9
        else:
            assert pd.isna(row["ttfb_s"])
            logged, truth = row["latency_s"], (record.end_ns - record.start_ns) / 1e9
        assert logged <= truth + LATE_S, record.id
        if record is first_messages:
            # the first /v1/messages request after start-up waits for the route's lazy-loaded
            # module (`Lazy-loaded optional feature 'anthropic_passthrough'`, 1.2 s here)
            # before its start line: that wait is not in its logged time
            assert truth - logged > 0.5
        else:
            assert logged >= truth - EARLY_S, record.id
    assert streamed >= 4 and len(records) - streamed >= 8


def test_debug_a_body_over_100_kb_is_a_start_without_model_or_stream() -> None:
    # Claude Code's bodies are often this large: the request is counted and paired, but its
    # logged time is to its access line, which for a stream is its first byte (3.26 s here
    # against the client's 3.29 s to the first byte and 4.12 s to the last)
    got = rows(DEBUG_CAPTURE)
    big = next(
        r for r in model_clients(DEBUG_CAPTURE) if r.input_tokens and r.input_tokens > 10_000
    )
    assert big.stream is True
    row = row_of(got, big)
    assert pd.isna(row["model"]) and pd.isna(row["stream"])
    first_byte_s = (big.first_byte_ns - big.start_ns) / 1e9
    assert first_byte_s - EARLY_S <= row["latency_s"] <= first_byte_s + LATE_S
    assert row["latency_s"] < (big.end_ns - big.start_ns) / 1e9 - 0.5


def test_debug_overlapping_requests_pair_first_in_first_out_and_say_so() -> None:
    # No request id on the access line: with 4 in flight, latencies are paired by order and may
    # be swapped between requests; the report says so (inferred), per model and overall
    summary = build(analysis(DEBUG_CAPTURE))
    for model in summary["models"]:
        if model["latency_s"] is not None and model["model"] is not None:
            assert model["inferred_share"] == 1.0
    assert any("first-in-first-out" in note for note in summary["data_quality"]["notes"])


def test_before_the_debug_dialect_models_were_wrong(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without it, the key=value and JSON readers took models from LiteLLM's own records (a
    # key's hash, deployment names, the upstream's answer) and gave them to the wrong requests
    without_litellm(monkeypatch)
    before = analyse(read_logs([str(log_path(DEBUG_CAPTURE))]), Config())
    table = before.requests.table
    models = set(table.loc[table["kind"] == "model", "model"].dropna())
    asked = {r.model_asked for r in model_clients(DEBUG_CAPTURE)}
    assert models - asked  # names no client asked for
    assert table["start"].isna().all()  # and no start, so no latency at all


@pytest.mark.parametrize(
    "other",
    sorted(
        p.parent.name
        for p in CAPTURES.glob("*/docker-logs-t.txt")
        if not p.parent.name.startswith("litellm-")
    ),
)
def test_the_dialects_are_not_found_elsewhere(other: str) -> None:
    found = analyse(read_logs([str(CAPTURES / other / "docker-logs-t.txt")]), Config())
    for names in found.quality.dialects.values():
        assert PLAIN not in names and DEBUG not in names


@pytest.mark.parametrize("name", ALL)
def test_the_captures_are_small_and_hold_no_key(name: str) -> None:
    import re

    folder = CAPTURES / name
    assert all(f.stat().st_size < 500_000 for f in folder.iterdir())
    text = log_text(name)
    # the master key was made per run (sk- and 64 hex digits) and the upstream's is fake:
    # LiteLLM logs neither (it redacts headers and keys at DEBUG too)
    assert not re.search(r"sk-[0-9a-f]{64}", text)
    assert "sk-fake-upstream-key" not in text and "sk-wrong" not in text


def gaps_to_next_access_s(name: str, mark: str) -> list[float]:
    """Per line holding ``mark``: seconds to the next access line (engine times)."""
    lines = log_text(name).splitlines()
    stamps = [pd.Timestamp(line[:30]) for line in lines]
    access = [i for i, line in enumerate(lines) if 'HTTP/1.1" ' in line or 'HTTP/1.1\\" ' in line]
    out = []
    for i, line in enumerate(lines):
        if mark in line:
            nxt = next(j for j in access if j > i)
            out.append((stamps[nxt] - stamps[i]).total_seconds())
    return out


@pytest.mark.parametrize("name", [DEBUG_CAPTURE, "litellm-jsondebug-mixed"])
def test_at_debug_the_handlers_error_record_comes_long_before_its_answer(name: str) -> None:
    # Why the DEBUG dialect reads `An error occurred:` (right before the access line) and not
    # the handler's ERROR record: at DEBUG that record came 0.7-0.9 s before the access line
    # of a failed chat completion, too far to be tied to it by adjacency, and with stream flags
    # known the pairing gives such a record to the latest stream before it (13 s earlier on
    # the capture). With JSON_LOGS=True its level ERROR makes it an error record whatever a
    # dialect says, so JSON at DEBUG is read by litellm-proxy (no stream flags, no starts).
    handler = gaps_to_next_access_s(name, "_handle_llm_api_exception(): Exception occured")
    assert max(handler) > 0.5
    assert max(gaps_to_next_access_s(name, "An error occurred: ")) < 0.01


def test_debug_only_request_bodies_name_models() -> None:
    # The upstream's answers are logged as JSON too (`RAW RESPONSE:` then `{"id": ...,
    # "model": "gpt-4o", ...}`, the deployment's name): a request without a logged body (over
    # 100 KB) must not take one of them. Model readings = the bodies logged, nothing else.
    from claude_perf.parse.classify import classify

    logs = read_logs([str(log_path(DEBUG_CAPTURE))])
    events = classify(logs.table, Config()).events
    lines = log_text(DEBUG_CAPTURE).splitlines()
    bodies = sum(line.endswith("Request received by LiteLLM:") for line in lines)
    answers = sum(line[31:].startswith('{"id": "chatcmpl-') for line in lines)
    assert bodies == 30 and answers >= 10
    assert int((events["role"] == "model").sum()) == bodies


def test_the_litellm_sdks_own_logger_is_not_the_proxy(tmp_path: Path) -> None:
    # other proxies use the LiteLLM SDK (1rgs/claude-code-proxy): its bare `LiteLLM` logger's
    # line says nothing of the proxy being there
    log = tmp_path / "sdk.log"
    log.write_text(
        "2026-12-01T00:00:00.000000000Z 00:00:00 - LiteLLM:WARNING: utils.py:123 - something\n"
        '2026-12-01T00:00:01.000000000Z INFO:     172.17.0.1:1 - "POST /v1/messages HTTP/1.1"'
        " 200 OK\n"
    )
    found = analyse(read_logs([str(log)]), Config())
    assert PLAIN not in found.quality.dialects.get(str(log), ())

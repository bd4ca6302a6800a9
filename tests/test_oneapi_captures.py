"""one-api / new-api's request lines (the `one-api` dialect) against what the client saw.

fixtures/captures/oneapi-*, newapi-*: a STAND-IN (tests/standin_go/oneapi/main.go, our code on
the real gin 1.8.1) writing the gin LoggerWithFormatter line and the logger lines of one-api
v0.6.10, one-api 8df4a267 (DEBUG=true) and new-api, as read in their source, driven by
`claude-perf load` (client-records.jsonl), then 3 requests without a key (401) and a few
`GET /api/status`. Known answers: the client's counts, statuses and models; each success's
logged latency just inside the client's (the client's also holds the connection and the bytes'
transit on this machine: under 50 ms); the model and error records that the request id joins to
each [GIN] line, checked against the log's own lines read here with plain regexes.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from claude_perf.analysis.pipeline import Analysis, analyse
from claude_perf.config.schema import Config
from claude_perf.ingest.files import read_logs
from claude_perf.report.summary import build

CAPTURES = Path(__file__).resolve().parent.parent / "fixtures" / "captures"
NAMES = ["oneapi-v0.6.10-c1", "oneapi-v0.6.10-c6", "oneapi-head-debug-c4", "newapi-c6"]
NO_KEY = 3  # requests the recorder sent without a key after the load (401)
UPSTREAM_FAILED = ("claude-overloaded", "claude-2.0")  # upstream 529 / 400: no model in the line
GIN = re.compile(r"\[GIN\] [^|]+\| (\S+) \| +(\d{3}) \|[^|]+\|[^|]+\| +([A-Z]+) (\S+)")
CONSUME = re.compile(r"\| (\S+) \| .*(?:modelName=|ModelName:|\"model_name\":\")([\w.-]+)")
CLASS_OF_STATUS = {400: "validation", 401: "auth", 503: "routing", 529: "rate_limit"}


def records(name: str) -> list[dict]:
    lines = (CAPTURES / name / "client-records.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def log_text(name: str) -> str:
    return (CAPTURES / name / "docker-logs-t.txt").read_text(encoding="utf-8")


_ANALYSES: dict[str, Analysis] = {}


def analysis(name: str) -> Analysis:
    if name not in _ANALYSES:
        path = str(CAPTURES / name / "docker-logs-t.txt")
        _ANALYSES[name] = analyse(read_logs([path]), Config())
    return _ANALYSES[name]


def model_rows(name: str) -> pd.DataFrame:
    table = analysis(name).requests.table
    return table[table["kind"] == "model"]


@pytest.mark.parametrize("name", NAMES)
def test_the_one_api_dialect_reads_them_and_gins_own_does_not(name: str) -> None:
    a = analysis(name)
    assert list(a.quality.dialects.values()) == [("one-api",)]
    assert build(a)["lines"]["unparsed"] == 0  # every line of the stand-in's is a known shape


@pytest.mark.parametrize("name", NAMES)
def test_counts_and_statuses_are_the_clients(name: str) -> None:
    model = model_rows(name)
    seen = records(name)
    assert len(model) == len(seen) + NO_KEY
    want = Counter(r["status"] for r in seen) + Counter({401: NO_KEY})
    assert Counter(model["status"].astype(int).tolist()) == want
    assert int((model["outcome"] == "failed").sum()) == sum(not r["ok"] for r in seen) + NO_KEY
    table = analysis(name).requests.table
    other = table[table["kind"] == "other"]
    assert len(other) == log_text(name).count(" GET /api/status") >= 3


@pytest.mark.parametrize("name", NAMES)
def test_failures_by_class(name: str) -> None:
    model = model_rows(name)
    failed = model[model["outcome"] == "failed"]
    got = Counter(zip(failed["status"].astype(int), failed["error_class"], strict=True))
    seen = Counter(r["status"] for r in records(name) if not r["ok"]) + Counter({401: NO_KEY})
    assert got == {(s, CLASS_OF_STATUS[s]): n for s, n in seen.items()}
    assert set(seen) == {400, 401, 503, 529}  # 4xx and 5xx, from the relay and the gateway


@pytest.mark.parametrize("name", NAMES)
def test_models_are_the_clients(name: str) -> None:
    model = model_rows(name)
    seen = records(name)
    ok = model[model["outcome"] == "succeeded"]
    assert Counter(ok["model"]) == Counter(r["model_asked"] for r in seen if r["ok"])
    failed = model[model["outcome"] == "failed"]
    named = Counter(failed["model"].dropna())
    asked = Counter(r["model_asked"] for r in seen if not r["ok"])
    assert named["unknown-model"] == asked["unknown-model"] > 0  # the 503 names it
    if name == "oneapi-head-debug-c4":  # DEBUG=true: the distributor names every relayed model
        assert named == asked
        assert int(failed["model"].isna().sum()) == NO_KEY  # refused before the distributor
    else:  # the upstream's failures are logged without the model: not logged, not guessed
        assert not any(m in named for m in UPSTREAM_FAILED)
        unnamed = sum(asked[m] for m in UPSTREAM_FAILED) + NO_KEY
        assert int(failed["model"].isna().sum()) == unnamed


@pytest.mark.parametrize("name", NAMES)
def test_each_logged_latency_sits_just_inside_the_clients(name: str) -> None:
    model = model_rows(name)
    ok = model[model["outcome"] == "succeeded"]
    seen = [r for r in records(name) if r["ok"]]
    assert any(r["stream"] for r in seen)  # streams are among them, timed whole
    for asked in {r["model_asked"] for r in seen}:
        logged = sorted(ok.loc[ok["model"] == asked, "latency_s"].tolist())
        client = sorted(
            (r["end_ns"] - r["start_ns"]) / 1e9 for r in seen if r["model_asked"] == asked
        )
        gaps_s = [c - s for c, s in zip(client, logged, strict=True)]
        assert min(gaps_s) > 0 and max(gaps_s) < 0.05, (asked, gaps_s)


@pytest.mark.parametrize("name", NAMES)
def test_the_request_id_joins_each_line_to_its_own_request(name: str) -> None:
    model = model_rows(name).set_index("request_id")
    text = log_text(name)
    gin = {m[0]: (int(m[1]), m[3]) for m in GIN.findall(text)}
    consumed = dict(CONSUME.findall(text))
    assert len(consumed) == int((model["outcome"] == "succeeded").sum())
    for rid, row in model.iterrows():
        assert gin[rid] == (
            row["status"],
            "/v1/messages" if "newapi" in name else "/v1/chat/completions",
        )
        if rid in consumed:
            assert row["model"] == consumed[rid] and row["outcome"] == "succeeded"
    # The error records are the request's own: its relay error, the refusal of its key.
    by_status = model.groupby("status")["error_message"].agg(lambda s: set(s.dropna()))
    assert all("Overloaded" in m for m in by_status[529])
    assert all("无可用渠道" in m for m in by_status[503])
    assert all("未提供令牌" in m for m in by_status[401])
    first_of_400 = "claude-2.0 is not supported" if "newapi" in name else "status code is 400"
    assert all(first_of_400 in m for m in by_status[400])  # the first record's text
    # one-api logs "won't retry" and then the relay error for a 400; new-api one relay error
    records_of = model.groupby("status")["error_records"].agg(set).to_dict()
    assert records_of == {
        200: {0},
        400: {1 if "newapi" in name else 2},
        401: {1},
        503: {1},
        529: {1},
    }
    assert model.loc[model["status"] == 200, "error_message"].isna().all()


@pytest.mark.parametrize("name", NAMES)
def test_what_is_not_logged_stays_unknown(name: str) -> None:
    model = model_rows(name)
    assert model["stream"].isna().all()  # the consume record's flag is not read
    assert model["ttfb_s"].isna().all()


def test_no_other_capture_speaks_one_api() -> None:
    others = [p for p in sorted(CAPTURES.glob("*/docker-logs-t.txt")) if p.parent.name not in NAMES]
    assert len(others) > 20
    for path in others:
        a = analyse(read_logs([str(path)]), Config())
        assert not any("one-api" in d for d in a.quality.dialects.values()), path

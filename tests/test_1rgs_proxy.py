"""Known answers on the real 1rgs/claude-code-proxy (FastAPI + LiteLLM) captured in Docker.

fixtures/captures/1rgs-default (see its README): 43 requests from the client, 40 of them
POST /v1/messages (2 refused by FastAPI's validation with 422, 2 failed upstream 500s, 2 upstream
429s), 3 GET /. The proxy prints two lines per request as it hands it to LiteLLM (the second
names the Claude model asked) and logs a failure as `ERROR - Error processing request: {`;
nothing at a request's end. So the report must count the 38 requests it logged, with their
model and their failures, and say that latency, the 422s and the GETs are not logged.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd
import pytest

from claude_perf.report.summary import build
from tests.openai_proxy_support import (
    OTHER_CAPTURES,
    analysis,
    around,
    count_lines,
    messages,
    ns,
    rows,
)

NAME = "1rgs-default"
MAPPING = r"^\S+ → \S+ \d+ tools \d+ messages$"


@pytest.fixture(scope="module")
def a():
    return analysis(NAME)


def logged(name: str = NAME):
    """The client's /v1/messages requests the proxy logged: all but FastAPI's 422s."""
    return [r for r in messages(name) if r.status != 422]


def test_every_logged_request_is_counted_once(a) -> None:
    got = rows(a)
    # the client's 40, less the two 422s the proxy never prints
    assert len(messages(NAME)) == 40 and len(got) == len(logged()) == 38
    # one row per printed model line: neither the first printed line nor the error record's
    # JSON is read generically as another request
    assert count_lines(NAME, MAPPING) == 38
    assert a.quality.dialects == {str(_path()): ("1rgs-claude-code-proxy",)}
    # GET / is never logged: no health checks or other requests are invented
    assert rows(a, "health").empty and rows(a, "other").empty


def _path():
    from tests.openai_proxy_support import log_path

    return log_path(NAME)


def test_failures_and_models_are_the_clients(a) -> None:
    got = rows(a)
    client = logged()
    assert (got["outcome"] == "failed").sum() == sum(not r.ok for r in client) == 4
    per_model = Counter(zip(got["model"], got["outcome"] == "failed", strict=True))
    want = Counter((r.model_asked, not r.ok) for r in client)
    assert per_model == want
    # each row's time is the arrival of one of the client's requests in flight then, of its
    # model; and a failed row belongs to a request that failed (all failures were sequential)
    for _, row in got.iterrows():
        cands = around(client, ns(row["end"]))
        assert row["model"] in {r.model_asked for r in cands}
        if row["outcome"] == "failed":
            assert len(cands) == 1 and not cands[0].ok


def test_each_failure_is_classed_as_the_client_saw_it(a) -> None:
    # The record's JSON body follows its `ERROR - Error processing request: {` line: read as
    # that record's continuation (a level at its head), it names LiteLLM's RateLimitError.
    # Before, the body was unparsed lines and all four failures were "other".
    failed = rows(a)[lambda t: t["outcome"] == "failed"]
    client = Counter(r.status for r in logged() if not r.ok)
    assert client == {429: 2, 500: 2}
    assert Counter(failed["error_class"]) == {"rate_limit": client[429], "other": client[500]}


def test_latency_and_status_are_unknown_not_invented(a) -> None:
    got = rows(a)
    assert got["latency_s"].isna().all() and got["start"].isna().all()
    assert got["status"].isna().all()  # the printed "✓ 200 OK" comes before the upstream call
    summary = build(a)
    assert summary["latency_s"] is None
    for model in summary["models"]:
        assert model["latency_s"] is None
        assert model["latency_unknown"] == model["succeeded"]


def without(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The built-in dialects less ``name``: the report as it was before that dialect."""
    from claude_perf.config import load

    builtins = load.builtin_dialects
    monkeypatch.setattr(
        load, "builtin_dialects", lambda: tuple(d for d in builtins() if d.name != name)
    )


def test_before_the_dialect_nothing_was_read(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without it the log gave no request at all: the generic readers take neither printed line
    # for one (and so cannot count one twice either).
    without("1rgs-claude-code-proxy", monkeypatch)
    before = analysis(NAME)
    assert rows(before).empty and before.quality.dialects == {str(_path()): ()}


@pytest.mark.parametrize("other", [*OTHER_CAPTURES, "fuergaosi-info", "fuergaosi-debug"])
def test_the_dialect_is_not_found_elsewhere(other: str) -> None:
    dialects = analysis(other).quality.dialects
    assert all("1rgs-claude-code-proxy" not in found for found in dialects.values())


def test_rows_time_is_an_arrival_inside_its_client_request(a) -> None:
    # sequential part: exactly one client request around each row, and the row is logged
    # within its first 100 ms (before the upstream call), never at its end
    client = logged()
    for _, row in rows(a).iterrows():
        cands = around(client, ns(row["end"]))
        if len(cands) == 1:
            assert (ns(row["end"]) - cands[0].start_ns) / 1e9 < 0.1
    assert pd.notna(rows(a)["end"]).all()


def test_the_client_join_places_an_arrival_at_the_clients_start(a) -> None:
    # Its rows' one line is the request's arrival (latency_source "arrival"), so the join
    # sets it beside the client's start: read as an end line, the four failed requests (1.5 s
    # of upstream retries after that line) matched nothing and 34 of the 38 joined.
    from claude_perf.analysis.client_join import join_clients
    from claude_perf.config.schema import Config
    from tests.openai_proxy_support import clients

    table = a.requests.table
    assert (table["latency_source"].astype(object) == "arrival").sum() == 38
    records = clients(NAME)
    joined = join_clients(records, table, Config())
    assert len(joined.pairs) >= 37  # of the 38 logged; the rest are 422s and GETs, never logged
    assert len(joined.unmatched_server) <= 1
    for record_index, row_index in joined.pairs:
        record, row = records[record_index], table.iloc[row_index]
        assert record.path == "/v1/messages" and record.status != 422
        assert ns(row["end"]) >= record.start_ns - 50_000_000  # never before the client sent it
    failed = {i for i, r in enumerate(records) if not r.ok and r.status != 422}
    assert failed <= {i for i, _ in joined.pairs}

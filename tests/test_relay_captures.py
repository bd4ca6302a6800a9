"""Known answers on the real claude-relay-service captures (fixtures/captures/relay-*; no Docker).

Each capture holds what ``docker logs -t`` showed (its winston console: a request's completion
line with its body and client on lines under it), the service's own NDJSON log file
(``relay-file.log``, the folder docker-compose mounts) and what the client saw
(``clients.jsonl``: three admin set-up requests, ``claude-perf load`` to /api/v1/messages, and
hand-made requests: ``GET /health``, a wrong key, a malformed body). The report on either log
must tell the client's story: every logged request counted once (health checks are never
logged: none), the failures the client saw with their classes, each model as asked with its
p50 within LATENCY_REL of the client's and never above it (the relay's duration ends when its
response finished, the client's when it read the last byte: 0.3-2.6 % below on these
captures), and the tokens the client got where the log carries them.

Before the ``claude-relay-service`` dialect the same captures gave: from ``docker logs``, no
request at all (788 and 1,332 unparsed lines); from the file log, 20 and 40 requests (the 4
hand-made /api/v1/messages requests and the 3 admin ones missing) with the 401s and 400s
classed "other", and with 4 in flight 11 failures for 12 and every model's latency wrong
(haiku's p50 0.746 s for the client's 0.404 s: its lines read as starts and ends paired in
order); from v1.1.270's logs, console or file, no request at all.
"""

from __future__ import annotations

import csv
import json
import statistics
import tempfile
from collections import Counter, defaultdict
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.cli_support import run_cli

CAPTURES = Path(__file__).resolve().parent.parent / "fixtures" / "captures"
NAMES = [
    "relay-default-sequential",
    "relay-default-concurrent",
    "relay-debug-sequential",
    "relay-debug-concurrent",
]
# its release v1.1.270, whose console and file lines were another format (one line a record,
# the request logged at arrival with its id, the model on an id-less line)
OLD = ["relay-v1.1.270-sequential", "relay-v1.1.270-concurrent"]
# per request, the logged latency less the client's (joined by the relay's X-Request-ID):
# measured -41.8 to +7.3 ms on the v1.1.270 captures (whole ms from Date.now())
PER_REQUEST_MS = (-50.0, 10.0)
ENDPOINT = "/api/v1/messages"
OTHER = {"/web/auth/login", "/admin/claude-console-accounts", "/admin/api-keys"}
LATENCY_REL = 0.04  # measured: the log's p50 0.3 % to 2.6 % below the client's
ANSWERED = ["claude-3-5-haiku-20241022", "claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805"]
SERVER_FAILS = "claude-3-haiku-20240307"  # the fake upstream answers 500
RATE_LIMITED = "claude-3-opus-20240229"  # ... and 429
# The hand-made wrong-key requests carry a body naming this model (the relay logs the body of
# a 401 too); their client records name none.
WRONG_KEY_MODEL = "claude-3-5-haiku-20241022"
TZ_CONFIG = 'app_timezone = "Asia/Shanghai"\n'  # its default TIMEZONE_OFFSET, +8


def log_of(name: str, form: str) -> Path:
    folder = CAPTURES / name
    found = sorted(folder.glob(form + "*"))
    assert len(found) == 1, found
    return found[0]


def clients(name: str) -> list[dict[str, Any]]:
    text = (CAPTURES / name / "clients.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def calls(name: str) -> list[dict[str, Any]]:
    return [r for r in clients(name) if r["path"] == ENDPOINT]


@cache
def summary(name: str, form: str, with_clients: bool = False) -> dict[str, Any]:
    args = ["report", "-i", str(log_of(name, form)), "-f", "json"]
    if with_clients:
        args += ["--client", str(CAPTURES / name / "clients.jsonl")]
    if form == "relay-file.log":
        config = Path(tempfile.mkdtemp(prefix="relay-tz-")) / "claude-perf.toml"
        config.write_text(TZ_CONFIG)
        args += ["--config", str(config)]
    proc = run_cli(*args)
    assert proc.returncode == 0, proc.stderr
    out: dict[str, Any] = json.loads(proc.stdout)
    return out


FORMS = ["docker-logs-t.txt", "relay-file.log"]


@pytest.mark.parametrize("name", [*NAMES, *OLD])
def test_capture_files_are_there_and_small(name: str) -> None:
    for f in ["README.md", "clients.jsonl"]:
        assert 0 < (CAPTURES / name / f).stat().st_size < 500_000, f
    for form in FORMS:
        assert 0 < log_of(name, form).stat().st_size < 500_000, form
    readme = (CAPTURES / name / "README.md").read_text(encoding="utf-8")
    commit = "61e772fd95f48a474be12d8f9ba1e1484ae76170 (VERSION 1.1.270)"
    assert (commit if name in OLD else "8479c7ce358b6bfd6a06287812c786f9533d27a4") in readme


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("name", [*NAMES, *OLD])
def test_counts_and_failures_are_the_clients(name: str, form: str) -> None:
    records = clients(name)
    mine = calls(name)
    s = summary(name, form)
    assert s["requests"]["total"] == len(mine)
    assert s["requests"]["succeeded"] == sum(r["ok"] for r in mine)
    assert s["requests"]["failed"] == sum(not r["ok"] for r in mine)
    assert s["requests"]["other_endpoints"] == sum(r["path"] in OTHER for r in records) == 3
    # its request logger skips /health: the client's health checks are not in the log
    assert s["health"]["checks"] == 0
    assert sum(r["path"] == "/health" for r in records) == 2
    by_status = Counter(r["status"] for r in mine if not r["ok"])
    assert s["errors"]["by_class"] == {
        "auth": by_status[401],
        "validation": by_status[400],
        "rate_limit": by_status[429],
        "server": by_status[500],
    }
    assert s["data_quality"]["dialects"] == {str(log_of(name, form)): ["claude-relay-service"]}
    assert s["data_quality"]["unmatched_starts"] == 0
    assert s["data_quality"]["latency_unknown"] == 0


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("name", NAMES)
def test_models_as_asked_and_their_latency(name: str, form: str) -> None:
    mine = calls(name)
    asked = Counter(r.get("model_asked") for r in mine)
    wrong_key = sum(r["status"] == 401 for r in mine)
    asked[WRONG_KEY_MODEL] += wrong_key
    asked[None] -= wrong_key  # left: the malformed bodies, whose model nobody can tell
    models = {m["model"]: m for m in summary(name, form)["models"]}
    assert {m: v["requests"] for m, v in models.items()} == dict(asked)
    assert models[None]["requests"] == models[None]["failed"] == 2
    assert models[SERVER_FAILS]["failed"] == asked[SERVER_FAILS] > 0
    assert models[RATE_LIMITED]["failed"] == asked[RATE_LIMITED] > 0
    client_latency: dict[str, list[float]] = defaultdict(list)
    for r in mine:
        if r["ok"]:
            client_latency[r["model_asked"]].append((r["end_ns"] - r["start_ns"]) / 1e9)
    for model in ANSWERED:
        got = models[model]["latency_s"]
        want = statistics.median(client_latency[model])
        assert got["n"] == len(client_latency[model])
        assert want * (1 - LATENCY_REL) <= got["p50"] <= want, (model, got["p50"], want)
        assert models[model]["inferred_share"] == 0.0  # each completion is a whole request
    # streamed or not, the duration covers the whole answer: the opus answers (1.5 s upstream)
    # take as long streamed as not
    assert models["claude-opus-4-1-20250805"]["latency_s"]["min"] > 1.45


@pytest.mark.parametrize("name", NAMES)
def test_the_file_log_and_the_console_agree(name: str) -> None:
    console, file = summary(name, "docker-logs-t.txt"), summary(name, "relay-file.log")
    assert console["requests"] == file["requests"]
    for a, b in zip(console["models"], file["models"], strict=True):
        assert (a["model"], a["requests"], a["failed"]) == (b["model"], b["requests"], b["failed"])
        assert a["latency_s"] == b["latency_s"]  # the same whole-ms durations


@pytest.mark.parametrize("name", NAMES)
def test_tokens_are_the_clients(name: str) -> None:
    # Console: every answer's `usage recorded` line, carried to the completion logged right
    # after it (under concurrency another completion can be as near: marked inferred, the
    # totals still the client's). File log: a JSON answer's usage inside its own line; a
    # stream's is on a `usage recorded` line with no id, beside completions that all have one:
    # not attached (its tokens unknown, counted as unattached).
    mine = calls(name)
    console = {m["model"]: m for m in summary(name, "docker-logs-t.txt")["models"]}
    file = {m["model"]: m for m in summary(name, "relay-file.log")["models"]}
    for model in ANSWERED:
        ok = [r for r in mine if r.get("model_asked") == model and r["ok"]]
        plain = [r for r in ok if not r["stream"]]
        assert console[model]["tokens"]["input"] == sum(r["input_tokens"] for r in ok)
        assert console[model]["tokens"]["output"] == sum(r["output_tokens"] for r in ok)
        assert console[model]["usage"]["requests"] == len(ok)
        assert file[model]["tokens"]["output"] == sum(r["output_tokens"] for r in plain)
        assert file[model]["usage"] == {"requests": len(plain), "inferred": 0}
        assert console[model]["cost_usd"] is None  # never logged per request
    if "sequential" in name:
        assert all(console[m]["usage"]["inferred"] == 0 for m in ANSWERED)
    quality = summary(name, "relay-file.log")["data_quality"]
    assert quality["usage_unattached"] == quality["usage_records"]


@pytest.mark.parametrize("name", NAMES)
def test_every_logged_client_request_joins_its_row(name: str) -> None:
    client = summary(name, "docker-logs-t.txt", with_clients=True)["client"]
    records = clients(name)
    assert client["records"] == len(records)
    assert client["matched"] == len(records) - 2  # the two health checks are not logged
    assert client["unmatched_client"] == 2
    assert client["unmatched_server"] == 0


# --------------------------------------------------------------------------- before v1.1.271


def rows_by_id(name: str, form: str) -> dict[str, dict[str, str]]:
    out = Path(tempfile.mkdtemp(prefix="relay-rows-")) / "requests.csv"
    args = ["report", "-i", str(log_of(name, form)), "-f", "json", "--requests-csv", str(out)]
    assert run_cli(*args).returncode == 0
    with out.open(encoding="utf-8") as f:
        return {row["request_id"]: row for row in csv.DictReader(f)}


@pytest.mark.parametrize("name", OLD)
def test_v1_1_270_each_request_is_the_clients_by_its_id(name: str) -> None:
    # Its lines carry the request id the relay answers with (X-Request-ID, the client's
    # server_request_id): each logged request is one client request, with its status and its
    # latency within PER_REQUEST_MS of the client's; its model, read from an id-less record
    # only when one request started within 15 ms before it, is the client's or unknown, never
    # another request's.
    rows = rows_by_id(name, "docker-logs-t.txt")
    records = {r["server_request_id"]: r for r in clients(name) if r["path"] != "/health"}
    assert set(rows) == set(records)
    named = 0
    for rid, row in rows.items():
        client = records[rid]
        assert int(row["status"]) == client["status"]
        if row["latency_s"]:
            gap_ms = float(row["latency_s"]) * 1000 - (client["end_ns"] - client["start_ns"]) / 1e6
            assert PER_REQUEST_MS[0] <= gap_ms <= PER_REQUEST_MS[1], (rid, gap_ms)
        if row["model"]:
            assert row["model"] == client["model_asked"], rid
            named += 1
    load = [r for r in records.values() if r["tool"] == "claude-perf load"]
    assert named >= 0.75 * len(load)  # measured: 18 of 20, 31 of 40


@pytest.mark.parametrize("name", OLD)
def test_v1_1_270_file_log_counts_but_cannot_name_models(name: str) -> None:
    # its file lines have whole-second stamps and no engine time: the id-less model record
    # cannot be placed within 15 ms of a start, so no model is given (never guessed)
    s = summary(name, "relay-file.log")
    assert [m["model"] for m in s["models"]] == [None]
    assert s["models"][0]["requests"] == len(calls(name))
    console = summary(name, "docker-logs-t.txt")
    assert s["latency_s"] == console["latency_s"]  # the same logged durations

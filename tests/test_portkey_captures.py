"""Known answers on the real Portkey AI Gateway captures (fixtures/captures/portkey-*; no Docker).

The gateway (npm @portkey-ai/gateway 1.15.2, `npx @portkey-ai/gateway`) logs no request on
stdout or stderr: only its start-up banner and the errors its handlers catch (a body it could
not read, an upstream it could not reach). Its request log goes only to its UI's `/log/stream`.
So the report must count no request, name the `portkey-gateway` dialect and say why, count one
error record per failure the gateway itself made (a 5xx the client saw whose body is the
gateway's, not an upstream's passed on), recognise the banner, and never find the dialect in
another proxy's log. With the client's records it keeps every client request, all unmatched.

Before the dialect, both captures gave: no dialect, no note, 0 error records, 25 of 28 lines
unparsed (the banner among them), as if the gateway had seen no traffic and no failure.
"""

from __future__ import annotations

import gzip
import json
import tempfile
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claude_perf.config.load import builtin_dialects
from claude_perf.ingest.files import read_log
from claude_perf.parse.dialect_match import detect
from tests.cli_support import run_cli
from tests.report_support import analysis_of

CAPTURES = Path(__file__).resolve().parent.parent / "fixtures" / "captures"
NAMES = ["portkey-sequential", "portkey-concurrent"]
# The banner's lines the dialect reads: the spinner line that ends in `🚀 Your AI Gateway is
# running at:`, the URL, `📱 UI: …` and `✨ Ready for connections!` (build/start-server.js).
BANNER_LINES = 4


def clients(name: str) -> list[dict[str, Any]]:
    text = (CAPTURES / name / "clients.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def gateway_failures(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The 5xx the gateway made itself: an upstream's error it passes on names its provider
    (`"provider":"openai"`); its own do not (`Something went wrong`, `fetch failed`)."""
    return [r for r in records if r["status"] >= 500 and '"provider"' not in r.get("error", "")]


@cache
def summary(name: str, with_client: bool = False) -> dict[str, Any]:
    args = ["report", "-i", str(CAPTURES / name / "docker-logs-t.txt"), "-f", "json"]
    if with_client:
        args += ["--client", str(CAPTURES / name / "clients.jsonl")]
    proc = run_cli(*args)
    assert proc.returncode == 0, proc.stderr
    out: dict[str, Any] = json.loads(proc.stdout)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_the_captures_hold_every_kind_of_request(name: str) -> None:
    records = clients(name)
    kinds = Counter((r["path"], r["stream"]) for r in records)
    assert set(kinds) == {(p, s) for p in ("/v1/messages", "/v1/chat/completions") for s in (0, 1)}
    assert {r["status"] for r in records} == {200, 400, 429, 500, 529}
    assert len(gateway_failures(records)) == 3  # two unreadable bodies, one upstream down
    readme = (CAPTURES / name / "README.md").read_text(encoding="utf-8")
    assert "`@portkey-ai/gateway` 1.15.2" in readme and "1.14.1" in readme


@pytest.mark.parametrize("name", NAMES)
def test_no_request_is_counted_and_the_report_says_why(name: str) -> None:
    out = summary(name)
    assert out["requests"]["total"] == 0
    [dialects] = out["data_quality"]["dialects"].values()
    assert dialects == ["portkey-gateway"]
    notes = " ".join(out["data_quality"]["notes"])
    assert "portkey-gateway" in notes and "none is logged on stdout or stderr" in notes


@pytest.mark.parametrize("name", NAMES)
def test_each_failure_the_gateway_made_is_an_error_record(name: str) -> None:
    out = summary(name)
    failures = len(gateway_failures(clients(name)))
    assert out["errors"]["records"] == failures
    assert out["errors"]["orphan_records"] == failures  # no request to give them to
    # the banner and the error heads are read; only the stack traces' lines stay unparsed
    assert out["lines"]["by_kind"]["pattern"] == BANNER_LINES + failures


@pytest.mark.parametrize("name", NAMES)
def test_the_client_records_are_kept_all_unmatched(name: str) -> None:
    records = clients(name)
    out = summary(name, with_client=True)["client"]
    assert out["records"] == out["unmatched_client"] == len(records)
    assert out["matched"] == 0
    assert out["errors"] == dict(Counter(r["error_class"] for r in records if not r["ok"]))


def reached_provider(record: dict[str, Any]) -> bool:
    """Past the gateway's header checks and body parsing: its request log has it."""
    return record["status"] != 400 and "Something went wrong" not in record.get("error", "")


@pytest.mark.parametrize("name", NAMES)
def test_the_ui_log_stream_has_each_request_that_reached_a_provider(name: str) -> None:
    # Not read by the report (see the captures' README): the capture itself must hold what the
    # gateway does log, one entry per request that reached a provider, with the client's status
    # and, for an answer not streamed, a duration inside the client's latency.
    text = (CAPTURES / name / "log-stream.sse").read_text(encoding="utf-8")
    logged = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]
    expected = [r for r in clients(name) if reached_provider(r)]
    assert Counter(e["status"] for e in logged) == Counter(r["status"] for r in expected)
    by_model = Counter(e["requestOptions"][0]["requestParams"]["model"] for e in logged)
    assert by_model == Counter(r["model_asked"] for r in expected)
    whole = sorted(e["duration"] for e in logged if e["status"] == 200 and not _streamed(e))
    client = sorted(
        (r["end_ns"] - r["start_ns"]) / 1e6 for r in expected if r["ok"] and not r["stream"]
    )
    assert len(whole) == len(client)
    assert all(d <= c + 1 for d, c in zip(whole, client, strict=True))  # ms, rounded down


def _streamed(entry: dict[str, Any]) -> bool:
    return bool(entry["requestOptions"][0]["requestParams"].get("stream"))


def _other_logs() -> list[Path]:
    """Every other proxy's log among the fixtures (captures, the sample session, ...)."""
    out = []
    for path in sorted(CAPTURES.parent.rglob("*")):
        if not path.is_file() or path.parent.name.startswith("portkey-"):
            continue
        if path.name.endswith((".log", ".txt", ".log.gz", ".txt.gz", ".jsonl")) and (
            path.name != "clients.jsonl"
        ):
            out.append(path)
    return out


def _found(path: Path) -> dict[int, tuple[str, ...]]:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    table, _, _ = read_log(path.name, data)
    portkey = [d for d in builtin_dialects() if d.name == "portkey-gateway"]
    source = np.zeros(table.num_rows, dtype=np.int64)
    found: dict[int, tuple[str, ...]] = detect(table.column("text"), source, portkey).names()
    return found


@pytest.mark.parametrize("path", _other_logs(), ids=lambda p: str(p.relative_to(CAPTURES.parent)))
def test_the_dialect_is_not_found_in_other_proxies_logs(path: Path) -> None:
    assert _found(path) == {}


@pytest.mark.parametrize("name", NAMES)
def test_the_dialect_is_found_in_its_own_logs(name: str) -> None:
    assert _found(CAPTURES / name / "docker-logs-t.txt") == {0: ("portkey-gateway",)}


BANNER = [
    "\r⠋ Starting AI Gateway...\r\x1b[1m🚀 Your AI Gateway is running at:\x1b[0m",
    "   \x1b[1;4;32mhttp://localhost:8787\x1b[0m",
    "",
    "\x1b[32m✨ Ready for connections!\x1b[0m",
]
HEADS = [
    "messages error ",
    "chatCompletionsHandler error: ",
    "retryRequest error: Error: ",
    "tryTargetsRecursively error:  ",
    "Error during stream processing: ",
]


@settings(max_examples=25, deadline=None)
@given(
    heads=st.lists(st.sampled_from(HEADS), min_size=1, max_size=6),
    message=st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40),
)
def test_error_lines_are_error_records_never_requests(heads: list[str], message: str) -> None:
    lines = [f"2026-12-01T10:00:00.{i:09d}Z {text}" for i, text in enumerate(BANNER)]
    lines += [f"2026-12-01T10:00:0{1 + i}.000000000Z {h}{message}" for i, h in enumerate(heads)]
    with tempfile.TemporaryDirectory() as tmp:
        analysis = analysis_of(Path(tmp), lines)
    assert len(analysis.requests.table) == 0
    assert analysis.requests.orphan_error_records == len(heads)
    assert analysis.entries.kind_counts["pattern"] == 3 + len(heads)  # the banner's 3 + each head

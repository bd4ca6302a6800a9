"""`claude-perf load` against the real parts: claude-max-api-proxy (npm) and the stand-in wrapper.

Each proxy runs in a container of this test run (published on 127.0.0.1 only) with its stand-in
CLI, whose per-model delays and token counts are the known answers: the client's p50 latency
and TTFT per model within 10 % of the stand-in's delays (never below them: the CLI sleeps that
long), output tokens and chunks exact. The load is the real CLI as a child process with
``--container``, so the store is left with the session's logs and samples too.

claude-max-api-proxy: tests/standin_max/models-load.json (haiku 2.5 s, sonnet 3.5 s, the first
token after 60 %: the proxy spawns a node CLI per request, measured 80-120 ms on top, which
must stay inside the 10 %); non-streaming answers carry usage (completion_tokens), streams
carry none, so a stream's tokens are counted as its chunks (3 words per text_delta). The wrapper stand-in:
STANDIN_MODEL_DELAYS, one answer "Stand-in answer from MODEL." whose tokens are its length / 4.
"""

from __future__ import annotations

import json
import math
import statistics
import uuid
from pathlib import Path
from typing import Any

import pytest

from claude_perf.ingest.client_records import ClientRecord, record_from_json
from claude_perf.store.read import load_session
from tests.conftest import DockerRun
from tests.docker_support import DEFAULT_API_KEY, start_standin_proxy
from tests.live_support import claude_perf, running
from tests.maxproxy_support import STANDIN_MAX_DIR, start_maxproxy

pytestmark = pytest.mark.docker

REL = 0.10
LOAD_SPEC = json.loads((STANDIN_MAX_DIR / "models-load.json").read_text())


def load(url: str, container: Any, tmp_path: Path, *args: str) -> list[ClientRecord]:
    out = tmp_path / "records.jsonl"
    claude_perf(
        "load", "--url", url, "--container", container.name, "--store", str(tmp_path / "s.db"),
        "-o", str(out), "--timeout", "60s", *args,
    )  # fmt: skip
    return [record_from_json(json.loads(x), str(out)) for x in out.read_text().splitlines()]


def p50(values: list[float]) -> float:
    return statistics.median(values)


def assert_within(measured: float, known: float, what: str) -> None:
    assert known * 0.99 <= measured <= known * (1 + REL), (
        f"{what}: measured {measured:.3f} s, the stand-in's {known:.3f} s (+{REL:.0%} allowed)"
    )


def assert_session_complete(tmp_path: Path, records: list[ClientRecord]) -> None:
    """One command left logs, samples and the client records for `report --since`."""
    session = load_session(tmp_path / "s.db", since=min(r.start_ns for r in records) - 10**9)
    assert len(session.clients) == len(records)
    assert session.samples is not None and len(session.samples) >= 1
    assert session.logs.table.num_rows > 0


def assert_report_joins(tmp_path: Path, records: list[ClientRecord]) -> dict[str, Any]:
    """`report --since` over the store reads the records back and joins every one of them with
    the proxy's own rows: the Client view per model asked, from one command's session."""
    since = min(r.start_ns for r in records) // 10**9 - 5
    out = tmp_path / "report.json"
    claude_perf(
        "report", "--store", str(tmp_path / "s.db"), "--since", str(since),
        "-f", "json", "-o", str(out),
    )  # fmt: skip
    client = json.loads(out.read_text())["client"]
    assert (client["records"], client["matched"], client["unmatched_client"]) == (
        len(records),
        len(records),
        0,
    ), client
    by_model = {m["model"]: m for m in client["models"]}
    for alias in {r.model_asked for r in records}:
        mine = [r for r in records if r.model_asked == alias]
        assert by_model[alias]["latency_s"]["n"] == len(mine)
        assert by_model[alias]["latency_s"]["p50"] == pytest.approx(
            p50([r.latency_s for r in mine]), abs=1e-6
        )
        assert by_model[alias]["server"]["matched"] == len(mine)
    return client


def test_load_measures_claude_max_api_proxy(docker_run: DockerRun, tmp_path: Path) -> None:
    spec = LOAD_SPEC

    def start(name: str) -> tuple[Any, str]:
        return start_maxproxy(
            docker_run.client,
            name,
            debug=False,
            labels=docker_run.labels,
            STANDIN_MAX_SPEC="/opt/standin/models-load.json",
        )

    with running(docker_run, start) as (container, url):
        records = load(
            url, container, tmp_path,
            "--model", "haiku=50%", "--model", "sonnet=50%", "-n", "8", "-c", "2",
            "--stream-share", "50%",
        )  # fmt: skip
    assert len(records) == 8 and all(r.ok for r in records), [r.error for r in records]
    for alias in ("haiku", "sonnet"):
        model = spec["models"][alias]
        mine = [r for r in records if r.model_asked == alias]
        plain = [r for r in mine if not r.stream]
        streamed = [r for r in mine if r.stream]
        assert (len(plain), len(streamed)) == (2, 2)
        assert_within(p50([r.latency_s for r in mine]), model["delay_s"], f"{alias} p50")
        ttft = p50([r.ttft_s for r in streamed if r.ttft_s is not None])
        assert_within(ttft, spec["ttft_share"] * model["delay_s"], f"{alias} TTFT p50")
        assert [r.output_tokens for r in plain] == [model["output_tokens"]] * 2
        assert [r.input_tokens for r in plain] == [spec["usage"]["input_tokens"]] * 2
        chunks = math.ceil(model["output_tokens"] / spec["tokens_per_delta"])
        assert [r.chunks for r in streamed] == [chunks] * 2
        assert [len(r.chunk_gaps_s) for r in streamed] == [chunks - 1] * 2
        assert {r.model_answered for r in mine} == {f"claude-{alias}-4"}
        # streams: the proxy's X-Request-Id; plain answers: the body's chatcmpl- id
        assert all(r.server_request_id for r in mine)
    assert_session_complete(tmp_path, records)
    assert_report_joins(tmp_path, records)


# The CLI's start-up per request (a python process) measured 60-110 ms on 2 shared cores:
# delays long enough that it stays well inside the 10 %.
WRAPPER_DELAYS = {"haiku": 2.5, "sonnet": 3.5}


def test_load_measures_the_wrapper_standin(docker_run: DockerRun, tmp_path: Path) -> None:
    def start(name: str) -> tuple[Any, str]:
        delays = ",".join(f"{m}={s}" for m, s in WRAPPER_DELAYS.items())
        container, url = start_standin_proxy(
            docker_run.client, name, STANDIN_MODEL_DELAYS=delays, RATE_LIMIT_PER_MIN="0"
        )
        return container, url

    key_env = f"CLAUDE_PERF_TEST_KEY_{uuid.uuid4().hex[:6].upper()}"
    import os

    os.environ[key_env] = DEFAULT_API_KEY
    try:
        with running(docker_run, start) as (container, url):
            records = load(
                url, container, tmp_path,
                "--model", "haiku=50%", "--model", "sonnet=50%", "-n", "8", "-c", "2",
                "--stream-share", "50%", "--prompt-tokens", "8", "--api-key-env", key_env,
            )  # fmt: skip
    finally:
        del os.environ[key_env]
    assert len(records) == 8 and all(r.ok for r in records), [r.error for r in records]
    prompt_chars = len(" ".join(["hello"] * 8))
    for alias, delay_s in WRAPPER_DELAYS.items():
        mine = [r for r in records if r.model_asked == alias]
        plain = [r for r in mine if not r.stream]
        streamed = [r for r in mine if r.stream]
        assert (len(plain), len(streamed)) == (2, 2)
        assert_within(p50([r.latency_s for r in mine]), delay_s, f"{alias} p50")
        # the wrapper sends the role chunk with the answer: the first token comes at the end
        ttft = p50([r.ttft_s for r in streamed if r.ttft_s is not None])
        assert_within(ttft, delay_s, f"{alias} TTFT p50")
        answer = f"Stand-in answer from {alias}."
        assert [r.output_tokens for r in plain] == [len(answer) // 4] * 2
        assert [r.input_tokens for r in plain] == [prompt_chars // 4] * 2
        assert [r.chunks for r in streamed] == [1, 1]
        assert {r.model_answered for r in mine} == {alias}
        # the wrapper echoes the X-Request-ID it was sent: the server logged our id
        assert all(r.server_request_id == r.id for r in mine)
    assert_session_complete(tmp_path, records)
    client = assert_report_joins(tmp_path, records)
    # The wrapper echoes our X-Request-ID in its response, but logs it only in debug mode
    # (tests/standin/src/main.py: logger.debug); in plain mode every pair is made by time.
    assert client["matched_by_id"] == 0


def test_a_missing_container_fails_before_any_request(
    docker_run: DockerRun, tmp_path: Path
) -> None:
    from tests.cli_support import run_cli
    from tests.load_fake import fake_proxy

    name = f"claude-perf-test-absent-{docker_run.run_id}"
    with fake_proxy() as fake:
        proc = run_cli(
            "load", "--url", fake.url, "--model", "ok", "-n", "3", "-c", "1",
            "--container", name, "--store", str(tmp_path / "s.db"),
        )  # fmt: skip
        assert fake.seen == []
    assert proc.returncode in (1, 2), proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("claude-perf: error: "), proc.stderr
    assert name in lines[0]

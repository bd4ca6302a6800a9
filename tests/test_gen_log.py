"""Tests for the benchmark log generator: exact size, ordering, and ground truth that matches."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

try:
    from benchmarks.gen_log import KNOWN_MODELS, generate, main
except ModuleNotFoundError:  # plain `pytest` puts tests/, not the repo root, on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks.gen_log import KNOWN_MODELS, generate, main

N = 5_000
TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z ")
WRAPPER_ACCESS = re.compile(r'"POST /v1/chat/completions HTTP/1\.1" (\d{3}) ')
JSON_START = re.compile(r'"event":"request\.start","requestId":"([^"]+)","model":"([^"]+)"')
JSON_DONE = re.compile(
    r'"event":"request\.complete","requestId":"([^"]+)","model":"([^"]+)",'
    r'"status":(\d+),"durationMs":(\d+)'
)
KV = re.compile(r"request done model=(\S+) duration=([\d.]+)s status=(\d+) request_id=(\S+)$")
ALIAS = re.compile(r"Model '([^']+)' is not in the known supported models list")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], dict[str, Any], Path]:
    path = tmp_path_factory.mktemp("gen") / "docker.log"
    truth = generate(path, n_lines=N, seed=11)
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == ""  # newline-terminated
    return lines[:-1], truth, path


def test_exact_line_count_and_size(generated: tuple[list[str], dict[str, Any], Path]) -> None:
    lines, truth, path = generated
    assert len(lines) == N == truth["lines"]
    assert path.stat().st_size == truth["bytes"]
    assert lines[0].startswith(truth["first_timestamp"])
    assert lines[-1].startswith(truth["last_timestamp"])


def test_timestamps_valid_and_non_decreasing(
    generated: tuple[list[str], dict[str, Any], Path],
) -> None:
    lines, _, _ = generated
    stamps = []
    for line in lines:
        assert TS.match(line), line
        stamps.append(line[:30])
    # Fixed-width RFC 3339 UTC: string order is time order.
    assert all(a <= b for a, b in itertools.pairwise(stamps))


def test_ground_truth_matches_file(generated: tuple[list[str], dict[str, Any], Path]) -> None:
    lines, truth, _ = generated
    bodies = [line[31:] for line in lines]

    health = sum("127.0.0.1:" in b and '"GET /health HTTP/1.1" 200 OK' in b for b in bodies)
    models_list = sum('"GET /v1/models HTTP/1.1" 200 OK' in b for b in bodies)
    wrapper_status = Counter(m.group(1) for b in bodies if (m := WRAPPER_ACCESS.search(b)))
    starts = {m.group(1): m.group(2) for b in bodies if (m := JSON_START.search(b))}
    dones = [m.groups() for b in bodies if (m := JSON_DONE.search(b))]
    kvs = [m.groups() for b in bodies if (m := KV.search(b))]
    aliases = Counter(m.group(1) for b in bodies if (m := ALIAS.search(b)))
    tools = sum("src.main - INFO - Tools disabled" in b for b in bodies)
    chats = sum("src.main - INFO - Chat completion:" in b for b in bodies)
    sdk_errors = sum("src.claude_cli - ERROR - Claude Agent SDK error" in b for b in bodies)
    slowapi = sum("slowapi - WARNING - ratelimit" in b for b in bodies)
    invalid = sum("Request validation failed" in b for b in bodies)
    error_output = sum(b == "Error output: Check stderr output for details" for b in bodies)

    assert truth["health_checks"] == health
    assert truth["models_list_requests"] == models_list
    assert truth["requests_by_style"] == {
        "wrapper": sum(wrapper_status.values()),
        "json": len(starts),
        "kv": len(kvs),
    }
    assert truth["requests"] == sum(truth["requests_by_style"].values())
    assert len(dones) == len(starts)  # every JSON request completes within the file

    status: Counter[str] = Counter(wrapper_status)
    status.update(d[2] for d in dones)
    status.update(k[2] for k in kvs)
    assert truth["requests_by_status"] == dict(status)

    by_model = truth["requests_by_style_model"]
    assert by_model["json"] == dict(Counter(starts.values()))
    assert by_model["kv"] == dict(Counter(k[0] for k in kvs))
    # The wrapper only names a model in the validator warning (aliases and unknown names);
    # every request that reached the model stage logs "Tools disabled".
    assert truth["alias_warnings"] == dict(aliases)
    assert sum(by_model["wrapper"].values()) == tools
    assert {m: n for m, n in by_model["wrapper"].items() if m in aliases} == dict(aliases)
    merged: Counter[str] = Counter()
    for counts in by_model.values():
        merged.update(counts)
    assert truth["requests_by_model"] == dict(merged)
    assert truth["streaming_requests"] == tools - chats

    failures = truth["failures_by_kind"]
    assert failures["cli_crash_500"] == wrapper_status["500"]
    assert failures["sdk_error_200"] == sdk_errors - wrapper_status["500"]
    assert failures["rate_limited_429"] == wrapper_status["429"] == slowapi
    assert failures["validation_422"] == wrapper_status["422"] == invalid
    assert failures["unauthorized_401"] == wrapper_status["401"]
    upstream = Counter(d[2] for d in dones) + Counter(k[2] for k in kvs)
    assert failures["upstream_429"] == upstream["429"]
    assert failures["upstream_500"] == upstream["500"]
    assert failures["overloaded_529"] == upstream["529"]
    assert error_output == 2 * sdk_errors

    # Latency truth: successful requests only; JSON figures are exactly what the log says.
    latency = truth["latency_s"]
    successes = (
        wrapper_status["200"] - failures["sdk_error_200"] + status["200"] - wrapper_status["200"]
    )
    assert sum(v["count"] for v in latency.values()) == successes
    json_ok: dict[str, list[float]] = {}
    for _, model, code, ms in dones:
        if code == "200":
            json_ok.setdefault(model, []).append(int(ms) / 1000)
    only_json = "claude-3-7-sonnet-20250219"  # the one model only the JSON style uses
    assert latency[only_json]["count"] == len(json_ok[only_json])
    assert latency[only_json]["max"] == pytest.approx(max(json_ok[only_json]))


def test_logged_model_truth_adds_up(generated: tuple[list[str], dict[str, Any], Path]) -> None:
    _, truth, _ = generated
    logged = truth["logged_models"]
    assert sum(m["requests"] for m in logged.values()) == truth["requests"]
    assert sum(m["failed"] for m in logged.values()) == sum(truth["failures_by_kind"].values())
    # every success is timed except the wrapper's streaming ones (no start record in the log)
    successes = sum(v["count"] for v in truth["latency_s"].values())
    assert sum(m["timed"] for m in logged.values()) == successes - truth["streaming_requests"]
    for model, count in truth["requests_by_style_model"]["json"].items():
        # only JSON lines name a listed model id; the wrapper names aliases and unknown names
        assert model in KNOWN_MODELS or model not in truth["requests_by_style_model"]["wrapper"]
        assert logged[model]["requests"] == count
    for model in truth["alias_warnings"]:
        kv = truth["requests_by_style_model"]["kv"].get(model, 0)
        assert logged[model]["requests"] == truth["alias_warnings"][model] + kv


def test_requests_overlap(generated: tuple[list[str], dict[str, Any], Path]) -> None:
    lines, truth, _ = generated
    assert truth["max_in_flight"] >= 3
    # Directly in the file: some JSON request starts while another is still running.
    open_ids: set[str] = set()
    most = 0
    for line in lines:
        if m := JSON_START.search(line):
            open_ids.add(m.group(1))
            most = max(most, len(open_ids))
        elif m := JSON_DONE.search(line):
            open_ids.discard(m.group(1))
    assert most >= 2


def test_deterministic_per_seed(tmp_path: Path) -> None:
    def digest(seed: int, name: str) -> str:
        path = tmp_path / name
        generate(path, n_lines=800, seed=seed)
        return hashlib.sha256(path.read_bytes()).hexdigest()

    assert digest(3, "a.log") == digest(3, "b.log")
    assert digest(3, "a.log") != digest(4, "c.log")


@pytest.mark.parametrize("n", [0, 1, 17, 18, 30])
def test_tiny_line_counts_are_exact(tmp_path: Path, n: int) -> None:
    path = tmp_path / "tiny.log"
    truth = generate(path, n_lines=n)
    text = path.read_text(encoding="utf-8")
    assert text.count("\n") == n == truth["lines"]


def test_cli_writes_log_and_truth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, truth_path = tmp_path / "x.log", tmp_path / "truth.json"
    assert main([str(out), "--lines", "300", "--seed", "5", "--truth", str(truth_path)]) == 0
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    assert truth["lines"] == 300 and truth["seed"] == 5
    assert json.loads(capsys.readouterr().out) == truth


COMBINED = re.compile(
    r'^(\S+) - - \[(\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000)\] "(GET|POST) (\S+) HTTP/1\.1" '
    r'(\d{3}) 512 "-" "[^"]+"$'
)


def test_access_log_is_the_same_traffic_in_combined_format(tmp_path: Path) -> None:
    """One combined-format line per HTTP request of the proxy log (GoAccess's input), in order."""
    from datetime import datetime

    truth = generate(tmp_path / "docker.log", n_lines=N, seed=11, access=tmp_path / "access.log")
    rows = (tmp_path / "access.log").read_text(encoding="ascii").splitlines()
    parsed = [m.groups() for row in rows if (m := COMBINED.match(row))]
    assert len(parsed) == len(rows) == truth["access_lines"]
    assert truth["access_lines"] == (
        truth["requests"] + truth["health_checks"] + truth["models_list_requests"]
    )
    paths = Counter(p for _, _, _, p, _ in parsed)
    assert paths["/health"] == truth["health_checks"]
    assert paths["/v1/models"] == truth["models_list_requests"]
    assert paths["/v1/chat/completions"] == truth["requests_by_style"]["wrapper"]
    # JSON-event and key=value requests both go to /v1/messages.
    assert paths["/v1/messages"] == truth["requests"] - truth["requests_by_style"]["wrapper"]
    assert {k: v for k, v in truth["requests_by_status"].items() if k != "200"} == {
        k: v for k, v in Counter(s for _, _, _, p, s in parsed).items() if k != "200"
    }
    stamps = [datetime.strptime(t, "%d/%b/%Y:%H:%M:%S %z") for _, t, *_ in parsed]
    assert stamps == sorted(stamps)
    # The proxy log itself is unchanged by writing the access log beside it.
    again = generate(tmp_path / "again.log", n_lines=N, seed=11)
    assert (tmp_path / "again.log").read_bytes() == (tmp_path / "docker.log").read_bytes()
    assert again["access_lines"] is None

"""Replicas and the fleet without an engine: known answers over saved logs of two sources,
kubectl --prefix input, the imbalance findings, the JSON `replicas` key and the replica gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from claude_perf.analysis.pipeline import analyse
from claude_perf.analysis.replicas import fleet_of
from claude_perf.ci.gates import evaluate, parse_gates
from claude_perf.config.schema import Config
from claude_perf.errors import UsageError
from claude_perf.ingest.compose import compose_parts
from claude_perf.ingest.files import read_logs
from claude_perf.ingest.kubectl import kubectl_parts
from claude_perf.report.build import build
from claude_perf.report.model import Section, Table
from claude_perf.report.summary import build as summary_of
from tests.cli_support import run_cli

A_LATENCIES_S = [float(i) for i in range(1, 11)]  # 1 … 10 s
B_LATENCIES_S = [1.5] * 20


def events_log(
    prefix: str, latencies_s: list[float], failed: int = 0, pod: str = "", model: str = "opus"
) -> list[str]:
    """json-events lines (start, then complete or error) of requests 10 s apart, engine times."""
    lines = []
    for i, latency_s in enumerate(latencies_s):
        start_ns = (1_795_000_000 + 10 * i) * 1_000_000_000
        end_ns = start_ns + int(latency_s * 1e9)
        rid = f"{prefix}-{i}"
        start = {"event": "request.start", "requestId": rid, "model": model}
        if i < failed:
            end = {"event": "request.error", "requestId": rid, "reason": "upstream 500"}
        else:
            duration_ms = int(latency_s * 1000)
            end = {"event": "request.complete", "requestId": rid, "model": model}
            end["durationMs"] = duration_ms
        tag = f"[{pod}] " if pod else ""
        lines.append(f"{tag}{_rfc3339(start_ns)} {json.dumps(start)}\n")
        lines.append(f"{tag}{_rfc3339(end_ns)} {json.dumps(end)}\n")
    return lines


def _rfc3339(ns: int) -> str:
    import datetime as dt

    whole, frac = divmod(ns, 1_000_000_000)
    stamp = dt.datetime.fromtimestamp(whole, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{frac:09d}Z"


def two_sources(tmp_path: Path, b_failed: int = 0) -> tuple[Path, Path]:
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_text("".join(events_log("a", A_LATENCIES_S)))
    b.write_text("".join(events_log("b", B_LATENCIES_S, failed=b_failed)))
    return a, b


def test_fleet_percentiles_are_pooled_and_counts_summed(tmp_path: Path) -> None:
    a, b = two_sources(tmp_path)
    analysis = analyse(read_logs([str(a), str(b)]), Config())
    fleet = fleet_of(analysis)
    by_name = {r.container: r for r in fleet.replicas}
    assert set(by_name) == {str(a), str(b)}
    ra, rb = by_name[str(a)], by_name[str(b)]
    assert (ra.requests, rb.requests, fleet.requests) == (10, 20, 30)
    assert ra.latency_s is not None and rb.latency_s is not None and fleet.latency_s is not None
    assert ra.latency_s.p95 == pytest.approx(np.percentile(A_LATENCIES_S, 95))  # 9.55
    assert rb.latency_s.p95 == pytest.approx(1.5)
    pooled = np.percentile(A_LATENCIES_S + B_LATENCIES_S, 95)  # 8.55
    assert fleet.latency_s.p95 == pytest.approx(pooled) == pytest.approx(8.55)
    assert fleet.latency_s.p95 != pytest.approx((ra.latency_s.p95 + rb.latency_s.p95) / 2)
    # the slower replica is named, with the pooled figure of the other as evidence
    found = build(analysis, _at()).findings.findings
    slow = [f for f in found if f.rule == "replica_slow"]
    assert [f.title for f in slow] == [f"Replica {a} is slower than the rest"]
    assert "opus: p95 9.55 s over 10 request(s) vs 1.50 s over 20" in slow[0].evidence


def test_a_replica_that_took_the_slow_model_is_not_slower(tmp_path: Path) -> None:
    # a serves only opus (3 s), b only haiku (0.5 s): the mix differs, no replica is slow
    # (their pooled p95s are 6x apart; compared model by model there is nothing to compare).
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_text("".join(events_log("a", [3.0] * 12, model="opus")))
    b.write_text("".join(events_log("b", [0.5] * 12, model="haiku")))
    findings = build(analyse(read_logs([str(a), str(b)]), Config()), _at()).findings
    assert "replica_slow" not in {f.rule for f in findings.findings}
    assert dict(findings.not_evaluated)["replica_slow"] == (
        "no model has 10+ timed requests on a replica and on the others"
    )
    # the same replicas, both also serving haiku, b's twice as slow: b is named, on haiku
    a.write_text("".join(events_log("a", [3.0] * 12) + events_log("ah", [0.5] * 12, model="haiku")))
    b.write_text("".join(events_log("b", [1.0] * 12, model="haiku")))
    findings = build(analyse(read_logs([str(a), str(b)]), Config()), _at()).findings
    (slow,) = [f for f in findings.findings if f.rule == "replica_slow"]
    assert slow.title == f"Replica {b} is slower than the rest"
    assert slow.evidence.startswith("haiku: p95 1.00 s over 12 request(s) vs 500 ms over 12")


def test_replica_thresholds_are_config_keys(tmp_path: Path) -> None:
    from claude_perf.config.load import config_from_mapping

    a, b = two_sources(tmp_path)
    lax = config_from_mapping({"scoring": {"rules": {"replica_slow_ratio": 7}}})
    found = build(analyse(read_logs([str(a), str(b)]), lax), _at()).findings.findings
    assert "replica_slow" not in {f.rule for f in found}  # 9.55 / 1.5 = 6.4 < 7
    strict = config_from_mapping({"scoring": {"rules": {"replica_slow_ratio": 6}}})
    found = build(analyse(read_logs([str(a), str(b)]), strict), _at()).findings.findings
    assert "replica_slow" in {f.rule for f in found}


def test_each_replica_equals_its_own_report(tmp_path: Path) -> None:
    a, b = two_sources(tmp_path, b_failed=4)
    both = summary_of(analyse(read_logs([str(a), str(b)]), Config()))
    for path, entry in zip((a, b), both["replicas"], strict=True):
        alone = summary_of(analyse(read_logs([str(path)]), Config()))
        assert entry["requests"] == {
            k: alone["requests"][k] for k in ("total", "succeeded", "failed")
        }
        assert entry["latency_s"] == alone["latency_s"]
        assert entry["errors"]["by_class"] == alone["errors"]["by_class"]
    assert both["requests"]["total"] == sum(r["requests"]["total"] for r in both["replicas"])
    assert both["requests"]["failed"] == 4
    assert set(both["replicas"][0]) == {
        "engine",
        "container",
        "service",
        "task",
        "requests",
        "latency_s",
        "errors",
        "resources",
    }


def test_an_erroring_and_a_starved_replica_are_found(tmp_path: Path) -> None:
    a = tmp_path / "a.log"
    b = tmp_path / "b.log"
    c = tmp_path / "c.log"
    a.write_text("".join(events_log("a", [1.0] * 20)))
    b.write_text("".join(events_log("b", [1.0] * 20, failed=6)))
    c.write_text("".join(events_log("c", [1.0] * 3)))
    found = build(analyse(read_logs([str(a), str(b), str(c)]), Config()), _at()).findings
    rules = {f.rule: f for f in found.findings}
    assert "6 of 20 failed (30.0%" in rules["replica_errors"].evidence
    assert "0 of 23 (0.0%) on the others" in rules["replica_errors"].evidence
    assert rules["replica_starved"].title == f"Replica {c} received few requests"
    assert "3 request(s) of 43" in rules["replica_starved"].evidence
    assert "replica_slow" not in rules


def test_one_source_has_no_replicas_section_nor_key(tmp_path: Path) -> None:
    a, _ = two_sources(tmp_path)
    analysis = analyse(read_logs([str(a)]), Config())
    assert "replicas" not in summary_of(analysis)
    model = build(analysis, _at())
    assert "replicas" not in [s.id for s in model.sections]
    assert not any(r.startswith("replica_") for r, _ in model.findings.not_evaluated)


def test_replicas_section_rows_and_fleet_row(tmp_path: Path) -> None:
    a, b = two_sources(tmp_path)
    section = build(analyse(read_logs([str(a), str(b)]), Config()), _at()).section("replicas")
    table = section.blocks[0]
    rows = [[cell.plain for cell in r] for r in table.rows]  # type: ignore[attr-defined]
    assert [r[3] for r in rows] == ["10", "20", "30"]
    assert [r[6] for r in rows] == ["9.55 s", "1.50 s", "8.55 s"]
    assert rows[-1][0] == "fleet (2 replicas)"


def test_kubectl_prefix_lines_are_one_source_per_pod(tmp_path: Path) -> None:
    a_lines = events_log("a", A_LATENCIES_S, pod="pod/proxy-5d8f-a1/proxy")
    b_lines = events_log("b", B_LATENCIES_S, pod="pod/proxy-5d8f-b2/proxy")
    merged = sorted(a_lines + b_lines, key=lambda line: line.split(" ", 2)[1])
    path = tmp_path / "kubectl.log"
    path.write_text("".join(merged))
    parts = kubectl_parts(path.read_bytes())
    assert parts is not None
    assert [name for name, _ in parts] == ["pod/proxy-5d8f-a1/proxy", "pod/proxy-5d8f-b2/proxy"]
    assert parts[0][1].startswith(b"2026-11-18T")  # the prefix is gone, the time stays
    logs = read_logs([str(path)])
    assert logs.sources == ("pod/proxy-5d8f-a1/proxy", "pod/proxy-5d8f-b2/proxy")
    assert logs.total == len(merged)
    summary = summary_of(analyse(logs, Config()))
    assert [r["container"] for r in summary["replicas"]] == list(logs.sources)
    assert [r["requests"]["total"] for r in summary["replicas"]] == [10, 20]
    assert summary["latency_s"]["p95"] == pytest.approx(8.55)
    assert any(
        "kubectl --prefix output, 2 source(s)" in n for n in summary["data_quality"]["notes"]
    )


def _compose_line(name: str, width: int, line: str, timed: bool = True) -> str:
    """`docker compose logs [-t]`: the replica's name padded, `| `, the line (time first)."""
    return f"{name.ljust(width)}| {line if timed else line.split(' ', 1)[1]}"


def _swarm_line(task: str, width: int, line: str) -> str:
    """`docker service logs -t`: the time, the task and node padded, `| `, the line."""
    at, text = line.split(" ", 1)
    return f"{at} {task.ljust(width)}| {text}"


@pytest.mark.parametrize(
    ("names", "form", "render"),
    [
        (("proxy-1", "proxy-2"), "docker compose logs", _compose_line),  # compose v2
        (("proxy_1", "proxy_2"), "docker compose logs", _compose_line),  # compose v1
        (
            ("proxy.1.k2j8t0q3m1@node-a", "proxy.2.x9c1r7p2d4@node-b"),
            "docker service logs",
            _swarm_line,
        ),
    ],
)
def test_compose_and_service_logs_are_one_source_per_replica(
    tmp_path: Path, names: tuple[str, str], form: str, render: Any
) -> None:
    a_lines = events_log("a", A_LATENCIES_S)
    b_lines = events_log("b", B_LATENCIES_S)
    width = max(len(n) for n in names) + 2
    merged = sorted(
        [(line, names[0]) for line in a_lines] + [(line, names[1]) for line in b_lines],
        key=lambda pair: pair[0].split(" ", 1)[0],
    )
    path = tmp_path / "saved.log"
    path.write_text("".join(render(name, width, line) for line, name in merged))
    logs = read_logs([str(path)])
    assert logs.sources == names
    assert logs.total == len(merged)
    summary = summary_of(analyse(logs, Config()))
    assert [r["requests"]["total"] for r in summary["replicas"]] == [10, 20]
    assert summary["latency_s"]["p95"] == pytest.approx(8.55)
    assert any(f"{form} output, 2 source(s)" in n for n in summary["data_quality"]["notes"])


def test_a_large_service_log_is_split_before_any_chunked_read(tmp_path: Path) -> None:
    """`docker service logs -t` starts with times like `docker logs -t`: a file over the chunk
    size must still be split per task, not read in chunks as one container's log."""
    from claude_perf.ingest.chunks import chunked_file

    path = tmp_path / "service.log"
    path.write_text(
        "".join(_swarm_line("p.1.abc@n", 12, line) for line in events_log("a", [1.0] * 50))
    )
    plain = tmp_path / "plain.log"
    plain.write_text("".join(events_log("a", [1.0] * 50)))
    assert chunked_file([str(path)], size=1000) is None
    assert chunked_file([str(plain)], size=1000) is not None


def test_compose_logs_without_times_say_so(tmp_path: Path) -> None:
    lines = events_log("a", A_LATENCIES_S)
    path = tmp_path / "saved.log"
    path.write_text("".join(_compose_line("proxy-1", 9, line, timed=False) for line in lines))
    logs = read_logs([str(path)])
    assert logs.sources == ("proxy-1",)
    summary = summary_of(analyse(logs, Config()))
    assert summary["requests"]["total"] == 10
    assert any("without -t (no engine times" in n for n in summary["data_quality"]["notes"])


@pytest.mark.parametrize(
    "text",
    [
        "INFO     | request done model=opus duration=5.9s status=200\n" * 10,  # a logger's `|`
        "2026-11-30T10:00:00.000000000Z 2026-11-30 10:00:00.000 | INFO | app:run:12 - ok\n" * 10,
    ],
)
def test_a_logger_that_writes_bars_is_not_taken_for_compose(text: str) -> None:
    assert compose_parts(text.encode()) is None


def test_plain_docker_logs_are_not_taken_for_kubectl(tmp_path: Path) -> None:
    data = "".join(events_log("a", [1.0])).encode()
    assert kubectl_parts(data) is None
    assert kubectl_parts(b"[INFO] 2026-11-30T10:00:00Z started\n") is None


def test_replica_gate_takes_the_slowest_replica() -> None:
    gates = parse_gates(max_replica_p95="5s")
    replicas = [
        {"container": "a", "latency_s": {"n": 10, "p95": 9.55}},
        {"container": "b", "latency_s": {"n": 20, "p95": 1.5}},
    ]
    (result,) = evaluate(gates, {"replicas": replicas, "latency_s": {"n": 30, "p95": 8.55}})
    assert not result.passed and result.figure == pytest.approx(9.55)
    assert result.text == "slowest replica a: p95 9.55 s > 5 s (n=10)"
    (alone,) = evaluate(gates, {"latency_s": {"n": 3, "p95": 2.0}})
    assert alone.passed and alone.figure == 2.0
    (none,) = evaluate(gates, {"latency_s": None})
    assert not none.passed and none.figure is None
    with pytest.raises(UsageError, match="--max-replica-p95"):
        parse_gates(max_replica_p95="fast")


def test_replica_gate_from_the_config_and_the_command_line_wins() -> None:
    from claude_perf.config.load import config_from_mapping

    limits = config_from_mapping({"gates": {"max_replica_p95": "8s"}}).gates
    assert parse_gates(limits).max_replica_p95_s == 8.0
    assert parse_gates(limits, max_replica_p95="2s").max_replica_p95_s == 2.0


def test_cli_replica_gate_exits_3_after_writing(tmp_path: Path) -> None:
    a, b = two_sources(tmp_path)
    out = tmp_path / "r.json"
    done = run_cli("report", "-i", str(a), "-i", str(b), "-f", "json", "-o", str(out),
                   "--max-replica-p95", "5s")  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert "slowest replica" in done.stderr
    assert len(json.loads(out.read_text())["replicas"]) == 2


def _at():  # type: ignore[no-untyped-def]
    import datetime as dt

    return dt.datetime(2026, 11, 30, tzinfo=dt.UTC)


def test_fleet_made_once_per_analysis_and_models_compared_by_name(tmp_path: Path) -> None:
    """Its three readers get the one fleet of an analysis; another analysis gets its own. Per
    model, a replica is compared with the same model on the others (codes stand for names)."""
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_text("".join(events_log("a", [2.0] * 6) + events_log("c", [1.0] * 4, model="sonnet")))
    b.write_text("".join(events_log("b", [4.0] * 5) + events_log("d", [3.0] * 3, model="haiku")))
    first = analyse(read_logs([str(a), str(b)]), Config())
    assert fleet_of(first) is fleet_of(first)
    second = analyse(read_logs([str(a), str(b)]), Config())
    assert fleet_of(second) is not fleet_of(first)
    by_name = {r.container: r for r in fleet_of(second).replicas}

    def compared(source: Path) -> list[tuple[str | None, int, float, int | None, float | None]]:
        return [
            (
                c.model,
                c.latency_s.n,
                c.latency_s.p50,
                c.rest_latency_s.n if c.rest_latency_s else None,
                c.rest_latency_s.p50 if c.rest_latency_s else None,
            )
            for c in by_name[str(source)].by_model
        ]

    assert compared(a) == [("opus", 6, 2.0, 5, 4.0), ("sonnet", 4, 1.0, None, None)]
    assert compared(b) == [("haiku", 3, 3.0, None, None), ("opus", 5, 4.0, 6, 2.0)]


CAPTURES = Path(__file__).resolve().parent.parent / "fixtures" / "captures"


def test_logs_of_different_proxies_are_not_compared_as_replicas() -> None:
    # fuergaosi233/claude-code-proxy beside claude-max-api-proxy: the imbalance rules would name
    # one "Replica ... fails more than the rest"; their dialects share no family
    fuergaosi = CAPTURES / "fuergaosi-debug" / "docker-logs-t.txt"
    maxproxy = CAPTURES / "maxproxy-debug-concurrent" / "docker-logs-t.txt"
    findings = build(analyse(read_logs([str(fuergaosi), str(maxproxy)]), Config()), _at())
    found = findings.findings
    assert not any(f.rule.startswith("replica_") for f in found.findings)
    why = dict(found.not_evaluated)
    for rule in ("replica_slow", "replica_errors", "replica_starved"):
        assert (
            why[rule] == f"{fuergaosi} and {maxproxy} are logs of different proxies, not replicas"
        )
    # ... and the section says sources, not replicas of one service (it said "Replicas", with a
    # "fleet" row summing the two)
    section = _section(findings, "replicas")
    assert section.title == "Sources"
    table = next(b for b in section.blocks if isinstance(b, Table))
    assert table.headers[0] == "Source"
    assert table.rows[-1][0].plain == "all sources (2 sources)"


def test_one_proxys_logging_modes_are_still_replicas() -> None:
    # the wrapper in DEBUG mode beside the wrapper by default: one proxy (the DEBUG dialect
    # supersedes the default one), so the replica rules run
    default = Path(__file__).resolve().parent.parent / "fixtures" / "capture" / "docker-logs-t.txt"
    debug = CAPTURES / "wrapper-debug-sequential" / "docker-logs-t.txt"
    model = build(analyse(read_logs([str(default), str(debug)]), Config()), _at())
    assert not any("different proxies" in why for _, why in model.findings.not_evaluated)
    section = _section(model, "replicas")
    assert section.title == "Replicas"
    table = next(b for b in section.blocks if isinstance(b, Table))
    assert table.rows[-1][0].plain == "fleet (2 replicas)"


def _section(model: Any, key: str) -> Section:
    return next(s for s in model.sections if s.id == key)


@pytest.mark.parametrize(
    ("found", "different"),
    [
        # one proxy's logging modes, and a server beside it on one replica only
        ({"a": ("claude-code-openai-wrapper",), "b": ("claude-code-openai-wrapper-debug",)}, False),
        ({"a": ("claude-code-api-info",), "b": ("claude-code-api-debug",)}, False),
        (
            {"a": ("claude-code-openai-wrapper", "gunicorn"), "b": ("claude-code-openai-wrapper",)},
            False,
        ),
        # a replica whose lines named no dialect is not judged
        ({"a": ("claude-max-api-proxy",), "b": ()}, False),
        # two proxies, even under the same server's logging
        (
            {
                "a": ("litellm-proxy", "uvicorn-access-json"),
                "b": ("claude-code-openai-wrapper", "uvicorn-access-json"),
            },
            True,
        ),
        ({"a": ("one-api",), "b": ("gin",)}, True),
        (
            {"a": ("fuergaosi233-claude-code-proxy-debug",), "b": ("claude-max-api-proxy-debug",)},
            True,
        ),
    ],
)
def test_different_proxies_known_answers(
    found: dict[str, tuple[str, ...]], different: bool
) -> None:
    from claude_perf.analysis.replicas import different_proxies
    from claude_perf.config.load import dialects_for

    assert (different_proxies(found, dialects_for()) == ("a", "b")) is different

"""The collector and the store against a REAL Docker Engine (start one: bash .ci/docker-up.sh).

A known workload goes to the stand-in proxy over 127.0.0.1; we collect through the command
function, report from the store, and compare with what the client saw and with `docker stats`
figures read at the same moment. Synchronisation is by polling with bounded deadlines.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import signal
import socket
import sqlite3
import statistics
import subprocess
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from claude_perf.cli.commands import CollectOptions, ReportOptions, collect, report
from claude_perf.config.schema import Config
from claude_perf.durations import engine_timestamp, now_ns, parse_instant_ns
from claude_perf.store.db import Store
from claude_perf.store.read import line_rows
from tests.cli_support import ROOT, cli_argv, run_cli
from tests.docker_support import Step, drive_workload, logs_once, logs_text, poll

DEADLINE_S = 120.0

PLAN = [
    Step("haiku 1", "haiku"),
    Step("sonnet 1", "sonnet"),
    Step("opus 1", "opus"),
    Step("haiku 2", "haiku"),
    Step("sonnet 2", "sonnet"),
    Step("opus 2", "opus"),
    Step("haiku 3", "haiku"),
    Step("sonnet 3", "sonnet"),
    Step("login failure", "haiku", prompt="LOGIN_FAIL"),
    Step("usage limit", "haiku", prompt="USAGE_LIMIT"),
    Step("crash", "haiku", prompt="CRASH"),
    Step("bad key", "sonnet", api_key="wrong-key"),
    Step("malformed", "sonnet", raw_body=b'{"model": "sonnet", "messages": [,]}'),
]


def exited(container: Any) -> bool:
    container.reload()
    return bool(container.status == "exited")


def test_workload_collected_and_reported_as_the_client_saw_it(
    standin_proxy: tuple[Any, str], tmp_path: Path
) -> None:
    container, base_url = standin_proxy
    since = engine_timestamp(now_ns() - 300 * 10**9)
    outcomes = drive_workload(base_url, PLAN)
    seen = {o.label: o.status for o in outcomes}
    assert seen["bad key"] == 401 and seen["malformed"] == 422 and seen["crash"] == 500
    # every completion is logged when the response is sent: wait for the last access line
    logs_once(container, lambda text: text.count('"POST /v1/chat/completions') >= len(PLAN), "logs")
    until_ns = now_ns()
    store = tmp_path / "store.db"
    options = CollectOptions(
        config=Config(),
        containers=(container.name,),
        since=since,
        until=engine_timestamp(until_ns),
        store=store,
    )
    first = collect(options)
    assert first.lines_new > 0 and first.samples == 1

    # collecting again stores no line twice
    with Store(store) as opened:
        rows_before = opened.line_count()
    again = collect(options)
    assert again.lines_new == 0
    assert again.lines_already > 0
    with Store(store) as opened:
        assert opened.line_count() == rows_before
        distinct = len(set(line_rows(opened.conn)))
        assert distinct == rows_before

    # the store holds exactly what `docker logs -t --until` shows (no line lost or doubled)
    engine_lines = [
        line
        for line in logs_text(container).splitlines()
        if parse_instant_ns(line.split(" ", 1)[0]) <= until_ns
        and parse_instant_ns(line.split(" ", 1)[0]) >= parse_instant_ns(since)
    ]
    assert rows_before == len(engine_lines)

    outcome = report(
        ReportOptions(
            config=Config(),
            format="json",
            store=store,
            containers=(container.name,),
            since=since,
            github_summary=False,
        )
    )
    summary = outcome.summary
    assert summary["lines"]["total"] == len(engine_lines)
    models = {m["model"]: m for m in summary["models"]}
    # what the client saw, per model and outcome
    assert models["sonnet"]["requests"] == 3 and models["sonnet"]["succeeded"] == 3
    assert models["opus"]["requests"] == 2 and models["opus"]["succeeded"] == 2
    assert models["haiku"]["requests"] == 6
    assert models["haiku"]["succeeded"] == 3 and models["haiku"]["failed"] == 3
    assert summary["requests"]["total"] == len(PLAN)
    assert summary["requests"]["succeeded"] == 8
    assert summary["requests"]["failed"] == 5
    assert summary["errors"]["total"] == 5
    # p50 per model within 15 % of the client's own timing
    for model in ("haiku", "sonnet", "opus"):
        client_s = statistics.median(
            o.elapsed_s
            for o in outcomes
            if o.model == model and o.status == 200 and o.label.startswith(model)
        )
        latency = models[model]["latency_s"]
        assert latency is not None, model
        assert latency["p50"] == pytest.approx(client_s, rel=0.15), model
    # health checks: every in-container probe access line in the window is counted
    probes = sum('"GET /health HTTP/1.1" 200' in line for line in engine_lines)
    assert probes > 0
    assert summary["health"]["checks"] == probes
    # resources and container facts from the store
    assert summary["resources"]["samples"] == 2
    assert summary["resources"]["mem_bytes"]["max"] > 0
    assert summary["container"]["name"] == container.name
    assert summary["container"]["health_config"]["interval_s"] == pytest.approx(1.0)
    assert {e["action"] for e in summary["container"]["events"]} >= {"start"}


def test_sample_matches_docker_stats_read_at_the_same_time(busybox: Any, tmp_path: Path) -> None:
    # one core busy, memory held by a shell variable: figures that are not near zero
    container = busybox(["sh", "-c", "x=$(seq 1 200000); while :; do :; done"])
    poll(lambda: container.stats(stream=False)["memory_stats"].get("usage"), "a running busybox")
    reference: dict[str, Any] = {}

    def read_reference() -> None:
        reference["frame"] = container.stats(stream=False)  # as `docker stats --no-stream`

    thread = threading.Thread(target=read_reference)
    thread.start()
    outcome = collect(
        CollectOptions(
            config=Config(),
            containers=(container.name,),
            store=tmp_path / "s.db",
            since=engine_timestamp(now_ns()),
        )
    )
    thread.join(timeout=60)
    assert outcome.samples == 1
    frame = reference["frame"]
    cpu, pre = frame["cpu_stats"], frame["precpu_stats"]
    docker_cpu = (
        (cpu["cpu_usage"]["total_usage"] - pre["cpu_usage"]["total_usage"])
        / (cpu["system_cpu_usage"] - pre["system_cpu_usage"])
        * (cpu.get("online_cpus") or len(cpu["cpu_usage"]["percpu_usage"]))
        * 100
    )
    mem = frame["memory_stats"]
    stats = mem["stats"]
    inactive = stats.get("total_inactive_file", stats.get("inactive_file", 0))
    docker_mem = mem["usage"] - inactive if inactive < mem["usage"] else mem["usage"]
    with Store(tmp_path / "s.db") as store:
        (row,) = store.conn.execute("SELECT cpu_pct, mem_used_bytes FROM samples").fetchall()
    # The busy loop shows up (how much of a core it gets depends on the machine's load); the
    # two readings cover overlapping, not identical, intervals of about a second.
    assert docker_cpu > 20
    assert row[0] == pytest.approx(docker_cpu, abs=20.0)
    assert row[1] == pytest.approx(docker_mem, rel=0.10)


def test_collect_killed_mid_way_then_completed_has_every_line_once(
    busybox: Any, tmp_path: Path
) -> None:
    lines = 500_000
    container = busybox(["seq", "1", str(lines)])
    poll(lambda: exited(container), "seq to finish")
    store = tmp_path / "s.db"
    proc = subprocess.Popen(
        cli_argv(
            "collect",
            "--container",
            container.name,
            "--store",
            str(store),
        ),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def stored() -> int:
        if not store.exists():
            return 0
        try:
            with sqlite3.connect(store, timeout=5) as conn:
                row = conn.execute("SELECT SUM(lines) FROM log_blocks").fetchone()
                return int(row[0] or 0)
        except sqlite3.OperationalError:
            return 0  # the schema is not there yet

    try:
        poll(lambda: stored() > 0 and proc.poll() is None, "the first committed batch")
        assert proc.poll() is None, "the collect finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    partial = stored()
    assert 0 < partial < lines
    result = collect(CollectOptions(config=Config(), containers=(container.name,), store=store))
    with Store(store) as opened:
        assert opened.line_count() == lines
        numbers = [int(r[3]) for r in line_rows(opened.conn)]
    assert sorted(numbers) == list(range(1, lines + 1))
    assert result.lines_new == lines - partial


def test_dead_engine_is_one_line_naming_docker_host(tmp_path: Path) -> None:
    result = run_cli(
        "collect",
        "--store",
        str(tmp_path / "s.db"),
        env={"DOCKER_HOST": "unix:///nonexistent.sock"},
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "DOCKER_HOST=unix:///nonexistent.sock" in lines[0]
    assert "Traceback" not in result.stderr
    # the OS cause, not docker-py's wrapped reprs ("('Connection aborted.', FileNotFoundError(...")
    assert "DOCKER_HOST=unix:///nonexistent.sock: no socket at that path (" in lines[0]
    assert "Connection aborted" not in lines[0]


def test_engine_error_finds_the_os_cause_docker_py_wraps() -> None:
    from claude_perf.collect.engine import engine_error

    class ProtocolError(Exception):  # urllib3 carries the OS error as an argument
        pass

    wrapped = ProtocolError("Connection aborted.", ConnectionRefusedError(111, "refused"))
    outer = RuntimeError("Error while fetching server API version: " + repr(wrapped.args))
    outer.__cause__ = wrapped
    assert "at tcp://h:2375: connection refused (is dockerd" in str(
        engine_error(outer, "tcp://h:2375")
    )
    odd = RuntimeError("first line of a reason\nsecond line")
    assert "at tcp://h:2375: first line of a reason (is dockerd" in str(
        engine_error(odd, "tcp://h:2375")
    )


def test_missing_container_lists_running_ones(busybox: Any, tmp_path: Path) -> None:
    running = busybox(["sleep", "300"])
    poll(lambda: not exited(running) and running.status == "running", "sleep to run")
    result = run_cli(
        "collect", "--container", "no-such-container-x", "--store", str(tmp_path / "s.db")
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "no container 'no-such-container-x'" in lines[0]
    assert running.name in lines[0]


# --------------------------------------------------------------------------- more targets, paths


def stored_rows(store: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows from a store another process or thread may be writing (no schema yet: none)."""
    if not store.exists():
        return []
    try:
        with contextlib.closing(sqlite3.connect(store, timeout=5)) as conn:
            return list(conn.execute(sql))
    except sqlite3.OperationalError:
        return []


def sample_count(store: Path) -> int:
    rows = stored_rows(store, "SELECT COUNT(*) FROM samples")
    return int(rows[0][0]) if rows else 0


def ticker(lines: int | None = None) -> list[str]:
    """A busybox command logging ``tick N`` every 0.1 s (forever, or ``lines`` times)."""
    loop = f"[ $i -lt {lines} ]" if lines else "true"
    return ["sh", "-c", f"i=0; while {loop}; do i=$((i+1)); echo tick $i; sleep 0.1; done"]


def store_texts(store: Path, container_id: str) -> list[tuple[str, str]]:
    """(stream, text) of a container's stored lines, in time order (none without a store)."""
    keys = stored_rows(store, f"SELECT key FROM containers WHERE id = '{container_id}'")
    if not keys:
        return []
    with contextlib.closing(sqlite3.connect(store, timeout=5)) as conn:
        rows = sorted(line_rows(conn, int(keys[0][0])), key=lambda r: r[1])  # stable: by time
    return [(stream, text) for _, _, stream, text in rows]


def test_label_selects_every_labelled_container_and_no_other(busybox: Any, tmp_path: Path) -> None:
    case = uuid.uuid4().hex[:12]
    mine = [
        busybox(["sh", "-c", f"echo first {i}; echo second {i} >&2"], labels={"case": case})
        for i in range(2)
    ]
    other = busybox(["sh", "-c", "echo not me"], labels={"case": "other-" + case})
    for container in (*mine, other):
        poll(lambda c=container: exited(c), "the echoes to finish")
    store = tmp_path / "s.db"
    result = run_cli("collect", "--label", f"case={case}", "--store", str(store))
    assert result.returncode == 0, result.stderr
    names = {str(r[0]) for r in stored_rows(store, "SELECT name FROM containers")}
    assert names == {c.name for c in mine}
    for i, container in enumerate(mine):
        assert sorted(store_texts(store, container.id)) == [
            ("stderr", f"second {i}"),
            ("stdout", f"first {i}"),
        ]
    missing = run_cli("collect", "--label", f"case=none-{case}", "--store", str(store))
    assert missing.returncode == 1
    assert f"no container has the label case=none-{case}" in missing.stderr


def test_compose_project_collects_the_projects_containers(busybox: Any, tmp_path: Path) -> None:
    project = f"cpt{uuid.uuid4().hex[:10]}"
    label = "com.docker.compose.project"
    web = busybox(["sh", "-c", "echo web up"], labels={label: project})
    worker = busybox(["sh", "-c", "echo worker up"], labels={label: project})
    stranger = busybox(["sh", "-c", "echo elsewhere"], labels={label: project + "x"})
    for container in (web, worker, stranger):
        poll(lambda c=container: exited(c), "the echoes to finish")
    outcome = collect(
        CollectOptions(config=Config(), compose_project=project, store=tmp_path / "s.db")
    )
    assert {c.name for c in outcome.containers} == {web.name, worker.name}
    assert outcome.lines_new == 2
    assert store_texts(tmp_path / "s.db", web.id) == [("stdout", "web up")]
    assert store_texts(tmp_path / "s.db", stranger.id) == []


def test_report_live_collects_then_reports_the_window(busybox: Any, tmp_path: Path) -> None:
    container = busybox(ticker(20))
    poll(lambda: exited(container), "the ticker to finish")
    store = tmp_path / "s.db"
    result = run_cli(
        "report",
        "--live",
        "--container",
        container.name,
        "--since",
        "1h",
        "--store",
        str(store),
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["lines"]["total"] == 20
    assert summary["container"]["name"] == container.name
    assert summary["requests"]["total"] == 0
    assert [line for _, line in store_texts(store, container.id)] == [
        f"tick {i}" for i in range(1, 21)
    ]


def test_duration_samples_at_the_interval(busybox: Any, tmp_path: Path) -> None:
    container = busybox(ticker())
    poll(lambda: container.stats(stream=False)["memory_stats"].get("usage"), "a running ticker")
    outcome = collect(
        CollectOptions(
            config=Config(),
            containers=(container.name,),
            duration="3s",
            interval="1s",
            store=tmp_path / "s.db",
            since=engine_timestamp(now_ns()),
        )
    )
    (one,) = outcome.containers
    assert 2 <= one.samples <= 4  # 3 planned
    assert not outcome.interrupted and not outcome.notes
    times = [int(r[0]) for r in stored_rows(tmp_path / "s.db", "SELECT ts_ns FROM samples")]
    assert len(times) == one.samples
    gaps_s = [(b - a) / 1e9 for a, b in itertools.pairwise(times)]
    # the engine's read times of consecutive samples, one interval apart (a loose check)
    assert statistics.median(gaps_s) == pytest.approx(1.0, abs=0.5)
    assert one.lines_new > 0  # the lines logged while sampling came with the second pass


def test_container_removed_mid_collect_keeps_data_and_reports_the_gap(
    busybox: Any, tmp_path: Path
) -> None:
    container = busybox(ticker())
    poll(lambda: container.stats(stream=False)["memory_stats"].get("usage"), "a running ticker")
    store = tmp_path / "s.db"
    since = engine_timestamp(now_ns() - 60 * 10**9)
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["outcome"] = collect(
                CollectOptions(
                    config=Config(),
                    containers=(container.name,),
                    duration="60s",
                    interval="1s",
                    store=store,
                    since=since,
                )
            )
        except BaseException as exc:  # re-raised below, in the test's thread
            result["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    try:
        poll(lambda: sample_count(store) >= 2, "two samples")
    finally:
        container.remove(force=True)
        thread.join(timeout=DEADLINE_S)
    assert not thread.is_alive(), "the collect did not stop after its container went"
    if "error" in result:
        raise result["error"]
    outcome = result["outcome"]
    (one,) = outcome.containers
    assert one.samples >= 2 and one.lines_new > 0
    assert sample_count(store) == one.samples
    # the gap is in the outcome (sampling stopped, the last log pass found nothing) ...
    assert outcome.gaps and all(container.name in gap for gap in outcome.gaps)
    assert any("disappeared" in n or "failed" in n for n in outcome.notes)
    assert any("removed" in n for n in one.notes)
    # ... recorded with the collect ...
    (outcome_json,) = stored_rows(store, "SELECT outcome FROM collections")
    assert json.loads(outcome_json[0])["gaps"] == list(outcome.gaps)
    # ... and in the report's data-quality notes for the window
    summary = report(
        ReportOptions(
            config=Config(),
            format="json",
            store=store,
            since=since,
            containers=(container.name,),
            github_summary=False,
        )
    ).summary
    notes = summary["data_quality"]["notes"]
    for gap in outcome.gaps:
        assert any(gap in note for note in notes), (gap, notes)
    assert summary["lines"]["total"] == one.lines_new


def test_tty_container_logs_have_no_stream_headers(busybox: Any, tmp_path: Path) -> None:
    long = 40_000  # over the engine's 16 KiB message size: logged as three partial messages
    container = busybox(
        [
            "sh",
            "-c",
            f"echo one; echo two >&2; printf 'x%.0s' $(seq 1 {long}); echo; echo four",
        ],
        tty=True,
    )
    poll(lambda: exited(container), "the tty echoes to finish")
    store = tmp_path / "s.db"
    outcome = collect(CollectOptions(config=Config(), containers=(container.name,), store=store))
    assert outcome.lines_new == 4
    # a TTY merges stderr into its one output stream, with \r\n line ends
    assert store_texts(store, container.id) == [
        ("stdout", "one"),
        ("stdout", "two"),
        ("stdout", "x" * long),
        ("stdout", "four"),
    ]
    again = collect(CollectOptions(config=Config(), containers=(container.name,), store=store))
    assert again.lines_new == 0


def test_sigterm_stops_a_sampling_collect_cleanly(busybox: Any, tmp_path: Path) -> None:
    container = busybox(ticker())
    poll(lambda: container.stats(stream=False)["memory_stats"].get("usage"), "a running ticker")
    store = tmp_path / "s.db"
    proc = subprocess.Popen(
        cli_argv(
            "collect",
            "--container",
            container.name,
            "--duration",
            "60s",
            "--interval",
            "1s",
            "--store",
            str(store),
        ),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        poll(lambda: sample_count(store) >= 2 or proc.poll() is not None, "two samples")
        assert proc.poll() is None, "the collect ended before it was sent SIGTERM"
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=DEADLINE_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    assert proc.returncode == 0, stderr
    assert "(interrupted)" in stderr and "Traceback" not in stderr
    samples = sample_count(store)
    assert samples >= 2
    with contextlib.closing(sqlite3.connect(store)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        (row,) = conn.execute("SELECT finished_ns, interrupted, outcome FROM collections")
        stored = list(line_rows(conn))
        lines, distinct = len(stored), len(set(stored))
    assert row[0] is not None and row[1] == 1  # recorded as finished, interrupted
    assert json.loads(row[2])["samples"] == samples
    assert json.loads(row[2])["gaps"] == []  # an interruption is not a gap
    assert lines > 0 and distinct == lines
    # a clean close checkpoints the WAL (a killed process would leave it behind)
    wal = Path(f"{store}-wal")
    assert not wal.exists() or wal.stat().st_size == 0


def test_engine_api_too_old_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import docker

    from claude_perf.collect.engine import check_api_version, connect
    from claude_perf.errors import EngineError

    check_api_version("1.41")
    check_api_version("1.35")
    check_api_version("2.0")
    with pytest.raises(EngineError, match=r"API 1\.34 is too old: claude-perf needs 1\.35"):
        check_api_version("1.34")
    with pytest.raises(EngineError, match="too old"):
        check_api_version("1.9")  # compared as numbers, not as text

    class FakeApi:
        api_version = "1.30"

    class FakeClient:
        api = FakeApi()
        closed = False

        def ping(self) -> bool:
            return True

        def close(self) -> None:
            FakeClient.closed = True

    monkeypatch.setattr(docker, "from_env", lambda **_: FakeClient())
    with pytest.raises(EngineError, match=r"API 1\.30 is too old") as caught:
        connect()
    assert "\n" not in str(caught.value)
    assert FakeClient.closed


_STAMP = b"2025-03-04T05:06:07.%09dZ "
_BIG = b"y" * 40_000


def _frame(kind: int, payload: bytes) -> bytes:
    """One frame of Docker's multiplexed stream: stream byte, 3 zero bytes, big-endian length."""
    import struct

    return struct.pack(">BxxxL", kind, len(payload)) + payload


def _sample_frames(fourth: bytes) -> list[bytes]:
    """Nine frames with the hard cases: invalid UTF-8 on stderr, CRLF, an empty line, and a
    partial message (16 KiB pieces) with another stream's line between its parts."""
    frame, stamp, big = _frame, _STAMP, _BIG
    return [
        frame(1, stamp % 1 + b"plain\n"),
        frame(2, stamp % 2 + b"on stderr \xc3\xa9 \xff invalid\n"),
        frame(1, stamp % 3 + b"crlf\r\n"),
        frame(1, stamp % 4 + fourth),
        frame(1, stamp % 5 + b"\n"),  # an empty line
        frame(2, stamp % 6 + big[:16384]),  # a partial message ...
        frame(1, stamp % 7 + b"between the parts\n"),
        frame(2, stamp % 8 + big[16384:32768]),
        frame(2, stamp % 9 + big[32768:] + b"\n"),  # ... ends here
    ]


def test_frame_parser_equals_the_general_parser_at_every_block_cut() -> None:
    import io

    from claude_perf.collect.frames import FrameParser, iter_log_frames, parse_log_lines

    frame, stamp = _frame, _STAMP
    frames = [
        *_sample_frames(b"two cr\r\r\n"),
        frame(1, b"2025-03-04T05:06:08.5Z short stamp\n"),
        frame(0, stamp % 10 + b"stream 0\n"),
        frame(1, b"no-stamp-at-all\n"),
        frame(1, stamp % 11 + b"cut off at the end"),
    ]
    body = b"".join(frames)
    expected = list(parse_log_lines(iter_log_frames(io.BytesIO(body), False)))
    assert len(expected) == 10 and expected[6][1:] == ("stderr", _BIG.decode())
    for cut in [*range(0, 200), *range(16_300, 16_500), len(body) - 3]:
        parser = FrameParser()
        rows: list[tuple[int, str, str]] = []
        parser.feed(body[:cut], rows)
        parser.feed(body[cut:], rows)
        parser.finish(rows)
        assert rows == expected, cut


def test_our_http_1_0_request_reads_what_docker_py_reads(busybox: Any) -> None:
    """The engine's body on our own HTTP/1.0 socket equals urllib3's read of docker-py's
    HTTP/1.1 request (the TLS/ssh path), for a unix socket and for plain TCP to the engine."""
    import docker

    from claude_perf.collect import logstream
    from claude_perf.collect.frames import FrameParser

    long = 40_000
    container = busybox(
        [
            "sh",
            "-c",
            f"seq 1 3000; echo to stderr >&2; printf 'x%.0s' $(seq 1 {long}); echo; "
            "printf 'crlf\\r\\n'; seq 3001 6000 >&2",
        ]
    )
    poll(lambda: exited(container), "the writer to finish")
    client = docker.from_env(timeout=60)
    address = logstream._engine_address(client.api)
    if address is None or address[0] != "unix":
        client.close()
        pytest.skip("the engine is not on a unix socket here")
    try:
        with _tcp_forwarder(address[1]) as port:
            tcp = docker.APIClient(base_url=f"tcp://127.0.0.1:{port}", timeout=60)
            assert logstream._engine_address(tcp) == (
                "tcp",
                ("127.0.0.1", port),
                f"127.0.0.1:{port}",
            )
            bodies = []
            for engine in (client.api, tcp):
                body = logstream.open_log_stream(engine, container.id, None, None)
                assert isinstance(body, logstream._SocketBody)
                with contextlib.closing(body):
                    bodies.append(b"".join(body.blocks()))
            tcp.close()
        api: Any = client.api  # docker-py's own request, as over TLS and ssh
        url = api._url("/containers/{0}/logs", container.id)
        params = {"stdout": 1, "stderr": 1, "timestamps": 1, "follow": 0, "tail": "all"}
        response = api._get(url, params=params, stream=True)
        with contextlib.closing(logstream._ResponseBody(response)) as body11:
            bodies.append(b"".join(body11.blocks()))
        assert bodies[0] == bodies[1] == bodies[2]
        parser = FrameParser()
        rows: list[tuple[int, str, str]] = []
        parser.feed(bodies[0], rows)
        parser.finish(rows)
        texts = [(stream, text) for _, stream, text in rows]
        assert len(texts) == 6003
        assert ("stderr", "to stderr") in texts and ("stdout", "x" * long) in texts
        assert ("stdout", "crlf") in texts and texts.count(("stderr", "6000")) == 1
        # an error answer goes through docker-py again, which raises its usual error
        from docker.errors import NotFound

        with pytest.raises(NotFound):
            logstream.open_log_stream(client.api, f"no-such-{uuid.uuid4().hex}", None, None)
    finally:
        client.close()


@contextlib.contextmanager
def _tcp_forwarder(unix_path: str) -> Any:
    """A loopback TCP port forwarded to the engine's unix socket (connections of one test)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(1 << 16):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def serve() -> None:
        pumps = []
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            conn.settimeout(None)
            engine = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            engine.connect(unix_path)
            for a, b in ((conn, engine), (engine, conn)):
                pumps.append(threading.Thread(target=pump, args=(a, b), daemon=True))
                pumps[-1].start()
        for thread in pumps:
            thread.join(30)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(60)
        server.close()

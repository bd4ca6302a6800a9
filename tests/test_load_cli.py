"""`claude-perf load` as a user runs it: exit codes, one-line errors, and SIGTERM keeping records."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from claude_perf.ingest.client_records import record_from_json
from claude_perf.store.clients import read_client_records
from tests.cli_support import ROOT, cli_argv, run_cli
from tests.docker_support import poll
from tests.load_fake import fake_proxy

DEADLINE_S = 60.0


def test_usage_error_is_exit_2_one_line(tmp_path: Path) -> None:
    proc = run_cli(
        "load",
        "--url",
        "http://127.0.0.1:1",
        "--model",
        "a=70%",
        "--model",
        "b=20%",
        "-n",
        "2",
        "-c",
        "1",
        "--store",
        str(tmp_path / "s.db"),
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == "claude-perf: error: --model weights must sum to 100%, got 90%"


def test_missing_key_variable_is_exit_2(tmp_path: Path) -> None:
    proc = run_cli(
        "load",
        "--url",
        "http://127.0.0.1:1",
        "--model",
        "a",
        "-n",
        "1",
        "-c",
        "1",
        "--api-key-env",
        "CLAUDE_PERF_NO_SUCH_KEY",
        "--store",
        str(tmp_path / "s.db"),
    )
    assert proc.returncode == 2
    assert "CLAUDE_PERF_NO_SUCH_KEY is not set" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unreachable_url_exits_1_with_records_and_no_traceback(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
        proc = run_cli(
            "load",
            "--url",
            url,
            "--model",
            "a",
            "-n",
            "4",
            "-c",
            "2",
            "-o",
            str(tmp_path / "r.jsonl"),
            "--store",
            str(tmp_path / "s.db"),
        )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert (
        proc.stderr.strip()
        .splitlines()[-1]
        .startswith("claude-perf: error: no request could connect to")
    )
    assert "failed: connect 4" in proc.stderr
    assert len((tmp_path / "r.jsonl").read_text().splitlines()) == 4


def test_a_run_prints_its_table_and_exits_0(tmp_path: Path) -> None:
    with fake_proxy() as fake:
        proc = run_cli(
            "load",
            "--url",
            fake.url,
            "--model",
            "ok",
            "-n",
            "3",
            "-c",
            "2",
            "--stream-share",
            "100%",
            "--slo",
            "ttft=30s",
            "--store",
            str(tmp_path / "s.db"),
        )
    assert proc.returncode == 0, proc.stderr
    assert "goodput: 100.0% of requests ok and within ttft ≤ 30 s" in proc.stderr
    assert len(read_client_records(tmp_path / "s.db")) == 3


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_a_stop_keeps_every_finished_record(tmp_path: Path, signum: int) -> None:
    """ok/slow alternate with 2 in flight: the two ok requests finish, then both slots hold a
    slow one (60 s). SIGTERM then: the finished two are in the file and the store, the two in
    flight are cancelled after the grace, and the run says so."""
    out, store = tmp_path / "r.jsonl", tmp_path / "s.db"
    with fake_proxy() as fake:
        env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
        proc = subprocess.Popen(
            cli_argv(
                "load",
                "--url",
                fake.url,
                "--model",
                "ok=50%",
                "--model",
                "slow=50%",
                "-n",
                "20",
                "-c",
                "2",
                "--grace",
                "200ms",
                "-o",
                str(out),
                "--store",
                str(store),
            ),
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            poll(
                lambda: out.exists() and len(out.read_text().splitlines()) == 2,
                "2 records",
                DEADLINE_S,
            )
            poll(lambda: len(fake.seen) == 4, "4 requests sent", DEADLINE_S)
            proc.send_signal(signum)
            _, stderr = proc.communicate(timeout=DEADLINE_S)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, stderr
    records = [record_from_json(json.loads(x), "r") for x in out.read_text().splitlines()]
    assert [(r.model_asked, r.ok) for r in records] == [("ok", True), ("ok", True)]
    assert sorted(r.id for r in read_client_records(store)) == sorted(r.id for r in records)
    assert "ended by stop" in stderr
    assert "2 request(s) still in flight after the 0.2 s grace were cancelled" in stderr

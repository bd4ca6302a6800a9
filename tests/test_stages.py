"""Stage timings for the benchmark: off by default, a record per stage when asked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from claude_perf.runtime import stages


def test_off_without_the_variable(monkeypatch) -> None:
    monkeypatch.delenv(stages.ENV, raising=False)
    before = list(stages._records)
    with stages.stage("nothing"):
        pass
    assert stages._records == before


def test_each_stage_is_written_at_exit_with_its_time_and_memory(tmp_path: Path) -> None:
    out = tmp_path / "stages.json"
    code = (
        "import time\n"
        "from claude_perf.runtime.stages import stage\n"
        "with stage('first'):\n"
        "    time.sleep(0.05)\n"  # a known minimum duration to measure, not a synchronisation
        "with stage('second'):\n"
        "    data = b'x' * 50_000_000\n"
    )
    env = {"CLAUDE_PERF_STAGES": str(out), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    records = json.loads(out.read_text())
    assert [r["stage"] for r in records] == ["first", "second"]
    assert records[0]["wall_s"] >= 0.05
    assert records[1]["rss_mb"] >= records[0]["rss_mb"] + 45  # the 50 MB it touched

"""The docs/ci.md sequence on the real engine: proxy, workload, collect, gates, compare, export.

Two test sessions run against one stand-in proxy and are collected into one store; each is exported
as a bundle by its window (``--until`` / ``--since`` a boundary taken between them), reported with
gates that pass (exit 0) and fail (exit 3), compared, and the report re-made from the bundle must
equal the one made from the store.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.cli_support import ROOT, cli_argv, run_cli
from tests.docker_support import Step, drive_workload

pytestmark = pytest.mark.docker

PLAN = [
    Step("sonnet 1", "sonnet"),
    Step("haiku 1", "haiku"),
    Step("opus 1", "opus"),
    Step("sonnet 2", "sonnet"),
    Step("bad key", "sonnet", api_key="wrong-key"),
]


def collect_during(name: str, store: Path, base_url: str) -> list[Any]:
    """`claude-perf collect --duration` in the background through the workload, then once more."""
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    args = cli_argv("collect", "--container", name)
    args += ["--store", str(store)]
    sampler = subprocess.Popen(
        [*args, "--duration", "4s", "--interval", "1s"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    outcomes = drive_workload(base_url, PLAN)
    _, err = sampler.communicate(timeout=120)
    assert sampler.returncode == 0, err
    tail = run_cli(*args[3:])  # the lines logged after sampling ended
    assert tail.returncode == 0, tail.stderr
    return outcomes


def rfc3339(ns: int) -> str:
    seconds, nanos = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}Z"


def test_ci_sequence_on_the_real_engine(standin_proxy: tuple[Any, str], tmp_path: Path) -> None:
    container, base_url = standin_proxy
    store = tmp_path / "perf.db"

    first = collect_during(container.name, store, base_url)
    boundary_ns = time.time_ns()
    second = collect_during(container.name, store, base_url)
    assert [o.status for o in first] == [o.status for o in second] == [200, 200, 200, 200, 401]

    # export each run as a bundle, by window
    run1, run2 = tmp_path / "run1.tar.gz", tmp_path / "run2.tar.gz"
    boundary = rfc3339(boundary_ns)
    for bundle, window in ((run1, ("--until", boundary)), (run2, ("--since", boundary))):
        result = run_cli("export", "--store", str(store), *window, "-o", str(bundle))
        assert result.returncode == 0, result.stderr
        assert bundle.is_file()

    # the report re-made from the bundle equals the one made from the store
    store_json, base_json = tmp_path / "store.json", tmp_path / "base.json"
    result = run_cli(
        "report", "--store", str(store), "--until", boundary, "-f", "json", "-o", str(store_json)
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    result = run_cli("report", "-i", str(run1), "-f", "json", "-o", str(base_json))
    assert result.returncode == 0, result.stderr
    from_bundle = json.loads(base_json.read_text())
    assert from_bundle == json.loads(store_json.read_text())
    assert from_bundle["requests"]["total"] == 5
    assert from_bundle["requests"]["failed"] == 1
    assert from_bundle["resources"]["samples"] >= 1

    # gates that pass, then gates that fail (exit 3, report still written)
    current_json = tmp_path / "current.json"
    result = run_cli(
        "report", "-i", str(run2), "-f", "json", "-o", str(current_json),
        "--max-p95", "sonnet=30s", "--max-error-rate", "25", "--min-health", "50",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    current_json.unlink()
    result = run_cli(
        "report", "-i", str(run2), "-f", "json", "-o", str(current_json),
        "--max-error-rate", "10",
    )  # fmt: skip
    assert result.returncode == 3
    assert "max-error-rate: error rate 20% (1/5) > 10%" in result.stderr
    assert json.loads(current_json.read_text())["requests"]["total"] == 5

    # compare the two runs: the same workload is no regression (few samples are noise)
    result = run_cli("compare", str(base_json), str(current_json), "-o", str(tmp_path / "cmp.md"))
    assert result.returncode == 0, result.stderr + (tmp_path / "cmp.md").read_text()
    assert "**No regression**" in (tmp_path / "cmp.md").read_text()

"""The docs/ci.md sequence on the real engine: proxy, workload, collect, gates, compare, export.

Two test sessions run against one stand-in proxy and are collected into one store; each is exported
as a bundle by its window (``--until`` / ``--since`` a boundary taken between them), reported with
gates that pass (exit 0) and fail (exit 3), compared, and the report re-made from the bundle must
equal the one made from the store.

The other direction: a second run that is slower (the stand-in CLI's ``SLEEP=<s>`` prompt marker)
and fails more (``CRASH``) must make ``compare`` exit 3 and name each regression in its Markdown.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli_support import ROOT, cli_argv, run_cli
from tests.conftest import DockerRun, standin_of_run
from tests.docker_support import Step, drive_workload, logs_once

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


# Six requests a side: compare needs at least 5 latency samples per model on each side.
BASELINE_PLAN = [Step(f"sonnet {i}", "sonnet") for i in range(6)]
# The same six, each 1.5 s slower (stand-in default for sonnet: 0.9 s), and six CLI crashes (500).
REGRESSED_PLAN = [
    Step(f"slow sonnet {i}", "sonnet", prompt="SLEEP=1.5 Say hello.") for i in range(6)
]
REGRESSED_PLAN += [Step(f"crash {i}", "sonnet", prompt="CRASH") for i in range(6)]


@pytest.fixture
def unlimited_standin_proxy(docker_run: DockerRun) -> Iterator[tuple[Any, str]]:
    """The stand-in proxy with its rate limit off (24 requests in well under a minute)."""
    yield from standin_of_run(docker_run, RATE_LIMIT_PER_MIN="0")


def wait_for_access_lines(container: Any, count: int, timeout_s: float = 30.0) -> None:
    """Poll the engine's log until it holds ``count`` chat-completion access lines."""
    chat = '"POST /v1/chat/completions HTTP/1.1"'
    logs_once(container, lambda text: text.count(chat) >= count, f"{count} access lines", timeout_s)


def regression_rows(markdown: str) -> set[tuple[str, str]]:
    """(scope, figure) of every table row whose verdict is a regression."""
    rows = set()
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and cells[5] == "🔴 regression":
            rows.add((cells[0], cells[1]))
    return rows


def test_compare_names_a_regression_on_the_real_engine(
    unlimited_standin_proxy: tuple[Any, str], tmp_path: Path
) -> None:
    container, base_url = unlimited_standin_proxy
    store = tmp_path / "perf.db"

    baseline = drive_workload(base_url, BASELINE_PLAN)
    # The engine stamps a log line when it reads it, which can be after the client has its
    # answer: the boundary is taken once the baseline's last access line is in the engine's log.
    wait_for_access_lines(container, len(BASELINE_PLAN))
    boundary = rfc3339(time.time_ns())
    regressed = drive_workload(base_url, REGRESSED_PLAN)
    assert [o.status for o in baseline] == [200] * 6
    assert [o.status for o in regressed] == [200] * 6 + [500] * 6
    # what the client saw: the slow run really was slower
    assert min(o.elapsed_s for o in regressed[:6]) > max(o.elapsed_s for o in baseline) + 1.0

    result = run_cli("collect", "--container", container.name, "--store", str(store))
    assert result.returncode == 0, result.stderr
    base_json, current_json = tmp_path / "base.json", tmp_path / "current.json"
    for out, window in ((base_json, ("--until", boundary)), (current_json, ("--since", boundary))):
        result = run_cli("report", "--store", str(store), *window, "-f", "json", "-o", str(out))
        assert result.returncode == 0, result.stderr
    assert json.loads(base_json.read_text())["requests"]["total"] == 6
    assert json.loads(current_json.read_text())["requests"]["failed"] == 6

    cmp_md = tmp_path / "cmp.md"
    result = run_cli("compare", str(base_json), str(current_json), "-o", str(cmp_md))
    markdown = cmp_md.read_text()
    assert result.returncode == 3, result.stderr + markdown
    assert re.search(r"^\*\*\d+ regressions?\*\*", markdown, re.MULTILINE), markdown
    named = regression_rows(markdown)
    # slower: sonnet's median and p95 latency; more failures: sonnet's success rate
    assert {("sonnet", "p50_latency_s"), ("sonnet", "success_rate")} <= named, markdown
    assert "sonnet p50_latency_s" in result.stderr  # the exit-3 line names it too

"""CI commands through the real CLI: exit codes 0/2/3, exact one-line errors, files still written."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.cli_support import ROOT, run_cli

CAPTURE = ROOT / "fixtures" / "capture" / "docker-logs-t.txt"
PREFIX = "claude-perf: error: "


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith(PREFIX)]
    assert len(lines) == 1, result.stderr
    return lines[0][len(PREFIX) :]


def report_json(tmp_path: Path, *gates: str, name: str = "s.json") -> Any:
    out = tmp_path / name
    result = run_cli("report", "-i", str(CAPTURE), "-f", "json", "-o", str(out), *gates)
    return result, out


def test_gates_that_pass_exit_0_and_join_the_summary(tmp_path: Path) -> None:
    result, out = report_json(
        tmp_path, "--max-p95", "opus=6s", "--max-p95", "haiku=500ms", "--min-health", "100"
    )
    assert result.returncode == 0, result.stderr
    gates = json.loads(out.read_text())["gates"]
    assert [(g["gate"], g["passed"]) for g in gates] == [
        ("max-p95 opus", True),
        ("max-p95 haiku", True),
        ("min-health", True),
    ]


def test_failed_gates_exit_3_after_the_report_is_written(tmp_path: Path) -> None:
    result, out = report_json(tmp_path, "--max-p95", "opus=4s", "--max-error-rate", "5")
    assert result.returncode == 3
    assert error_line(result) == (
        "2 quality gates failed: max-p95 opus: p95 latency of opus 5.22 s > 4 s (n=3); "
        "max-error-rate: error rate 37.5% (6/16) > 5%"
    )
    assert json.loads(out.read_text())["requests"]["total"] == 16  # written all the same


def test_failed_gate_with_stdout_report_prints_it_first() -> None:
    result = run_cli("report", "-i", str(CAPTURE), "-f", "json", "--max-error-rate", "10")
    assert result.returncode == 3
    assert json.loads(result.stdout)["gates"][0]["passed"] is False


def test_unknown_model_is_a_usage_error_before_writing(tmp_path: Path) -> None:
    result, out = report_json(tmp_path, "--max-p95", "gpt-5=1s")
    assert result.returncode == 2
    assert error_line(result) == (
        "--max-p95: model 'gpt-5' is not in the data (known models: haiku, sonnet, opus, gpt-4)"
    )
    assert not out.exists()


def test_malformed_gate_values_exit_2(tmp_path: Path) -> None:
    cases = {
        ("--max-p95", "opus"): "--max-p95: 'opus' must be MODEL=DURATION (e.g. sonnet=8s)",
        ("--max-p95", "opus=quick"): (
            "--max-p95 opus: 'quick' is not a duration (examples: 8s, 750ms, 1.5 for seconds, 2m)"
        ),
        ("--fail-under", "12"): "--fail-under: '12' must be between 0 and 10",
        ("--max-error-rate", "lots"): "--max-error-rate: 'lots' is not a number",
        ("--min-health", "101"): "--min-health: '101' must be between 0 and 100%",
    }
    for args, message in cases.items():
        result = run_cli("report", "-i", "does-not-exist.log", *args)  # never read: syntax first
        assert result.returncode == 2, args
        assert error_line(result) == message


def test_gates_from_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "claude-perf.toml"
    config.write_text('[gates]\nmax_error_rate = 50\n[gates.max_p95]\nopus = "5s"\n')
    result, _ = report_json(tmp_path, "--config", str(config))
    assert result.returncode == 3
    assert error_line(result) == (
        "1 quality gate failed: max-p95 opus: p95 latency of opus 5.22 s > 5 s (n=3)"
    )
    # the command line wins over the file
    result, _ = report_json(tmp_path, "--config", str(config), "--max-p95", "opus=6s")
    assert result.returncode == 0, result.stderr
    config.write_text("[gates]\nmax_p99 = 1\n")
    result, _ = report_json(tmp_path, "--config", str(config))
    assert result.returncode == 2
    assert error_line(result) == "config: unknown key 'gates.max_p99' (did you mean 'max_p95'?)"


def test_github_step_summary_is_appended(tmp_path: Path) -> None:
    step = tmp_path / "step.md"
    out = tmp_path / "s.json"
    args = ("report", "-i", str(CAPTURE), "-f", "json", "-o", str(out), "--max-p95", "opus=4s")
    result = run_cli(*args, env={"GITHUB_STEP_SUMMARY": str(step)})
    assert result.returncode == 3
    text = step.read_text()
    assert text.startswith("# claude-perf report\n")
    assert "- ❌ max-p95 opus: p95 latency of opus 5.22 s &gt; 4 s (n=3)" in text  # escaped
    result = run_cli(*args, "--no-github-summary", env={"GITHUB_STEP_SUMMARY": str(step)})
    assert step.read_text() == text  # not appended again
    result = run_cli("report", "-i", str(CAPTURE), "-f", "json", "--github-summary")
    assert result.returncode == 2
    assert error_line(result) == (
        "--github-summary: GITHUB_STEP_SUMMARY is not set (GitHub Actions sets it in each step)"
    )


def test_compare_exit_codes_and_formats(tmp_path: Path) -> None:
    _, base = report_json(tmp_path, name="base.json")
    data = json.loads(base.read_text())
    # the current run: many more failed requests, enough to be significant
    data["requests"].update({"total": 400, "succeeded": 100, "failed": 300})
    worse = tmp_path / "worse.json"
    worse.write_text(json.dumps(data))
    same = run_cli("compare", str(base), str(base))
    assert same.returncode == 0, same.stderr
    assert "**No regression**" in same.stdout
    result = run_cli("compare", str(base), str(worse), "-o", str(tmp_path / "cmp.json"))
    assert result.returncode == 3
    assert error_line(result) == (
        "1 regression against the baseline: overall error_rate 37.5% → 75.0%"
    )
    written = json.loads((tmp_path / "cmp.json").read_text())
    assert written["schema"] == "claude-perf/comparison/1" and written["verdict"] == "regression"
    md = run_cli(
        "compare", str(base), str(worse), "--format", "markdown", "-o", str(tmp_path / "c.md")
    )
    assert md.returncode == 3 and (tmp_path / "c.md").read_text().startswith("# claude-perf comp")


def test_compare_unreadable_inputs_exit_2(tmp_path: Path) -> None:
    _, base = report_json(tmp_path, name="base.json")
    result = run_cli("compare", str(base), str(tmp_path / "nope.json"))
    assert result.returncode == 2
    assert error_line(result) == f"{tmp_path / 'nope.json'}: no such summary file"
    result = run_cli("compare", str(base), str(CAPTURE))
    assert result.returncode == 2
    assert error_line(result) == f"{CAPTURE}: not a JSON summary (invalid JSON at line 1)"
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"schema": "claude-perf/summary/9"}')
    result = run_cli("compare", str(base), str(wrong))
    assert result.returncode == 2
    assert error_line(result) == (
        f"{wrong}: not a claude-perf summary (schema 'claude-perf/summary/9'; expected "
        "'claude-perf/summary/1', as written by claude-perf report --format json)"
    )
    result = run_cli("compare", str(base), str(base), "--format", "html")
    assert result.returncode == 2
    assert error_line(result) == "--format must be markdown or json for compare, not 'html'"


def test_report_from_a_bundle_equals_the_report_from_the_logs(tmp_path: Path) -> None:
    from claude_perf.ingest.bundle import write_bundle
    from claude_perf.ingest.files import read_logs
    from claude_perf.ingest.session import Session

    bundle = write_bundle(Session(logs=read_logs([str(CAPTURE)])), tmp_path / "run.tar.gz")
    from_logs = run_cli("report", "-i", str(CAPTURE), "-f", "json")
    from_bundle = run_cli("report", "-i", str(bundle), "-f", "json")
    assert from_bundle.returncode == 0, from_bundle.stderr
    assert from_bundle.stdout == from_logs.stdout
    both = run_cli("report", "-i", str(bundle), "-i", str(CAPTURE), "-f", "json")
    assert both.returncode == 2
    assert error_line(both) == (
        f"--input {bundle} is a session bundle: give it as the only --input"
    )


def test_export_without_a_store_is_the_same_error_as_report(tmp_path: Path) -> None:
    store = tmp_path / "none.db"
    exported = run_cli("export", "--store", str(store), "-o", str(tmp_path / "run.tar.gz"))
    reported = run_cli("report", "--since", "1h", "--store", str(store))
    assert exported.returncode == reported.returncode == 1
    assert error_line(exported) == error_line(reported)
    assert error_line(exported) == f"no store at {store}: run `claude-perf collect` first"

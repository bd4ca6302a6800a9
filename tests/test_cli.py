"""CLI: exit codes, one-line errors, and a --help that does not import the heavy libraries."""

import json
import subprocess
import sys

import pytest

from tests.cli_support import ROOT, run_cli

CAPTURE = ROOT / "fixtures" / "capture" / "docker-logs-t.txt"


def test_help_does_not_import_heavy_libraries():
    code = (
        "import sys\n"
        "sys.argv = ['claude-perf', '--help']\n"
        "from claude_perf.cli.app import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('pandas', 'pyarrow', 'numpy', 'matplotlib', 'docker') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "HEAVY []" in result.stdout


def test_report_json_to_stdout():
    result = run_cli("report", "--input", str(CAPTURE), "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["requests"]["total"] == 16


def test_report_reads_stdin():
    result = run_cli("report", "-i", "-", "-f", "json", stdin=CAPTURE.read_text())
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["lines"]["total"] == 108


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/nonexistent/x.log", "claude-perf: error: /nonexistent/x.log: no such file"),
        ("fixtures", "claude-perf: error: fixtures: is a directory"),
    ],
)
def test_bad_paths_exit_2_with_one_line(path, message):
    result = run_cli("report", "--input", path, "--format", "json")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message)
    assert "Traceback" not in result.stderr


def test_unknown_format_is_a_usage_error():
    result = run_cli("report", "--input", str(CAPTURE), "--format", "yaml")
    assert result.returncode == 2
    assert "--format must be one of" in result.stderr


def test_bad_config_is_one_line_exit_2(tmp_path):
    config = tmp_path / "claude-perf.toml"
    config.write_text('[[patterns]]\nregex = "(?P<nope>x)"\nrole = "end"\n')
    result = run_cli("report", "--input", str(CAPTURE), "-f", "json", "--config", str(config))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "claude-perf: error: config: patterns[0]: unknown named group(s) ['nope']; "
        "allowed: client, duration, level, method, model, path, request_id, status, ts"
    )


def test_requests_csv_export(tmp_path):
    out = tmp_path / "requests.csv"
    result = run_cli(
        "report",
        "-i",
        str(CAPTURE),
        "-f",
        "json",
        "-o",
        str(tmp_path / "s.json"),
        "--requests-csv",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    header = out.read_text().splitlines()[0].split(",")
    assert header[:4] == ["kind", "start", "end", "latency_s"]
    assert len(out.read_text().strip().splitlines()) >= 24


def test_store_window_options_with_an_input_are_a_usage_error():
    # an input is analysed whole: a --since that was silently ignored would mislead
    result = run_cli(
        "report", "-i", str(CAPTURE), "-f", "json", "--since", "1h", "--container", "x"
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "claude-perf: error: --since, --container select from the store and cannot be combined "
        "with --input (an input file is analysed whole)"
    )

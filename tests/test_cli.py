"""CLI: exit codes, one-line errors, and a --help that does not import the heavy libraries."""

import csv
import io
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


def export_requests_csv(log, tmp_path):
    """`report --requests-csv` on `log`; the CSV's rows as dicts (and its raw text)."""
    out = tmp_path / "requests.csv"
    result = run_cli(
        "report", "-i", str(log), "-f", "json", "-o", str(tmp_path / "s.json"),
        "--requests-csv", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    text = out.read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text))), text


def test_requests_csv_export(tmp_path):
    rows, text = export_requests_csv(CAPTURE, tmp_path)
    assert text.splitlines()[0].split(",")[:4] == ["kind", "start", "end", "latency_s"]
    kinds = [r["kind"] for r in rows]
    assert (kinds.count("model"), kinds.count("health")) == (16, 7)  # the capture's access lines
    # Known rows of the capture (fixtures/capture/docker-logs-t.txt):
    # the gpt-4 request: "Chat completion:" at 00:51:07.153518525, its SDK errors, then a 200.
    (gpt4,) = [r for r in rows if r["model"] == "gpt-4"]
    assert gpt4["start"] == "2026-11-29T00:51:07.153518Z"
    assert gpt4["end"] == "2026-11-29T00:51:07.392415Z"
    assert float(gpt4["latency_s"]) == pytest.approx(0.392415091 - 0.153518525, abs=1e-9)
    assert (gpt4["latency_source"], gpt4["status"], gpt4["outcome"]) == ("paired", "200", "failed")
    assert (gpt4["error_class"], gpt4["error_records"]) == ("routing", "2")
    assert "Fatal error in message reader: Command failed" in gpt4["error_message"]
    # the CRASH request: haiku, 500 after the node-style ECONNREFUSED lines
    (crash,) = [r for r in rows if r["status"] == "500"]
    assert (crash["model"], crash["family"], crash["outcome"]) == ("haiku", "Haiku 4.5", "failed")
    assert crash["start"] == "2026-11-29T00:51:08.912695Z"
    assert float(crash["latency_s"]) == pytest.approx(9.213986688 - 8.912695451, abs=1e-9)
    assert crash["error_class"] == "cli"
    # the first request: sonnet, succeeded, no error columns
    first = next(r for r in rows if r["kind"] == "model")
    assert (first["model"], first["status"], first["outcome"]) == ("sonnet", "200", "succeeded")
    assert float(first["latency_s"]) == pytest.approx(50.916774998 - 49.843913252, abs=1e-9)
    assert first["error_class"] == first["error_message"] == ""
    # the bare 401 and the slowapi 429: no model, classified by status
    assert [r["error_class"] for r in rows if r["status"] in ("401", "422", "429")] == [
        "auth",
        "validation",
        "rate_limit",
    ]


ANT_KEY = "sk-ant-api03-Xq3vB7mN2pL9kR4tY8wZ1cF6hJ0dS5gA_e-Tu2IoPaQwErTyUiOp"
BEARER = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2Vu.Zm9vYmFy"


def test_requests_csv_redacts_secrets_in_error_messages(tmp_path):
    # The capture with a key and a bearer token in the gpt-4 request's SDK error record.
    lines = CAPTURE.read_text(encoding="utf-8").splitlines(keepends=True)
    leak = f"invalid x-api-key {ANT_KEY} (Authorization: Bearer {BEARER})"
    marker = "Fatal error in message reader: Command failed with exit code 1 (exit code: 1)"
    at = next(i for i, line in enumerate(lines) if marker in line)
    lines[at] = lines[at].replace(marker, f"Fatal error in message reader: {leak}")
    log = tmp_path / "leaky.log"
    log.write_text("".join(lines), encoding="utf-8")
    rows, text = export_requests_csv(log, tmp_path)
    assert ANT_KEY not in text and BEARER not in text
    (gpt4,) = [r for r in rows if r["model"] == "gpt-4"]
    # the key type stays (claude_perf/report/redact.py keeps it), the secret part goes
    assert "message reader: invalid x-api-key sk-ant-api03-[REDACTED]" in gpt4["error_message"]
    assert "Authorization: Bearer [REDACTED]" in gpt4["error_message"]


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


def test_a_log_without_any_time_says_its_window_is_unknown(tmp_path) -> None:
    log = tmp_path / "junk.log"
    log.write_text('garbage\n{"broken json\n')
    done = run_cli("report", "-i", str(log), "-f", "json", "-o", str(tmp_path / "r.json"))
    assert done.returncode == 0, done.stderr
    assert "unknown (no line has a time)" in done.stderr  # (the console summary goes there)
    assert "None s" not in done.stderr

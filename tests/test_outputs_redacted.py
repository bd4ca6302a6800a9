"""No secret in any output: a real capture with the shapes of issue 14 written into its error lines
and a request path, reported as Markdown (with charts), HTML, JSON, requests CSV, GitHub step
summary and console; exported as a bundle (redacted by default, raw with --raw) whose re-made
report has the same figures either way; CSV cells a spreadsheet would run are neutralised."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from claude_perf.cli.commands import write_requests_csv
from claude_perf.ingest.bundle import bundle_files, read_bundle, write_bundle
from claude_perf.ingest.files import read_logs
from claude_perf.ingest.session import Session
from claude_perf.secrets import MARKER
from tests.cli_support import ROOT, run_cli
from tests.test_secrets import KEY_NAMES

CAPTURE = ROOT / "fixtures" / "capture" / "docker-logs-t.txt"
SLOTS = (
    "Command failed with exit code 1 (exit code: 1)",
    "Check stderr output for details",
    "connect ECONNREFUSED 127.0.0.1:443",
)
GOOGLE_KEY = "AIzaSyD4e5F6g7H8i9J0kLmNoPqRsTuVwXyZ012"
SECRETS = [secret for _, secret, _ in KEY_NAMES] + [GOOGLE_KEY]


@pytest.fixture(scope="module")
def leaky_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The capture with every KEY_NAMES text in its error lines, and a Google key in a path."""
    lines = CAPTURE.read_text(encoding="utf-8").splitlines(keepends=True)
    shapes = [text for text, _, _ in KEY_NAMES]
    slots = [(i, s) for i, line in enumerate(lines) for s in SLOTS if s in line]
    assert len(slots) >= 12
    for n, (i, slot) in enumerate(slots):
        leak = " | ".join(shapes[n :: len(slots)])
        lines[i] = lines[i].replace(slot, f"{slot}: {leak}")
    at = next(
        i for i, line in enumerate(lines) if '"POST /v1/chat/completions HTTP/1.1" 401' in line
    )
    lines[at] = lines[at].replace("/v1/chat/completions", f"/v1/chat/completions?key={GOOGLE_KEY}")
    path = tmp_path_factory.mktemp("leaky") / "leaky.log"
    path.write_text("".join(lines), encoding="utf-8")
    return path


def leaked(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


def test_the_leaky_log_holds_every_secret(leaky_log):
    assert leaked(leaky_log.read_text(encoding="utf-8")) == SECRETS


def test_no_secret_in_markdown_csv_step_summary_charts_or_console(leaky_log, tmp_path):
    summary = tmp_path / "step-summary.md"
    result = run_cli(
        "report", "-i", str(leaky_log), "-o", str(tmp_path / "r.md"),
        "--requests-csv", str(tmp_path / "requests.csv"), "--github-summary",
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    outputs = {
        "markdown": (tmp_path / "r.md").read_text(encoding="utf-8"),
        "csv": (tmp_path / "requests.csv").read_text(encoding="utf-8"),
        "step summary": summary.read_text(encoding="utf-8"),
        "console": result.stdout + result.stderr,
        "charts": "".join(
            p.read_bytes().decode("latin-1") for p in (tmp_path / "r-charts").glob("*.png")
        ),
    }
    assert {name: leaked(text) for name, text in outputs.items()} == {name: [] for name in outputs}
    assert MARKER in outputs["csv"] and "\\[REDACTED\\]" in outputs["markdown"]


@pytest.mark.parametrize("fmt", ["json", "html"])
def test_no_secret_in_json_or_html(leaky_log, tmp_path, fmt):
    out = tmp_path / f"r.{fmt}"
    result = run_cli("report", "-i", str(leaky_log), "-f", fmt, "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert leaked(out.read_text(encoding="utf-8")) == []


def test_an_exported_bundle_is_redacted_and_remakes_the_same_figures(leaky_log, tmp_path):
    session = Session(logs=read_logs([str(leaky_log)]))
    redacted = bundle_files(session)
    raw = bundle_files(session, redacted=False)
    assert leaked(b"".join(redacted.values()).decode("utf-8")) == []
    assert leaked(b"".join(raw.values()).decode("utf-8")) == SECRETS
    assert json.loads(redacted["manifest.json"])["redacted"] is True
    summaries = []
    for flag in (True, False):
        bundle = write_bundle(session, tmp_path / f"b-{flag}.tar.gz", redacted=flag)
        assert len(read_bundle(bundle).logs.table) == len(session.logs.table)
        result = run_cli("report", "-i", str(bundle), "-f", "json")
        assert result.returncode == 0, result.stderr
        summaries.append(json.loads(result.stdout))
    for key in ("requests", "latency_s", "models", "errors", "health", "throughput"):
        assert summaries[0][key] == summaries[1][key], key


def test_export_raw_warns_and_names_the_risk(tmp_path):
    result = run_cli("export", "--raw", "-o", str(tmp_path / "b.tar.gz"),
                     "--store", str(tmp_path / "none.db"))  # fmt: skip
    assert "--raw keeps the logs unredacted" in result.stderr
    assert "do not publish it" in result.stderr


def test_csv_cells_a_spreadsheet_would_run_are_neutralised_numbers_kept(tmp_path):
    frame = pd.DataFrame(
        {
            "error_message": ["=HYPERLINK(\"http://x\")", "+1", "-2+3+cmd|' /C calc'!A0", "@SUM(A1)",
                              "\tx", "\rx", "fine", None],
            "latency_s": [-1.5, 2.0, -0.25, 0.0, 1.0, 1.0, 1.0, float("nan")],
            "status": [-1, 200, 500, 200, 200, 200, 200, 200],
            # the request table's paths, clients and models are categoricals: text all the same
            "path": pd.Categorical(["=cmd", "/v1/x?token=abc123secretvalue", None, "/h", "/h",
                                    "/h", "/h", "/h"]),
        }
    )  # fmt: skip
    path = write_requests_csv(frame, tmp_path / "r.csv")
    with path.open(encoding="utf-8", newline="") as handle:  # keep the CR inside a cell
        rows = list(csv.DictReader(handle))
    assert [r["error_message"] for r in rows] == [
        "'=HYPERLINK(\"http://x\")", "'+1", "'-2+3+cmd|' /C calc'!A0", "'@SUM(A1)",
        "'\tx", "'\rx", "fine", "",
    ]  # fmt: skip
    assert [r["latency_s"] for r in rows][:3] == ["-1.5", "2.0", "-0.25"]
    assert rows[0]["status"] == "-1"
    assert [r["path"] for r in rows][:3] == ["'=cmd", "/v1/x?token=[REDACTED]", ""]

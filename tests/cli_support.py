"""Running claude-perf as a user does: a child process (`python -m claude_perf`) from the
repository root, with GITHUB_STEP_SUMMARY removed so that no test writes into a CI runner's
step summary."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cli_argv(*args: str) -> list[str]:
    """The command line of `claude-perf ARGS` with this interpreter."""
    return [sys.executable, "-m", "claude_perf", *args]


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run `claude-perf ARGS` to the end; output captured as text, never raises on exit codes."""
    environ = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    environ.update(env or {})
    return subprocess.run(
        cli_argv(*args),
        capture_output=True,
        text=True,
        input=stdin,
        cwd=ROOT,
        env=environ,
        check=False,
        timeout=timeout,
    )

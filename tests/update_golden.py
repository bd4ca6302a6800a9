"""Regenerate the golden report files: ``python -m tests.update_golden`` (``make golden``).

The golden input is the Makefile's ``SAMPLE`` (what ``make report`` reads), or the saved capture
``fixtures/capture/docker-logs-t.txt`` while that sample does not exist yet. Outputs go to
``tests/golden/<sample name>.md`` and ``.json``, made with default configuration and a fixed clock,
from the repository root so that paths in the report are the same on every machine. ``main``
prints the unified diff of every file it rewrites: review it before committing.

``render_in_child`` makes the same files with ``claude-perf report`` in a fresh process (a given
PYTHONHASHSEED, the fixed clock through SOURCE_DATE_EPOCH), charts included, for the check that the
output does not depend on the process it was made in.
"""

from __future__ import annotations

import difflib
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
FALLBACK = "fixtures/capture/docker-logs-t.txt"
CLOCK = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)


def sample_inputs() -> list[str]:
    """The Makefile's SAMPLE when it exists, else the saved capture (paths relative to ROOT)."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    match = re.search(r"^SAMPLE\s*[:?]?=\s*(\S+)\s*$", makefile, re.MULTILINE)
    if match and (ROOT / match.group(1)).exists():
        return [match.group(1)]
    return [FALLBACK]


def golden_name(sample: str) -> str:
    name = Path(sample).name
    for suffix in (".tar.gz", ".gz", ".txt", ".log", ".json"):
        name = name.removesuffix(suffix)
    return name


def render(sample: str) -> dict[str, str]:
    """The golden files' text for one sample: ``<name>.md`` and ``<name>.json``."""
    from claude_perf.cli.commands import ReportOptions, report
    from claude_perf.config.schema import Config

    name = golden_name(sample)
    result: dict[str, str] = {}
    cwd = Path.cwd()
    os.chdir(ROOT)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for fmt, suffix in (("markdown", ".md"), ("json", ".json")):
                out = Path(tmp) / f"{name}{suffix}"
                report(
                    ReportOptions(
                        config=Config(),
                        inputs=(sample,),
                        format=fmt,
                        output=out,
                        generated_at=CLOCK,
                        github_summary=False,
                    )
                )
                result[out.name] = out.read_text(encoding="utf-8")
    finally:
        os.chdir(cwd)
    return result


def render_in_child(sample: str, out_dir: Path, hash_seed: str) -> dict[str, bytes]:
    """Every file ``claude-perf report`` writes for ``sample`` (Markdown with its charts folder,
    and JSON) from a fresh child process with PYTHONHASHSEED=``hash_seed``; keyed by path
    relative to ``out_dir``."""
    from tests.cli_support import run_cli

    env = {"PYTHONHASHSEED": hash_seed, "SOURCE_DATE_EPOCH": str(int(CLOCK.timestamp()))}
    name = golden_name(sample)
    out_dir.mkdir(parents=True, exist_ok=True)
    for fmt, suffix in (("markdown", ".md"), ("json", ".json")):
        out = out_dir / f"{name}{suffix}"
        result = run_cli("report", "--input", sample, "--format", fmt, "-o", str(out), env=env)
        if result.returncode != 0:
            raise RuntimeError(f"claude-perf report -f {fmt} failed: {result.stderr.strip()}")
    return {
        path.relative_to(out_dir).as_posix(): path.read_bytes()
        for path in sorted(out_dir.rglob("*"))
        if path.is_file()
    }


def diff_text(old: str | None, new: str, name: str) -> str:
    """The unified diff from ``old`` (None: no file yet) to ``new``; empty when they are equal."""
    lines = difflib.unified_diff(
        (old or "").splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"a/{name}" if old is not None else "/dev/null",
        tofile=f"b/{name}",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def main() -> None:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for sample in sample_inputs():
        for filename, text in render(sample).items():
            path = GOLDEN / filename
            old = path.read_text(encoding="utf-8") if path.exists() else None
            diff = diff_text(old, text, path.relative_to(ROOT).as_posix())
            path.write_text(text, encoding="utf-8")
            print(f"{'updated' if diff else 'unchanged'} {path.relative_to(ROOT)} (from {sample})")
            if diff:
                print(diff, end="")


if __name__ == "__main__":
    main()

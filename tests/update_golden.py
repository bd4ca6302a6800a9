"""Regenerate the golden report files: ``python -m tests.update_golden`` (``make golden``).

The golden input is the Makefile's ``SAMPLE`` (what ``make report`` reads), or the saved capture
``fixtures/capture/docker-logs-t.txt`` while that sample does not exist yet. Outputs go to
``tests/golden/<sample name>.md`` and ``.json``, made with default configuration and a fixed clock,
from the repository root so that paths in the report are the same on every machine. Review the
diff before committing it.
"""

from __future__ import annotations

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


def main() -> None:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for sample in sample_inputs():
        for filename, text in render(sample).items():
            path = GOLDEN / filename
            changed = not path.exists() or path.read_text(encoding="utf-8") != text
            path.write_text(text, encoding="utf-8")
            print(
                f"{'updated' if changed else 'unchanged'} {path.relative_to(ROOT)} (from {sample})"
            )


if __name__ == "__main__":
    main()

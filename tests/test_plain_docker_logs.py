"""Real captures read as plain `docker logs` (no `-t`): the lines keep their order but lose the
engine's times, and the access lines of uvicorn, LiteLLM and claude-code-api carry none of their
own. Request and failure counts and error records left outside any request must stay those of
the `-t` form, which tests/test_capture_truth.py and the capture tests hold to what the clients
saw: an error record beside two untimed completions goes to the one that failed when only one
did, else to the next line's (a request logs its errors before its response line); to the one
before when the next had not started yet.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from claude_perf.analysis.pipeline import analyse_session
from claude_perf.config.schema import Config
from claude_perf.ingest.files import read_logs
from claude_perf.ingest.session import Session
from claude_perf.report.summary import build

CAPTURES = Path(__file__).resolve().parent.parent / "fixtures" / "captures"


def counts(path: Path) -> tuple[int, int, int, int, bool]:
    """Requests, failures, error records, those outside any request; whether the notes say
    that error records were placed by line order alone."""
    summary = build(analyse_session(Session(read_logs([str(path)])), Config()))
    requests, errors = summary["requests"], summary["errors"]
    by_order = any("by the lines' order alone" in n for n in summary["data_quality"]["notes"])
    return (
        requests["total"],
        requests["failed"],
        errors["records"],
        errors["orphan_records"],
        by_order,
    )


@pytest.mark.parametrize(
    "capture",
    [
        # before: a 200 beside a 500 took the 500's records (4 failures for 3)
        "wrapper-debug-concurrent",
        "wrapper-plain-concurrent",
        # before: a run after a 500, the next request not yet started, went to an earlier 200
        "wrapper-debug-sequential",
        # before: every error record outside any request
        "litellm-info-mixed",
        "ccapi-debug-load",
    ],
)
def test_plain_docker_logs_count_what_the_timed_form_counts(capture: str, tmp_path: Path) -> None:
    found = sorted((CAPTURES / capture).glob("docker-logs-t.txt*"))
    timed = found[0]
    raw = gzip.decompress(timed.read_bytes()) if timed.suffix == ".gz" else timed.read_bytes()
    plain = tmp_path / "docker-logs.txt"
    plain.write_bytes(b"".join(line.split(b" ", 1)[-1] for line in raw.splitlines(True)))
    assert counts(plain)[:4] == counts(timed)[:4]
    assert (counts(plain)[4], counts(timed)[4]) == (True, False)  # said where it applies


# Where the plain form still differs from the `-t` form, and by how much (requests, failures,
# error records, those outside any request): said in the README's input forms.
PLAIN_DIFFERS = {
    # a cut stream's traceback followed by two 422s without a start: given to the first 422,
    # which failed anyway (one failure fewer)
    "fuergaosi-debug": (0, -1, 0, 0),
    # an error record the `-t` form leaves outside any request is placed by line order
    "fuergaosi-info": (0, 0, 0, -1),
}


@pytest.mark.parametrize(
    "capture",
    [*sorted(p.parent.name for p in CAPTURES.glob("*/docker-logs-t.txt*")), "../capture"],
)
def test_every_capture_read_plain_counts_what_the_timed_form_counts(
    capture: str, tmp_path: Path
) -> None:
    timed = sorted((CAPTURES / capture).glob("docker-logs-t.txt*"))[0]
    raw = gzip.decompress(timed.read_bytes()) if timed.suffix == ".gz" else timed.read_bytes()
    plain = tmp_path / "docker-logs.txt"
    plain.write_bytes(b"".join(line.split(b" ", 1)[-1] for line in raw.splitlines(True)))
    delta = PLAIN_DIFFERS.get(capture, (0, 0, 0, 0))
    expected = tuple(n + d for n, d in zip(counts(timed)[:4], delta, strict=True))
    assert counts(plain)[:4] == expected

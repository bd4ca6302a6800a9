"""The CRI log form (containerd, CRI-O, Podman's k8s-file driver; Kubernetes' /var/log/pods
files): ``TIME STREAM F|P TEXT`` records, long lines split into partial (``P``) records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from claude_perf.analysis.pipeline import analyse
from claude_perf.config.schema import Config
from claude_perf.ingest.files import FORM_CRI, read_log, read_logs, sniff_form
from claude_perf.report.summary import build

CAPTURES = sorted(Path(__file__).parent.parent.glob("fixtures/captures/*/docker-logs-t.txt"))


def as_cri(docker_t: bytes, part_chars: int = 60) -> bytes:  # 0: lines whole (no P record)
    """`docker logs -t` lines as CRI records, every line cut into parts of ``part_chars``
    characters (P records) and a last F record, as a runtime splits a long line."""
    out = []
    # lines end at \n only, as a runtime cuts them: a \r inside one (a spinner's) stays in it
    for raw in docker_t.decode("utf-8").removesuffix("\n").split("\n"):
        ts, _, text = raw.partition(" ")
        step = part_chars or max(len(text), 1)
        parts = [text[i : i + step] for i in range(0, len(text), step)] or [""]
        for k, part in enumerate(parts):
            tag = "F" if k == len(parts) - 1 else "P"
            out.append(f"{ts} stdout {tag} {part}")
    return ("\n".join(out) + "\n").encode("utf-8")


def test_cri_records_are_sniffed_as_their_form():
    data = b"2026-11-30T17:38:10.564819952Z stdout F hello\n2026-11-30T17:38:10.6Z stderr F x\n"
    assert sniff_form(data) == FORM_CRI
    assert sniff_form(b"2026-11-30T17:38:10.564819952Z hello\n") != FORM_CRI


def test_partial_records_are_joined_per_stream_and_keep_the_first_time(tmp_path):
    path = tmp_path / "0.log"
    path.write_bytes(
        b'2026-11-30T17:38:10.000000001Z stdout P {"event": "request.compl\n'
        b"2026-11-30T17:38:10.000000002Z stderr F an error line\n"
        b'2026-11-30T17:38:10.000000003Z stdout F ete", "status": 200}\n'
        b"2026-11-30T17:38:11.000000000-05:00 stdout F \n"
    )
    table, info, counts = read_log(str(path))
    assert info.form == FORM_CRI
    assert table.column("text").to_pylist() == [
        '{"event": "request.complete", "status": 200}',
        "an error line",
        "",
    ]
    assert table.column("stream").to_pylist() == ["stdout", "stderr", "stdout"]
    assert [t.value for t in table.column("ts")] == [
        1796060290000000001,
        1796060290000000002,
        1796078291000000000,
    ]
    assert counts["partial_merged"] == 1


def summary_of(path: Path) -> dict:
    out = build(analyse(read_logs([str(path)]), Config()))
    out.pop("generated", None)
    out.pop("inputs", None)
    out["data_quality"].pop("dialects", None)
    out["data_quality"]["partial_lines_merged"] = 0
    # notes that name their source name it by its path: the same source under either name
    notes = out["data_quality"]["notes"]
    out["data_quality"]["notes"] = [n.replace(str(path), "SOURCE") for n in notes]
    return json.loads(json.dumps(out, default=str))


@pytest.mark.parametrize("part_chars", [60, 0], ids=["cut", "whole"])
@pytest.mark.parametrize("capture", CAPTURES, ids=[c.parent.name for c in CAPTURES])
def test_a_real_capture_read_as_cri_records_tells_the_same(tmp_path, capture, part_chars):
    cri = tmp_path / "0.log"
    cri.write_bytes(as_cri(capture.read_bytes(), part_chars))
    assert summary_of(cri) == summary_of(capture)

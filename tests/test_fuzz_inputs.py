"""Fuzzing every input form: no traceback but the typed errors (ClaudePerfError subclasses).

Forms: docker ``-t`` lines, json-file records (partial records, broken JSON), plain text, JSON
lines, gzip (whole, cut, corrupted), session bundles (tar.gz with flipped bytes, hostile
manifests), client-record files (claude-perf/client-record/1, one JSON object a line) and config
files (TOML). Each runs the whole path a user's input takes (read, caps, analysis, summary).

Budget: ``FUZZ_PROFILE=quick`` (default, in ``make test``: a few seconds per test) or
``FUZZ_PROFILE=long`` (``make fuzz``: 50 times the examples).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import tarfile
import tomllib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claude_perf.analysis.pipeline import analyse
from claude_perf.config.load import config_from_mapping, load_config
from claude_perf.config.schema import Config, Limits
from claude_perf.errors import ClaudePerfError
from claude_perf.ingest.bundle import bundle_files, read_bundle
from claude_perf.ingest.client_records import record_from_json
from claude_perf.ingest.files import read_logs
from claude_perf.ingest.session import Session
from claude_perf.report.summary import build, dumps
from tests.test_parser_properties import REAL_LINES

_EXAMPLES = {"quick": 25, "long": 1250}[os.environ.get("FUZZ_PROFILE", "quick")]
FUZZ = settings(
    max_examples=_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
SMALL = Limits(max_input_bytes=200_000, max_line_bytes=300)

texts = st.one_of(
    st.sampled_from(REAL_LINES),
    st.text(max_size=120),
    st.binary(max_size=120).map(lambda b: b.decode("latin-1")),
)
stamps = st.one_of(
    st.sampled_from(
        ["2026-11-29T00:50:50.916774998Z", "2026-11-29T00:50:50Z", "2026-13-40T99:99:99Z"]
    ),
    st.text(max_size=35),
)


def report_on(tmp_path: Path, name: str, data: bytes) -> None:
    """The user's path: the file read within caps, analysed, summarised, written as JSON."""
    path = tmp_path / name
    path.write_bytes(data)
    try:
        summary = build(analyse(read_logs([str(path)], SMALL), Config()))
    except ClaudePerfError:
        return
    json.loads(dumps(summary))


@FUZZ
@given(st.lists(st.tuples(stamps, texts), max_size=40))
def test_docker_timestamp_lines(tmp_path, lines):
    data = "".join(f"{ts} {text}\n" for ts, text in lines).encode("utf-8", "replace")
    report_on(tmp_path, "docker.log", data)


json_record = st.fixed_dictionaries(
    {"log": texts, "stream": st.sampled_from(["stdout", "stderr", None, 5]), "time": stamps}
)


@FUZZ
@given(st.lists(st.tuples(json_record, st.booleans(), st.integers(0, 3)), max_size=30))
def test_json_file_records_with_partial_and_broken_ones(tmp_path, records):
    out = []
    for record, complete, damage in records:
        if complete and isinstance(record["log"], str):
            record = {**record, "log": record["log"] + "\n"}  # else a partial record
        line = json.dumps(record)
        out.append(line[: len(line) // 2] if damage == 0 else line)  # some cut mid-record
    report_on(tmp_path, "c-json.log", ("\n".join(out) + "\n").encode())


@FUZZ
@given(st.lists(texts, max_size=40))
def test_plain_lines(tmp_path, lines):
    report_on(tmp_path, "plain.log", "\n".join(lines).encode("utf-8", "replace"))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=8,
)
event_keys = st.sampled_from(
    ["event", "level", "timestamp", "time", "msg", "requestId", "request_id", "model",
     "durationMs", "duration", "status", "path", "method"]
)  # fmt: skip


@FUZZ
@given(
    st.lists(
        st.dictionaries(event_keys | st.text(max_size=8), json_values, max_size=6), max_size=30
    )
)
def test_json_lines(tmp_path, events):
    report_on(tmp_path, "events.jsonl", "\n".join(json.dumps(e) for e in events).encode())


@FUZZ
@given(st.lists(texts, max_size=30), st.integers(0, 400), st.binary(max_size=8))
def test_gzip_whole_cut_or_corrupted(tmp_path, lines, cut, junk):
    packed = gzip.compress("\n".join(lines).encode("utf-8", "replace"))
    if cut:
        at = min(cut, len(packed) - 1)
        packed = packed[:at] + junk + packed[at + len(junk) :]
    report_on(tmp_path, "in.log.gz", packed)


def a_bundle() -> bytes:
    lines = "\n".join(
        f"2026-11-29T00:50:{i:02d}.000000000Z {REAL_LINES[i % 4][31:]}" for i in range(20)
    )
    session = Session(logs=_logs_of(lines))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in bundle_files(session).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _logs_of(text: str):
    from claude_perf.ingest.files import combine, read_log

    table, info, counts = read_log("fuzz.log", data=text.encode())
    return combine([table], [info], [counts])


BUNDLE = a_bundle()


@FUZZ
@given(
    st.lists(st.tuples(st.integers(0, len(BUNDLE) - 1), st.integers(0, 255)), max_size=6),
    st.integers(10, len(BUNDLE)),
)
def test_bundles_with_flipped_bytes_or_cut(tmp_path, flips, keep):
    data = bytearray(BUNDLE[:keep])
    for at, value in flips:
        if at < len(data):
            data[at] = value
    path = tmp_path / "b.tar.gz"
    path.write_bytes(bytes(data))
    try:
        session = read_bundle(path)
        json.loads(dumps(build(analyse(session.logs, Config()))))
    except ClaudePerfError:
        pass


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["schema", "logs", "containers", "files", "samples", "window"])
        | st.text(max_size=6),
        json_values,
        max_size=6,
    )
)
def test_bundle_manifests(tmp_path, manifest):
    manifest.setdefault("schema", "claude-perf/session/1")
    folder = tmp_path / "bundle"
    folder.mkdir(exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with contextlib.suppress(ClaudePerfError):
        read_bundle(folder)


record_keys = st.sampled_from(
    ["schema", "id", "tool", "start_ns", "end_ns", "model", "status", "error", "chunk_gaps_s",
     "cost_usd", "ttfb_ns", "input_tokens"]
)  # fmt: skip


@FUZZ
@given(st.lists(st.dictionaries(record_keys, json_values, max_size=8), max_size=10))
def test_client_record_files(records):
    for n, record in enumerate(records):
        if n % 2:
            record["schema"] = "claude-perf/client-record/1"
        with contextlib.suppress(ClaudePerfError):
            record_from_json(record, f"clients.jsonl:{n + 1}")


config_keys = st.sampled_from(
    ["max_latency_s", "burst_gap_s", "app_timezone", "model_paths", "aliases", "patterns",
     "dialects", "tiers", "scoring", "gates", "limits", "collect", "references"]
)  # fmt: skip


@FUZZ
@given(st.dictionaries(config_keys | st.text(max_size=8), json_values, max_size=5))
def test_config_mappings(raw):
    with contextlib.suppress(ClaudePerfError):
        config_from_mapping(raw, "fuzz.toml")


@FUZZ
@given(st.text(max_size=300))
def test_config_files(tmp_path, text):
    path = tmp_path / "claude-perf.toml"
    path.write_text(text, encoding="utf-8", errors="replace")
    with contextlib.suppress(tomllib.TOMLDecodeError):
        tomllib.loads(text)
    with contextlib.suppress(ClaudePerfError):
        load_config(path)


CAPTURES = sorted(Path(__file__).parent.parent.glob("fixtures/captures/*/docker-logs-t.txt"))


@FUZZ
@given(
    st.sampled_from(CAPTURES),
    st.one_of(st.none(), st.sampled_from(CAPTURES)),
    st.randoms(use_true_random=False),
    st.floats(0.05, 1.0),
)
def test_any_subset_of_real_captures_lines(tmp_path, capture, other, rnd, keep):
    """Real proxies' lines with any of them lost (a cut, a rotation, a filter), and with
    another proxy's lines mixed in by time (two containers' logs in one file): usage records
    with no completion left, completions without their starts, two dialects' lines in one
    source... only typed errors, never a traceback."""
    lines = capture.read_bytes().splitlines(keepends=True)
    if other is not None:
        lines = sorted(lines + other.read_bytes().splitlines(keepends=True))
    kept = b"".join(line for line in lines if rnd.random() < keep)
    path = tmp_path / "subset.log"
    path.write_bytes(kept)
    try:
        summary = build(analyse(read_logs([str(path)], Limits()), Config()))
    except ClaudePerfError:
        return
    json.loads(dumps(summary))

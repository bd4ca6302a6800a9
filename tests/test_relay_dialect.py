"""The claude-relay-service dialect on hand-made lines, its ``under`` lines, and where it must not fire.

Its console writes a request's completion as a head line with its metadata on indented lines
below (src/utils/logger.js createConsoleFormat; the real shapes are in
fixtures/captures/relay-*). The model is on the ``├─ req:`` line under the completion: an
``under`` line gives it to the end above it. Before ``under`` existed, the only way to read it
was a ``model`` record, which goes to the next completion without a start: every request would
have carried the model of the one before it.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from claude_perf.analysis.pipeline import analyse
from claude_perf.config.load import builtin_dialects, config_from_mapping
from claude_perf.config.schema import Config
from claude_perf.errors import ConfigError
from claude_perf.ingest.files import read_log, read_logs
from claude_perf.parse.dialect_match import detect
from tests.report_support import analysis_of

CAPTURES = Path(__file__).resolve().parent.parent / "fixtures" / "captures"
T0 = "2026-12-01T05:42:0"


def block(second: int, status: int, ms: int, model: str | None, emoji: str = "🟢") -> list[str]:
    """One completion record as `docker logs -t` shows it (engine time, then the console's)."""
    at = f"{T0}{second}.500000000Z"
    lines = [f"{at} 13:42:0{second} {emoji} {status} POST /api/v1/messages  {ms}ms 302B"]
    lines.append(f"{at}          ├─ requestId: r{second}abc")
    if model is not None:
        body = (
            f'{{"model":"{model}","max_tokens":64,"messages":[{{"role":"user","content":"hi"}}]}}'
        )
        lines.append(f"{at}          ├─ req: {body}")
    lines += [f"{at}          ├─ ip: 172.17.0.{second}", f"{at}          └─ referer: none"]
    return lines


def received(second: int, model: str) -> list[str]:
    """The handler's arrival record (its model under it: not an end, so not lent)."""
    at = f"{T0}{second}.100000000Z"
    return [
        f"{at} 13:42:0{second} 🔗 📥 /v1/messages request received",
        f"{at}          ├─ model: {model}",
        f"{at}          └─ stream: false",
    ]


def rows_of(table: pd.DataFrame) -> list[tuple[str | None, int, float, str, str]]:
    """(model, status, latency, client, outcome) per request, in completion order."""
    return [
        (None if pd.isna(m) else str(m), int(st), round(float(lat), 3), str(c), str(o))
        for m, st, lat, c, o in zip(
            table["model"].astype(object),
            table["status"],
            table["latency_s"],
            table["client"].astype(object),
            table["outcome"].astype(object),
            strict=True,
        )
    ]


def test_each_completion_takes_the_model_printed_under_it(tmp_path: Path) -> None:
    # Two requests in flight: the opus one arrived first and finished last. Each completion's
    # model is its own body's, whatever arrived or finished in between; the arrival records'
    # `├─ model:` lines (under no completion) lend nothing.
    lines = [
        *received(1, "claude-opus-4-1-20250805"),
        *received(2, "claude-3-5-haiku-20241022"),
        *block(2, 200, 300, "claude-3-5-haiku-20241022"),
        *block(3, 200, 1500, "claude-opus-4-1-20250805"),
        *block(4, 401, 2, "claude-3-5-haiku-20241022", emoji="⚠️ "),
        *block(5, 400, 1, None, emoji="⚠️ "),
        *block(6, 500, 120, "claude-3-haiku-20240307", emoji="❌"),
    ]
    a = analysis_of(tmp_path, lines)
    table = a.requests.table
    assert rows_of(table) == [
        ("claude-3-5-haiku-20241022", 200, 0.3, "172.17.0.2", "succeeded"),
        ("claude-opus-4-1-20250805", 200, 1.5, "172.17.0.3", "succeeded"),
        ("claude-3-5-haiku-20241022", 401, 0.002, "172.17.0.4", "failed"),
        (None, 400, 0.001, "172.17.0.5", "failed"),  # a malformed body: no `├─ req:` line
        ("claude-3-haiku-20240307", 500, 0.12, "172.17.0.6", "failed"),
    ]
    assert list(table["error_class"].iloc[2:]) == ["auth", "validation", "server"]
    # the start is the completion's time less its logged duration: 05:42:03.5 - 1.5 s
    assert table["start"].iloc[1] == pd.Timestamp("2026-12-01T05:42:02.000", tz="UTC")
    assert not table["ambiguous"].any()
    assert list(a.quality.dialects.values()) == [("claude-relay-service",)]


def test_a_line_under_another_record_lends_nothing(tmp_path: Path) -> None:
    # The `├─ req:` shape under a head that is no completion (a debug arrival line with its
    # body) gives its model to nobody; the completion that follows has none of its own.
    at = f"{T0}1.100000000Z"
    lines = [
        f"{at} 13:42:01 ▶ [r1abc] POST /api/v1/messages",
        f"{at}          ├─ ip: 172.17.0.1",
        f'{at}          └─ req: {{"model":"claude-opus-4-1-20250805"}}',
        *block(2, 200, 900, None),
    ]
    table = analysis_of(tmp_path, lines).requests.table
    assert rows_of(table) == [(None, 200, 0.9, "172.17.0.2", "succeeded")]


def test_heads_are_looked_for_in_the_lines_own_source(tmp_path: Path) -> None:
    # Two replicas' logs given together: their lines interleave in time. Replica b's completion
    # is stamped between a's completion and the lines under it: a's model must still be a's.
    a_lines = block(2, 200, 300, "claude-3-5-haiku-20241022")
    a_lines = [a_lines[0], *(x.replace(".500000000Z", ".500002000Z", 1) for x in a_lines[1:])]
    b_lines = [
        x.replace(".500000000Z", ".500001000Z", 1).replace("172.17.0.2", "172.17.0.9")
        for x in block(2, 200, 800, "claude-sonnet-4-5-20250929")
    ]
    paths = []
    for name, lines in (("a.log", a_lines), ("b.log", b_lines)):
        path = tmp_path / name
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        paths.append(str(path))
    table = analyse(read_logs(paths), Config()).requests.table
    assert sorted(rows_of(table), key=str) == [
        ("claude-3-5-haiku-20241022", 200, 0.3, "172.17.0.2", "succeeded"),
        ("claude-sonnet-4-5-20250929", 200, 0.8, "172.17.0.9", "succeeded"),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            {
                "regex": r"^\s+├─ req: .*\"model\":\"(?P<model>[^\"]+)\"",
                "under": True,
                "role": "model",
            },
            "an 'under' line plays no role of its own: leave role, fields and flags out",
        ),
        (
            {"regex": r"^\s+├─ status: (?P<status>\d{3})", "under": True},
            "an 'under' line names only model, request_id, client, not ['status']",
        ),
        (
            {"regex": r"^<-- (?P<method>[A-Z]+)", "role": "start", "alone": True},
            "'alone' is for end lines (a whole request) and error records (attached to none)",
        ),
    ],
)
def test_under_lines_are_validated(line: dict[str, object], message: str) -> None:
    raw = {
        "dialects": [
            {"name": "x", "lines": [{"regex": "^x (?P<status>\\d{3})$", "role": "end"}, line]}
        ]
    }
    with pytest.raises(ConfigError) as info:
        config_from_mapping(raw)
    assert message in str(info.value)


def _other_logs() -> list[Path]:
    """Every other proxy's log among the fixtures (captures, the sample session, ...)."""
    out = []
    for path in sorted(CAPTURES.parent.rglob("*")):
        if not path.is_file() or path.parent.name.startswith("relay-"):
            continue
        if path.name.endswith((".log", ".txt", ".log.gz", ".txt.gz", ".jsonl")) and (
            path.name != "clients.jsonl"
        ):
            out.append(path)
    return out


@pytest.mark.parametrize("path", _other_logs(), ids=lambda p: str(p.relative_to(CAPTURES.parent)))
def test_the_dialect_is_not_found_in_other_proxies_logs(path: Path) -> None:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    table, _, _ = read_log(path.name, data)
    assert table.num_rows > 0
    relay = [d for d in builtin_dialects() if d.name == "claude-relay-service"]
    source = np.zeros(table.num_rows, dtype=np.int64)
    assert detect(table.column("text"), source, relay).by_source == {}


def test_the_dialect_is_found_in_its_own_logs() -> None:
    relay = [d for d in builtin_dialects() if d.name == "claude-relay-service"]
    for path in sorted(CAPTURES.glob("relay-*/*")):
        if path.name.startswith(("docker-logs-t", "relay-file")):
            data = path.read_bytes()
            table, _, _ = read_log(
                path.name, gzip.decompress(data) if path.suffix == ".gz" else data
            )
            source = np.zeros(table.num_rows, dtype=np.int64)
            names = detect(table.column("text"), source, relay).names()
            assert names == {0: ("claude-relay-service",)}, path


def test_a_groupless_line_read_both_through_asctime_tails_and_whole():
    """A dialect line without named groups matched on a line with Python's asctime head (read
    through its tail) and on one without (read whole): the two readings joined (they were two
    struct types, an ArrowInvalid, on a log mixing two proxies' lines; found by tests/
    test_fuzz_inputs' mixing of real captures)."""
    from tests.test_truth import analysis, engine, requests

    lines = [
        f"{engine(1.0)} 2026-12-01 13:44:36,000 - src.main - INFO - 🔗 📥 /v1/messages request received",
        f"{engine(1.1)} 13:44:36 🔗 📥 /v1/messages request received",
        f"{engine(1.5)} 13:44:37 🟢 200 POST /api/v1/messages  422ms 302B",
    ]
    a = analysis(lines)
    assert len(requests(a)) == 1
    assert a.quality.dialects == {"source-0.log": ("claude-relay-service",)}

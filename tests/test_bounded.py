"""Bounded inputs: streamed gzip, line and size caps, and a 2 GiB gzip bomb in bounded memory."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from claude_perf.config.schema import Limits
from claude_perf.errors import InputError
from claude_perf.ingest.bounded import DAMAGED_NOTE, _LineCap, cap_lines, read_bounded
from claude_perf.ingest.files import read_logs
from tests.bomb_support import write_bomb
from tests.cli_support import ROOT, run_cli

RSS_LIMIT_BYTES = 600 * 1024**2


def naive_cut(data: bytes, cap: int) -> tuple[bytes, int]:
    lines = data.split(b"\n")
    return b"\n".join(line[:cap] for line in lines), sum(len(line) > cap for line in lines)


@given(
    data=st.binary(max_size=300).map(lambda b: b.replace(b"\r", b"\n")),
    cap=st.integers(1, 40),
    cuts=st.lists(st.integers(1, 50), max_size=20),
)
def test_line_cap_equals_the_naive_cut_whatever_the_blocks(data, cap, cuts):
    lines = _LineCap(cap)
    pos = 0
    for size in [*cuts, len(data)]:
        lines.feed(data[pos : pos + size])
        pos += size
    assert (lines.data(), lines.cut) == naive_cut(data, cap)


def test_lines_within_the_cap_come_through_unchanged_and_uncopied():
    data = b"a\n" * 1000 + b"b" * 10
    read = cap_lines(data, Limits(max_line_bytes=10))
    assert read.data is data and read.lines_cut == 0


def test_a_long_line_is_cut_counted_and_noted(tmp_path):
    path = tmp_path / "long.log"
    path.write_bytes(b"2026-11-29T00:00:00Z " + b"y" * 5000 + b"\nshort\n")
    logs = read_logs([str(path)], Limits(max_line_bytes=100))
    assert logs.total == 2
    assert max(len(t) for t in logs.table.column("text").to_pylist()) <= 100
    assert any("1 line(s) longer than 100 bytes were cut" in n for n in logs.inputs[0].notes)


def test_gzip_members_are_read_one_after_another(tmp_path):
    path = tmp_path / "two.log.gz"
    path.write_bytes(gzip.compress(b"one\ntwo\n") + gzip.compress(b"three\n"))
    assert read_bounded(str(path)).data == b"one\ntwo\nthree\n"


def test_a_truncated_gzip_keeps_what_inflated_with_a_note(tmp_path):
    path = tmp_path / "cut.log.gz"
    whole = gzip.compress(b"".join(b"line %d\n" % i for i in range(20_000)))
    path.write_bytes(whole[: len(whole) // 2])
    read = read_bounded(str(path))
    assert read.data.startswith(b"line 0\nline 1\n") and 0 < len(read.data) < 20_000 * 10
    assert read.notes == (f"{path}: {DAMAGED_NOTE}",)


def test_an_input_over_the_size_cap_is_a_one_line_error(tmp_path):
    path = tmp_path / "big.log"
    path.write_bytes(b"x\n" * 5000)
    with pytest.raises(InputError, match=r"holds more than 1000 bytes .*max_input_bytes"):
        read_bounded(str(path), Limits(max_input_bytes=1000))


def test_the_limits_are_validated_in_the_config(tmp_path):
    config = tmp_path / "claude-perf.toml"
    config.write_text("[limits]\nmax_line_bytes = 0\n")
    result = run_cli("config", "--config", str(config))
    assert result.returncode == 2
    assert "max_line_bytes" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def peak_rss_of(code: str) -> tuple[int, str, str, int]:
    """Run `code` in a child of a child: (the grandchild's peak RSS in bytes, its stdout, stderr,
    exit code). RUSAGE_CHILDREN of the middle process sees only that one grandchild, not the
    other processes this test session has started."""
    middle = textwrap.dedent(
        f"""
        import json, resource, subprocess, sys
        done = subprocess.run([sys.executable, "-c", {code!r}], capture_output=True, text=True)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
        print(json.dumps([peak, done.stdout, done.stderr, done.returncode]))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", middle], capture_output=True, text=True, cwd=ROOT, check=True
    )
    peak, stdout, stderr, code_ = json.loads(out.stdout)
    return peak, stdout, stderr, code_


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bomb") / "bomb.log.gz"
    size = write_bomb(path, head=b"2026-11-29T00:00:00Z ", tail=b"\n2026-11-29T00:00:01Z after\n")
    assert size > 2 * 1024**3 and path.stat().st_size < 3 * 1024**2
    return path


def test_a_2_gib_gzip_bomb_is_refused_in_bounded_memory(bomb):
    argv = ["claude-perf", "report", "-i", str(bomb), "-f", "json"]
    code = f"import runpy, sys; sys.argv = {argv!r}; runpy.run_module('claude_perf', run_name='__main__')"
    peak, _, stderr, exit_code = peak_rss_of(code)
    print(f"peak RSS refusing the bomb: {peak / 2**20:.0f} MiB")
    assert exit_code == 2
    assert stderr.count("\n") == 1 and "max_input_bytes" in stderr
    assert peak < RSS_LIMIT_BYTES


def test_a_2_gib_gzip_bomb_read_whole_stays_in_bounded_memory(bomb):
    code = textwrap.dedent(
        f"""
        from claude_perf.config.schema import Limits
        from claude_perf.ingest.bounded import read_bounded
        read = read_bounded({str(bomb)!r}, Limits(max_input_bytes=4 * 1024**3))
        print(len(read.data), read.lines_cut, read.bytes_read)
        """
    )
    peak, stdout, _, exit_code = peak_rss_of(code)
    print(f"peak RSS reading the whole bomb: {peak / 2**20:.0f} MiB")
    kept, cut, inflated = map(int, stdout.split())
    assert exit_code == 0 and cut == 1 and inflated > 2 * 1024**3
    assert kept == 1024**2 + len(b"\n2026-11-29T00:00:01Z after\n")
    assert peak < RSS_LIMIT_BYTES


def test_has_long_line_counts_a_line_s_bytes_before_its_newline() -> None:
    from claude_perf.ingest.bounded import has_long_line

    four = b"abcd\nxy\n"
    assert not has_long_line(four, len(four), 4)  # "abcd" is 4 bytes: not over a cap of 4
    assert has_long_line(four, len(four), 3)
    assert not has_long_line(four, len(four), 3, start=5)  # from "xy" on
    tail = b"ab\nabcdef"  # a last line without its newline counts too
    assert has_long_line(tail, len(tail), 5) and not has_long_line(tail, len(tail), 6)

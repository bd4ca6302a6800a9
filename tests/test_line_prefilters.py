"""The per-line shortcuts (first bytes, last bytes, message shapes, the access head cut) give
exactly what the kernels and regexes they stand in for give."""

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from claude_perf.parse import steps
from claude_perf.parse.formats import _ACCESS, _MORGAN_PREFIX
from claude_perf.parse.heads import _access_fields
from claude_perf.parse.shapes import _digits_to_zero
from claude_perf.parse.steps import _Part
from claude_perf.parse.text import _first_bytes
from claude_perf.runtime import memory


def _part(texts: list[str]) -> _Part:
    n = len(texts)
    return _Part(
        pa.table(
            {
                "ts": pa.array([None] * n, pa.timestamp("ns", tz="UTC")),
                "text": pa.array(texts, pa.large_string()),
            }
        )
    )


def test_first_bytes_of_texts_empty_ones_minus_one():
    texts = pa.array(["ab", "", "é", "{x}", ""], pa.large_string()).slice(1)
    assert _first_bytes(texts).tolist() == [-1, 0xC3, ord("{"), -1]


def test_digits_to_zero_changes_only_one_to_nine():
    raw = np.arange(256, dtype=np.uint8)
    expected = raw.copy()
    expected[ord("1") : ord("9") + 1] = ord("0")
    assert _digits_to_zero(raw).tolist() == expected.tolist()


def test_prefiltered_tests_agree_with_the_kernels_on_every_line():
    texts = [
        "",
        " ",
        "\u00a0\u2003",
        "\tx",
        "INFO:     1.2.3.4:5 - x",
        "{not closed",
        '{"a": 1}  ',
        '{"a": 1}\u3000',
        '{"a": 1}\u00e9',
        "WARNING:  msg",
        "abc - - GET / 200 1 ms",
        "GET /x 200 1.0 ms",
        "[::1] - - POST / 200 1 ms",
        "x=1",
        "INFO",
        "INFO;x",
        "IN",
    ]
    part = _part(texts)
    text = pa.array(texts, pa.large_string())
    for prefix in ("INFO:", "{"):  # read from the bytes at the offsets, not by the kernel
        assert part.starts_with(prefix.encode()).tolist() == (
            pc.starts_with(text, prefix).to_pylist()
        )
    assert part.test(pc.utf8_is_space, first=steps._SPACE_FIRST).tolist() == (
        pc.utf8_is_space(text).to_pylist()
    )
    for regex, first in (
        (r"^[A-Z]{4,8}:", steps._UPPER_FIRST),
        (_MORGAN_PREFIX, steps._MORGAN_FIRST),
    ):
        assert part.test(pc.match_substring_regex, regex, first=first).tolist() == (
            pc.match_substring_regex(text, regex).to_pylist()
        )
    json_rows = np.flatnonzero(part.test(pc.starts_with, "{", first=b"{"))
    closed = pc.ends_with(pc.utf8_rtrim_whitespace(text.take(pa.array(json_rows))), "}")
    assert (
        part._closed_objects(json_rows).tolist()
        == closed.to_pylist()
        == [
            False,
            True,
            True,
            False,
        ]
    )


def test_access_fields_are_what_the_whole_regex_reads():
    lines = [
        'INFO:     1.2.3.4:80 - "GET /x?q=1 HTTP/1.1" 200 OK',
        'INFO:  a:b:12 - "POST /a HTTP/1.0" 404',
        'INFO:     nohost - "GET / HTTP/1.1" 200',
        'INFO: \u00e9\u00e9:12 - "GET /\u00e9 HTTP/1.1" 500 - "x"',
        'INFO:\t[::1]:5 - "GET /h HTTP/2" 503',
        'INFO:     1.2.3.4:80 - "get / HTTP/1.1" 200',
        "INFO:     Started server process [1]",
        'INFO:1.2.3.4:80 - "GET / HTTP/1.1" 200',
        'INFO:   1:2  - "GET / HTTP/1.1" 201',
        'INFO:   a:1x - "GET / HTTP/1.1" 200',
    ]
    text = pa.array(lines, pa.large_string())
    rows, fields = _access_fields(text, np.arange(len(lines)))
    found = [(i, re.search(_ACCESS, line)) for i, line in enumerate(lines)]
    expected = [(i, m) for i, m in found if m is not None]
    assert rows.tolist() == [i for i, _ in expected] == [0, 1, 3, 4]
    for name in ("client", "method", "path"):  # codes (columns.Coded), read as texts
        assert fields[name].values().tolist() == [m[name] for _, m in expected]
    assert fields["status"].tolist() == [float(m["status"]) for _, m in expected]


def test_release_inside_a_part_skips_malloc_trim(monkeypatch):
    from claude_perf.runtime import parallel

    trims: list[int] = []
    monkeypatch.setattr(memory, "_glibc", lambda name: lambda pad: trims.append(pad))
    parallel.parallel_map(lambda _: memory.release_unused(), [1, 2])
    assert trims == []
    memory.release_unused()
    assert trims == [0]


def test_dialect_literals_found_through_shapes_as_in_the_lines():
    from claude_perf.config.dialect import DialectLine
    from claude_perf.parse.dialect_match import _candidates

    texts = ['{"event":"request.error","id":"r-17"}', "done in 12 ms", "Chat completion: 4", "x"]
    text = pa.array(texts * 3, pa.large_string())
    lines = [
        DialectLine(regex=".", role="end", contains='"request.error"'),
        DialectLine(regex=".", role="start", contains="Chat completion: "),
    ]
    mask = np.ones(len(text), dtype=bool)
    mask[2] = False
    expected = [True, False, True, False] * 3
    expected[2] = False
    assert _candidates(text, mask, lines, None).tolist() == expected
    # A literal with a digit cannot be looked for in shapes: the lines themselves are read.
    digit = [DialectLine(regex=".", role="end", contains="r-17")]
    assert _candidates(text, mask, digit, None).tolist() == [True, False, False, False] * 3


def test_escape_byte_looked_for_in_the_slice_only(monkeypatch):
    from claude_perf.parse import text as text_module

    lines = pa.array(["ab", "c\x1bd", "e"], pa.large_string())
    cases = [lines, lines.slice(2), lines.slice(0, 1), lines.slice(1, 1), lines.slice(3)]
    expected = [True, False, False, True, False]
    assert [text_module._has_escape_byte(c) for c in cases] == expected
    monkeypatch.setattr(memory, "_glibc", lambda name: None)  # no C library: numpy's scan
    assert [text_module._has_escape_byte(c) for c in cases] == expected


def test_source_masks_agree_with_isin_one_source_or_several():
    from claude_perf.parse.dialect_match import _SourceMasks

    for source in ([3, 3, 3], [0, 2, 2, 1], []):
        lines = np.array(source, dtype=np.int32)
        masks = _SourceMasks(lines)
        for wanted in ([], [3], [2], [1, 3]):
            assert masks.mask(wanted).tolist() == np.isin(lines, wanted).tolist()


def test_first_byte_sets_hold_every_byte_their_regex_can_start_with():
    """The first-byte sets are written by hand beside their regexes: a line of any ASCII first
    byte, followed by what would complete a match, is tested the same with and without the set
    (a regex that grows a character the set lacks fails here, not by skipping lines)."""
    tails = ["", " - - GET / 200 1 ms", "ET / 200 1 ms", "NFO:", "0 - - POST /x 200 2.0 ms"]
    texts = [chr(b) + tail for b in range(1, 128) for tail in tails]
    part = _part(texts)
    text = pa.array(texts, pa.large_string())
    for regex, first in (
        (r"^[A-Z]{4,8}:", steps._UPPER_FIRST),
        (_MORGAN_PREFIX, steps._MORGAN_FIRST),
    ):
        assert part.test(pc.match_substring_regex, regex, first=first).tolist() == (
            pc.match_substring_regex(text, regex).to_pylist()
        ), regex

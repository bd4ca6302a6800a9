"""The classifier's fast paths find exactly what their plain regexes find.

Each fast path (the port cut out of access lines, the byte-by-byte asctime head) replaces one
regex pass over every line; these property tests hold them to that regex on lines built to sit
near its edges.
"""

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from claude_perf.parse import columns as parse_columns
from claude_perf.parse import fields as parse_fields
from claude_perf.parse import formats as parse_formats
from claude_perf.parse import heads as parse_heads
from claude_perf.parse import shapes as parse_shapes

ACCESS = re.compile(parse_formats._ACCESS)
PYLOG_FIXED_HEAD = re.compile(parse_formats._PYLOG_FIXED_HEAD)


def pieces(*options: str) -> st.SearchStrategy[str]:
    return st.sampled_from(options)


access_lines = st.builds(
    lambda *parts: "".join(parts),
    pieces("INFO:", "INFO: ", "WARN:", "INFO:-"),
    pieces("     ", " ", "", "\t"),
    pieces("172.17.0.1", "[::1]", "a:12", "-", "1.2.3.4:5", "x - y", "host"),
    pieces(":50264", ":1", ":", ":x", "", ":12:34"),
    pieces(' - "', " - ", ' -"', ' - " - "'),
    pieces("POST", "GET", "get", ""),
    pieces(" "),
    pieces("/v1/chat/completions", "/health?x=1", "/", "", "/a b", '/q"'),
    pieces(" HTTP/1.1", " HTTP/2", "HTTP/1.1", " HTTP/x"),
    pieces('" '),
    pieces("200", "404 Not Found", "20", "5000", ""),
    pieces("", " OK", ' :9 - "'),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(access_lines, min_size=1, max_size=40))
def test_access_lines_without_the_port_parse_as_the_whole_regex(lines):
    rows, fields = parse_heads._access_fields(
        pa.array(lines, pa.large_string()), np.arange(len(lines), dtype=np.int64)
    )
    expected = {i: ACCESS.match(line) for i, line in enumerate(lines)}
    assert rows.tolist() == [i for i, match in expected.items() if match]
    texts = {name: fields[name].values() for name in fields if name != "status"}  # from codes
    for position, row in enumerate(rows.tolist()):
        match = expected[row]
        for name in ("client", "method", "path"):
            assert texts[name][position] == (match[name] or None)
        assert fields["status"][position] == float(match["status"])


heads = st.builds(
    lambda *parts: "".join(parts),
    pieces("2026", "1999", "202a", "20266", "999"),
    pieces("-"),
    pieces("11-29", "1-29", "11/29"),
    pieces(" ", "T", "_"),
    pieces("00:50:46", "0:50:46", "00-50-46"),
    pieces(",892", ".892", ",89", ",8921", ""),
    pieces(" - ", " -", "  - ", ""),
    pieces("src.main - INFO - hi", "", "x"),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(heads, min_size=1, max_size=40), st.data())
def test_asctime_heads_by_bytes_match_the_regex(lines, data):
    unassigned = np.array(
        data.draw(st.lists(st.booleans(), min_size=len(lines), max_size=len(lines)))
    )
    candidates, fixed = parse_heads._pylog_heads(pa.array(lines, pa.large_string()), unassigned)
    assert candidates.tolist() == [
        i for i, line in enumerate(lines) if unassigned[i] and re.match(r"\d{4}-", line)
    ]
    assert fixed.tolist() == [
        i for i, line in enumerate(lines) if unassigned[i] and PYLOG_FIXED_HEAD.match(line)
    ]


def test_heads_of_a_slice_read_the_slice_own_bytes():
    lines = pa.array(["x", "2026-11-29 00:50:46,892 - a - INFO - m", "2026-"], pa.large_string())
    candidates, fixed = parse_heads._pylog_heads(lines[1:], np.ones(2, dtype=bool))
    assert (candidates.tolist(), fixed.tolist()) == ([0, 1], [0])


message_pieces = st.sampled_from(
    [
        "request done",
        " model=sonnet",
        " model=claude-sonnet-4-5-20250929",
        " Model 'opus-4'",
        ' "model": "gpt-4o"',
        " duration=1.23s",
        " duration_ms=950",
        " took 12ms",
        " latency: 0.5",
        " in 3.2s",
        " after 15 ms",
        " status=200",
        " status=600",
        " status=099",
        ' "statusCode":429',
        ' "status": "503"',
        " status_code=2000",
        " request_id=r-1234",
        ' "requestId":"r-9"',
        " rid=a1b2",
        " GET /v1/models?x=1",
        " POST /v1/chat/completions",
        " request completed",
        " Request started",
        " incoming request",
        " 1234567890",
        '{"level":"info"',
        '{"level":30',
        ',"time":"2026-11-29T00:00:01.123Z"',
        ',"timestamp":1764374401000',
        ',"path":"/v1/chat/completions?x=1"',
        ',"method":"POST"}',
        " é",
        "",
    ]
)
messages = st.lists(st.lists(message_pieces, max_size=7).map("".join), min_size=1, max_size=30)
SHAPE_REGEXES = {
    parse_formats._FIELD_MODEL: ("v",),
    parse_formats._FIELD_DURATION: ("k", "v", "u"),
    parse_formats._FIELD_PROSE_DURATION: ("v", "u"),
    parse_formats._FIELD_REQUEST_ID: ("v",),
    parse_formats._FIELD_METHOD_PATH: ("method", "path"),
    parse_formats._FIELD_JSON_LEVEL: ("v",),
    parse_formats._FIELD_JSON_TIME: ("v",),
    parse_formats._FIELD_JSON_PATH: ("path",),
    parse_formats._FIELD_JSON_METHOD: ("method",),
}


@settings(max_examples=300, deadline=None)
@given(messages)
def test_regexes_on_message_shapes_find_what_they_find_in_the_messages(texts):
    array = pa.array(texts, pa.large_string())
    shapes = parse_shapes._Templates(array)
    for regex, names in SHAPE_REGEXES.items():
        positions, got = shapes.extract(regex, names)
        direct = pc.extract_regex(array, regex)
        assert (
            positions.tolist()
            == np.flatnonzero(direct.is_valid().to_numpy(zero_copy_only=False)).tolist()
        )
        for name in names:
            expected = [direct.field(name)[int(p)].as_py() for p in positions]
            # an optional group that took no part: "" from extract_regex, null from the shapes
            assert [v or "" for v in got[name].to_pylist()] == expected
    for words in (parse_formats._END_WORDS, parse_formats._START_WORDS):
        assert shapes.matching(pc.match_substring_regex, words).tolist() == (
            pc.match_substring_regex(array, words).to_pylist()
        )


@settings(max_examples=300, deadline=None)
@given(messages)
def test_status_from_shapes_is_the_status_regex_on_the_messages(texts):
    array = pa.array(texts, pa.large_string())
    cols = parse_columns._Columns(len(texts))
    no_json = np.zeros(len(texts), dtype=bool)
    parse_fields._extract_fields(
        array, lambda positions, values: (positions, values), cols, no_json, no_json
    )
    found = cols.gather("status", np.arange(len(texts)))
    direct = pc.extract_regex(array, parse_formats._FIELD_STATUS).to_pylist()
    expected = [float(match["v"]) if match else None for match in direct]
    assert [None if np.isnan(v) else v for v in found] == expected

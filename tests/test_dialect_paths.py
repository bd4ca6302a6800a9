"""The dialects' fast paths give what the plain regex on whole lines gives (property tests).

Lines with an asctime head are read through their distinct tails when the regex is tail-safe;
any line is read once per message shape when the regex cannot tell digits apart. Both must
find exactly the rows and group values that the regex finds on each whole line.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from claude_perf.config.dialect import DialectLine
from claude_perf.parse.dialect_match import _match_line
from claude_perf.parse.shapes import digit_agnostic, tail_safe

HEAD = "2026-11-30 12:00:0{d},12{d} - "  # 26 bytes: the usual asctime head
WORDS = [
    "Model 'opus' is not in the",
    "Model 'haiku' is not in the",
    "Model 'claude-3-7-sonnet-20250219' is not in the",
    "Model 'x1'",
    "is not in",
    "🔍 Response: 200 in 873.00ms",
    "🔍 Response: 404 in 2ms",
    "Response: 500",
    " - ",
    "🔍",
    "0",
    "9",
    "x",
    " ",
]
REGEXES = [
    r"Model '(?P<model>[A-Za-z0-9][\w.\-:/@\[\]]*)' is not in",
    r"🔍 Response: (?P<status>\d{3}) in (?P<duration>\d+(?:\.\d+)?)ms",
    r"Response: (?P<status>[1-5]\d\d)",  # not digit-agnostic: read line by line
]

tails = st.lists(st.sampled_from(WORDS), max_size=8).map("".join)
lines = st.lists(st.tuples(st.integers(0, 9), tails, st.booleans()), min_size=1, max_size=30)


def plain(texts: list[str], regex: str) -> tuple[list[int], list[dict[str, str | None]]]:
    rows, values = [], []
    compiled = re.compile(regex)
    for i, text in enumerate(texts):
        m = compiled.search(text)
        if m:
            rows.append(i)
            values.append({k: v or None for k, v in m.groupdict().items()})
    return rows, values


@settings(max_examples=150, deadline=None)
@given(lines, st.sampled_from(REGEXES))
def test_tails_and_shapes_find_what_the_regex_finds_on_whole_lines(spec, regex):
    texts = [(HEAD.format(d=d) if headed else "") + tail for d, tail, headed in spec]
    text = pa.array(texts, pa.large_string())
    headed = np.array([h for _, _, h in spec], dtype=bool)
    rows = np.flatnonzero(headed)
    encoded = pc.dictionary_encode(
        pa.array([t[26:] for t in np.array(texts, object)[rows]], pa.large_string())
    )
    shared = (rows, np.asarray(encoded.indices.to_numpy(), dtype=np.int64), encoded.dictionary)
    line = DialectLine(regex=regex, role="info")
    got_rows, parts = _match_line(text, np.ones(len(texts), dtype=bool), line, shared)
    want_rows, want_values = plain(texts, regex)
    assert got_rows.tolist() == want_rows
    names = list(re.compile(regex).groupindex)
    got_values = [
        {k: (parts.field(k)[i].as_py() or None) for k in names} for i in range(len(got_rows))
    ]
    assert got_values == want_values


def test_the_fast_paths_apply_where_they_should():
    assert tail_safe(REGEXES[0]) and digit_agnostic(REGEXES[0])
    assert tail_safe(REGEXES[1]) and digit_agnostic(REGEXES[1])
    assert not digit_agnostic(REGEXES[2])
    assert not tail_safe(r"^\[Subprocess\] Process closed") and not tail_safe(r"- [A-Z]+ - x")

"""Dialects applied to lines: which are active in each source, and what their lines say.

Detection reads a sample of each source (its first ``DETECT_HEAD_LINES`` lines and every
``DETECT_STRIDE``-th line after them) with one combined regex, so a log no dialect speaks costs
one pass over a sixteenth of its text (measured: about 0.01 s per million 126-byte lines, against
0.14 s for a full pass). A dialect's lines are logged once per request at least, so a source that
speaks it shows them in the sample; a dialect seen only in lines the sample skipped is missed,
and the data-quality section lists the dialects found per source, so that is visible.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from claude_perf.config.dialect import Dialect, DialectLine
from claude_perf.parse.columns import ALONE_END, ARRIVAL_END, Coded, _Columns
from claude_perf.parse.formats import _ANSI
from claude_perf.parse.shapes import HEAD_CHARS, _Templates, digit_agnostic, tail_safe
from claude_perf.parse.text import (
    _coded,
    _durations,
    _extract,
    _field,
    _has_escape_byte,
    _np_bool,
    _status_codes,
    read_head_stamps,
)

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

# (rows, code per row, distinct texts): lines grouped by what follows their asctime head
Tails = tuple["np.ndarray", "np.ndarray", "pa.Array"]

DETECT_HEAD_LINES = 10_000
DETECT_STRIDE = 16
_NAMED_GROUP = re.compile(r"\(\?P<\w+>")


@dataclass(frozen=True)
class ActiveDialects:
    """Per source id, the dialects active there (superseded ones removed), in precedence order."""

    by_source: Mapping[int, tuple[Dialect, ...]]

    def names(self) -> dict[int, tuple[str, ...]]:
        return {source: tuple(d.name for d in found) for source, found in self.by_source.items()}

    def dialects(self) -> list[Dialect]:
        """Every dialect active in some source, once, in precedence order."""
        seen: dict[str, Dialect] = {}
        for found in self.by_source.values():
            for dialect in found:
                seen.setdefault(dialect.name, dialect)
        return list(seen.values())

    def sources_of(self, name: str) -> list[int]:
        return [s for s, found in self.by_source.items() if any(d.name == name for d in found)]

    def exclusive_sources(self, role: str) -> list[int]:
        """Sources where an exclusive dialect declares this role (start or end)."""
        return [
            s
            for s, found in self.by_source.items()
            if any(d.exclusive and role in d.roles for d in found)
        ]


NONE_ACTIVE = ActiveDialects({})


def _unnamed(regex: str) -> str:
    """The regex with its named groups made plain (an alternation may not repeat a name)."""
    return _NAMED_GROUP.sub("(?:", regex)


def _sample_rows(source: np.ndarray) -> np.ndarray:
    import numpy as np

    take = np.zeros(len(source), dtype=bool)
    take[::DETECT_STRIDE] = True
    if len(source) and source.min() == source.max():  # one source: its head is the table's
        take[:DETECT_HEAD_LINES] = True
        return np.flatnonzero(take)
    for s in np.unique(source).tolist():
        take[np.flatnonzero(source == s)[:DETECT_HEAD_LINES]] = True
    return np.flatnonzero(take)


def detect(
    text: pa.ChunkedArray | pa.Array, source: np.ndarray, dialects: Sequence[Dialect]
) -> ActiveDialects:
    """Which dialects each source speaks (see the module docstring for the sample)."""
    if not dialects or len(source) == 0:
        return NONE_ACTIVE
    return active_of(detect_found(text, source, dialects, _sample_rows(source)), dialects)


def detect_found(
    text: pa.ChunkedArray | pa.Array,
    source: np.ndarray,
    dialects: Sequence[Dialect],
    rows: np.ndarray,
) -> dict[int, set[str]]:
    """Per source, the names of the dialects whose detect patterns match one of ``rows``.

    Apart from ``detect`` so that a file read in chunks can add up what each chunk's share of
    the sample shows (parse/chunked.py) before ``active_of`` decides, as for the whole file.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if not dialects or len(rows) == 0:
        return {}
    sample = text.take(pa.array(rows))
    if isinstance(sample, pa.ChunkedArray):
        sample = sample.combine_chunks()
    if _has_escape_byte(sample.cast(pa.large_string())):
        sample = pc.replace_substring_regex(sample, _ANSI, "")
    every = "|".join(f"(?:{_unnamed(r)})" for d in dialects for r in d.detect_patterns)
    hit = _np_bool(pc.match_substring_regex(sample, every))
    rows, sample = rows[hit], sample.filter(pa.array(hit))
    # The hits repeat but for their digits: each dialect's regex runs once per message shape
    # when it cannot tell digits apart (shapes.digit_agnostic), else on every hit.
    shapes = _Templates(sample) if len(sample) else None
    found: dict[int, set[str]] = {}
    for dialect in dialects:
        regex = "|".join(f"(?:{_unnamed(r)})" for r in dialect.detect_patterns)
        if shapes is not None and digit_agnostic(regex):
            matched = shapes.matching(pc.match_substring_regex, regex)
        else:
            matched = _np_bool(pc.match_substring_regex(sample, regex))
        for s in np.unique(source[rows[matched]]).tolist():
            found.setdefault(int(s), set()).add(dialect.name)
    return found


def active_of(found: Mapping[int, set[str]], dialects: Sequence[Dialect]) -> ActiveDialects:
    """The dialects found per source, in precedence order, the superseded ones removed."""
    by_source = {}
    for s, names in found.items():
        active = [d for d in dialects if d.name in names]
        replaced = {name for d in active for name in d.supersedes}
        by_source[s] = tuple(d for d in active if d.name not in replaced)
    return ActiveDialects(by_source)


@dataclass(frozen=True)
class DialectMarks:
    """What the dialects' lines said, per line: which matched, which are error records, and
    where the generic start / end heuristics are off (sources whose dialect declares them)."""

    matched: np.ndarray
    error: np.ndarray
    no_generic_start: np.ndarray
    no_generic_end: np.ndarray
    # Usage lines whose dialect line has no model group: a model the generic reading finds in
    # them is not the request's (ccproxy-api's stream usage names a fixed default model).
    no_generic_model: np.ndarray


def apply_dialects(
    text: pa.Array,
    source: np.ndarray,
    no_engine_time: np.ndarray,
    cols: _Columns,
    active: ActiveDialects,
    skip: np.ndarray,
    tails: Tails | None = None,
) -> DialectMarks:
    """Read every active dialect's lines in the sources it is active in, into ``cols``.

    A line takes the first dialect line that matches it (dialects in precedence order, lines in
    file order). ``skip``: lines already read (the user's patterns, uvicorn's own access lines).
    ``tails``: the leveled lines with the usual asctime head, as (rows, code per row, distinct
    text after the head), for a cheaper first look.
    Cost: one pass of the dialects' ``contains`` literals as one RE2 alternation over the
    sources' lines, then each regex on the few lines that hold its literal, once per distinct
    shape when it cannot tell digits apart (see shapes.digit_agnostic).
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(source)
    matched = np.zeros(n, dtype=bool)
    error = np.zeros(n, dtype=bool)
    no_model = np.zeros(n, dtype=bool)
    dialects = active.dialects()
    of_sources = _SourceMasks(source)
    in_any = of_sources.mask(list(active.by_source)) & ~skip if dialects else matched
    candidates = _candidates(text, in_any, [line for d in dialects for line in d.lines], tails)
    for dialect in dialects:
        in_sources = of_sources.mask(active.sources_of(dialect.name))
        inside = candidates & in_sources
        ends: list[np.ndarray] = []  # rows read as this dialect's end lines
        under: list[tuple[np.ndarray, pa.StructArray]] = []  # its `under` lines, to lend
        for line in dialect.lines:
            rows, parts = _match_line(text, inside & ~matched, line, tails)
            if parts is None or len(rows) == 0:
                continue
            matched[rows] = True
            if line.under:
                cols.add("role", rows, Coded.constant(len(rows), "info"))
                under.append((rows, parts))
                continue
            if line.role == "end":
                ends.append(rows)
            if line.role == "usage" and "model" not in {f.name for f in parts.type}:
                no_model[rows] = True
            _read_groups(parts, rows, line.duration_unit or "s", no_engine_time, cols)
            if "ts" not in {f.name for f in parts.type}:  # (then its own head stamp)
                read_head_stamps(text, rows[no_engine_time[rows]], cols)
            if line.fields:
                _read_fields(text, rows, line.fields, cols)
            cols.add("role", rows, Coded.constant(len(rows), line.role))
            if line.alone or line.arrival:
                kind = ARRIVAL_END if line.arrival else ALONE_END
                cols.add("alone", rows, np.full(len(rows), kind))
            if line.error or line.role == "error":
                error[rows] = True
        if under and ends:
            heads = _where(text, in_sources, pc.match_substring_regex, r"^\S")
            for rows, parts in under:
                head = _head_ends(rows, np.flatnonzero(heads), np.concatenate(ends), source)
                keep = head >= 0
                if keep.any():
                    lent = parts.filter(pa.array(keep))
                    _read_groups(lent, head[keep], "s", no_engine_time, cols)

    def sources_mask(role: str) -> np.ndarray:
        return of_sources.mask(active.exclusive_sources(role))

    return DialectMarks(matched, error, sources_mask("start"), sources_mask("end"), no_model)


def _head_ends(
    rows: np.ndarray, heads: np.ndarray, ends: np.ndarray, source: np.ndarray
) -> np.ndarray:
    """Per ``under`` row, the end line it is printed under (-1: none): the nearest line above
    it in the same source that is not indented (the head of its record), when that head is an
    end line. Sources interleave in a merged input, so each source's heads are looked at apart."""
    import numpy as np

    out = np.full(len(rows), -1, dtype=np.int64)
    for s in np.unique(source[rows]).tolist():
        mine = source[rows] == s
        own_heads = heads[source[heads] == s]
        at = np.searchsorted(own_heads, rows[mine]) - 1
        head = np.where(at >= 0, own_heads[np.maximum(at, 0)], -1)
        out[mine] = np.where(np.isin(head, ends), head, -1)
    return out


class _SourceMasks:
    """Which lines come from some of the sources: np.isin over every line (a few ms each, four
    or more times a part) unless, as usual, all the lines come from one source."""

    def __init__(self, source: np.ndarray) -> None:
        self.source = source
        self.only = int(source[0]) if len(source) and source.min() == source.max() else None

    def mask(self, sources: Sequence[int]) -> np.ndarray:
        import numpy as np

        if self.only is None:
            return np.isin(self.source, list(sources))
        return np.full(len(self.source), self.only in sources, dtype=bool)


def _subset(text: pa.Array, rows: np.ndarray) -> pa.Array:
    """The texts at rows (the array itself when that is all of it: no copy)."""
    import pyarrow as pa

    return text if len(rows) == len(text) else text.take(pa.array(rows))


def _where(text: pa.Array, mask: np.ndarray, fn: Any, *args: Any) -> np.ndarray:
    """Lines among ``mask`` for which the Arrow predicate holds. Over more than half the lines
    it runs on all of them, which is cheaper than copying most of the text out first."""
    import numpy as np

    rows = np.flatnonzero(mask)
    if len(rows) > len(mask) // 2:
        return _np_bool(fn(text, *args)) & mask
    out = np.zeros(len(mask), dtype=bool)
    if len(rows):
        out[rows[_np_bool(fn(_subset(text, rows), *args))]] = True
    return out


def _candidates(
    text: pa.Array, mask: np.ndarray, lines: list[DialectLine], tails: Tails | None
) -> np.ndarray:
    """Lines among ``mask`` that hold one of the lines' ``contains`` literals (all of ``mask``
    when some line declares none).

    Lines with the usual asctime head are looked at through their distinct tails (what follows
    the head repeats: a few thousand distinct per million lines), the rest line by line.
    """
    import numpy as np
    import pyarrow.compute as pc

    if not mask.any() or any(not line.contains for line in lines):
        return mask
    literals = {line.contains or "" for line in lines}
    pattern = "|".join(sorted(re.escape(literal) for literal in literals))
    rest = mask
    out = np.zeros(len(mask), dtype=bool)
    if tails is not None and not any(set(literal) <= HEAD_CHARS for literal in literals):
        rows, codes, distinct = tails
        hit = _np_bool(pc.match_substring_regex(distinct, pattern))
        out[rows[hit[codes]]] = True
        out &= mask
        rest = mask.copy()
        rest[rows] = False
    rows = np.flatnonzero(rest)
    if len(rows) and digit_agnostic(pattern):
        # Once per shape (digits read as 0: see shapes._Templates) of the other lines (JSON,
        # key=value: a few dozen shapes per 100,000 lines). One core, the 110,296 such lines of
        # 500k lines of the generated 1M log: 13.6 against 20.2 ms (best of 5), same result.
        shapes = _Templates(_subset(text, rows))
        out[rows[shapes.matching(pc.match_substring_regex, pattern)]] = True
        return out
    return out | _where(text, rest, pc.match_substring_regex, pattern)


def _match_line(
    text: pa.Array, mask: np.ndarray, line: DialectLine, tails: Tails | None = None
) -> tuple[np.ndarray, pa.StructArray | None]:
    """(rows among ``mask`` that match the line's regex, their named groups as a struct).

    Lines with the usual asctime head are read through their distinct tails when the regex
    cannot start a match inside the head (see tail_safe): a match then lies in the tail, so
    the tail's match is the line's. Other lines are read whole.
    """
    import numpy as np
    import pyarrow as pa

    found: list[tuple[np.ndarray, pa.StructArray]] = []
    if tails is not None and tail_safe(line.regex):
        rows, codes, distinct = tails
        inside = mask[rows]
        if inside.any():
            hit_rows, parts = _match_distinct(distinct, codes[inside], line)
            found.append((rows[inside][hit_rows], parts))
            mask = mask.copy()
            mask[rows] = False
    rows, parts = _match_whole(text, mask, line)
    if parts is not None and len(rows):
        found.append((rows, parts))
    if not found:
        return np.zeros(0, dtype=np.int64), None
    if len(found) == 1:
        return found[0]
    all_rows = np.concatenate([r for r, _ in found])
    order = np.argsort(all_rows, kind="stable")
    # a regex without groups reads as _no_groups on one path and as Arrow's empty struct on the
    # other: one type before they are joined (a line of each in one log failed here)
    same = [p if p.type.num_fields else _no_groups(len(p)) for _, p in found]
    joined = pa.concat_arrays(same).take(pa.array(order))
    return all_rows[order], joined


def _no_groups(n: int) -> pa.StructArray:
    import numpy as np
    import pyarrow as pa

    return pa.StructArray.from_arrays([pa.array(np.zeros(n, np.int8))], ["_"])


def _match_distinct(
    distinct: pa.Array, codes: np.ndarray, line: DialectLine
) -> tuple[np.ndarray, pa.StructArray]:
    """The line's regex on distinct texts: (positions in ``codes`` that match, their groups)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if re.compile(line.regex).groupindex:
        parts = pc.extract_regex(distinct, line.regex)
        ok = _np_bool(parts.is_valid())
    else:
        parts, ok = None, _np_bool(pc.match_substring_regex(distinct, line.regex))
    if line.contains:
        ok &= _np_bool(pc.match_substring(distinct, line.contains))
    hit = np.flatnonzero(ok[codes])
    if parts is None:
        return hit, _no_groups(len(hit))
    return hit, parts.take(pa.array(codes[hit]))


def _match_whole(
    text: pa.Array, mask: np.ndarray, line: DialectLine
) -> tuple[np.ndarray, pa.StructArray | None]:
    """The line's regex on whole lines among ``mask``, once per message shape when it cannot
    tell digits apart."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if line.contains:
        mask = _where(text, mask, pc.match_substring, line.contains)
    rows = np.flatnonzero(mask)
    if not len(rows):
        return rows, None
    names = tuple(re.compile(line.regex).groupindex)
    if not digit_agnostic(line.regex):
        sub = np.zeros(len(mask), dtype=bool)
        sub[rows] = True
        return _extract(text, sub, line.regex)
    shapes = _Templates(_subset(text, rows))
    if not names:
        hit = shapes.matching(pc.match_substring_regex, line.regex)
        return rows[hit], _no_groups(int(hit.sum()))
    positions, values = shapes.extract(line.regex, names)
    return rows[positions], pa.StructArray.from_arrays(list(values.values()), list(values))


def _read_fields(text: pa.Array, rows: np.ndarray, regexes: Sequence[str], cols: _Columns) -> None:
    """A dialect line's ``fields`` regexes, each searched on its matched lines' text, into the
    figure columns (numbers; a figure a line does not show, or shows as ``None``, is unknown).
    Only the lines the line's own regex matched are read: none in a log without them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    texts = _subset(text, rows)
    for regex in regexes:
        parts = pc.extract_regex(texts, regex)
        found = parts.is_valid()
        for field in parts.type:
            raw = pc.if_else(found, parts.field(field.name), pa.scalar(None, pa.string()))
            cols.add(field.name, rows, _numbers(raw))


def _numbers(values: pa.Array) -> np.ndarray:
    """Strings → float64, NaN where empty, null or not a number (a user's regex may capture
    any text: it is an unknown figure, not an error)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        out = pc.cast(values, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        out = pa.array([_number(v) for v in values.to_pylist()], pa.float64())
    return np.asarray(out.to_numpy(zero_copy_only=False), dtype=float)


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _read_groups(
    parts: pa.StructArray, rows: np.ndarray, unit: str, no_time: np.ndarray, cols: _Columns
) -> None:
    """A dialect line's named groups into the classifier's columns."""
    import numpy as np
    import pyarrow as pa

    names = {f.name for f in parts.type}
    for name in ("level", "model", "method", "path", "request_id", "client"):
        if name in names:
            cols.add(name, rows, _coded(parts.field(name)))
    if "status" in names:
        cols.add("status", rows, _status_codes(parts.field("status")))
    if "duration" in names:
        durations = _durations(_field(parts, "duration"), unit)
        cols.add("duration_s", rows, durations)
        # The dialect said the unit: not a bare number whatever a generic reading of the same
        # line thought (Echo's JSON line carries a bare "latency" the JSON reader also sees).
        known = ~np.isnan(durations)
        cols.add("duration_bare", rows[known], np.zeros(int(known.sum())))
    if "rounded" in names:
        cols.add("rounded_s", rows, _durations(_field(parts, "rounded"), unit))
    if "exit_code" in names:
        codes = _field(parts, "exit_code")
        numbers = np.array(
            [float(c) if c not in (None, "null") else np.nan for c in codes.tolist()], dtype=float
        )
        cols.add("exit_code", rows, numbers)
    if "stream" in names:
        flags = _field(parts, "stream")
        # "true"/"false" (JSON) or Python's "True"/"False" (structlog's console, ccproxy-api;
        # fuergaosi233/claude-code-proxy's `stream=True`)
        cols.add(
            "stream", rows, np.array([f.lower() == "true" if f else None for f in flags], object)
        )
    if "ts" in names:
        untimed = no_time[rows]
        if untimed.any():
            stamps = _field(parts.filter(pa.array(untimed)), "ts")
            cols.add("app_time", rows[untimed], stamps)

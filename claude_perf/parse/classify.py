"""Lines → entries: classify every line by format and extract request facts, vectorised with Arrow.

Formats recognised per line (real proxies mix several in one stream):
``access`` (uvicorn access lines), ``leveled`` (Python logging ``asctime - name - level - msg``,
uvicorn's ``LEVEL:  msg``, logging's default ``LEVEL:name:msg``), ``continuation`` (tracebacks and
``Error output:`` lines belonging to the record above), ``json`` (structlog, pino, event logs),
``kv`` (``key=value`` messages), ``pattern`` (the user's configured formats), ``blank`` and
``other``
(nothing matched; counted as unparsed, never dropped).

Each line that says something about a request becomes an *entry* with a role: ``start``, ``end``,
``error``, ``model`` (names the model only), ``health``. Regexes run on the few lines that can
match (cheap literal pre-filters first), because Arrow's RE2 kernels cost per byte scanned.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from claude_perf.config.load import dialects_for
from claude_perf.config.schema import Config
from claude_perf.durations import NAT_NS, NS_PER_S, series_ns
from claude_perf.parse.dialect_match import ActiveDialects, apply_dialects, detect
from claude_perf.parse.entries import Entries, shift_rows
from claude_perf.parse.events import (
    OPTIONAL_COLUMNS,
    SPARSE_COLUMNS,
    _events_frame,
    column_order,
)
from claude_perf.parse.fields import _extract_fields, _message_text
from claude_perf.parse.formats import (
    _CONTINUATION_GAP_NS,
    K_ACCESS,
    K_BLANK,
    K_CONT,
    K_KV,
    K_LEVELED,
    K_OTHER,
    K_PATTERN,
    KINDS,
)
from claude_perf.parse.steps import _Part
from claude_perf.parse.text import (
    _np_bool,
)
from claude_perf.parse.units import infer_bare_units
from claude_perf.runtime.parallel import release_unused

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa


PARALLEL_MIN_LINES = 200_000  # below this, splitting costs more than it saves
_SPLIT_SEARCH_LINES = 10_000  # how far past the middle a safe place to cut is looked for
_NOT_PLAIN = [b"", b" ", b"\t", b"\n", b"\r", b"\f", b"\v"]  # first bytes a cut avoids


def classify(lines: pa.Table, config: Config) -> Entries:
    """Classify every line and extract the entries that say something about requests.

    Large inputs are cut in two at a line that cannot continue the one before it (see
    _cut_points), and the halves are classified on both cores at once; every rule but the
    continuation rule looks at one line only, so the result is the same as in one piece.
    """
    source = _source_ids(lines)
    active = detect(lines.column("text"), source, dialects_for(config.dialects))
    entries = classify_with(lines, config, active)
    return replace(infer_bare_units(entries), dialects=active.names())


def classify_with(lines: pa.Table, config: Config, active: ActiveDialects) -> Entries:
    """classify() with the dialects already detected, and bare durations left as logged (a
    file read in chunks gets those decided once, over all of its chunks: parse/chunked.py)."""
    parts = classify_parts(lines, config, active)
    if len(parts) == 1:
        return parts[0][0]
    return _merge_parts([part for part, _ in parts], [start for _, start in parts])


def classify_parts(
    lines: pa.Table, config: Config, active: ActiveDialects
) -> list[tuple[Entries, int]]:
    """The lines classified in parts on both cores: (entries, the part's first row) each, for
    _merge_parts to join (once, for all the chunks of a file: parse/chunked.py)."""
    from itertools import pairwise

    from claude_perf.runtime.parallel import WORKERS, parallel_map

    spans = list(pairwise(_cut_points(lines, WORKERS)))
    if len(spans) < 2:
        return [(_classify_part(lines, config, active), 0)]
    parts = parallel_map(
        lambda span: _classify_part(lines.slice(span[0], span[1] - span[0]), config, active),
        spans,
    )
    return list(zip(parts, [start for start, _ in spans], strict=True))


def _source_ids(lines: pa.Table) -> np.ndarray:
    """Each line's source (input file or container) as a small integer; 0 when not recorded."""
    import numpy as np

    if "source" not in lines.column_names:
        return np.zeros(lines.num_rows, dtype=np.int32)
    return np.asarray(lines.column("source").to_numpy(), dtype=np.int32)


def _cut_points(lines: pa.Table, parts: int) -> list[int]:
    """Row bounds [0, ..., n] of the parts to classify separately (just [0, n]: one part).

    A cut goes before a line that cannot be a continuation (see safe_cuts).
    """
    n = lines.num_rows
    if parts < 2 or n < PARALLEL_MIN_LINES:
        return [0, n]
    cuts = [0]
    for k in range(1, parts):
        first = max(k * n // parts, cuts[-1] + 1)
        safe = safe_cuts(lines, first, min(n, k * n // parts + _SPLIT_SEARCH_LINES))
        if len(safe):
            cuts.append(int(safe[0]))
    cuts.append(n)
    return cuts


def safe_cuts(lines: pa.Table, first: int, stop: int) -> np.ndarray:
    """The rows in [first, stop) (first >= 1) before which the lines may be cut in two.

    Such a line has an engine time, more than _CONTINUATION_GAP_NS after the line before (also
    timed), and does not start with white space: continuations (and the error messages that
    gather them) then never cross a cut, and neither do exact duplicates (equal times).
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    first = max(first, 1)
    if stop <= first:
        return np.zeros(0, dtype=np.int64)
    nat = NAT_NS
    ts = lines.column("ts").slice(first - 1, stop - first + 1)
    ts_ns = np.asarray(ts.cast(pa.int64()).fill_null(nat).to_numpy(), dtype=np.int64)
    gap_ns = ts_ns[1:] - ts_ns[:-1]
    timed = (ts_ns[1:] != nat) & (ts_ns[:-1] != nat) & (gap_ns > _CONTINUATION_GAP_NS)
    texts = lines.column("text").slice(first, stop - first).combine_chunks()
    head = pc.binary_slice(texts.cast(pa.large_binary()), 0, 1)  # b"" for an empty line
    plain = ~_np_bool(pc.is_in(head, value_set=pa.array(_NOT_PLAIN, pa.large_binary())))
    return np.flatnonzero(timed & plain) + first


def _merge_parts(parts: list[Entries], starts: list[int]) -> Entries:
    """One Entries from the parts' (their rows shifted to whole-input line numbers)."""
    import numpy as np
    import pandas as pd

    for part, start in zip(parts, starts, strict=True):
        shift_rows(part.events, start)
    # An optional column one part has and another lacks is filled with its absent value.
    for name, absent in OPTIONAL_COLUMNS.items():
        if any(name in p.events.columns for p in parts):
            for p in parts:
                if name in p.events.columns:
                    continue
                if name in SPARSE_COLUMNS:
                    nothing = pd.arrays.SparseArray(np.full(len(p.events), absent))
                    p.events[name] = pd.Series(nothing, index=p.events.index)
                elif absent is None:  # (pd.Series(None, dtype=object) holds NaN, not None)
                    filled = np.full(len(p.events), None, dtype=object)
                    p.events[name] = pd.Series(filled, index=p.events.index, copy=False)
                else:
                    p.events[name] = pd.Series(absent, index=p.events.index, dtype=float)
    # Column by column, each taken out of the parts as it is joined: the parts' columns are
    # freed one at a time instead of both whole frames standing beside the joined one, and the
    # freed pieces handed back to the system after each (glibc and Arrow keep them otherwise:
    # at 10M lines the classification's peak went from 927 to 707 MB, one run each).
    columns = {}
    for name in column_order(list(parts[0].events.columns)):
        columns[name] = _join([part.events.pop(name) for part in parts])
        release_unused()
    return Entries(
        kind_counts={name: sum(p.kind_counts[name] for p in parts) for name in KINDS},
        events=pd.DataFrame(columns, copy=False),
        app_time_lines=sum(p.app_time_lines for p in parts),
        no_time_lines=sum(p.no_time_lines for p in parts),
        app_whole_second_lines=sum(p.app_whole_second_lines for p in parts),
    )


def _join(pieces: list[pd.Series]) -> pd.Series:
    """The parts' pieces of one column as one; categoricals stay categorical, with the sorted
    union of the parts' categories (as one whole pass would sort them: events.CATEGORY_COLUMNS).
    pd.concat alone turns categoricals whose categories differ into object columns."""
    import pandas as pd
    from pandas.api.types import union_categoricals

    first = pieces[0].dtype
    if isinstance(first, pd.ArrowDtype) and any(p.dtype != first for p in pieces):
        # Arrow texts of both widths (a part's over 2 GB: events.narrow_text): the wider one
        import pyarrow as pa

        wide = pd.ArrowDtype(pa.large_string())
        return pd.concat([p.astype(wide) for p in pieces], ignore_index=True)
    if isinstance(first, pd.CategoricalDtype) and any(p.dtype != first for p in pieces):
        joined = union_categoricals(pieces, sort_categories=True, ignore_order=True)
        # object categories, as events._categorical makes them (pandas 3 would infer str)
        categories = pd.Index(joined.categories, dtype=object)
        return pd.Series(pd.Categorical.from_codes(joined.codes, categories), copy=False)
    return pd.concat(pieces, ignore_index=True)


def _classify_part(lines: pa.Table, config: Config, active: ActiveDialects) -> Entries:
    """classify() of one part of the input, in one piece: the steps in order of precedence."""
    import numpy as np

    part = _Part(lines)
    part.read_patterns(config)  # 1. the user's patterns take precedence over built-in formats
    part.read_blank_and_access()  # 2-3. blank lines, uvicorn's access lines
    shared = part.read_python_logging()  # 4. leveled lines with an asctime head
    # 4a. The dialects found in each source: their lines' roles and fields win over the
    # generic readings below, and lines no generic format knows become `pattern` lines.
    skip = (part.kind == K_PATTERN) | (part.kind == K_ACCESS) | (part.kind == K_BLANK)
    source = _source_ids(lines)
    marks = apply_dialects(part.text, source, part.ts_ns == NAT_NS, part.cols, active, skip, shared)
    part.read_uvicorn_and_morgan()  # 4b. uvicorn's own leveled lines, Node's morgan access lines
    json_like = part.read_json_and_kv()  # 5-6. JSON objects, key=value lines
    part.read_request_lines(marks.matched | marks.no_generic_end)  # 6b. a request line, a status
    part.read_level_heads(marks.matched)  # 6c. a level word at the head (tracing, Flask, consola)
    other = part.unassigned & (part.kind == K_OTHER)
    if other.any():  # 7. continuation lines: unmatched lines printed right after a record
        _mark_continuations(part.text, part.kind, part.ts_ns, other, NAT_NS)
    # Message text of leveled lines, JSON, kv and pattern lines gets the field extractors; the
    # application's time matters only without the engine's.
    message_text, expand = _message_text(part.text, part.message_rows, shared)
    part.kind[marks.matched & (part.kind == K_OTHER)] = K_PATTERN
    untimed_json = json_like & (part.ts_ns == NAT_NS)
    kv_like = part.kind == K_KV
    untimed_kv = kv_like & (part.ts_ns == NAT_NS)
    _extract_fields(
        message_text, expand, part.cols, json_like, untimed_json, marks, kv_like, untimed_kv
    )
    del message_text
    release_unused()
    marks = replace(marks, error=marks.error | part.error)
    # (a dialect or pattern with duration records: the starts' stamps may link them)
    stamps = any("duration" in d.roles for d in active.dialects())
    stamps |= any(p.role == "duration" for p in config.patterns)
    events = _events_frame(
        part.text, part.kind, part.ts_ns, part.cols, config, source, marks, stamps
    )
    counts = np.bincount(part.kind, minlength=len(KINDS))
    app = (events["ts_source"] == "app").to_numpy(dtype=bool) if len(events) else np.zeros(0, bool)
    app_ns = series_ns(events["ts"][app]) if app.any() else np.zeros(0, np.int64)
    return Entries(
        kind_counts={name: int(counts[i]) for i, name in enumerate(KINDS)},
        events=events,
        app_time_lines=len(app_ns),
        no_time_lines=int((part.ts_ns == NAT_NS).sum()),
        app_whole_second_lines=int((app_ns % NS_PER_S == 0).sum()),
    )


def _mark_continuations(
    text: pa.Array, kind: np.ndarray, ts_ns: np.ndarray, other: np.ndarray, nat: int
) -> None:
    """Unmatched lines within 5 ms of (or indented under) a leveled record belong to it."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(kind)
    rows = np.flatnonzero(other)
    indent = np.zeros(n, dtype=bool)
    indent[rows] = _np_bool(pc.match_substring_regex(text.take(pa.array(rows)), r"^\s"))
    gap_ok = np.zeros(n, dtype=bool)
    gap_ok[1:] = (
        (ts_ns[1:] != nat) & (ts_ns[:-1] != nat) & (ts_ns[1:] - ts_ns[:-1] <= _CONTINUATION_GAP_NS)
    )
    candidate = other & (indent | gap_ok | (ts_ns == nat))
    head = pd.Series(np.where(candidate, np.nan, kind.astype(float))).ffill().shift(1)
    kind[candidate & (head.to_numpy() == K_LEVELED)] = K_CONT

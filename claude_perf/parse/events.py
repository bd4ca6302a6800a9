"""The entries frame: one row per line that says something about a request, role and time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from claude_perf.config.dialect import FIELDS
from claude_perf.config.schema import Config
from claude_perf.durations import NAT_NS
from claude_perf.parse.columns import Coded, _Columns
from claude_perf.parse.dialect_match import DialectMarks
from claude_perf.parse.entries import row_numbers, source_codes
from claude_perf.parse.formats import _APP_STAMP, _ERROR_LEVELS, K_CONT, K_LEVELED, KINDS
from claude_perf.parse.times import _parse_times

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa


# Optional entry columns and their value when absent: NaN (float) or None (object).
OPTIONAL_COLUMNS = {
    "duration_bare": float("nan"),
    "exit_code": float("nan"),
    # a time the logger rounded (whole seconds), seconds: the latency where nothing better is
    "rounded_s": float("nan"),
    "alone": float("nan"),
    "stream": None,
    # the figures of dialect lines' ``fields`` (tokens, cost, CLI times), NaN unknown
    **{name: float("nan") for name in FIELDS},
    # the line's own (application) time in seconds, NaN unknown: on error records (when they
    # were written: analysis/pairing._attach_errors), and on starts and duration records where
    # the lines hold duration records (analysis/correlate.link_durations). Sparse (SPARSE_COLUMNS).
    "app_s": float("nan"),
}
# Optional columns held as pandas SparseArrays (NaN fill): mostly unknown, so that they cost
# their known values only (error records: 216,790 of 6.5M entries at 10M bench lines).
SPARSE_COLUMNS = frozenset({"app_s"})


def column_order(names: list[str]) -> list[str]:
    """The entries' columns in their one order: the optional ones (OPTIONAL_COLUMNS order)
    right after duration_s, whichever were made first (a chunk's frame, classify's join)."""
    optional = [name for name in OPTIONAL_COLUMNS if name in names]
    base = [name for name in names if name not in OPTIONAL_COLUMNS]
    at = base.index("duration_s") + 1 if "duration_s" in base else len(base)
    return [*base[:at], *optional, *base[at:]]


# Text columns with a few distinct values (levels, loggers, methods, paths, clients, models,
# roles): stored as pandas categoricals with sorted categories (int8 codes where a column has
# fewer than 128 values) instead of one 8-byte object pointer per row. At 1M generated lines
# (656k entries) this takes the entries from about 113 to 58 bytes a row. Sorted categories
# make the chunks' and the two cores' parts join to exactly what one whole-file pass gives
# (classify._merge_parts). Read them with ``text_values``: None for unknown, never NaN.
CATEGORY_COLUMNS = ("level", "logger", "method", "path", "client", "model", "role", "ts_source")


def text_values(column: pd.Series, at: np.ndarray | None = None) -> np.ndarray:
    """A text column of the entries or requests (at the given positions, else whole) as an
    object array, None for unknown (never NaN or NA); equal strings are one shared object, as
    they were before the column was made categorical."""
    import numpy as np
    import pandas as pd

    if isinstance(column.dtype, pd.CategoricalDtype):
        labels = np.array([*column.cat.categories, None], dtype=object)
        codes = column.cat.codes.to_numpy()
        return labels[codes if at is None else codes[at]]  # code -1 (unknown) picks the None
    if isinstance(column.dtype, pd.ArrowDtype):  # Arrow text or flags: NA → None
        values = column.to_numpy(dtype=object, na_value=None)
    else:
        values = column.to_numpy(dtype=object)
    return values if at is None else values[at]


# Request ids: one per request, on about two lines each (start, completion). As an Arrow string
# column a line's id takes a 4-byte offset and its few bytes instead of a pointer and a Python
# string per line (1M generated lines: 24.7 to 4.4 MB), and no string object is kept per line
# (a categorical's would be, one per id, and the chunks' other ones freed around them: the
# memory stays fragmented; measured, the process grew). The assembly works on its codes and
# takes the table's ids from Arrow (ids_of); text_values reads it with None for unknown.
def ids_of(column: pd.Series) -> tuple[np.ndarray, pa.Array]:
    """A text column as codes (int32, -1 unknown; equal texts one code) and the texts of the
    codes (an Arrow string array), without a Python string per line or per distinct text (an
    Arrow column is dictionary-encoded in Arrow)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    if not isinstance(column.dtype, pd.ArrowDtype):
        codes, uniques = pd.factorize(text_values(column))
        return codes.astype(np.int32), pa.array(list(uniques), pa.string())
    values = pa.array(column.array)  # the column's own Arrow data (chunks when concatenated)
    if not isinstance(values, pa.ChunkedArray):
        values = pa.chunked_array([values], values.type)
    # Chunk by chunk, not over one combined copy: Arrow's hash kernel carries one table across
    # the chunks, so the codes are the same (first occurrence in order) and every chunk ends
    # with the whole dictionary. The combined copy of the ids (4M at 10M lines) was +120 MB.
    encoded = pc.dictionary_encode(values)
    codes = np.full(len(values), -1, dtype=np.int32)
    at = 0
    for chunk in encoded.chunks:
        codes[at : at + len(chunk)] = chunk.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        at += len(chunk)
    if not encoded.num_chunks:
        return codes, pa.array([], values.type)
    return codes, encoded.chunk(encoded.num_chunks - 1).dictionary


def _categorical(values: np.ndarray) -> pd.Categorical:
    """An object column (None unknown) as a categorical with sorted categories."""
    import pandas as pd

    codes, uniques = pd.factorize(values, sort=True)
    return pd.Categorical.from_codes(codes, categories=pd.Index(uniques, dtype=object))


# The text columns the extractors give as codes (columns.Coded), in the frame's order.
_CODED_COLUMNS = ("level", "logger", "method", "path", "client", "model", "request_id", "role")


def _events_frame(
    text: pa.Array,
    kind: np.ndarray,
    ts_ns: np.ndarray,
    cols: _Columns,
    config: Config,
    source: np.ndarray,
    marks: DialectMarks,
    start_stamps: bool,
) -> pd.DataFrame:
    """The entries that matter for requests, one row per line, as a DataFrame (the starts'
    own stamps read when ``start_stamps``).

    The text columns go from the extractors' codes straight to categoricals (request ids to an
    Arrow column): no Python object per line (a third of a part's time went on object arrays
    made categorical by pandas' factorize)."""
    import numpy as np
    import pandas as pd

    nat = NAT_NS
    error_mask = _error_lines(cols, marks)
    wanted = cols.mask("status") & (kind != K_LEVELED)
    wanted |= error_mask
    for name in ("role", "model", "duration_s", "request_id"):
        wanted |= cols.mask(name)
    rows = np.flatnonzero(wanted)
    # Columns are built first and put together once, without copies (copy=False also keeps
    # pandas from consolidating the object columns into one block, a copy of all of them).
    data: dict[str, Any] = {"row": row_numbers(rows)}
    where = cols.positions(rows)
    coded = {name: cols.gather_codes(name, rows, where) for name in _CODED_COLUMNS}
    data.update(dict.fromkeys(_CODED_COLUMNS))  # their places; filled below
    status = cols.gather("status", rows, where=where)
    # Int16 from its values and mask (statuses are whole numbers: parse/text._status_codes),
    # not by pd.array's conversion of each float
    unknown = np.isnan(status)
    data["status"] = pd.arrays.IntegerArray(np.where(unknown, 0, status).astype(np.int16), unknown)
    data["duration_s"] = cols.gather("duration_s", rows, where=where)
    # Columns only some dialects fill are in the frame only where a line has a value (see
    # OPTIONAL_COLUMNS: absent means all unknown), which saves gathering and joining them.
    for name in OPTIONAL_COLUMNS:
        if cols.chunks.get(name):
            data[name] = cols.gather(name, rows, where=where)
    data["source"] = source_codes(source[rows])
    data["kind"] = pd.Categorical.from_codes(kind[rows], categories=list(KINDS))
    is_error = error_mask[rows]
    role_labels = _settle_roles(coded, status, data["duration_s"], is_error, marks, rows)
    data["is_error"] = is_error
    role = coded["role"].codes
    is_duration = np.isin(role, _codes_of(role_labels, "duration"))
    # Starts' stamps link them to duration records (analysis/correlate.py): read wherever a
    # dialect or pattern in use has such a line (``start_stamps``), the same in every part of
    # an input. They were read only where the part held a duration line, and what a part
    # holds depends on where the input was cut (parse/chunked.py): a chunk of
    # wrapper-debug-concurrent without one lost its starts' stamps, eight requests their start.
    wanted_app = is_error | is_duration
    if start_stamps:
        wanted_app |= np.isin(role, _codes_of(role_labels, "start"))
    if wanted_app.any():
        app_s = _app_seconds(text, rows, wanted_app, config.app_timezone)
        if not np.isnan(app_s).all():
            data["app_s"] = pd.arrays.SparseArray(app_s, fill_value=np.nan)
    # Time: the engine's timestamp, else the application's own; never invented.
    engine_ts = ts_ns[rows]
    app_ts = np.full(len(rows), nat, dtype=np.int64)
    need_app = engine_ts == nat
    if need_app.any():
        app_raw = cols.gather("app_time", rows, where=where)
        need_app &= app_raw != None  # noqa: E711
        if need_app.any():
            app_ts[need_app] = _parse_times(app_raw[need_app], config.app_timezone)
    chosen = np.where(engine_ts != nat, engine_ts, app_ts)
    stamps = pd.Series(chosen.view("datetime64[ns]")).where(chosen != nat)
    data["ts"] = stamps.dt.tz_localize("UTC").array
    source_code = np.where(engine_ts != nat, 0, np.where(app_ts != nat, 1, 2))
    data["ts_source"] = _categorical_of(source_code, ["engine", "app", "none"])
    # Error messages (with their continuation lines) for classification and examples.
    data["message"] = _error_messages(text, kind, rows, np.flatnonzero(is_error))
    for name in _CODED_COLUMNS:
        labels = role_labels if name == "role" else None
        data[name] = _frame_column(name, coded.pop(name), labels)
    if "app_s" in data:  # made after the other columns: put where every optional one goes
        data = {name: data[name] for name in column_order(list(data))}
    # object dtype keeps None for "unknown" (pandas 3 would infer str and turn it into NaN)
    columns = {
        name: pd.Series(values, dtype=object, copy=False)
        if isinstance(values, np.ndarray) and values.dtype == object
        else values
        for name, values in data.items()
    }
    return pd.DataFrame(columns, copy=False)


def _frame_column(name: str, coded: Coded, labels: list[str] | None) -> Any:
    """A coded text column as the frame holds it: a categorical with sorted categories, the
    request ids an Arrow string column (their labels never become Python strings)."""
    import pandas as pd
    import pyarrow as pa

    if name == "request_id":
        codes = coded.codes
        ids = coded.labels.take(pa.array(codes, mask=codes < 0)).cast(pa.string())
        return pd.Series(pd.arrays.ArrowExtensionArray(ids), copy=False)
    return _categorical_of(coded.codes, coded.labels.to_pylist() if labels is None else labels)


def _categorical_of(codes: np.ndarray, labels: list[str]) -> pd.Categorical:
    """Codes (-1 unknown) into labels (a text may be there twice, or unused) as a categorical
    whose categories are the texts used, sorted: what _categorical makes of the same values."""
    import numpy as np
    import pandas as pd

    used = np.flatnonzero(np.bincount(codes + 1, minlength=len(labels) + 1)[1:])  # -1 first
    present = sorted({labels[i] for i in used})
    index = {label: i for i, label in enumerate(present)}
    # the codes' type pandas would choose (so from_codes keeps them as they are)
    n = len(present)
    dtype = np.int8 if n < 127 else np.int16 if n < 32767 else np.int32
    lookup = np.array([index.get(label, -1) for label in labels] + [-1], dtype=dtype)
    return pd.Categorical.from_codes(lookup[codes], categories=pd.Index(present, dtype=object))


def _codes_of(labels: list[str], label: str) -> list[int]:
    return [i for i, value in enumerate(labels) if value == label]


def _error_lines(cols: _Columns, marks: DialectMarks) -> np.ndarray:
    """Error records: a level of ERROR or worse, or a dialect's or pattern's error line."""
    import numpy as np

    level_rows = cols.rows("level")
    # Levels repeat: test each distinct one (their codes), not each row.
    levels = cols.gather_codes("level", level_rows, cols.positions(level_rows))
    error_level = [label in _ERROR_LEVELS for label in levels.labels.to_pylist()]
    error_at = np.array([*error_level, False], dtype=bool)[levels.codes]  # -1: the False
    error_mask = marks.error.copy()
    error_mask[level_rows[error_at]] = True
    return error_mask


def _app_seconds(text: pa.Array, rows: np.ndarray, wanted: np.ndarray, timezone: str) -> np.ndarray:
    """Per row: the application's own timestamp at the head of its line, in seconds (NaN when
    not wanted or not found). The engine stamps a line when it reads it, up to tens of ms after
    the proxy wrote it (28 ms on fixtures/captures/wrapper-debug-concurrent, 50 ms on
    wrapper-plain-concurrent); the proxy's stamps carry its own clock to the millisecond."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    out = np.full(len(rows), np.nan)
    pick = np.flatnonzero(wanted)
    if not len(pick):
        return out
    heads = pc.utf8_slice_codeunits(text.take(pa.array(rows[pick])), 0, 40)
    found = pc.extract_regex(heads, _APP_STAMP).field("at")
    known = np.asarray(found.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    if known.any():
        values = np.asarray(found.filter(pa.array(known)).to_numpy(zero_copy_only=False))
        ns = _parse_times(values, timezone)
        ok = ns != NAT_NS
        out[pick[np.flatnonzero(known)[ok]]] = ns[ok] / 1e9
    return out


def _settle_roles(
    coded: dict[str, Coded],
    status: np.ndarray,
    duration_s: np.ndarray,
    is_error: np.ndarray,
    marks: DialectMarks,
    rows: np.ndarray,
) -> list[str]:
    """Roles of the lines no format gave one: a status and a duration on a line that names its
    request end it; else an error record is `error`; a line naming only a model is `model`.
    Set in the role codes in place; returns the role codes' labels.

    A line without method, path or id is not a completion even with both: `upstream call
    status=200 duration=3.9s` is the proxy's own call upstream.
    """
    import numpy as np

    role = coded["role"].codes
    labels: list[str] = coded["role"].labels.to_pylist()

    def code(label: str) -> int:
        labels.append(label)
        return len(labels) - 1

    unset = role < 0
    # The few lines with both a status and a duration, and no role yet: do they name a request?
    both = np.flatnonzero(
        unset & ~np.isnan(status) & ~np.isnan(duration_s) & ~marks.no_generic_end[rows]
    )
    names = (coded["method"].codes[both] >= 0) | (coded["path"].codes[both] >= 0)
    names |= coded["request_id"].codes[both] >= 0
    role[both[names]] = code("end")
    unset[both[names]] = False
    role[unset & is_error] = code("error")
    rest = np.flatnonzero(unset & ~is_error)
    has_model = coded["model"].codes[rest] >= 0
    role[rest[has_model]] = code("model")
    role[rest[~has_model]] = code("info")
    return labels


def _error_messages(
    text: pa.Array, kind: np.ndarray, rows: np.ndarray, error_positions: np.ndarray
) -> pd.arrays.ArrowExtensionArray:
    """Per entry, the error record's text with up to 20 continuation lines (NA elsewhere), as
    an Arrow string column: 4 bytes an entry and the texts' bytes, where an object column took
    a pointer per entry and a Python string per record (at 10M lines, 6.5M entries and 217k
    records, about 36 MB more through the classification's peak, and the joined column's
    pointers again when the chunks' parts were joined: Arrow joins them without a copy)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    if not len(error_positions):
        return pd.arrays.ArrowExtensionArray(pa.nulls(len(rows), pa.string()))
    # Each error record with up to 20 continuation lines after it, fetched in one take.
    wanted_rows = rows[error_positions]
    candidate = np.repeat(wanted_rows, 21) + np.tile(np.arange(21), len(wanted_rows))
    inside = candidate < len(kind)
    is_cont = np.zeros(len(candidate), dtype=bool)
    is_cont[inside] = kind[candidate[inside]] == K_CONT
    steps = is_cont.reshape(-1, 21)
    steps[:, 0] = True  # the record itself
    keep = np.cumprod(steps, axis=1).astype(bool)
    # Each record's lines as one list, joined by Arrow (no Python loop over the lines).
    ends = np.zeros(len(wanted_rows) + 1, dtype=np.int64)
    np.cumsum(keep.sum(axis=1), out=ends[1:])
    lines = text.take(pa.array(candidate[keep.ravel()]))
    newline = pa.scalar("\n", lines.type)
    joined = pc.binary_join(pa.LargeListArray.from_arrays(pa.array(ends), lines), newline)
    at = np.full(len(rows), -1, dtype=np.int32)
    at[error_positions] = np.arange(len(error_positions), dtype=np.int32)
    messages = joined.take(pa.array(at, mask=at < 0))
    return pd.arrays.ArrowExtensionArray(narrow_text(messages))


_TEXT_LIMIT = 2**31 - 1  # bytes a pa.string() array (32-bit offsets) holds


def narrow_text(values: pa.Array) -> pa.Array:
    """Text as pa.string() (4-byte offsets) when its bytes fit, else pa.large_string()."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if values.type == pa.string():
        return values
    size = pc.sum(pc.binary_length(values)).as_py() or 0
    return values.cast(pa.string() if size <= _TEXT_LIMIT else pa.large_string())

"""The request table: its columns, and each request's latency, outcome, model and error class.

``finish`` turns the assembled positions and codes into the one table every later stage reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from claude_perf.analysis.arrays import (
    CodedTexts,
    SparseFloats,
    SparseTexts,
    _label_in,
    _labels,
    _position_type,
    _text_at,
    used_labels,
)
from claude_perf.analysis.error_classes import classify_errors
from claude_perf.analysis.pairing import _HEALTH, _KIND_NAMES, _SKEW_NS, _Events
from claude_perf.analysis.usage import USAGE_COLUMNS, usage_table
from claude_perf.config.dialect import FIELDS
from claude_perf.config.families import family_of
from claude_perf.config.schema import Config
from claude_perf.durations import NAT_NS
from claude_perf.parse.events import text_values
from claude_perf.runtime.memory import release_unused

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

_IN_CONTAINER_CLIENTS = frozenset({"127.0.0.1", "::1", "localhost"})

COLUMNS = (
    "kind",
    "start",
    "end",
    "latency_s",
    "latency_source",
    "method",
    "path",
    "status",
    "client",
    "in_container",
    "model",
    "family",
    "outcome",
    "error_class",
    "error_records",
    "error_message",
    "request_id",
    "ambiguous",
    "stream",
    "ttfb_s",
    "source",
    *USAGE_COLUMNS,
)


@dataclass(frozen=True)
class TableEvents:
    """The events' columns the table is built from (pairing._Events without the pairing's
    masks, so that those are freed before the table's build), handed over to ``finish``: it
    takes each one out (``take``) as it reads it, so that the table's last columns are built
    with the events' arrays freed (the caller keeps no other reference to them)."""

    held: dict[str, Any]

    @classmethod
    def of(cls, events: _Events) -> TableEvents:
        return cls(
            {
                "ts_ns": events.ts_ns,
                "model": events.model,  # CodedTexts: str or None by position
                "message": events.message,  # SparseTexts: str or None by position
                "request_id": events.request_id,  # int32 codes, -1 none
                "id_texts": events.id_texts,  # pa.Array: the ids of the codes
                "path_codes": events.path_codes,
                "path_labels": events.path_labels,
            }
        )

    def take(self, name: str) -> Any:
        """One column, given up: it is freed once the caller drops it."""
        return self.held.pop(name)


def finish(
    raw: dict[str, Any],
    ev: pd.DataFrame,
    events: TableEvents,
    config: Config,
    durations: SparseFloats,
    stream_col: np.ndarray | None,
    source: str,
    consume: bool = False,
) -> pd.DataFrame:
    """Derive latency, family, outcome and error class (rows already in completion order).

    ``raw`` holds per request: pos (its completion event), kind (code), start_ns, model_at
    (event with its model, -1 none), error_count, error_text, first_error_at (event with its
    first error message, -1 none), has_id, ambiguous, usage_at (event with its usage figures,
    -1 none), usage_inferred. The repeating text columns (CATEGORY_COLUMNS) come out as
    categoricals, unknown a missing code; the others (error_message, request_id, stream) as
    object arrays with None for unknown (never NaN). ``events`` is given up: each of its
    columns is taken out as it is read; ``consume``: so are ``ev``'s (status, client, method),
    which the caller gives up too.
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    # Column by column, each intermediate dropped (and each of ``raw``'s arrays and of the
    # events' columns taken out) as soon as its column is made: the table's build is the
    # assembly's peak (table.drop_decoded).
    pos = raw["pos"]
    kinds = pd.Index(_KIND_NAMES, dtype=object)
    out: dict[str, Any] = {"kind": pd.Categorical.from_codes(raw["kind"], kinds)}
    # The steps with the largest intermediates first, while little of the table stands yet.
    # the requests' rows first (Int16), then widened: not every event's status as int64
    # Statuses are Int16 in the entries: int32 holds them whatever the frame, at half of int64.
    status_int = _column(ev, "status", consume).array[pos].to_numpy(dtype=np.int32, na_value=0)
    failed = _failed(raw, ev, status_int)
    models, model_codes, families, error_class = _models_and_classes(
        raw, events.take("model"), config, status_int, failed
    )
    del raw["error_text"]
    release_unused()  # the error classes' texts (Arrow) and the statuses: see below
    out["status"] = pd.arrays.IntegerArray(status_int.astype(np.int16), status_int == 0)
    del status_int
    out["model"] = _coded(model_codes, models[:-1])
    out["family"] = _family_col(families, model_codes)
    del model_codes
    out["outcome"] = _coded(failed.view(np.int8), ["succeeded", "failed"])
    out["error_class"] = _category_col(error_class)
    del failed, error_class
    # The events' texts and ids next, so that they are freed before the times are worked on.
    out["error_message"] = arrow_text(events.take("message")[raw.pop("first_error_at")])
    id_codes = np.where(raw["has_id"], events.take("request_id")[pos], -1)
    ids = events.take("id_texts").take(pa.array(id_codes, mask=id_codes < 0))  # Arrow to Arrow
    out["request_id"] = pd.Series(pd.arrays.ArrowExtensionArray(ids), copy=False)
    del id_codes, ids
    out["path"] = _coded(events.take("path_codes")[pos], events.take("path_labels")[:-1])
    end_ns = events.take("ts_ns")[pos]
    release_unused()
    if stream_col is None:  # no line names a stream flag: every request's is unknown
        streaming = np.zeros(len(pos), dtype=bool)
        out["stream"] = arrow_flags(np.full(len(pos), None, dtype=object))
    else:
        stream = _text_at(stream_col, raw.pop("stream_at"))
        streaming = stream == True  # noqa: E712  (object array of True / False / None)
        out["stream"] = arrow_flags(stream)
        del stream
    start_ns, latency, ttfb, source_code = _latency(
        raw.pop("start_ns"), end_ns, durations[pos], streaming
    )
    guess = np.zeros(len(pos), dtype=bool)
    if "rounded_s" in ev.columns:  # nothing better known: a time the logger rounded ("2s")
        rounded = ev["rounded_s"].to_numpy(dtype=float)[pos]
        guess = (source_code == 2) & ~streaming & ~np.isnan(rounded)
        latency[guess] = rounded[guess]
    del streaming
    out["start"], out["end"] = _times(start_ns), _times(end_ns)
    del start_ns, end_ns
    # Handed back here and after the error classes: at 10M lines (RSS before -> after, one
    # report) 999 -> 759 and 983 -> 807 MB, so that the rest of the table is built lower.
    release_unused()
    source_code = np.where(source_code == 2, -1, source_code)
    # "arrival": the row's only line was logged as its request arrived (latency unknown; the
    # client join places that line at the client's start, not its end). A label only where
    # such rows are, so that other tables keep their categories.
    arrival = raw.pop("arrival")
    names: tuple[str, ...] = _SOURCE_NAMES
    if guess.any():
        source_code[guess] = len(names)
        names = (*names, "rounded")
    if arrival.any():
        source_code[arrival] = len(names)
        names = (*names, "arrival")
    out["latency_source"] = _coded(source_code, names)
    del source_code, arrival
    # Exact in a narrower float where it can be (_narrow_floats: all unknown where no line
    # names a stream, as in most logs); its one reader takes it with to_numpy(dtype=float).
    out["ttfb_s"] = _narrow_floats(ttfb)
    out.update(
        _narrow_usage(usage_table(ev, raw.pop("usage_at"), raw.pop("usage_inferred"), latency))
    )
    out["latency_s"] = latency
    client_codes, clients = _labels(text_values(_column(ev, "client", consume), pos))
    out["client"] = _coded(client_codes, clients[:-1])
    out["in_container"] = _label_in(client_codes, clients, _IN_CONTAINER_CLIENTS)
    del client_codes
    out["method"] = _category_col(text_values(_column(ev, "method", consume), pos))
    out["error_records"] = _count_col(raw.pop("error_count"))
    out["ambiguous"] = raw["ambiguous"]
    out["source"] = _coded(np.zeros(len(pos), dtype=np.int8), [source])
    return pd.DataFrame({name: out.pop(name) for name in COLUMNS}, copy=False)


_SOURCE_NAMES = ("explicit", "paired")  # latency_source codes 0, 1


def _times(ns: np.ndarray) -> pd.Series:
    """UTC times from int64 nanoseconds (NAT_NS is pandas' NaT: the view is exact)."""
    import pandas as pd

    return pd.Series(pd.DatetimeIndex(ns.view("datetime64[ns]")).tz_localize("UTC"))


# The text columns with few distinct values (kind, latency_source, method, path, client, model,
# family, outcome, error_class, source) are pandas categoricals: int8 codes instead of one
# 8-byte object pointer per request. Measured on the 1M-line bench log (434k requests): the
# table takes 115 instead of 190 bytes a request. Unknown is a missing code: consumers read
# these columns with pd.isna / notna, or as objects through metrics._objects (None, not NaN).
# Categories are sorted, so sorting by such a column orders the rows as by its text.
CATEGORY_COLUMNS = (
    "kind",
    "latency_source",
    "method",
    "path",
    "client",
    "model",
    "family",
    "outcome",
    "error_class",
    "source",
)


# The per-request columns that are neither numbers nor few-valued texts: request ids (one per
# request), first error messages (each distinct: they carry their record's time) and the stream
# flag. Arrow arrays instead of one Python object per row: measured on the 1M-line bench log
# (434k requests), request_id from 17.4 to 1.7 MB (no id on 60% of rows), error_message from
# 13.2 to 4.9 MB and stream from 10.4 (deep count; 3.5 real) to 0.1 MB. Unknown is a missing
# value (pd.NA): read them with parse/events.text_values (None for unknown), or test them with
# pd.isna / notna. The requests CSV writes them as it wrote the objects (tests/test_frame.py).
def arrow_text(values: np.ndarray) -> pd.Series:
    """An object column of strings (None unknown) as an Arrow string column (NA unknown)."""
    import pandas as pd
    import pyarrow as pa

    return pd.Series(pd.arrays.ArrowExtensionArray(pa.array(values, pa.string())), copy=False)


def arrow_flags(values: np.ndarray) -> pd.Series:
    """An object column of True / False / None as an Arrow boolean column (NA unknown)."""
    import pandas as pd
    import pyarrow as pa

    return pd.Series(pd.arrays.ArrowExtensionArray(pa.array(values, pa.bool_())), copy=False)


def _count_col(counts: np.ndarray) -> np.ndarray:
    """Per-request counts (error records) as int32: a request with 2**31 records cannot be
    logged in a file under max_input_bytes, and sums of the column are taken in int64."""
    import numpy as np

    return counts.astype(np.int32, copy=False)


# Usage figures whose every value (NaN for unknown) is a float16 or float32 exactly, stored as
# that: a token count is an integer, and where the source logs no usage at all (most proxies
# outside DEBUG mode) every value is NaN. Only whole numbers are narrowed, so that a value's
# text (CSV, JSON) is the same in either width; readers take the columns with
# to_numpy(dtype=float), which widens them back to the very same float64 values. Measured on
# the 1M-line bench log: 7 columns from 3.5 to 0.9 MB each.
_EXACT_WHOLE = {"float16": 2048, "float32": 2**24}


def _narrow_usage(columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The usage columns with their floats narrowed (_narrow_floats); one array that stands for
    several columns (usage_table's read-only NaN column) stays one, and read-only."""
    narrowed: dict[int, np.ndarray] = {}
    out = {}
    for name, values in columns.items():
        if values.dtype.kind != "f":
            out[name] = values
            continue
        if id(values) not in narrowed:
            narrow = _narrow_floats(values)
            if narrow is not values:
                narrow.flags.writeable = values.flags.writeable
            narrowed[id(values)] = narrow
        out[name] = narrowed[id(values)]
    return out


def _narrow_floats(values: np.ndarray) -> np.ndarray:
    """``values`` (float64) in the narrowest float type holding each of them exactly."""
    import numpy as np

    known = values[~np.isnan(values)]
    if len(known) and not np.array_equal(known, np.floor(known)):
        return values
    top = float(np.abs(known).max()) if len(known) else 0.0
    for name, limit in _EXACT_WHOLE.items():
        if top <= limit:
            return values.astype(name)
    return values


def _coded(codes: np.ndarray, distinct: Iterable[object]) -> pd.Categorical:
    """A categorical from codes already known (-1 unknown) and their distinct labels, with the
    categories sorted: sorting the table by such a column then orders it as by the text."""
    import numpy as np
    import pandas as pd

    labels = list(distinct)
    order = np.argsort(np.asarray([str(label) for label in labels], dtype=object), kind="stable")
    # Each code's sorted rank by lookup, -1 (unknown) picking the last slot: one array of the
    # smallest integer type per request (np.where over int64 took three of 8 bytes).
    lookup = np.empty(len(order) + 1, dtype=np.min_scalar_type(-len(order) - 1))
    lookup[order] = np.arange(len(order))
    lookup[-1] = -1
    sorted_codes = lookup[codes]
    categories = pd.Index([labels[i] for i in order], dtype=object)
    return pd.Categorical.from_codes(sorted_codes, categories)


def _family_col(families: np.ndarray, model_codes: np.ndarray) -> pd.Categorical:
    """The family column from each request's model code (-1 none) and each model's family
    (``families``: per model label, the last the None of code -1): _category_col over
    ``families[model_codes]``, the same categories and codes, without an object per request."""
    import numpy as np
    import pandas as pd

    used = np.zeros(len(families), dtype=bool)
    used[model_codes] = True
    present = np.flatnonzero(used)
    family_codes, distinct = pd.factorize(families[present])
    per_model = np.full(len(families), -1, dtype=np.int64)
    per_model[present] = family_codes
    return _coded(per_model[model_codes], distinct)


def _category_col(values: np.ndarray) -> pd.Categorical:
    """An object column (None unknown) as a categorical with sorted categories."""
    import pandas as pd

    codes, uniques = pd.factorize(values)
    return _coded(codes, uniques)


def concat_tables(tables: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Request tables one after the other; a categorical column stays categorical (the union
    of the parts' categories: pd.concat alone makes an object column of differing ones)."""
    import pandas as pd
    from pandas.api.types import union_categoricals

    if len(tables) == 1:
        return tables[0].reset_index(drop=True)
    columns = {}
    for name in tables[0].columns:
        pieces = [t[name] for t in tables]
        first = pieces[0].dtype
        if isinstance(first, pd.CategoricalDtype) and any(p.dtype != first for p in pieces):
            joined = union_categoricals(pieces, sort_categories=True, ignore_order=True)
            categories = pd.Index(joined.categories, dtype=object)
            columns[name] = pd.Series(pd.Categorical.from_codes(joined.codes, categories))
        else:
            columns[name] = pd.concat(pieces, ignore_index=True)
    return pd.DataFrame(columns, copy=False)


def _latency(
    start_ns: np.ndarray, end_ns: np.ndarray, duration: np.ndarray, streaming: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(start, latency, time to first byte, source code: 0 explicit, 1 paired, 2 unknown).

    An explicit duration wins over completion − start; with one, the start is known as
    end − duration even without a start line. A streaming request's completion is logged when
    its response starts: what was measured is its time to the first byte, not its latency.
    ``start_ns`` is taken over (changed in place into the start returned).
    """
    import numpy as np

    # In place where it can be (this runs over every request at the assembly's peak); the
    # values are those of the plain np.where form, element by element.
    explicit = ~np.isnan(duration)
    paired_ok = (start_ns != NAT_NS) & (end_ns != NAT_NS)
    # A start and its completion written together to stderr and stdout can reach the engine the
    # other way round (stream_order.streams_first puts such a streamed start back; 38 µs on
    # fixtures/captures/fuergaosi-debug): within _SKEW_NS the start is taken at the completion.
    # A start later than that is no race but a pairing that cannot be: its latency is unknown
    # (never a 0 s answer) and so is its start (end − an explicit duration, below, where one is
    # logged): a start after its end would stand in the concurrency timeline.
    late = paired_ok & (start_ns > end_ns)
    if late.any():
        raced = late & (start_ns - end_ns <= _SKEW_NS)
        start_ns[raced] = end_ns[raced]
        wrong = late & ~raced
        paired_ok &= ~wrong
        start_ns[wrong] = NAT_NS
        del raced, wrong
    del late
    latency = end_ns - start_ns  # int64, then seconds: the same division where both known
    latency = latency / 1e9
    latency[~paired_ok] = np.nan
    latency[explicit] = duration[explicit]
    source_code = np.full(len(end_ns), 2, dtype=np.int8)
    source_code[paired_ok] = 1
    source_code[explicit] = 0
    del paired_ok
    ttfb = np.full(len(end_ns), np.nan)
    ttfb[streaming] = latency[streaming]
    latency[streaming] = np.nan
    source_code[streaming] = 2
    derive = (start_ns == NAT_NS) & explicit & (end_ns != NAT_NS)
    start_ns[derive] = end_ns[derive] - np.nan_to_num(duration[derive] * 1e9).astype(np.int64)
    return start_ns, latency, ttfb, source_code


def _column(ev: pd.DataFrame, name: str, consume: bool) -> pd.Series:
    """An entries column finish reads once: taken out of the frame when it is given up."""
    return ev.pop(name) if consume else ev[name]


def _failed(raw: dict[str, Any], ev: pd.DataFrame, status: np.ndarray) -> np.ndarray:
    """4xx/5xx, an attached error record, or a CLI run that exited non-zero (claude-max-api-
    proxy's `Process closed with code: 1`; its text then says so, for the error class)."""
    import numpy as np

    failed = (status >= 400) | (raw["error_count"] > 0)
    if "exit_code" in ev.columns:
        exit_code = ev["exit_code"].to_numpy(dtype=float)[raw["pos"]]
        cli_failed = ~np.isnan(exit_code) & (exit_code != 0)
        failed |= cli_failed
        no_text = np.flatnonzero(cli_failed & ~raw["error_text"].present())
        texts = [f"CLI exited with code {c:g}" for c in exit_code[no_text]]
        raw["error_text"] = raw["error_text"].filled(no_text, np.array(texts, dtype=object))
    return failed


def _models_and_classes(
    raw: dict[str, Any],
    model: CodedTexts,
    config: Config,
    status: np.ndarray,
    failed: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(distinct models, code per request, family per model, error class per request).

    Family and "is the model known" are decided per distinct model name, not per request.
    """
    import numpy as np

    named = raw["model_at"] >= 0
    model_codes, models = used_labels(
        np.where(named, model.codes[np.where(named, raw["model_at"], 0)], -1),
        model.labels,
    )
    families = np.array(
        [family_of(m, config.aliases) if isinstance(m, str) else None for m in models],
        dtype=object,
    )
    unknown_model = np.array(
        [isinstance(m, str) and f is None for m, f in zip(models, families, strict=True)],
        dtype=bool,
    )
    error_class = np.full(len(raw["pos"]), None, dtype=object)
    classify_at = np.flatnonzero(failed & (raw["kind"] != _HEALTH))
    if len(classify_at):
        error_class[classify_at] = classify_errors(
            status[classify_at],
            raw["error_text"][classify_at],
            ~unknown_model[model_codes[classify_at]],
        )
    return models, model_codes, families, error_class


# The entry columns the table is still built from once the events are decoded (finish, usage
# figures, the completion order of several sources); assemble._decode turns every other one
# into arrays.
_READ_AFTER_DECODE = ("row", "status", "client", "method", "exit_code", "rounded_s", *FIELDS)


def joined_columns(id_part: dict[str, Any], plain_part: dict[str, Any]) -> dict[str, Any]:
    """The two parts' per-request columns as one, in completion order; the parts' arrays are
    taken out as they are joined (the caller drops the dicts' last references). Event
    positions come narrow (int32 while the events fit: arrays._narrow_positions) and
    error_text sparse (arrays.SparseTexts): with int32 positions, the 3M-line bench log's
    assembly peak went from 780 to 731 MB (whole-process report, one run each)."""
    import numpy as np

    # Id rows first, so that a completion in both parts keeps that order (stable sort).
    order = np.argsort(np.concatenate([id_part["pos"], plain_part["pos"]]), kind="stable")
    # Each part's rows written straight to their places (no concatenation of the two first).
    rank = np.empty(len(order), dtype=_position_type(len(order)))  # int32: 4 bytes a request
    rank[order] = np.arange(len(order), dtype=rank.dtype)
    del order
    n_first = len(id_part["pos"])
    columns: dict[str, Any] = {}
    for name in list(plain_part):
        first, second = id_part.pop(name), plain_part.pop(name)
        if isinstance(first, SparseTexts):
            columns[name] = SparseTexts.joined(first, second, rank)
            continue
        joined = np.empty(len(rank), dtype=np.result_type(first, second))
        joined[rank[:n_first]] = first
        joined[rank[n_first:]] = second
        columns[name] = joined
        del first, second
    return columns


def drop_decoded(ev: pd.DataFrame, keep_row: bool = True) -> None:
    """Drop in place the columns assemble._decode has turned into arrays (times, roles, paths,
    models, levels, sources...). Measured on the 3M-line bench log (report, whole process): the
    assembly's peak went from 802 to 780 MB, and the memory after it from 535 to 343 MB (the
    entries no longer stay beside the table for the metrics and the report)."""
    for name in [c for c in ev.columns if c not in _READ_AFTER_DECODE]:
        del ev[name]
    if not keep_row and "row" in ev.columns:  # they order several sources' tables only
        del ev["row"]

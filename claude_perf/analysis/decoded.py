"""One source's events decoded once for the assembly: roles as masks, paths and request ids as
codes, and the duration records linked (analysis/assemble.py reads nothing else of the entries
but the few columns table.finish takes at the requests' rows)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from claude_perf.analysis.arrays import (
    CodedTexts,
    SparseFloats,
    _label_where,
    _labels,
    used_labels,
)
from claude_perf.analysis.correlate import (
    DurationLinks,
    ids_without_completion,
    lend_id_models,
    lend_ids_to_model_records,
    link_durations,
)
from claude_perf.analysis.id_lives import make_ids_whole
from claude_perf.analysis.pairing import SparseTexts, _Events
from claude_perf.analysis.table import _READ_AFTER_DECODE
from claude_perf.config.dialect import FIELDS
from claude_perf.config.schema import Config, is_health_path, is_model_path
from claude_perf.durations import NAT_NS, series_ns
from claude_perf.parse.columns import ALONE_END, ARRIVAL_END
from claude_perf.parse.events import ids_of, text_values
from claude_perf.runtime.memory import release_unused

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


@dataclass(frozen=True)
class _Source:
    """One source's events decoded once: the _Events, and the masks every step reads."""

    ev: pd.DataFrame
    events: _Events
    has_id: np.ndarray
    health_path: np.ndarray
    model_path: np.ndarray
    start_mask: np.ndarray  # starts that may pair with a model completion
    is_model_end: np.ndarray
    is_other_end: np.ndarray  # completions of neither a model nor a health endpoint
    # completions that are whole requests by themselves (take no start), and error records no
    # request can be told from (counted outside any request)
    alone: np.ndarray
    # of those, the ones logged as the request arrived (a dialect line's ``arrival``): the
    # request's work, and its error records, come after the line
    arrival: np.ndarray
    stream: np.ndarray | None  # the stream flag column, when any line names one
    links: DurationLinks
    # events whose own stamp is known (error records): their positions, and the earliest time
    # on the engine's clock they can have been written (written_after)
    written: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def plain(self) -> np.ndarray:
        return ~self.has_id


def _decode(ev: pd.DataFrame, config: Config, consume: bool = False) -> _Source:
    """Roles, paths and ids as masks and codes, once; duration records linked.

    ``consume``: the caller gives the entries up; each column is dropped from ``ev`` (in place)
    as soon as it is decoded, so that the entries and the arrays made from them are never both
    whole (table.drop_decoded keeps the few the table still reads)."""
    import numpy as np
    import pandas as pd

    n = len(ev)
    take = _Taker(ev, consume)
    take.drop_unread()
    role_codes, role_names = _codes_and_labels(take("role"))

    def role_is(name: str) -> np.ndarray:
        return (role_names == name)[role_codes]

    is_start, is_end = role_is("start"), role_is("end")
    is_model_record, is_duration, is_usage = role_is("model"), role_is("duration"), role_is("usage")
    message = SparseTexts.of(take("message"))
    # The messages' Arrow column, its texts now Python strings, sits in Arrow's pool until
    # handed back: at 10M lines about 60 MB held through the ids' encoding (the decoding's peak).
    take.release()
    ts_ns = series_ns(take("ts"))
    is_error = take("is_error").to_numpy(dtype=bool)
    request_ids, id_texts = ids_of(take("request_id"))  # codes: no Python string per id
    # The dictionary encoding's hash table and indices sit in Arrow's pool: handed back before
    # the ids' lives are worked out, whose temporaries stood on them (at 10M lines 794 -> 901
    # MB, the decoding's peak).
    take.release()
    # an id per request's life, a completion's path from its start (before paths are taken)
    request_ids, id_texts = make_ids_whole(ev, request_ids, id_texts, is_start, is_end, ts_ns)
    has_id = request_ids >= 0
    # Ids logged on starts only (none on any completion) cannot pair: those starts pair by time.
    loose = ids_without_completion(request_ids, has_id, is_end)
    model_codes, model_labels = _codes_and_labels(take("model"))
    path_codes, path_labels = _codes_and_labels(take("path"))
    # A few paths: 1 byte an event, not 8 (held through the pairing and the table's build)
    path_codes = path_codes.astype(np.min_scalar_type(-len(path_labels)))
    health_path = _label_where(
        path_codes, path_labels, lambda path: is_health_path(path, config.health_paths)
    )
    model_path = (path_codes < 0) | _label_where(
        path_codes, path_labels, lambda path: is_model_path(path, config.model_paths)
    )
    model_request = model_path & ~health_path
    if is_model_record.any() and has_id.any() and not (is_start & ~has_id & model_request).any():
        # id-less model records (ccproxy-api) name the model request that started around them,
        # in a source whose requests all carry ids: where some start without one (the wrapper,
        # whose alias warning is an id-less model record of an id-less start or of a stream that
        # logs no start), a record near an id'd start may as well be theirs.
        durations = ev["duration_s"].to_numpy(dtype=float) if "duration_s" in ev.columns else None
        request_ids = lend_ids_to_model_records(
            ts_ns,
            request_ids,
            is_start & model_request,
            is_end & model_request,
            durations,
            is_model_record & (model_codes >= 0),
        )
        has_id = request_ids >= 0
        loose = ids_without_completion(request_ids, has_id, is_end)
    model_codes = lend_id_models(model_codes, request_ids, loose, is_start)
    # Usage figures are optional columns: present only where a dialect line read some.
    has_figures = _never(n)
    for name in FIELDS:
        if name in ev.columns:
            has_figures = has_figures | ~np.isnan(ev[name].to_numpy(dtype=float))
    events = _Events(
        ts_ns=ts_ns,
        is_start=is_start,
        is_end=is_end,
        is_model_record=is_model_record,
        is_error=is_error,
        has_model=model_codes >= 0,
        model=CodedTexts(model_codes, model_labels),
        message=message,
        request_id=request_ids,
        id_texts=id_texts,
        path_codes=path_codes,
        path_labels=path_labels,
        has_figures=has_figures,
        is_usage_record=is_usage & has_figures if has_figures.any() else _never(n),
    )
    # the proxy's own stamps (sparse): error records' (written_after), duration links' starts
    app_s = take("app_s") if "app_s" in ev.columns else None
    written = written_after(app_s, events.ts_ns) if app_s is not None else None
    links = _links(take, events, is_duration, health_path, model_path, app_s)
    del app_s
    stream = take("stream").to_numpy(dtype=object) if "stream" in ev.columns else None
    alone_code = take("alone").to_numpy(dtype=float) if "alone" in ev.columns else None
    return _Source(
        ev=ev,
        events=events,
        has_id=has_id & ~loose,
        health_path=health_path,
        model_path=model_path,
        # Starts of health checks and other endpoints never pair with a model completion.
        start_mask=events.is_start & ~health_path & model_path,
        is_model_end=events.is_end & ~health_path & model_path,
        is_other_end=events.is_end & ~health_path & ~model_path,
        alone=alone_code >= ALONE_END if alone_code is not None else _never(n),
        arrival=alone_code == ARRIVAL_END if alone_code is not None else _never(n),
        stream=stream if stream is not None and pd.notna(stream).any() else None,
        links=links,
        written=written,
    )


def _never(n: int) -> np.ndarray:
    """A mask false at each of ``n`` events that takes no memory (a read-only broadcast view):
    most sources have no usage figures and no line that is a whole request by itself, and those
    four per-event masks were 26 MB at 10M lines, held through the whole assembly."""
    import numpy as np

    return np.broadcast_to(np.False_, (n,))


# Time zones are whole quarter hours from UTC (Nepal's +05:45, Chatham's +12:45 included).
_ZONE_STEP_NS = 15 * 60 * 10**9


def written_after(app_s: pd.Series, ts_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(positions, ns) of the events that carry the proxy's own stamp: the earliest time on
    the engine's clock at which each line can have been written.

    Python logging's asctime is the record's creation time cut to its millisecond, so the stamp
    is never later than the truth; it is local time, read as ``app_timezone``. A container's
    zone may differ from that by whole quarter hours (one host clock): the median of engine
    time minus stamp, rounded to the quarter hour, is that difference (the engine's lag behind
    the writer, milliseconds, vanishes in the rounding)."""
    import numpy as np
    import pandas as pd

    values = app_s.array
    if isinstance(values, pd.arrays.SparseArray):
        at = np.asarray(values.sp_index.indices, dtype=np.int64)
        seconds = np.asarray(values.sp_values, dtype=float)
    else:
        dense = app_s.to_numpy(dtype=float)
        at = np.flatnonzero(~np.isnan(dense))
        seconds = dense[at]
    known = ~np.isnan(seconds)
    at, stamp_ns = at[known], np.round(seconds[known] * 1e9).astype(np.int64)
    engine = ts_ns[at]
    both = engine != NAT_NS
    if not both.any():
        return None
    zone_ns = (
        int(np.round(np.median(engine[both] - stamp_ns[both]) / _ZONE_STEP_NS)) * _ZONE_STEP_NS
    )
    return at, stamp_ns + zone_ns


def _links(
    take: _Taker,
    events: _Events,
    is_duration: np.ndarray,
    health_path: np.ndarray,
    model_path: np.ndarray,
    app_s: pd.Series | None,
) -> DurationLinks:
    """Duration records: each completion's logged duration, and exact start ↔ completion pairs."""
    import numpy as np

    ev = take.ev
    durations = take("duration_s").to_numpy(dtype=float)
    if not is_duration.any():  # no dialect here logs durations apart from their completions
        none = np.zeros(0, dtype=np.int64)
        return DurationLinks(SparseFloats.of(durations), none, none, 0, 0)
    path_codes = events.path_codes
    return link_durations(
        events.ts_ns,
        is_duration,
        events.is_start,
        events.is_end,
        ev["status"].to_numpy(dtype=float, na_value=np.nan),
        durations,
        np.where(health_path, 0, np.where(path_codes < 0, -1, np.where(model_path, 1, 2))),
        app_s.to_numpy(dtype=float) if app_s is not None else None,
    )


class _Taker:
    """The entries' columns for decoding: ``take(name)`` gives one, and drops it from the frame
    at once when the entries are given up (``consume``) and the table does not read it after."""

    def __init__(self, ev: pd.DataFrame, consume: bool) -> None:
        self.ev, self._consume = ev, consume

    def __call__(self, name: str) -> pd.Series:
        column = self.ev[name]
        if self._consume and name not in _READ_AFTER_DECODE:
            del self.ev[name]
        return column

    def drop_unread(self) -> None:
        """Drop the columns the decoding does not read either (levels, loggers, kinds...)."""
        if self._consume:
            for name in [c for c in self.ev.columns if c in _UNREAD]:
                del self.ev[name]

    def release(self) -> None:
        if self._consume:
            release_unused()


# The entry columns neither the decoding nor the table reads (the classifier's own).
_UNREAD = ("level", "logger", "kind", "ts_source", "source")


def _codes_and_labels(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A text column as per-row codes and per code its text, plus a trailing None that code -1
    (unknown) picks: arrays._labels over text_values, with the labels in another order. A
    categorical column's own codes are used (no object array of every row), its categories no
    row uses left out."""
    import numpy as np
    import pandas as pd

    if not isinstance(column.dtype, pd.CategoricalDtype):
        return _labels(text_values(column))
    categories = np.asarray(column.cat.categories, dtype=object)
    return used_labels(column.cat.codes.to_numpy(), np.array([*categories, None], dtype=object))


def failed_status(src: _Source, ends: np.ndarray) -> np.ndarray:
    """Per completion, whether its status says it failed (4xx, 5xx; unknown: no)."""
    import numpy as np

    # at the completions only: a float per event of the whole column is 8 bytes a line at the
    # id-less requests' peak
    status = src.ev["status"].take(ends).to_numpy(dtype=float, na_value=np.nan)
    return status >= 400


def written_at(src: _Source, rows: np.ndarray) -> np.ndarray | None:
    """Per event of ``rows`` (sorted): the earliest engine time it can have been written
    (decoded.written_after), NAT_NS where its line carries no stamp of the proxy's own."""
    import numpy as np

    if src.written is None:
        return None
    at, ns = src.written
    i = np.minimum(np.searchsorted(at, rows), max(len(at) - 1, 0))
    hit = (at[i] == rows) if len(at) else np.zeros(len(rows), dtype=bool)
    return np.where(hit, ns[i] if len(at) else NAT_NS, NAT_NS)

"""Client records ↔ the proxy's request rows: which client request is which logged request.

In order of trust:

1. a request id both carry: the client's own id (``claude-perf load`` and AIPerf send it as
   X-Request-Id) or the id the response gave it (``server_request_id``), equal to the row's
   ``request_id``;
2. time: the client's clock and the engine's log clock may differ (another machine, a container
   clock), so the offset is estimated from the data first: the offset that puts the most client
   requests next to a logged request of their kind (least median of distances, ``_offset``),
   with a tolerance of four robust standard deviations, never under 1 ms (log timestamps
   round).
   Then every client request may take a logged row of the same kind (same path when both know it,
   same status when both know it) whose interval, moved by the offset, overlaps the client's
   interval widened by the tolerance and is not longer than it (the proxy cannot see a request
   for longer than its client did); pairs are taken cheapest first (distance of the starts plus
   distance of the ends), each record and each row at most once. Offset and tolerance are
   re-estimated from the pairs taken, and reported.

A logged row no client sent is counted only inside the clients' window (moved by the offset and
widened by the tolerance): the log may hold traffic from before or after the test session.
"""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from claude_perf.config.schema import Config
from claude_perf.durations import NAT_NS, series_ns
from claude_perf.ingest.client_records import ClientRecord

if TYPE_CHECKING:
    import pandas as pd

MIN_TOLERANCE_NS = 1_000_000  # log timestamps of some proxies are in milliseconds
_MAD_SIGMA = 1.4826  # MAD → standard deviation of a normal distribution
_TOLERANCE_SIGMAS = 4.0
MAX_SHIFT = 10  # requests the log may hold before the session's first (or lose) when aligning
MAX_CANDIDATES = 256  # offsets scored (evenly spread over the candidates)
MAX_SCORED = 400  # client requests each candidate is scored on (evenly spread)


@dataclass(frozen=True)
class ClientJoin:
    """Pairs (record index, table row index) and what stayed alone on each side."""

    pairs: tuple[tuple[int, int], ...]
    by_id: int  # pairs made by a shared request id
    unmatched_client: tuple[int, ...]  # record indexes
    unmatched_server: tuple[int, ...]  # table row indexes inside the clients' window
    outside_window: int  # logged rows before or after the clients' window (not counted)
    clock_offset_s: float | None  # engine clock − client clock; None when nothing paired by time
    tolerance_s: float | None


@dataclass(frozen=True)
class _Row:
    index: int
    a_ns: int  # start, else end
    b_ns: int  # end, else start
    kind: str
    path: str | None
    status: int | None
    request_id: str | None
    ends_at_first_byte: bool  # a streamed answer logged as it began: its end is the first byte


def _client_kind(record: ClientRecord, config: Config) -> str:
    if record.path is None or record.path in config.model_paths:
        return "model"  # tools that name no path (AIPerf) call a model endpoint
    if record.path in config.health_paths:
        return "health"
    return "path:" + record.path


def _rows(table: pd.DataFrame) -> list[_Row]:
    import pandas as pd

    starts = series_ns(table["start"]).tolist()
    ends = series_ns(table["end"]).tolist()
    rows = []
    columns = zip(
        starts,
        ends,
        table["kind"].tolist(),
        table["path"].tolist(),
        table["status"].tolist(),
        table["request_id"].tolist(),
        (table["stream"] == True).tolist(),  # noqa: E712  (object column: True / False / None)
        table["latency_s"].isna().tolist(),
        strict=True,
    )
    for i, (start, end, kind, path, status, rid, stream, untimed) in enumerate(columns):
        if start == NAT_NS and end == NAT_NS:
            continue  # a row without any time cannot be placed beside a client's request
        a = start if start != NAT_NS else end
        b = end if end != NAT_NS else start
        row_kind = kind if kind in ("model", "health") else "path:" + str(path)
        known_status = None if status is None or pd.isna(status) else int(status)
        rows.append(_Row(i, a, b, row_kind, path, known_status, rid, bool(stream and untimed)))
    return rows


def _compatible(record: ClientRecord, kind: str, row: _Row) -> bool:
    if kind != row.kind:
        return False
    if record.path is not None and row.path is not None and record.path != row.path:
        return False
    return record.status is None or row.status is None or record.status == row.status


def _offset(
    records: Sequence[ClientRecord], kinds: Sequence[str], rows: Sequence[_Row]
) -> tuple[int, int]:
    """(offset, tolerance) in ns: the least-median-of-distances offset (Rousseeuw's LMedS).

    Candidate offsets are the midpoint differences of the k-th client request and the
    (k + shift)-th logged one of its kind, for shifts up to ``MAX_SHIFT`` either way (the log
    may hold requests before the session, or lose some). Each candidate is scored by the median,
    over client requests, of the distance from the request's midpoint moved by it to the nearest
    logged midpoint of its kind; the best scores least. Up to half the requests may be missing
    from the log (or far off) without moving it. The tolerance is four robust standard
    deviations (1.4826 × the best score), never under 1 ms.
    """
    mids: dict[str, list[float]] = {}
    for row in rows:
        mids.setdefault(row.kind, []).append((row.a_ns + row.b_ns) / 2)
    for values in mids.values():
        values.sort()
    # Where the log ends streamed answers as they begin, a streamed request's midpoint is taken
    # up to its first byte, as the pairs will be (``_client_end``).
    first_byte_rows = any(row.ends_at_first_byte for row in rows)

    def mid(r: ClientRecord) -> float:
        early = first_byte_rows and r.stream and r.first_byte_ns is not None
        return (r.start_ns + (r.first_byte_ns if early else r.end_ns)) / 2  # type: ignore[operator]

    mine = sorted(
        (mid(r), k)
        for r, k in zip(records, kinds, strict=True)
        if r.status is not None and k in mids
    )
    if not mine:
        return 0, MIN_TOLERANCE_NS
    candidates: set[float] = set()
    for kind, theirs in mids.items():
        own = [m for m, k in mine if k == kind]
        for shift in range(-MAX_SHIFT, MAX_SHIFT + 1):
            for k in range(max(0, -shift), min(len(own), len(theirs) - shift)):
                candidates.add(theirs[k + shift] - own[k])
    sample = _evenly(mine, MAX_SCORED)

    def score(offset: float) -> float:
        return statistics.median(_nearest(mids[kind], mid + offset) for mid, kind in sample)

    scored = sorted((score(c), c) for c in _evenly(sorted(candidates), MAX_CANDIDATES))
    best_score, best = scored[0]
    return round(best), max(MIN_TOLERANCE_NS, round(_TOLERANCE_SIGMAS * _MAD_SIGMA * best_score))


def _evenly(values: Sequence[Any], most: int) -> list[Any]:
    """At most ``most`` of ``values``, evenly spread (all of them when there are few)."""
    if len(values) <= most:
        return list(values)
    step = len(values) / most
    return [values[int(i * step)] for i in range(most)]


def _nearest(sorted_values: Sequence[float], value: float) -> float:
    at = bisect.bisect_left(sorted_values, value)
    near = sorted_values[max(0, at - 1) : at + 1]
    return min(abs(v - value) for v in near)


def _client_end(record: ClientRecord, row: _Row) -> int:
    """The client's time that the row's end stands for (its first byte for a streamed row)."""
    if row.ends_at_first_byte and record.first_byte_ns is not None:
        return record.first_byte_ns
    return record.end_ns


def _midpoint_gap(record: ClientRecord, row: _Row) -> float:
    # Integers first: epoch nanoseconds are past float64's exact range.
    return ((row.a_ns + row.b_ns) - (record.start_ns + _client_end(record, row))) / 2


def _centre_and_spread(differences: Sequence[float]) -> tuple[int, int]:
    if not differences:
        return 0, MIN_TOLERANCE_NS
    centre = statistics.median(differences)
    mad = statistics.median(abs(d - centre) for d in differences)
    return round(centre), max(MIN_TOLERANCE_NS, round(_TOLERANCE_SIGMAS * _MAD_SIGMA * mad))


def join_clients(
    records: Sequence[ClientRecord], table: pd.DataFrame, config: Config
) -> ClientJoin:
    """Match each client record to at most one logged request row, and the rows back."""
    rows = _rows(table)
    kinds = [_client_kind(r, config) for r in records]
    pairs: dict[int, int] = {}
    used: set[int] = set()
    by_id = _join_by_id(records, kinds, rows, pairs, used)
    free_rows = [row for row in rows if row.index not in used]
    free = [i for i in range(len(records)) if i not in pairs]
    offset, tolerance = _offset([records[i] for i in free], [kinds[i] for i in free], free_rows)
    row_of = {row.index: row for row in rows}
    by_id_pairs = dict(pairs)
    # Twice: the k-th-beside-k-th estimate is rough under concurrency; the pairs of the first
    # pass give a tighter offset and tolerance for the second.
    for _ in range(2):
        pairs, used = dict(by_id_pairs), set(by_id_pairs.values())
        _join_by_time(records, kinds, free, free_rows, offset, tolerance, pairs, used)
        if len(pairs) == by_id:
            break
        offset, tolerance = _centre_and_spread(
            [_midpoint_gap(records[i], row_of[j]) for i, j in pairs.items()]
        )
    offset_s = tolerance_s = None
    if len(pairs) > by_id:
        offset_s, tolerance_s = offset / 1e9, tolerance / 1e9
    unmatched_server, outside = _alone_rows(records, rows, used, offset, tolerance)
    return ClientJoin(
        pairs=tuple(sorted(pairs.items())),
        by_id=by_id,
        unmatched_client=tuple(i for i in range(len(records)) if i not in pairs),
        unmatched_server=unmatched_server,
        outside_window=outside,
        clock_offset_s=offset_s,
        tolerance_s=tolerance_s,
    )


def _join_by_id(
    records: Sequence[ClientRecord],
    kinds: Sequence[str],
    rows: Sequence[_Row],
    pairs: dict[int, int],
    used: set[int],
) -> int:
    by_id: dict[str, list[_Row]] = {}
    for row in rows:
        if row.request_id:
            by_id.setdefault(row.request_id, []).append(row)
    for i, record in enumerate(records):
        for rid in (record.id, record.server_request_id):
            found = next((r for r in by_id.get(rid or "", ()) if r.index not in used), None)
            if found is not None and _compatible(record, kinds[i], found):
                pairs[i] = found.index
                used.add(found.index)
                break
    return len(pairs)


def _join_by_time(
    records: Sequence[ClientRecord],
    kinds: Sequence[str],
    free: Sequence[int],
    rows: Sequence[_Row],
    offset: int,
    tolerance: int,
    pairs: dict[int, int],
    used: set[int],
) -> None:
    """Candidates whose moved interval overlaps the widened client one; cheapest pairs first."""
    # Rows are looked up by start in a window as wide as the longest row; the longest 1 % (a
    # request logged as lasting minutes) are tried against every record instead, so that one
    # of them cannot widen every window.
    spans = sorted(r.b_ns - r.a_ns for r in rows)
    cap = spans[int(len(spans) * 0.99)] if spans else 0
    ordered = sorted((r for r in rows if r.b_ns - r.a_ns <= cap), key=lambda r: r.a_ns)
    long_rows = [r for r in rows if r.b_ns - r.a_ns > cap]
    anchors = [r.a_ns - offset for r in ordered]
    candidates: list[tuple[int, int, int]] = []
    for i in free:
        record = records[i]
        if record.error_class == "connect":
            continue  # never reached the proxy (an answer cut short or timed out did)
        low = bisect.bisect_left(anchors, record.start_ns - tolerance - cap)
        high = bisect.bisect_right(anchors, record.end_ns + tolerance)
        for row in [*ordered[low:high], *long_rows]:
            if row.a_ns - offset > record.end_ns + tolerance or (
                # the proxy cannot have seen a request for longer than its client did
                row.b_ns - row.a_ns > _client_end(record, row) - record.start_ns + 2 * tolerance
            ):
                continue
            a, b = row.a_ns - offset, row.b_ns - offset
            if b < record.start_ns - tolerance or not _compatible(record, kinds[i], row):
                continue
            cost = abs(a - record.start_ns) + abs(b - _client_end(record, row))
            candidates.append((cost, i, row.index))
    candidates.sort()
    for _, i, j in candidates:
        if i not in pairs and j not in used:
            pairs[i] = j
            used.add(j)


def _alone_rows(
    records: Sequence[ClientRecord],
    rows: Sequence[_Row],
    used: set[int],
    offset: int,
    tolerance: int,
) -> tuple[tuple[int, ...], int]:
    if not records:
        return (), 0
    first = min(r.start_ns for r in records) - tolerance + offset
    last = max(r.end_ns for r in records) + tolerance + offset
    alone = [row for row in rows if row.index not in used]
    inside = tuple(sorted(r.index for r in alone if first <= r.a_ns and r.b_ns <= last))
    return inside, len(alone) - len(inside)

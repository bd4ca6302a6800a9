"""Client records ↔ the proxy's request rows: which client request is which logged request.

In order of trust:

1. a request id both carry: the client's own id (``claude-perf load`` and AIPerf send it as
   X-Request-Id) or the id the response gave it (``server_request_id``), equal to the row's
   ``request_id``;
2. time: the client's clock and the engine's log clock may differ (another machine, a container
   clock), so the offset is estimated from the data first: the offset that puts the most client
   requests next to a logged end line of their kind (least median of distances, ``_offset``),
   with a tolerance of four robust standard deviations, widened for few requests
   (``_spread``), never under 1 ms nor the clocks' resolution.
   A row is placed by its end line (a line logged on the request's arrival, latency_source
   ``arrival``, counts as its start line), and by its start line only where that is surely its own
   (the log pairs starts and ends by order when no ids say more: a guess while another request
   is open, the row's ``ambiguous``). Every client request may take a row of the same kind (same
   path when both know it, same status when both know it) whose lines can be its own
   (``_cost``: none before the client's start, none later than one latency after its end);
   pairs are taken cheapest first (distance of the lines to the client's instants they stand
   for), each record and each row at most once. A streamed answer's end line stands for its
   end or its first byte, whichever reading of the log explains more requests. Offset and
   tolerance are re-estimated from the pairs taken, and reported.

A logged row no client sent is counted only inside the clients' window (moved by the offset and
widened by the tolerance): the log may hold traffic from before or after the test session.
"""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from claude_perf.config.schema import Config, is_health_path, is_model_path
from claude_perf.durations import NAT_NS, series_ns
from claude_perf.ingest.client_records import ClientRecord
from claude_perf.parse.events import text_values

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
    start_ns: int | None  # the row's start line, when the log pairs it with this end for sure
    end_ns: int | None  # the row's end line (for a streamed answer maybe its first byte)
    kind: str
    path: str | None
    status: int | None
    request_id: str | None
    ends_at_first_byte: bool  # the parser knows this streamed answer was logged as it began

    @property
    def a_ns(self) -> int:  # earliest known instant
        return self.start_ns if self.start_ns is not None else self.end_ns  # type: ignore[return-value]

    @property
    def b_ns(self) -> int:  # latest known instant
        return self.end_ns if self.end_ns is not None else self.start_ns  # type: ignore[return-value]


def _client_kind(record: ClientRecord, config: Config) -> str:
    if record.path is None or is_model_path(record.path, config.model_paths):
        return "model"  # tools that name no path (AIPerf) call a model endpoint
    if is_health_path(record.path, config.health_paths):
        return "health"
    return "path:" + record.path


def _rows(table: pd.DataFrame) -> list[_Row]:
    import pandas as pd

    columns = zip(
        series_ns(table["start"]).tolist(),
        series_ns(table["end"]).tolist(),
        list(text_values(table["kind"])),  # categoricals: None (not NaN) for unknown
        list(text_values(table["path"])),
        table["status"].tolist(),
        list(text_values(table["request_id"])),  # Arrow text: None (not NA) for unknown
        table["ambiguous"].tolist(),
        ((text_values(table["stream"]) == True) & table["latency_s"].isna()).tolist(),  # noqa: E712
        _arrivals(table),
        strict=True,
    )
    rows = []
    for i, (start, end, kind, path, status, rid, ambiguous, at_fb, arrived) in enumerate(columns):
        if start == NAT_NS and end == NAT_NS:
            continue  # a row without any time cannot be placed beside a client's request
        if arrived:  # its one line was logged as the request arrived: it stands for the start
            start, end, ambiguous = end, NAT_NS, False
        # An ambiguous row's start line was given to its end line by order alone (another
        # id-less request was open meanwhile, analysis/assemble.py): its end is the request's
        # own, its start may be a neighbour's, so only the end places it.
        sure_start = start != NAT_NS and (end == NAT_NS or not bool(ambiguous))
        row_kind = kind if kind in ("model", "health") else "path:" + str(path)
        known_status = None if status is None or pd.isna(status) else int(status)
        rows.append(
            _Row(
                i,
                start if sure_start else None,
                end if end != NAT_NS else None,
                row_kind,
                path,
                known_status,
                rid,
                bool(at_fb),
            )
        )
    return rows


def _arrivals(table: pd.DataFrame) -> list[bool]:
    """Per row: its one line was logged as the request arrived (latency_source "arrival")."""
    if "latency_source" not in table.columns:
        return [False] * len(table)
    return (text_values(table["latency_source"]) == "arrival").tolist()


def _compatible(record: ClientRecord, kind: str, row: _Row) -> bool:
    if kind != row.kind:
        return False
    if record.path is not None and row.path is not None and record.path != row.path:
        return False
    return record.status is None or row.status is None or record.status == row.status


def _client_end(record: ClientRecord, row: _Row, at_first_byte: bool) -> int:
    """The client's instant a logged end line stands for: its end, or its first byte.

    Proxies log a streamed answer either when it ends (claude-max-api-proxy) or when it begins
    (uvicorn's access line comes with the response's headers: the wrapper); ``at_first_byte``
    is which of the two readings the join took for this log (``join_clients``), unless the
    parser knew it for the row.
    """
    early = row.ends_at_first_byte or (at_first_byte and record.stream)
    return record.first_byte_ns if early and record.first_byte_ns is not None else record.end_ns


def _resolution_ns(records: Sequence[ClientRecord], rows: Sequence[_Row]) -> int:
    """The coarsest clock step of either side (1 s when a log writes whole seconds), ≤ 1 s."""
    instants = [r.start_ns for r in records] + [
        e for w in rows for e in (w.start_ns, w.end_ns) if e
    ]
    step = 1
    while step < 1_000_000_000 and instants and all(t % (step * 10) == 0 for t in instants):
        step *= 10
    return step


def _offset(
    records: Sequence[ClientRecord], kinds: Sequence[str], rows: Sequence[_Row], floor: int
) -> tuple[int, int]:
    """(offset, tolerance) in ns: the least-median-of-distances offset (Rousseeuw's LMedS).

    Each logged row is placed by its end line (the request's own event even where the log's
    start-end pairing is a guess), a row with no end by its start. Candidate offsets are the
    differences of the k-th client instant (end, first byte, start) and the (k + shift)-th
    logged one of its kind, for shifts up to ``MAX_SHIFT`` either way (the log may hold
    requests before the session, or lose some). Each candidate is scored by the median, over
    client requests, of the distance from the request's instants moved by it to the nearest
    logged instant of its kind; the best scores least. Up to half the requests may be missing
    from the log (or far off) without moving it. The tolerance is four robust standard
    deviations (``_spread`` of the best score), never under ``floor``.
    """
    ends: dict[str, list[int]] = {}
    starts: dict[str, list[int]] = {}
    for row in rows:
        if row.end_ns is not None:
            ends.setdefault(row.kind, []).append(row.end_ns)
        elif row.start_ns is not None:
            starts.setdefault(row.kind, []).append(row.start_ns)
    for values in (*ends.values(), *starts.values()):
        values.sort()
    mine = [
        (r, k)
        for r, k in zip(records, kinds, strict=True)
        if r.status is not None and (k in ends or k in starts)
    ]
    if not mine:
        return 0, floor

    def instants(r: ClientRecord, kind: str) -> tuple[list[int], list[int]]:
        if kind in ends:
            fb = [] if r.first_byte_ns is None else [r.first_byte_ns]
            return ends[kind], [r.end_ns, *fb]
        return starts[kind], [r.start_ns]

    candidates: set[int] = set()
    for kind in {k for _, k in mine}:
        theirs = ends.get(kind) or starts[kind]
        own = [r for r, k in mine if k == kind]
        for column in range(2 if kind in ends else 1):
            values = sorted(vs[column] for r in own if len(vs := instants(r, kind)[1]) > column)
            for shift in range(-MAX_SHIFT, MAX_SHIFT + 1):
                for k in range(max(0, -shift), min(len(values), len(theirs) - shift)):
                    candidates.add(theirs[k + shift] - values[k])
    sample = _evenly(mine, MAX_SCORED)

    def score(offset: int) -> tuple[float, float, int]:
        distances = []
        for r, kind in sample:
            theirs, own = instants(r, kind)
            distances.append(min(_nearest(theirs, v + offset) for v in own))
        # Evenly spaced requests alias (an offset of one period fits as many): the mean, then
        # the smaller offset, part the ties.
        return statistics.median(distances), statistics.fmean(distances), abs(offset)

    scored = sorted((score(c), c) for c in _evenly(sorted(candidates), MAX_CANDIDATES))
    (best_score, _, _), best = scored[0]
    return best, _spread(best_score, len(sample), floor)


def _evenly(values: Sequence[Any], most: int) -> list[Any]:
    """At most ``most`` of ``values``, evenly spread (all of them when there are few)."""
    if len(values) <= most:
        return list(values)
    step = len(values) / most
    return [values[int(i * step)] for i in range(most)]


def _nearest(sorted_values: Sequence[int], value: int) -> int:
    at = bisect.bisect_left(sorted_values, value)
    near = sorted_values[max(0, at - 1) : at + 1]
    return min(abs(v - value) for v in near)


def _gap(record: ClientRecord, row: _Row, at_first_byte: bool) -> float:
    """Engine − client time of one pair: of the midpoints when the row's start and end are both
    its own (a network's delay, symmetric, cancels), else of the one event the row has."""
    if row.start_ns is not None and row.end_ns is not None:
        # Integers first: epoch nanoseconds are past float64's exact range.
        end = _client_end(record, row, at_first_byte)
        return ((row.start_ns + row.end_ns) - (record.start_ns + end)) / 2
    if row.end_ns is not None:
        return row.end_ns - _client_end(record, row, at_first_byte)
    return row.start_ns - record.start_ns  # type: ignore[operator]


def _spread(median_deviation: float, n: int, floor: int) -> int:
    """Four robust standard deviations from the median absolute deviation of ``n`` values.

    With few values the median deviation runs small: Rousseeuw and Leroy's finite-sample
    factor 1 + 5 / (n − p) (Robust Regression and Outlier Detection, 1987, p. 202; p = 1, the
    one offset fitted) widens it (1.83 for 7 pairs, 1.13 for 40), never under ``floor``.
    """
    small_sample = 1 + 5 / (n - 1) if n > 1 else 1.0
    sigma = _MAD_SIGMA * small_sample * median_deviation
    return max(floor, round(_TOLERANCE_SIGMAS * sigma))


def _centre_and_spread(differences: Sequence[float], floor: int) -> tuple[int, int]:
    if not differences:
        return 0, floor
    centre = statistics.median(differences)
    mad = statistics.median(abs(d - centre) for d in differences)
    return round(centre), _spread(mad, len(differences), floor)


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
    floor = max(MIN_TOLERANCE_NS, _resolution_ns(records, rows))
    offset, tolerance = _offset(
        [records[i] for i in free], [kinds[i] for i in free], free_rows, floor
    )
    # Two readings of the log's end line of a streamed answer (``_client_end``): the one that
    # explains more client requests wins (at a tie, the smaller total distance; then "at its
    # end"). Both are tried only when the clients streamed with a first byte recorded.
    readings = [False]
    if any(records[i].stream and records[i].first_byte_ns is not None for i in free):
        readings.append(True)
    best: tuple[int, int, dict[int, int], _Placement] | None = None
    for at_first_byte in readings:
        first = _Placement(offset, tolerance, at_first_byte)
        found, cost, place = _time_join(
            records, kinds, free, free_rows, by_id_pairs=pairs, first=first, floor=floor
        )
        if best is None or (-len(found), cost) < (-len(best[2]), best[1]):
            best = (len(found), cost, found, place)
    assert best is not None
    _, _, pairs, place = best
    offset, tolerance = place.offset_ns, place.tolerance_ns
    used = set(pairs.values())
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


@dataclass(frozen=True)
class _Placement:
    """Where the log's lines go on the client's clock."""

    offset_ns: int  # engine clock − client clock
    tolerance_ns: int  # the offset's uncertainty, never under the clocks' resolution
    at_first_byte: bool  # a streamed answer's end line stands for its first byte


def _time_join(
    records: Sequence[ClientRecord],
    kinds: Sequence[str],
    free: Sequence[int],
    rows: Sequence[_Row],
    *,
    by_id_pairs: dict[int, int],
    first: _Placement,
    floor: int,
) -> tuple[dict[int, int], int, _Placement]:
    """(pairs, their total distance, placement) under one reading of the log.

    The LMedS estimate is rough under concurrency; the pairs of one pass give a tighter offset
    and tolerance for the next (three passes at most, until the pairs settle).
    """
    row_of = {row.index: row for row in rows}
    unpaired = set(free)  # (a set: membership per pair was a list scan, 32 s at 100k records)
    place, pairs, cost = first, dict(by_id_pairs), 0
    for _ in range(3):
        found = dict(by_id_pairs)
        cost = _join_by_time(records, kinds, free, rows, place, found)
        if found == pairs or len(found) == len(by_id_pairs):
            pairs = found
            break
        pairs = found
        offset, tolerance = _centre_and_spread(
            [
                _gap(records[i], row_of[j], place.at_first_byte)
                for i, j in pairs.items()
                if i in unpaired
            ],
            floor,
        )
        place = _Placement(offset, tolerance, place.at_first_byte)
    return pairs, cost, place


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


def _cost(record: ClientRecord, row: _Row, place: _Placement) -> int | None:
    """Distance of a row's lines (moved by the offset) to the client's instants they stand for,
    or None when a line is not where it can be.

    A proxy sees a request only once its client sent it: no line before the client's start
    (the offset's tolerance aside). An end line may come before the client's end (the
    network, the client reading the last bytes late) and after it: a log stamps a line when
    it reads it (docker -t: bursts tens of ms late; claude-max-api-proxy logs a stream's end
    after [DONE]). How late is heavy-tailed, so no spread of the pairs bounds it; a line is
    taken as at most one of the request's own latencies after the client's end (its latency
    scale): later than that it cannot be told from a request no client sent.
    """
    low = record.start_ns - place.tolerance_ns
    high = record.end_ns + max(place.tolerance_ns, record.end_ns - record.start_ns)
    cost = 0
    if row.start_ns is not None:
        start = row.start_ns - place.offset_ns
        if not low <= start <= high:
            return None
        cost += abs(start - record.start_ns)
    if row.end_ns is not None:
        end = row.end_ns - place.offset_ns
        if not low <= end <= high:
            return None
        cost += abs(end - _client_end(record, row, place.at_first_byte))
    return cost


def _join_by_time(
    records: Sequence[ClientRecord],
    kinds: Sequence[str],
    free: Sequence[int],
    rows: Sequence[_Row],
    place: _Placement,
    pairs: dict[int, int],
) -> int:
    """Rows whose lines can be a client's (``_cost``); cheapest pairs first, each record and
    each row at most once. Returns the pairs' total distance."""
    used = set(pairs.values())
    ordered = sorted((r for r in rows if r.index not in used), key=lambda r: r.b_ns)
    anchors = [r.b_ns - place.offset_ns for r in ordered]  # a row's latest line
    candidates: list[tuple[int, int, int]] = []
    for i in free:
        record = records[i]
        if i in pairs or record.error_class == "connect":
            continue  # never reached the proxy (an answer cut short or timed out did)
        latency = record.end_ns - record.start_ns
        low = bisect.bisect_left(anchors, record.start_ns - place.tolerance_ns)
        high = bisect.bisect_right(anchors, record.end_ns + max(place.tolerance_ns, latency))
        for row in ordered[low:high]:
            if not _compatible(record, kinds[i], row):
                continue
            cost = _cost(record, row, place)
            if cost is not None:
                candidates.append((cost, i, row.index))
    candidates.sort()
    total = 0
    for cost, i, j in candidates:
        if i not in pairs and j not in used:
            pairs[i] = j
            used.add(j)
            total += cost
    return total


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

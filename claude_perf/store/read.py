"""What a report reads from the store: the window queries and ``load_session``.

A session from the store carries the client records (``claude-perf load``) that started in the
window too, in ``Session.clients``.

Every bound is inclusive; an open end is the widest int64 range. ``load_session`` builds the
same ``Session`` a report of saved logs gets, so the analysis does not know where lines came from.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from claude_perf.durations import NAT_NS
from claude_perf.errors import StoreError
from claude_perf.store import blocks
from claude_perf.store.clients import client_records_in
from claude_perf.store.db import Store
from claude_perf.store.schema import SAMPLE_FIELDS
from claude_perf.store.window import bounds as _bounds

if TYPE_CHECKING:
    from claude_perf.ingest.session import Session


def line_rows(
    conn: sqlite3.Connection, key: int | None = None
) -> Iterator[tuple[int, int, str, str]]:
    """Every stored line (of one container, or all) as (container key, ts_ns, stream, text),
    block after block in the order stored, not sorted: for checks and ad hoc reading (the
    blocks' texts are not one SQL row per line; store/blocks.py)."""
    where, args = ("WHERE container_key = ?", (key,)) if key is not None else ("", ())
    spans = conn.execute(
        f"SELECT container_key, form, ts, streams, texts FROM log_blocks {where} ORDER BY id",
        args,
    )
    for container_key, *block in spans:
        for ts, stream, text in blocks.decode_rows(tuple(block)):
            yield int(container_key), ts, stream, text


def events(
    store: Store, key: int, since_ns: int | None = None, until_ns: int | None = None
) -> list[tuple[int, str]]:
    """(time_ns, action) of a container's events within the window, in time order."""
    low, high = _bounds(since_ns, until_ns)
    rows = store.conn.execute(
        "SELECT time_ns, action FROM events WHERE container_key = ? AND time_ns BETWEEN ? "
        "AND ? ORDER BY time_ns, action",
        (key, low, high),
    )
    return [(int(t), str(a)) for t, a in rows]


def sample_rows(
    store: Store, since_ns: int | None, until_ns: int | None, keys: Sequence[int]
) -> list[tuple[Any, ...]]:
    """Raw sample rows (container id, name, ts_ns, fields…, cgroup) for the window."""
    if not keys:
        return []
    low, high = _bounds(since_ns, until_ns)
    marks = ", ".join("?" * len(keys))
    return list(
        store.conn.execute(
            f"SELECT c.id, c.name, s.ts_ns, {', '.join('s.' + f for f in SAMPLE_FIELDS)}, "
            f"s.cgroup FROM samples s JOIN containers c ON c.key = s.container_key "
            f"WHERE s.container_key IN ({marks}) AND s.ts_ns BETWEEN ? AND ? "
            f"ORDER BY c.name, s.ts_ns",
            (*keys, low, high),
        )
    )


def collection_gaps(
    store: Store, since_ns: int | None, until_ns: int | None, names: Sequence[str]
) -> list[str]:
    """Gaps recorded by collects of these containers whose span meets the window.

    A collect's span runs from the ``--since`` it was asked (the start of the logs when
    none) to when it finished (or started, when it never finished).
    """
    low, high = _bounds(since_ns, until_ns)
    wanted = set(names)
    gaps: list[str] = []
    rows = store.conn.execute(
        "SELECT started_ns, finished_ns, request, outcome FROM collections "
        "WHERE outcome IS NOT NULL ORDER BY started_ns, id"
    )
    for started, finished, request_json, outcome_json in rows:
        try:
            request, outcome = json.loads(request_json), json.loads(outcome_json)
        except ValueError:
            continue
        notes = outcome.get("gaps") or []
        if not notes or not wanted & set(request.get("containers") or ()):
            continue
        span_low = request.get("since_ns") or NAT_NS
        span_high = finished or started
        if span_low <= high and span_high >= low:
            from claude_perf.durations import from_ns, iso

            at = iso(from_ns(int(started)))
            gaps += [f"the collect started {at} noted: {note}" for note in notes]
    return gaps


def _without_covered_tasks(chosen: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A Swarm task read through the service logs (id ``task:ID``) is left out when its own
    container was collected too: that container's log holds the same lines (not twice)."""
    real = {c.get("task") for c in chosen if not str(c["id"]).startswith("task:")}
    return [c for c in chosen if not (str(c["id"]).startswith("task:") and c.get("task") in real)]


def engine_label(container: Mapping[str, Any]) -> str:
    """The engine a stored container ran on, as the collect named it ('' before engines were
    recorded): the host or context as given, else the engine's own name, else its id."""
    engine = container.get("engine") or {}
    return str(engine.get("label") or engine.get("name") or engine.get("id") or "")


def source_labels(containers: Sequence[Mapping[str, Any]]) -> dict[int, str]:
    """Each stored container's source name, by store key: ``store:NAME`` while one engine is
    involved (as before engines were recorded); ``store:ENGINE/NAME`` across engines, so two
    replicas of the same name on two engines stay two sources; the id is added where even
    that repeats (the same container id on two engines whose labels are the same)."""
    engines = {str((c.get("engine") or {}).get("id") or "") for c in containers}
    labels: dict[int, str] = {}
    for c in containers:
        name = str(c.get("name") or str(c["id"])[:12])
        labels[int(c["_key"])] = (
            f"store:{engine_label(c) or 'engine'}/{name}" if len(engines) > 1 else f"store:{name}"
        )
    counts = Counter(labels.values())
    for c in containers:
        key = int(c["_key"])
        if counts[labels[key]] > 1:
            engine_id = str((c.get("engine") or {}).get("id") or "")[:12]
            labels[key] = f"{labels[key]}@{engine_id or key}"
    return labels


def _ns_bound(value: int | datetime | None) -> int | None:
    if value is None or isinstance(value, int):
        return value
    from claude_perf.durations import to_ns

    return to_ns(value)


def _select(
    stored: list[dict[str, Any]], wanted: Sequence[str], path: Path
) -> list[dict[str, Any]]:
    if not wanted:
        return stored
    chosen = []
    for name in wanted:
        bare = name.lstrip("/")
        hits = [c for c in stored if c.get("name") == bare or str(c["id"]).startswith(bare)]
        if not hits:
            known = ", ".join(sorted({str(c.get("name")) for c in stored})) or "none"
            raise StoreError(f"no container '{name}' in the store {path} (stored: {known})")
        chosen += [c for c in hits if c not in chosen]
    return chosen


def load_session(
    path: Path | str,
    since: int | datetime | None = None,
    until: int | datetime | None = None,
    containers: Sequence[str] = (),
    chunked: bool = False,
) -> Session:
    """Build a Session (lines, samples, facts) from the store for a window.

    ``since``/``until`` are inclusive bounds (UTC datetimes or integer ns); ``containers``
    selects by name or id prefix (default: every stored container). ``chunked``: a window of
    more than a chunk's worth of text is left in the store (``LogLines.pending``, a
    store/pending.StoredLines), for the analysis to read chunk by chunk.
    """
    import pyarrow as pa

    from claude_perf.durations import from_ns, iso
    from claude_perf.ingest.chunks import chunk_bytes
    from claude_perf.ingest.files import LogLines
    from claude_perf.ingest.session import SAMPLE_COLUMNS, Session
    from claude_perf.store.pending import StoredLines
    from claude_perf.store.window import iter_lines

    store_file = Path(path)
    since_ns, until_ns = _ns_bound(since), _ns_bound(until)
    with Store(store_file, create=False) as store:
        tightened = list(store.notes)
        chosen = _without_covered_tasks(_select(store.containers(), containers, store_file))
        labels = source_labels(chosen)
        facts = []
        for container in chosen:
            key = int(container["_key"])
            container["events"] = [
                {"time": iso(from_ns(t)), "action": a}
                for t, a in events(store, key, since_ns, until_ns)
            ]
            container["source"] = labels[key]  # the replica these facts describe
            facts.append(container)
        keys = tuple(int(c["_key"]) for c in facts)
        raw = sample_rows(store, since_ns, until_ns, list(keys))
        gaps = collection_gaps(store, since_ns, until_ns, [str(c.get("name")) for c in facts])
        clients = client_records_in(store, since_ns, until_ns)
        size = chunk_bytes()
        stored_bytes = window_bytes(store, keys, since_ns, until_ns) if chunked else 0
        any_line = any(next(iter_lines(store, k, since_ns, until_ns, 1), None) for k in keys)
    for container in facts:
        container.pop("_key", None)
    source = StoredLines(store_file, keys, tuple(labels[k] for k in keys), since_ns, until_ns, size)
    if stored_bytes > size:
        empty = pa.table({"ts": pa.array([], pa.timestamp("ns", tz="UTC"))})
        logs = LogLines(table=empty, pending=source)
    else:
        logs = source.read_whole()
    samples = _samples_frame(raw, SAMPLE_COLUMNS) if raw else None
    notes: list[str] = tightened
    if not chosen:
        notes.append(f"the store {store_file} holds no container yet")
    elif not any_line:
        notes.append("the store holds no log line in the asked window")
    notes += gaps
    return Session(
        logs=logs,
        samples=samples,
        containers=tuple(facts),
        sample_interval_s=_median_interval_s(samples),
        origin="store",
        notes=tuple(notes),
        clients=tuple(clients),
    )


def window_bytes(
    store: Store, keys: Sequence[int], since_ns: int | None, until_ns: int | None
) -> int:
    """About the bytes the blocks that meet the window would take as a ``docker logs -t`` file
    (their texts' characters and a stamp a line: blocks.STAMP_BYTES), the measure a chunk's
    size is in, so that a window is read in chunks when a file of it would be."""
    if not keys:
        return 0
    low, high = _bounds(since_ns, until_ns)
    marks = ", ".join("?" * len(keys))
    row = store.conn.execute(
        f"SELECT SUM(text_chars) + ? * SUM(lines) FROM log_blocks WHERE container_key IN "
        f"({marks}) AND max_ts_ns >= ? AND min_ts_ns <= ?",
        (blocks.STAMP_BYTES, *keys, low, high),
    ).fetchone()
    return int(row[0] or 0)


def _samples_frame(raw: list[tuple[Any, ...]], columns: Sequence[str]) -> Any:
    import pandas as pd

    names = ["container_id", "container_name", "ts_ns", *SAMPLE_FIELDS, "cgroup"]
    frame = pd.DataFrame.from_records(raw, columns=names)
    frame.insert(0, "ts", pd.to_datetime(frame.pop("ts_ns").astype("int64"), unit="ns", utc=True))
    for field in SAMPLE_FIELDS:
        frame[field] = pd.to_numeric(frame[field], errors="coerce").astype("float64")
    frame["container_id"] = frame["container_id"].astype("object")
    frame["container_name"] = frame["container_name"].astype("object")
    frame["cgroup"] = frame["cgroup"].astype("object")
    return frame.loc[:, list(columns)]


def _median_interval_s(samples: Any) -> float | None:
    if samples is None or len(samples) < 2:
        return None
    gaps = (
        samples.sort_values(["container_id", "ts"])
        .groupby("container_id")["ts"]
        .diff()
        .dropna()
        .dt.total_seconds()
    )
    return None if gaps.empty else float(gaps.median())
